"""`loopform apply` end to end: the idempotency law, confirmation, JSON events, saved plans."""

from __future__ import annotations

import io
import json
import logging
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from faultkit import Concurrency, FaultInjector
from harness import cli, isolate, serve_for_cli
from specs import copy_examples, plan_for, spec_names, writes

from reconciler.cli import main
from reconciler.client import ApiSession, RestBackend
from reconciler.server import ControlPlane
from reconciler.server.serving import HttpServer
from reconciler.server.testing import ServerHandle, serve_in_thread
from reconciler.terminal import Terminal


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated working directory holding the examples' pipelines/."""
    copy_examples(isolate(tmp_path, monkeypatch))
    return tmp_path


@pytest.fixture
def served(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ServerHandle]:
    with serve_for_cli(clean_env / "served.db", monkeypatch) as server:
        yield server


def test_the_readme_flow_on_the_embedded_default(clean_env: Path) -> None:
    shutil.rmtree(clean_env / "pipelines")
    copy_examples(clean_env, reuse=True)  # all of them: modules and for-each too
    first = cli("apply", "--auto-approve")
    assert first.code == 0, first.err
    assert "Backend: local control plane .loopform/state.db" in first.err
    names = spec_names(clean_env / "pipelines")
    assert len(names) == 8
    for name in names:
        assert f"done           local/{name}" in first.out
    assert f"Apply complete: {len(names)} done, 0 failed, 0 not attempted" in first.out
    second = cli("apply", "--auto-approve")
    assert second.code == 0
    assert "No changes." in second.out
    assert "Apply complete" not in second.out


def test_idempotency_law_zero_writes_on_the_second_apply(served: ServerHandle, clean_env: Path) -> None:
    assert cli("apply", "--auto-approve").code == 0
    plane = served.control_plane
    backend = RestBackend(ApiSession(served.base_url, served.token), label="check")
    plan = plan_for(clean_env / "pipelines", backend)
    assert not plan.has_changes, [(p.name, p.actions, p.changes) for p in plan.pipelines]
    plane.request_log.clear()
    again = cli("apply", "--auto-approve")
    assert again.code == 0 and "No changes." in again.out
    assert writes(plane) == []
    assert plane.request_log.entries()  # it did read
    live = backend.list_pipelines(backend.project("local").id)
    assert sorted(p.name for p in live) == spec_names(clean_env / "pipelines")
    backend.close()


def test_without_a_terminal_and_without_auto_approve_it_refuses(served: ServerHandle) -> None:
    refused = cli("apply")
    assert refused.code == 1
    assert "--auto-approve" in refused.err
    assert "Plan: 3 to create" in refused.out
    assert writes(served.control_plane) == [("POST", "/api/v1/projects")] or writes(served.control_plane) == []


def test_flags_that_cannot_work_are_refused_before_anything_is_sent(served: ServerHandle, clean_env: Path) -> None:
    served.control_plane.request_log.clear()
    prompt = cli("apply", "--json")
    assert prompt.code == 1 and "--json needs --auto-approve, or a saved plan to apply" in prompt.err
    none = cli("apply", "--parallelism", "0", "--auto-approve")
    assert none.code == 1 and "--parallelism must be at least 1" in none.err
    assert len(served.control_plane.request_log) == 0


def test_json_event_lines(served: ServerHandle) -> None:
    r = cli("apply", "--auto-approve", "--json")
    assert r.code == 0, r.err
    events = [json.loads(line) for line in r.out.splitlines()]
    assert events[0]["event"] == "plan" and events[0]["plan"]["format_version"] == 1
    assert events[-1] == {"event": "summary", "ok": True, "done": 3, "failed": 0, "not-attempted": 0,
                          "unchanged": 0}
    results = [e["result"] for e in events if e["event"] == "result"]
    assert sorted(r["name"] for r in results) == ["model-review", "nightly-quality", "video-frames"]
    assert {e["event"] for e in events} == {"plan", "start", "step", "result", "summary"}
    again = cli("apply", "--auto-approve", "--json")
    assert again.code == 0
    lines = [json.loads(line) for line in again.out.splitlines()]
    assert [e["event"] for e in lines] == ["plan", "summary"]  # nothing to do: still a summary to read
    assert lines[-1] == {"event": "summary", "ok": True, "done": 0, "failed": 0, "not-attempted": 0,
                         "unchanged": 3}


