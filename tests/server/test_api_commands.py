"""`loopform serve` (a real subprocess, stopped by SIGTERM) and `loopform local seed|token`."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from harness import Drain

from reconciler.cli import main
from reconciler.server import ControlPlane
from reconciler.server.seed import SEED_FORMAT
from reconciler.server.serving import HttpServer
from reconciler.terminal import Terminal

README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_seed() -> str:
    """The seed file the README shows (its section's YAML block): the tests seed exactly it."""
    section = README.read_text(encoding="utf-8").split("### Seeding the local control plane", 1)[1]
    return section.split("```yaml\n", 1)[1].split("```", 1)[0]


SEED = _readme_seed()


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), term=Terminal(out=out, err=err, colour=False, unicode=False))
    return code, out.getvalue(), err.getvalue()


def test_local_seed_creates_then_keeps(tmp_path: Path) -> None:
    seed, db = tmp_path / "seed.yaml", tmp_path / "state.db"
    seed.write_text(SEED)
    code, out, _ = _run("local", "--db", str(db), "seed", str(seed))
    assert code == 0
    assert "created 2 datasets, 2 members, 1 model, 1 project, 2 recipes, 1 service" in out
    code, out, _ = _run("local", "--db", str(db), "seed", str(seed))
    assert code == 0 and "created nothing; 9 already present" in out
    plane = ControlPlane(db)
    try:
        [project] = plane.store.projects_named("demo")
        assert dict(plane.store.members(project["id"]))["ann@example.com"] == "annotator"
        [raw] = plane.store.resources("dataset", project_ids={project["id"]}, name="raw-videos")
        assert raw["id"] == "5f00000000000000000000aa"
        assert len(raw["metadata"]["system"]["recipes"]) == 1  # the default recipe
    finally:
        plane.close()


def test_local_seed_registers_a_models_local_adapter_and_replaces_it_when_seeded_again(tmp_path: Path) -> None:
    (tmp_path / "adapters").mkdir()
    (tmp_path / "adapters" / "tagger.py").write_text("class Tagger:\n    pass\n")
    seed, db = tmp_path / "seed.yaml", tmp_path / "state.db"
    seed.write_text("projects:\n  - name: demo\n    models: [{name: tagger, adapter: adapters/tagger.py:Tagger}]\n")
    code, out, _ = _run("local", "--db", str(db), "seed", str(seed))
    assert code == 0 and "1 model adapter" in out
    (tmp_path / "adapters" / "tagger.py").write_text("class Tagger:\n    version = 2\n")
    assert _run("local", "--db", str(db), "seed", str(seed))[0] == 0
    plane = ControlPlane(db)
    try:
        [project] = plane.store.projects_named("demo")
        [model] = plane.store.resources("model", project_ids={project["id"]}, name="tagger")
        adapter = plane.store.resource("model-adapter", model["id"])
        assert adapter is not None and adapter["className"] == "Tagger" and "version = 2" in adapter["code"]
    finally:
        plane.close()
    seed.write_text("projects:\n  - name: fresh\n    datasets: [{name: d}]\n"
                    "    models: [{name: other, adapter: adapters/gone.py:Gone}]\n")
    code, _, err = _run("local", "--db", str(db), "seed", str(seed))
    assert code == 1 and "model 'other': cannot read the adapter" in err
    plane = ControlPlane(db)
    try:  # read before anything is written: the seed left no part of itself behind
        assert plane.store.projects_named("fresh") == []
    finally:
        plane.close()


def test_the_seed_format_is_in_the_readme_and_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert textwrap.indent(SEED, "  ") in SEED_FORMAT
    assert "A member is an email or {email, role}" in README.read_text(encoding="utf-8")
    code, _, _ = _run("local", "seed", "--help")
    assert code == 0 and SEED_FORMAT in capsys.readouterr().out


def test_local_seed_reports_bad_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("projects:\n  - name: demo\n    members: [{email: a@b.c, role: king}]\n")
    code, _, err = _run("local", "--db", str(tmp_path / "s.db"), "seed", str(bad))
    assert code == 1
    assert err.startswith(f"Error: {bad}:3:30: invalid seed file: projects.0.members.0.role")
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    code, _, err = _run("local", "--db", str(tmp_path / "s.db"), "seed", str(broken))
    assert code == 1 and "not valid JSON" in err and "Traceback" not in err
    code, _, err = _run("local", "--db", str(tmp_path / "s.db"), "seed", str(tmp_path / "missing.yaml"))
    assert code == 1 and "cannot read seed file" in err


