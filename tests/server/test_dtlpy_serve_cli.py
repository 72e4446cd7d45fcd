"""End to end as a user does it: `loopform serve --dtlpy-login DIR` in one process, then a plain
`DATALOOP_PATH=DIR python` using dtlpy with no setup calls at all, then SIGTERM stops the server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

SDK_SCRIPT = textwrap.dedent(
    """
    import json
    import dtlpy as dl

    project = dl.projects.get(project_name="demo")
    pipeline = project.pipelines.create(name="from-the-cli-login")
    listed = [p.id for p in project.pipelines.list().all()]
    print(json.dumps({"project": project.id, "pipeline": pipeline.id, "listed": listed}))
    """
)


def complete(path: Path) -> bool:
    """The file exists and has been written to the end (the server creates, then writes)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return False
    if path.suffix == ".json":
        try:
            json.loads(text)
        except ValueError:
            return False
        return True
    return text.endswith("\n")


def wait_for(path: Path, proc: subprocess.Popen[str], deadline_s: float = 30) -> None:
    end = time.monotonic() + deadline_s
    while not complete(path):
        if proc.poll() is not None:
            raise AssertionError(f"loopform serve exited early: {proc.stdout.read() if proc.stdout else ''}")
        if time.monotonic() > end:
            raise AssertionError(f"{path} never appeared")
        time.sleep(0.05)


def test_serve_writes_a_dtlpy_login_that_works_and_stops_on_sigterm(tmp_path: Path) -> None:
    login, db = tmp_path / "dataloop", tmp_path / "state.db"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("DATALOOP_PATH", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "serve", "--port", "0", "--db", str(db), "--project", "demo",
         "--dtlpy-login", str(login), "--token-file", str(tmp_path / "token")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=tmp_path,
    )
    try:
        wait_for(login / "cookie.json", server)
        wait_for(tmp_path / "token", server)
        token = (tmp_path / "token").read_text().strip()
        assert (login / "cookie.json").stat().st_mode & 0o077 == 0  # the token inside is private
        client = subprocess.run(
            [sys.executable, "-c", SDK_SCRIPT],
            capture_output=True, text=True, env={**env, "DATALOOP_PATH": str(login)}, cwd=tmp_path, timeout=120,
        )
        assert client.returncode == 0, client.stderr[-3000:]
        result = json.loads(client.stdout.strip().splitlines()[-1])
        assert result["listed"] == [result["pipeline"]]
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=30)
    assert server.returncode == 0, output
    assert "Stopped." in output
    assert token not in output  # --token-file keeps it off the terminal
    assert db.exists()
