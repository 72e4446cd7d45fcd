"""A rotated secret stays secret. After `${env.X}` (or a secret variable) changes, the live pipeline
still holds the old value; the marker records where secrets sit (paths and references, never
values), so that old value is redacted in every output, whatever it is, in every escaped form:
JSON inside JSON (a DQL filter is a JSON string), Markdown table cells, URL-quoted."""

from __future__ import annotations

import io
import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from gitops_kit import embedded_state
from harness import cli

from reconciler.client import RestBackend
from reconciler.document import Node, Pipeline
from reconciler.export import export_pipeline
from reconciler.marker import read_marker
from reconciler.server.testing import serve_in_thread

ENV_VAR = "LF_ROTATED"
PROJECT_FILE = "environments:\n  ci:\n    variables:\n      hook: {env: LF_HOOK}\n"
SPEC = """\
apiVersion: loopform/v1
kind: Pipeline
metadata: {name: frames, project: local, description: "sent to ${env.LF_ROTATED} by the hook"}
spec:
  variables:
    - {name: token, type: String, value: "${env.LF_ROTATED}"}
    - {name: settings, type: Json, value: {auth: {header: "Bearer ${var.hook}"}}}
  nodes:
    videos:
      type: dataset
      dataset: raw-videos
      trigger: {event: {resource: Item, actions: [Created], filter: {metadata.user.key: "${env.LF_ROTATED}"}}}
    cut: {type: code, name: "cut ${var.hook}", code: "def run(item):\\n    return item\\n"}
    hook: {type: custom, app: webhook, nodeConfig: {url: "https://hooks.example/x?token=${var.hook}&v=1"}}
  connections:
    - {from: videos, to: cut, filter: {metadata.user.token: "${env.LF_ROTATED}"}}
    - {from: cut, to: hook}
"""
# A pipeline named by a secret: `--prune` shows its name when its spec is gone.
NAMED = """\
apiVersion: loopform/v1
kind: Pipeline
metadata: {name: "n-${env.LF_NAME}", project: local}
spec:
  nodes:
    videos: {type: dataset, dataset: other}
"""


def canary(kind: str) -> str:
    # Characters every escaping changes: JSON (", \\), Markdown (|), URLs (&, space), XML/Mermaid (<, #).
    return f'{kind}-{secrets.token_hex(12)} "q|u\\\\o&<t>#'


@pytest.fixture
def live(workdir: Path) -> Iterator[RestBackend]:
    with embedded_state(workdir) as backend:
        yield backend


def _write_project(workdir: Path) -> None:
    """loopform.yaml (environment `ci`, secrets from the environment) and the `frames` spec."""
    (workdir / "loopform.yaml").write_text(PROJECT_FILE)
    (workdir / "pipelines").mkdir()
    (workdir / "pipelines" / "frames.yaml").write_text(SPEC)


def _apply_frames(workdir: Path, live: RestBackend) -> Pipeline:
    """`frames` applied in environment `ci`, as live holds it now."""
    _write_project(workdir)
    assert cli("apply", "--env", "ci", "--auto-approve").code == 0
    frames = live.find_pipeline(live.project("local").id, "frames")
    assert frames is not None
    return frames