def test_saved_plan_applies_when_nothing_moved(served: ServerHandle, clean_env: Path) -> None:
    assert cli("plan", "-out", "out.plan").code == 0
    # Not asked again (it was reviewed when it was made), so no --auto-approve needed without a TTY.
    r = cli("apply", "out.plan")
    assert r.code == 0, r.err
    assert "Apply complete: 3 done" in r.out
    # Applying the same saved plan again: the pipelines it was to create now exist.
    stale = cli("apply", "out.plan", "--auto-approve")
    assert stale.code == 1 and "stale" in stale.err
    assert "pipeline local/video-frames was created since the plan was made" in stale.err
    assert writes(served.control_plane)[-1] != ("POST", "/api/v1/pipelines")  # nothing sent for it


def test_saved_plan_refused_when_live_or_specs_moved(served: ServerHandle, clean_env: Path) -> None:
    assert cli("apply", "--auto-approve").code == 0
    spec = clean_env / "pipelines" / "video-frames.yaml"
    edited = re.sub(r"(?m)^  description: .*$", "  description: edited by a test", spec.read_text(), count=1)
    assert edited != spec.read_text()
    spec.write_text(edited)
    planned = cli("plan", "-out", "out.plan", "--json")
    assert [p["name"] for p in json.loads(planned.out)["pipelines"] if p["actions"] != ["no-op"]] == [
        "video-frames"]
    # Someone pauses the pipeline after the plan was made: the live fingerprint moves.
    assert cli("pause", "video-frames", "--project", "local").code == 0
    served.control_plane.request_log.clear()
    live_moved = cli("apply", "out.plan", "--auto-approve")
    assert live_moved.code == 1
    assert "pipeline local/video-frames changed since the plan was made" in live_moved.err
    assert writes(served.control_plane) == []
    # And a spec edited after the plan was made.
    assert cli("plan", "-out", "out.plan").code == 0
    spec.write_text(spec.read_text() + "\n# edited\n")
    spec_moved = cli("apply", "out.plan", "--auto-approve")
    assert spec_moved.code == 1 and "spec pipelines/video-frames.yaml changed" in spec_moved.err
    assert writes(served.control_plane) == []


def test_a_saved_plan_that_does_not_write_what_its_specs_plan_is_refused(served: ServerHandle, clean_env: Path) -> None:
    # The GitOps kit applies the plan artifact of the pull request's own run, which runs that pull
    # request's workflow: a plan file is data. Its digests and fingerprints all hold here; what it
    # would send does not come from its specs.
    assert cli("plan", "-out", "out.plan").code == 0
    saved = json.loads((clean_env / "out.plan").read_text())
    changed = next(p for p in saved["pipelines"] if p["desired"])
    changed["desired"]["description"] = "not what the spec says"
    deleting = {**changed, "name": "elsewhere", "actions": ["delete"], "desired": None}
    (clean_env / "edited.plan").write_text(json.dumps(saved))
    (clean_env / "deleting.plan").write_text(json.dumps({**saved, "pipelines": [*saved["pipelines"], deleting]}))
    served.control_plane.request_log.clear()
    edited = cli("apply", "edited.plan", "--auto-approve")
    assert edited.code == 1
    assert (f"the saved plan does not write what its specs plan now for local/{changed['name']} (it was edited, "
            "or made by other code)") in edited.err
    deleted = cli("apply", "deleting.plan", "--auto-approve")  # a plan file alone cannot ask for deletes
    assert deleted.code == 1 and "the saved plan deletes 1 pipeline(s) (elsewhere): apply it with --prune" in deleted.err
    deleted = cli("apply", "deleting.plan", "--auto-approve", "--prune")
    assert deleted.code == 1 and "does not write what its specs plan now for local/elsewhere" in deleted.err
    elsewhere = str(clean_env.parent / "elsewhere")
    (clean_env.parent / "elsewhere").mkdir()
    (clean_env / "moved.plan").write_text(json.dumps({**saved, "paths": [elsewhere]}))
    moved = cli("apply", "moved.plan", "--auto-approve")
    assert moved.code == 1 and f"the saved plan was made from {elsewhere}, not from pipelines" in moved.err
    moved = cli("apply", "moved.plan", elsewhere, "--auto-approve")
    assert moved.code == 1 and "outside this project" in moved.err
    assert writes(served.control_plane) == []
    assert cli("apply", "out.plan").code == 0  # the plan as made applies