def test_local_token_is_accepted_by_the_server(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    code, out, _ = _run("local", "--db", str(db), "token", "--email", "ann@example.com")
    assert code == 0
    plane = ControlPlane(db)
    try:
        assert plane.tokens.email_from_header(f"Bearer {out.strip()}") == "ann@example.com"
    finally:
        plane.close()
    assert _run("local", "--db", str(db), "token", "--ttl", "30")[0] == 1


def test_serve_prints_url_writes_logins_and_stops_on_sigterm(tmp_path: Path) -> None:
    token_file, login_dir = tmp_path / "token", tmp_path / "dl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "serve", "--port", "0", "--db", str(tmp_path / "s.db"),
         "--project", "demo", "--token-file", str(token_file), "--dtlpy-login", str(login_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert proc.stdout is not None and proc.stderr is not None
    stdout, stderr = Drain(proc.stdout), Drain(proc.stderr)
    try:
        announced_text = stdout.wait_for("Press Ctrl-C")
        first = announced_text.splitlines()[0]
        match = re.search(r"at (http://127\.0\.0\.1:\d+/api/v1)$", first.strip())
        assert match, first
        base_url = match.group(1)
        token = token_file.read_text().strip()
        assert token_file.stat().st_mode & 0o777 == 0o600
        assert token not in first
        projects = requests.get(f"{base_url}/projects/demo/name",
                                headers={"authorization": f"Bearer {token}"}, timeout=10)
        assert projects.status_code == 200 and projects.json()[0]["name"] == "demo"
        cookie = json.loads((login_dir / "cookie.json").read_text())
        assert cookie["url"] == base_url
        assert cookie["login_parameters"][base_url]["token"] == token
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    out, err = stdout.rest(), stderr.rest()
    assert proc.returncode == 0, err
    assert "Stopped." in out
    assert token not in out + err  # with --token-file the token is only in the file
    assert f"DATALOOP_PATH={login_dir.resolve()} loopform plan --url {base_url}" in announced_text
    assert token not in announced_text


def test_serve_without_a_token_file_prints_the_token_once(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "serve", "--port", "0", "--db", str(tmp_path / "s.db")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert proc.stdout is not None and proc.stderr is not None
    stdout, stderr = Drain(proc.stdout), Drain(proc.stderr)
    try:
        announced = stdout.wait_for("Press Ctrl-C")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    out, err = stdout.rest(), stderr.rest()
    token = next(line.rsplit(" ", 1)[1].strip() for line in announced.splitlines() if line.startswith("Access token"))
    plane = ControlPlane(tmp_path / "s.db")
    try:
        assert plane.tokens.email_from_header(f"Bearer {token}") == plane.default_user
    finally:
        plane.close()
    assert (out + err).count(token) == 1 and proc.returncode == 0  # `out` holds the announcement too


def test_serve_refuses_a_busy_port(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, _, err = _run("serve", "--port", str(port), "--db", str(tmp_path / "s.db"))
    assert code == 1 and f"cannot listen on 127.0.0.1:{port}" in err
    assert "--port 0" in err and "Traceback" not in err


def test_serve_explains_an_unknown_host_and_an_unusable_database(tmp_path: Path) -> None:
    code, _, err = _run("serve", "--host", "no-such-host.invalid", "--port", "0", "--db", str(tmp_path / "s.db"))
    assert code == 1 and "cannot resolve host 'no-such-host.invalid'" in err
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    code, _, err = _run("serve", "--port", "0", "--db", str(blocker / "state.db"))
    assert code == 1 and "cannot open state database" in err and "internal error" not in err
    code, _, err = _run("local", "--db", str(blocker / "state.db"), "token")
    assert code == 1 and "cannot open state database" in err


def test_a_name_with_several_addresses_is_served_on_one_port(tmp_path: Path) -> None:
    def app(environ: dict[str, object], start_response: Callable[..., object]) -> list[bytes]:
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    server = HttpServer(app, host="localhost", port=0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        host = f"[{server.host}]" if ":" in server.host else server.host
        assert requests.get(f"http://{host}:{server.port}/", timeout=10).text == "ok"
    finally:
        server.stop()
        thread.join(timeout=10)
    assert not thread.is_alive()
