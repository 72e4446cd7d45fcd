"""Live data is hostile: any project member can name a pipeline or a node. Such names cannot drive
the reader's terminal (escape sequences are printed escaped, by the terminal edge for every
command) and cannot crash the client (a lone surrogate is read as U+FFFD, as a UTF-8 decoder would)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from gitops_kit import SPEC, embedded_state
from harness import cli

from reconciler.client import RestBackend

# Sets the terminal's title, rings the bell, clears the screen (7-bit and 8-bit CSI), reverses text.
HOSTILE = "copy\x1b]0;owned\x07\x1b[2J\x9b2J\u202e"
TERMINAL_CONTROLS = ("\x1b", "\x07", "\x9b", "\u202e")


@pytest.fixture
def live(workdir: Path) -> Iterator[RestBackend]:
    """`frames` applied from its spec, and a client of the same embedded state."""
    (workdir / "pipelines").mkdir()
    (workdir / "pipelines" / "frames.yaml").write_text(SPEC)
    assert cli("apply", "--auto-approve").code == 0
    with embedded_state(workdir) as backend:
        yield backend


def _edit_stored(live: RestBackend, name: str, change: dict[str, object]) -> None:
    """Write straight into the control plane's store, as any writer of the live state could."""
    pipeline = live.find_pipeline(live.project("local").id, name)
    assert pipeline is not None
    store = live.control_plane.store  # type: ignore[attr-defined]

    def edit(doc: dict[str, object]) -> dict[str, object]:
        nodes = doc["nodes"]
        assert isinstance(nodes, list)
        if "node_name" in change:
            nodes[0]["name"] = change["node_name"]
        if "name" in change:
            doc["name"] = change["name"]
        return doc

    assert store.update_pipeline(pipeline.id, edit) is not None


def _copy_of_frames(live: RestBackend, name: str) -> None:
    """A second pipeline of this spec set, applied as `copy`, its spec then removed (so prune would
    delete it), renamed to `name` by a writer of the live state."""
    pipelines = Path.cwd() / "pipelines"
    (pipelines / "copy.yaml").write_text(SPEC.replace("name: frames", "name: copy"))
    assert cli("apply", "--auto-approve").code == 0
    (pipelines / "copy.yaml").unlink()
    _edit_stored(live, "copy", {"name": name})


def test_live_names_cannot_drive_the_terminal(live: RestBackend) -> None:
    _copy_of_frames(live, HOSTILE)
    runs = {
        "status": cli("status"),
        "plan --prune": cli("plan", "--prune"),
        "plan --prune --markdown": cli("plan", "--prune", "--markdown"),
        "plan --prune --json": cli("plan", "--prune", "--json"),
        "apply --prune": cli("apply", "--prune", "--auto-approve"),
    }
    for name, run in runs.items():
        assert run.code == 0, (name, run.err)
        for text in (run.out, run.err):
            assert not any(c in text for c in TERMINAL_CONTROLS), f"{name} drives the terminal:\n{text!r}"
    assert "copy\\u001b]0;owned\\u0007\\u001b[2J\\u009b2J\\u202e" in runs["status"].out
    assert "- pipeline local/copy\\u001b]0;owned\\u0007" in runs["plan --prune"].out
    assert "copy\\u001b]0;owned" in runs["apply --prune"].out
    assert live.find_pipeline(live.project("local").id, HOSTILE) is None  # pruned all the same


def test_a_lone_surrogate_in_live_names_is_planned_not_a_crash(workdir: Path, live: RestBackend) -> None:
    _copy_of_frames(live, "copy")
    _edit_stored(live, "copy", {"node_name": "cut\udfff"})
    _edit_stored(live, "frames", {"node_name": "videos\ud800"})
    for argv in (("plan",), ("plan", "--json"), ("plan", "--markdown"), ("plan", "--prune", "-out", "p.plan"),
                 ("status",), ("export",), ("export", "-o", "exported"),
                 ("reconcile", "--once"), ("apply", "--auto-approve")):
        run = cli(*argv)
        assert run.code == 0, (argv, run.out, run.err)
    assert "name: videos\ufffd" in cli("export", "frames").out  # read as a UTF-8 decoder reads it
    assert "apply exactly it with `loopform apply p.plan --prune`" in cli("plan", "--prune", "-out", "p.plan").out
    assert cli("apply", "p.plan", "--prune").code == 0  # the saved plan reads back and deletes the copy
    assert live.find_pipeline(live.project("local").id, "copy") is None


def test_a_password_in_the_api_url_is_never_printed(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("LOOPFORM_TOKEN", "token-1234")
    monkeypatch.setenv("LOOPFORM_MAX_RETRIES", "0")
    (workdir / "pipelines").mkdir()
    (workdir / "pipelines" / "frames.yaml").write_text(SPEC)
    runs = [cli("-vv", "plan", "--url", f"http://alice:pw-s3cret-9@127.0.0.1:{port}/api/v1"),
            cli("plan", "--url", "ftp://alice:pw-s3cret-9@example.com/api/v1")]
    assert f"Error: cannot reach http://***@127.0.0.1:{port}/api/v1: connection refused" in runs[0].err
    assert "API URL 'ftp://***@example.com/api/v1' is not an http(s) URL" in runs[1].err
    for run in runs:
        assert run.code == 1
        assert "pw-s3cret-9" not in run.out + run.err and "alice" not in run.out + run.err, run.err


def test_a_pipeline_named_by_an_environment_variable_is_not_shown_by_status(
        workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """status reads no spec, so it cannot know the value; the marker says where it sits."""
    monkeypatch.setenv("LF_NAME", "name-from-ci-5678")
    (workdir / "pipelines").mkdir()
    (workdir / "pipelines" / "frames.yaml").write_text(SPEC.replace("name: frames", "name: 'n-${env.LF_NAME}'"))
    assert cli("apply", "--auto-approve").code == 0
    monkeypatch.delenv("LF_NAME")
    for argv in (("status",), ("status", "--json"), ("status", "--all")):
        run = cli(*argv)
        assert run.code == 0 and "n-(sensitive)" in run.out and "name-from-ci" not in run.out + run.err, run.out