def test_a_saved_plan_applies_only_from_the_paths_the_command_names(served: ServerHandle, clean_env: Path) -> None:
    # Other specs of the same repository (an example, a fixture): reviewed, but not the spec set
    # that CI applies. A crafted plan file naming them is refused unless the command names them.
    other = clean_env / "examples"
    shutil.copytree(clean_env / "pipelines" / "snippets", other / "snippets")
    (other / "frames.yaml").write_text((clean_env / "pipelines" / "video-frames.yaml").read_text()
                                       .replace("name: video-frames", "name: example-frames", 1))
    planned = cli("plan", "examples", "-out", "other.plan")
    assert planned.code == 0 and "apply exactly it with `loopform apply other.plan examples`" in planned.out
    served.control_plane.request_log.clear()
    refused = cli("apply", "other.plan", "--auto-approve")
    assert refused.code == 1
    assert ("the saved plan was made from examples, not from pipelines: to apply it, name the paths it was made "
            "from (`loopform apply other.plan examples`)") in refused.err
    assert writes(served.control_plane) == []
    named = cli("apply", "other.plan", "examples", "--auto-approve")
    assert named.code == 0, named.err
    assert "Apply complete: 1 done" in named.out


def test_saved_plan_refused_on_another_backend(served: ServerHandle, clean_env: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A plan reviewed against one backend never runs against another, even where nothing else moved."""
    assert cli("plan", "-out", "served.plan").code == 0
    local = cli("apply", "served.plan", "--auto-approve", "--backend", "local")
    assert local.code == 1
    assert f"the plan was made against local control plane at {served.base_url} (sandbox)" in local.err
    assert not (clean_env / ".loopform").exists() or "Apply complete" not in local.out
    monkeypatch.delenv("LOOPFORM_API_URL")
    assert cli("plan", "-out", "local.plan").code == 0
    monkeypatch.setenv("LOOPFORM_API_URL", served.base_url)
    remote = cli("apply", "local.plan", "--auto-approve")
    assert remote.code == 1 and "the plan was made against local control plane .loopform/state.db" in remote.err
    assert writes(served.control_plane) == []


def test_a_garbage_plan_file_is_a_clear_error(clean_env: Path) -> None:
    (clean_env / "x.plan").write_text("{not a plan")
    r = cli("apply", "x.plan", "--auto-approve")
    assert r.code == 1 and "not a loopform plan file" in r.err


def test_spec_errors_are_located_and_nothing_is_applied(clean_env: Path) -> None:
    (clean_env / "pipelines" / "broken.yaml").write_text("apiVersion: loopform/v1\nkind: Pipeline\nmetadata: {}\n")
    r = cli("apply", "--auto-approve")
    assert r.code == 1
    assert "broken.yaml:" in r.err
    assert not (clean_env / ".loopform").exists() or "Apply complete" not in r.out


def _resets(server: ServerHandle) -> list[str]:
    return [e.path for e in server.control_plane.request_log.entries() if e.path.endswith("/reset")]


def test_a_new_reset_token_resets_exactly_once(served: ServerHandle, clean_env: Path) -> None:
    assert cli("apply", "--auto-approve").code == 0
    spec = clean_env / "pipelines" / "video-frames.yaml"
    text = spec.read_text()
    assert "resetToken" not in text
    spec.write_text(text.replace("spec:\n", 'spec:\n  resetToken: "first"\n', 1))
    served.control_plane.request_log.clear()
    # The first token seen records it (the pipeline was created without one: nothing to reset yet).
    assert cli("apply", "--auto-approve").code == 0
    spec.write_text(spec.read_text().replace('resetToken: "first"', 'resetToken: "second"'))
    served.control_plane.request_log.clear()
    bumped = cli("apply", "--auto-approve")
    assert bumped.code == 0, bumped.err
    assert len(_resets(served)) == 1
    served.control_plane.request_log.clear()
    again = cli("apply", "--auto-approve")
    assert "No changes." in again.out
    assert _resets(served) == [] and writes(served.control_plane) == []


def test_prune_deletes_only_managed_pipelines_without_a_spec(served: ServerHandle, clean_env: Path) -> None:
    assert cli("apply", "--auto-approve").code == 0
    backend = RestBackend(ApiSession(served.base_url, served.token), label="x")
    pid = backend.project("local").id
    from reconciler.document import Pipeline

    backend.create_pipeline(Pipeline(name="hand-made", projectId=pid))
    (clean_env / "pipelines" / "nightly-quality.yaml").unlink()
    (clean_env / "pipelines" / "tests" / "nightly-quality.yaml").unlink()  # its test goes with it
    kept = cli("apply", "--auto-approve")
    assert kept.code == 0 and "No changes." in kept.out  # without --prune, a missing spec deletes nothing
    pruned = cli("apply", "--auto-approve", "--prune")
    assert pruned.code == 0, pruned.err
    names = sorted(p.name for p in backend.list_pipelines(pid))
    assert names == ["hand-made", "model-review", "video-frames"]
    backend.close()


def test_partial_failure_exits_1_with_the_api_message_and_a_rerun_finishes(
        clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    faults = FaultInjector()
    with serve_in_thread(clean_env / "served.db", wrap=faults) as server:
        monkeypatch.setenv("LOOPFORM_API_URL", server.base_url)
        monkeypatch.setenv("LOOPFORM_TOKEN", server.token)
        monkeypatch.setenv("LOOPFORM_MAX_RETRIES", "0")
        rule = faults.add("POST", r"/install$", "status", times=100, status=500)
        first = cli("apply", "--auto-approve")
        assert first.code == 1
        assert rule.fired == 2  # model-review and video-frames are installed after their create
        lines = first.out.splitlines()
        assert "done           local/nightly-quality (create)" in lines
        for name in ("model-review", "video-frames"):
            assert any(line.startswith(f"failed         local/{name}: resume: POST /pipelines/")
                       and line.endswith("injected 500 (HTTP 500); done: create")
                       for line in lines), first.out
        assert "Apply incomplete: 1 done, 2 failed, 0 not attempted, 0 unchanged." in first.out
        assert "2 failed, 0 not attempted; fix the cause and run apply again" in first.err
        as_json = cli("apply", "--auto-approve", "--json")
        assert as_json.code == 1
        events = [json.loads(line) for line in as_json.out.splitlines()]
        assert events[-1] == {"event": "summary", "ok": False, "done": 0, "failed": 2, "not-attempted": 0,
                              "unchanged": 1}
        faults.clear()
        second = cli("apply", "--auto-approve")
        assert second.code == 0, second.err
        assert "Plan: 0 to create, 0 to update, 0 to delete, 2 status changes." in second.out
        assert "Apply complete: 2 done, 0 failed, 0 not attempted, 1 unchanged." in second.out
        assert "No changes." in cli("apply", "--auto-approve").out


def test_many_pipelines_not_attempted_are_one_line(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.rmtree(clean_env / "pipelines")
    (clean_env / "pipelines").mkdir()
    for i in range(13):
        (clean_env / "pipelines" / f"p{i:02d}.yaml").write_text(
            f"apiVersion: loopform/v1\nkind: Pipeline\nmetadata: {{name: p{i:02d}}}\n"
            "spec:\n  nodes:\n    cut: {type: code, code: \"def run(item):\\n    return item\\n\"}\n")
    faults = FaultInjector()
    with serve_in_thread(clean_env / "served.db", wrap=faults) as server:
        monkeypatch.setenv("LOOPFORM_API_URL", server.base_url)
        monkeypatch.setenv("LOOPFORM_TOKEN", server.token)
        monkeypatch.setenv("LOOPFORM_PROJECT", "local")
        faults.add("POST", r"/pipelines$", "status", times=1, status=401)  # refused: the rest are not tried
        run = cli("apply", "--auto-approve", "--parallelism", "1")
    assert run.code == 1
    lines = run.out.splitlines()
    assert [line for line in lines if line.startswith("not attempted")] == [
        "not attempted  12 pipelines: local/p01, local/p02, local/p03 and 9 more"]
    assert "Apply incomplete: 0 done, 1 failed, 12 not attempted, 0 unchanged." in lines


def test_parallelism_beyond_the_connection_pool_keeps_every_worker_busy_and_quiet(
        clean_env: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    many = clean_env / "many"
    shutil.copytree(clean_env / "pipelines" / "snippets", many / "snippets")
    template = (clean_env / "pipelines" / "nightly-quality.yaml").read_text()
    for i in range(30):
        (many / f"p{i:02d}.yaml").write_text(template.replace("name: nightly-quality", f"name: p{i:02d}", 1))
    # The first create is held until all 24 workers are inside (the deadline only ends a broken run):
    # no wait that a loaded machine could outlast decides the count.
    inflight = Concurrency("POST", r"/pipelines$", target=24, patience=60.0)
    caplog.set_level(logging.WARNING)
    # serve_in_thread's server has 8 threads; this one must be able to hold 25 requests at once.
    plane = ControlPlane(clean_env / "served.db")
    http = HttpServer(inflight(plane.wsgi_app), host="127.0.0.1", port=0, threads=32)
    thread = threading.Thread(target=http.run, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("LOOPFORM_API_URL", f"http://127.0.0.1:{http.port}/api/v1")
        monkeypatch.setenv("LOOPFORM_TOKEN", plane.mint_token())
        r = cli("apply", "many", "--auto-approve", "--parallelism", "24")
    finally:
        http.stop()
        thread.join(timeout=10)
        plane.close()
    assert r.code == 0, r.err
    assert (inflight.count, inflight.max_seen) == (30, 24)
    assert [rec.getMessage() for rec in caplog.records if rec.levelno >= logging.WARNING] == []


def test_without_a_terminal_each_pipeline_is_reported_when_it_is_done(
        clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A long apply in a CI log shows progress: a pipeline's line is out before the next one starts."""
    term = Terminal(out=io.StringIO(), err=io.StringIO(), colour=False, unicode=True)
    seen_at_creates: list[str] = []

    def snapshot(app: Any) -> Any:
        def middleware(environ: dict[str, Any], start_response: Any) -> Any:
            if environ["REQUEST_METHOD"] == "POST" and environ["PATH_INFO"].endswith("/pipelines"):
                seen_at_creates.append(term.out.getvalue())  # type: ignore[attr-defined]
            return app(environ, start_response)
        return middleware

    with serve_in_thread(clean_env / "served.db", wrap=snapshot) as server:
        monkeypatch.setenv("LOOPFORM_API_URL", server.base_url)
        monkeypatch.setenv("LOOPFORM_TOKEN", server.token)
        assert main(["apply", "--auto-approve", "--parallelism", "1"], term=term) == 0
    assert len(seen_at_creates) == 3
    assert "local/model-review" not in seen_at_creates[0].split("Plan: ")[-1]
    assert "done           local/model-review (create, then install)" in seen_at_creates[1]
    assert "done           local/nightly-quality (create)" in seen_at_creates[2]
    assert "local/video-frames: created" not in term.out.getvalue()  # step lines only on a TTY