def test_old_values_of_rotated_secrets_appear_in_no_output(workdir: Path, live: RestBackend,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    old_env, old_var = canary("env"), canary("var")
    monkeypatch.setenv(ENV_VAR, old_env)
    monkeypatch.setenv("LF_HOOK", old_var)
    _write_project(workdir)
    (workdir / "pipelines" / "named.yaml").write_text(NAMED)
    old_name = f"name{secrets.token_hex(8)}"
    monkeypatch.setenv("LF_NAME", old_name)
    first = cli("apply", "--env", "ci", "--auto-approve")
    assert first.code == 0, first.err
    frames = live.find_pipeline(live.project("local").id, "frames")
    assert frames is not None and frames.description == f"sent to {old_env} by the hook"
    marker = read_marker(frames)
    assert marker is not None and marker.secrets["/fields/description"] == "sent to ${env.LF_ROTATED} by the hook"
    assert old_env not in str(marker.model_dump()) and old_var not in str(marker.model_dump())

    # rotation: every secret gets a new value, and the pipeline named by one loses its spec
    monkeypatch.setenv(ENV_VAR, canary("new"))
    monkeypatch.setenv("LF_HOOK", canary("new"))
    monkeypatch.setenv("LF_NAME", f"name{secrets.token_hex(8)}")
    (workdir / "pipelines" / "named.yaml").unlink()
    outputs: dict[str, str] = {}

    def record(name: str, *argv: str, code: int = 0) -> None:
        run = cli(*argv)
        assert run.code == code, (name, run.out, run.err)
        outputs[f"{name} (stdout)"], outputs[f"{name} (stderr)"] = run.out, run.err

    record("plan", "-vv", "plan", "--env", "ci", "--prune", "-out", "ci.plan", "--graph", "g.svg")
    record("plan --json", "plan", "--env", "ci", "--prune", "--json", "--graph", "g.mmd")
    record("plan --markdown", "plan", "--env", "ci", "--prune", "--markdown", "--graph", "g.md")
    for fmt in ((), ("--json",), ("--markdown",)):
        record(f"show {fmt}", "show", "ci.plan", "--env", "ci", *fmt)
    record("status", "status", "--all")
    record("status --json", "status", "--json")
    record("export", "export", "--env", "ci")
    record("export -o", "export", "--env", "ci", "-o", "exported")
    record("apply --prune", "-vv", "apply", "--env", "ci", "--prune", "--auto-approve")
    # export writes the references back where the marker says secrets sit, and no file is named by one
    exported = outputs["export (stdout)"]
    for reference in ("description: sent to ${env.LF_ROTATED} by the hook", "value: ${env.LF_ROTATED}",
                      "header: Bearer ${var.hook}", "metadata.user.key: ${env.LF_ROTATED}", "name: cut ${var.hook}",
                      "url: https://hooks.example/x?token=${var.hook}&v=1", "metadata.user.token: ${env.LF_ROTATED}",
                      "name: n-${env.LF_NAME}"):
        assert reference in exported, reference
    assert "value: ${env.LF_ROTATED}" in (workdir / "exported" / "frames.yaml").read_text()
    for name in ("ci.plan", "g.svg", "g.mmd", "g.md"):
        outputs[name] = (workdir / name).read_text()
    for path in (workdir / "exported").rglob("*"):
        if path.is_file():
            outputs[str(path)] = path.read_text()
            assert old_name not in path.name
    assert "(sensitive)" in outputs["plan (stdout)"] and '"(sensitive)"' in outputs["plan --json (stdout)"]
    assert "- pipeline local/n-(sensitive) (delete)" in outputs["plan (stdout)"]
    assert live.find_pipeline(live.project("local").id, f"n-{old_name}") is None  # pruned all the same

    for name, text in outputs.items():
        for value in (old_env, old_var, old_name):
            head = value.split(" ")[0]  # the random part, before any escaping
            assert head not in text, f"{name} shows an old value:\n{text}"


def test_export_writes_a_secret_folded_or_quoted_by_yaml_as_its_reference() -> None:
    """YAML folds a long string at its spaces and doubles or escapes quotes: searching the dumped
    text for the secret would miss it. The reference is written whatever the YAML looks like."""
    value = "it's a \"long\" secret with many words " * 4
    live = Pipeline(name="p", id="0123456789abcdef", description=f"{'x ' * 60}{value} tail", nodes=[
        Node(id="n1", name="cut", type="code", config={"package": {"code": f"# {value}\n", "name": "run"}})])
    exported = export_pipeline(live, secrets={value: "${var.long}"}, code_dir="snippets")
    text = exported.text + "".join(exported.files.values())
    for word in ("it's", "''long''", '\\"long', "words"):
        assert word not in text, text
    spec = yaml.safe_load(exported.text)
    assert spec["metadata"]["description"] == f"{'x ' * 60}${{var.long}} tail"


class EchoingUpdates:
    """WSGI middleware: when `on`, a PATCH of a pipeline fails with a message that quotes the
    stored pipeline in full, as a verbose API error might (old secret values included)."""

    def __init__(self) -> None:
        self.on = False
        self.fired = 0

    def __call__(self, app: Any) -> Any:
        def middleware(environ: dict[str, Any], start_response: Any) -> Any:
            if not (self.on and environ["REQUEST_METHOD"] == "PATCH" and "/pipelines/" in environ["PATH_INFO"]):
                return app(environ, start_response)
            stored = b"".join(app({**environ, "REQUEST_METHOD": "GET", "CONTENT_LENGTH": "0",
                                   "wsgi.input": io.BytesIO()}, lambda *a, **k: None))
            self.fired += 1
            payload = json.dumps({"message": f"cannot update {stored.decode()}"}).encode()
            start_response("400 Bad Request", [("Content-Type", "application/json"),
                                               ("Content-Length", str(len(payload)))])
            return [payload]
        return middleware


def test_an_api_error_quoting_the_old_value_is_redacted(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old = canary("old")
    monkeypatch.setenv(ENV_VAR, old)
    monkeypatch.setenv("LF_HOOK", canary("hook"))
    _write_project(workdir)
    echo = EchoingUpdates()
    with serve_in_thread(workdir / "served.db", wrap=echo) as server:
        monkeypatch.setenv("LOOPFORM_API_URL", server.base_url)
        monkeypatch.setenv("LOOPFORM_TOKEN", server.token)
        assert cli("apply", "--env", "ci", "--auto-approve").code == 0
        monkeypatch.setenv(ENV_VAR, canary("new"))
        echo.on = True
        runs = [cli("apply", "--env", "ci", "--auto-approve"), cli("-vv", "apply", "--env", "ci", "--json", "--auto-approve"),
                cli("reconcile", "--env", "ci", "--once")]
    assert echo.fired == 3 and all(run.code == 1 for run in runs)
    assert "cannot update" in runs[0].out
    for run in runs:
        assert old.split(" ")[0] not in run.out + run.err, run.out + run.err


def test_a_marker_without_secret_paths_is_planned_with_the_specs_paths(workdir: Path, live: RestBackend,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A pipeline applied before markers recorded secrets: where the spec puts a secret now, the
    live value is taken as one (and the first update records the paths)."""
    old = canary("old")
    monkeypatch.setenv(ENV_VAR, old)
    monkeypatch.setenv("LF_HOOK", canary("hook"))
    frames = _apply_frames(workdir, live)

    def forget_secret_paths(doc: dict[str, Any]) -> dict[str, Any]:
        for var in doc["variables"]:
            if var["name"] == "loopform":
                del var["value"]["secrets"]
        return doc

    live.control_plane.store.update_pipeline(frames.id, forget_secret_paths)  # type: ignore[attr-defined]
    monkeypatch.setenv(ENV_VAR, canary("new"))
    runs = [cli("plan", "--env", "ci"), cli("plan", "--env", "ci", "--json", "-out", "p.plan")]
    assert all(run.code == 0 for run in runs) and "(sensitive)" in runs[0].out
    for text in (*(run.out + run.err for run in runs), (workdir / "p.plan").read_text()):
        assert old.split(" ")[0] not in text, text


def test_a_saved_plan_never_sends_a_value_live_made_secret(workdir: Path, live: RestBackend,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Live decides what sits where a secret sat. A project member writing a word there that the
    desired documents also hold ("webhook", the app's name) makes that word hidden; a saved plan
    would have to show it or send `(sensitive)` instead, so it is refused (the plan is shown)."""
    monkeypatch.setenv(ENV_VAR, canary("env"))
    monkeypatch.setenv("LF_HOOK", canary("hook"))
    frames = _apply_frames(workdir, live)
    edited = [v.model_copy(update={"value": "webhook"}) if v.name == "token" else v for v in frames.variables]
    live.update_pipeline(frames.model_copy(update={"variables": edited}))
    assert cli("plan", "--env", "ci").code == 0
    run = cli("plan", "--env", "ci", "-out", "p.plan")
    assert run.code == 1 and not (workdir / "p.plan").exists()
    assert ("cannot save the plan: what apply would send to local/frames holds a value that live holds where "
            "a secret sat") in run.err
