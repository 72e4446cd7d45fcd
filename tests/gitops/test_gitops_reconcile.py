"""`loopform reconcile`: heals drift made through dtlpy, refuses large drift, holds recent edits,
never prunes without --prune, backs off while the API fails, stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from gitops_kit import SPEC
from harness import OUTPUT_DEADLINE, Drain, cli, point_dtlpy

from reconciler.client import ApiSession, ClientOptions, RestBackend
from reconciler.config import BackendKind, Settings
from reconciler.connection import connect
from reconciler.errors import ConfigError
from reconciler.plan import Action, ChangeOp, FieldChange, PipelineChange, Plan
from reconciler.planner import make_plan
from reconciler.spec_set import find_spec_set
from reconciler.reconcile import CycleReport, Reconciler, ReconcileOptions, parse_duration, select
from reconciler.server.testing import ServerHandle, serve_in_thread
from reconciler.spec import load

FAST = ClientOptions(connect_timeout=2.0, read_timeout=5.0, attempts=1, backoff_factor=0.001,
                     backoff_max=0.01, backoff_jitter=0.001, retry_after_max=0.01)


@pytest.fixture
def applied(workdir: Path, served: ServerHandle) -> ServerHandle:
    """The one-pipeline spec in pipelines/, applied to the served control plane."""
    (workdir / "pipelines").mkdir()
    (workdir / "pipelines" / "frames.yaml").write_text(SPEC)
    first = cli("apply", "--auto-approve")
    assert first.code == 0, first.err
    return served


@pytest.fixture
def backend(applied: ServerHandle) -> Iterator[RestBackend]:
    b = RestBackend(ApiSession(applied.base_url, applied.token, options=FAST), label="test")
    yield b
    b.close()


def planner(workdir: Path, backend: RestBackend, *, prune: bool = False) -> Callable[[], Plan]:
    def plan() -> Plan:
        loaded = load([workdir / "pipelines"])
        assert loaded.ok, [str(e) for e in loaded.errors]
        return make_plan(loaded.specs, backend, default_project="local", prune=prune,
                         spec_set=find_spec_set(workdir, [workdir / "pipelines"]))
    return plan


def raise_priority(dl: ModuleType, server: ServerHandle, *, also_unwire: bool = False) -> None:
    """Someone edits the pipeline in a notebook: the task's priority, maybe a connection too."""
    pipeline = point_dtlpy(dl, server).project.pipelines.get(pipeline_name="frames")
    label = next(n for n in pipeline.nodes if n.name == "label")
    label.metadata["priority"] = 3
    if also_unwire:
        done = next(n for n in pipeline.nodes if n.name == "done")
        pipeline.connections = [c for c in pipeline.connections if c.target.node_id != done.node_id]
    pipeline.update()


def live_priority(dl: ModuleType, server: ServerHandle) -> Any:
    pipeline = point_dtlpy(dl, server).project.pipelines.get(pipeline_name="frames")
    return next(n for n in pipeline.nodes if n.name == "label").metadata.get("priority")


def cycles(run: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in run.splitlines() if line.startswith("{")]


def test_a_drift_made_through_dtlpy_is_healed_by_the_next_cycle(
        workdir: Path, applied: ServerHandle, backend: RestBackend, dtlpy_module: ModuleType) -> None:
    before = live_priority(dtlpy_module, applied)
    reports: list[CycleReport] = []

    def log(report: CycleReport) -> None:
        reports.append(report)
        if report.cycle == 1:  # drift appears between two cycles
            raise_priority(dtlpy_module, applied)

    options = ReconcileOptions(interval=0.2, max_cycles=2)
    Reconciler(make_plan=planner(workdir, backend), backend=backend, options=options, log=log).run()
    assert [r.result for r in reports] == ["in-sync", "applied"]
    assert reports[1].applied == ["local/frames"] and reports[1].changes >= 1
    assert reports[0].next_in_s is not None and reports[0].next_in_s <= options.interval
    assert reports[1].next_in_s is None  # the last cycle
    assert live_priority(dtlpy_module, applied) == before
    assert not planner(workdir, backend)().has_changes


def test_the_cli_heals_once_and_logs_one_json_line_per_cycle(
        workdir: Path, applied: ServerHandle, dtlpy_module: ModuleType) -> None:
    raise_priority(dtlpy_module, applied)
    run = cli("reconcile", "--once", "--interval", "200ms")
    assert run.code == 0, run.err
    (line,) = cycles(run.out)
    assert line["event"] == "cycle" and line["result"] == "applied" and line["applied"] == ["local/frames"]
    again = cli("reconcile", "--once")  # a cron job's single cycle needs no --interval
    assert cycles(again.out)[0]["result"] == "in-sync" and again.code == 0, again.err


def test_a_drift_larger_than_max_changes_is_reported_and_left_alone(
        workdir: Path, applied: ServerHandle, dtlpy_module: ModuleType) -> None:
    raise_priority(dtlpy_module, applied, also_unwire=True)
    refused = cli("reconcile", "--once", "--interval", "0.2s", "--max-changes", "1")
    assert refused.code == 1
    (line,) = cycles(refused.out)
    assert line["result"] == "refused" and line["changes"] > 1 and line["applied"] == []
    assert "more than --max-changes 1" in line["error"]
    assert live_priority(dtlpy_module, applied) == 3  # untouched
    healed = cli("reconcile", "--once", "--interval", "0.2s", "--max-changes", str(line["changes"]))
    assert cycles(healed.out)[0]["result"] == "applied", healed.out
    assert live_priority(dtlpy_module, applied) != 3


def test_a_pipeline_edited_within_the_cooldown_is_held(
        workdir: Path, applied: ServerHandle, dtlpy_module: ModuleType) -> None:
    raise_priority(dtlpy_module, applied)
    held = cli("reconcile", "--once", "--interval", "0.2s", "--cooldown", "1h")
    assert held.code == 0, held.err
    (line,) = cycles(held.out)
    assert line["result"] == "held" and line["held"] == ["local/frames"]
    assert live_priority(dtlpy_module, applied) == 3


def test_a_merged_spec_edit_is_not_held_by_the_cooldown(workdir: Path, applied: ServerHandle) -> None:
    """Removing a named node from the spec is a spec change, not drift: the cooldown (which holds
    pipelines edited outside Loopform) lets it through."""
    spec = workdir / "pipelines" / "frames.yaml"
    spec.write_text(SPEC.replace("{type: dataset, dataset: frames, folder: /done}",
                                 "{type: dataset, dataset: frames, folder: /done, name: Done}"))
    assert cli("apply", "--auto-approve").code == 0
    spec.write_text(SPEC.replace("    done: {type: dataset, dataset: frames, folder: /done}\n", "")
                    .replace("    - {from: label, action: complete, to: done}\n", ""))
    run = cli("reconcile", "--once", "--interval", "0.2s", "--cooldown", "1h")
    (line,) = cycles(run.out)
    assert line["result"] == "applied" and line["held"] == [], line


def test_managed_pipelines_without_a_spec_are_deleted_only_with_prune(
        workdir: Path, applied: ServerHandle, backend: RestBackend) -> None:
    (workdir / "pipelines" / "other.yaml").write_text(SPEC.replace("name: frames", "name: other"))
    assert cli("apply", "--auto-approve").code == 0
    (workdir / "pipelines" / "other.yaml").unlink()
    project = backend.project("local").id
    kept = cli("reconcile", "--once", "--interval", "0.2s")
    assert cycles(kept.out)[0]["result"] == "in-sync"
    assert backend.find_pipeline(project, "other") is not None
    pruned = cli("reconcile", "--once", "--interval", "0.2s", "--prune")
    assert cycles(pruned.out)[0]["applied"] == ["local/other"]
    assert backend.find_pipeline(project, "other") is None


def _change(name: str, actions: list[Action], changes: int, *, drift: bool = False) -> PipelineChange:
    return PipelineChange(project="p", project_id="pid", name=name, pipeline_id=f"id-{name}", actions=actions,
                          changes=[FieldChange(path=f"nodes.n{i}", drift=drift) for i in range(changes)])


def test_select_counts_field_changes_drops_deletes_and_holds_recent_drift() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    plan = Plan.build([_change("a", [Action.UPDATE], 2), _change("b", [Action.DELETE], 1),
                       _change("c", [Action.UPDATE], 1, drift=True), _change("d", [Action.RESUME], 0),
                       _change("e", [Action.NO_OP], 0)], backend="x", spec_digests={})
    recent = {"id-c": now - timedelta(seconds=30), "id-a": now - timedelta(seconds=30)}  # a: Loopform's edit
    chosen = select(plan, updated_at=recent, now=now, options=ReconcileOptions(interval=1, cooldown=60))
    assert [p.name for p in chosen.plan.pipelines] == ["a", "d"]
    assert chosen.changes == 3 and chosen.held == ["p/c"] and chosen.skipped_deletes == ["p/b"]
    pruning = select(plan, updated_at=recent, now=now + timedelta(minutes=5),
                     options=ReconcileOptions(interval=1, cooldown=60, prune=True, max_changes=4))
    assert pruning.refused and pruning.changes == 5 and pruning.plan.pipelines == []
    assert select(plan, updated_at={}, now=now,
                  options=ReconcileOptions(interval=1, max_changes=5, prune=True)).plan.has_changes


def test_a_pipeline_built_by_hand_under_a_spec_name_is_held_too() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    adopted = PipelineChange(project="p", project_id="pid", name="x", pipeline_id="id-x", actions=[Action.UPDATE],
                             changes=[FieldChange(path="managedBy", after="loopform", op=ChangeOp.ADD)])
    plan = Plan.build([adopted], backend="x", spec_digests={})
    options = ReconcileOptions(interval=1, cooldown=60)
    assert select(plan, updated_at={"id-x": now}, now=now, options=options).held == ["p/x"]
    later = select(plan, updated_at={"id-x": now}, now=now + timedelta(minutes=2), options=options)
    assert later.held == [] and later.plan.has_changes


def test_durations() -> None:
    assert [parse_duration(t, flag="--x") for t in ("250ms", "30s", "5m", "1h", "2", "0.5s")] == \
        [0.25, 30.0, 300.0, 3600.0, 2.0, 0.5]
    with pytest.raises(ConfigError, match="--interval '5 minutes': expected a duration"):
        parse_duration("5 minutes", flag="--interval")
    bad = cli("reconcile", "--interval", "soon")
    assert bad.code == 1 and "expected a duration like 30s" in bad.err
    endless = cli("reconcile")  # a loop needs its interval
    assert endless.code == 1 and "--interval is required" in endless.err and not endless.out


class Outage:
    """WSGI middleware: answers 503 while `down` is set (the API failing for real, over HTTP)."""

    def __init__(self) -> None:
        self.down = threading.Event()

    def __call__(self, app: Any) -> Any:
        def wrapped(environ: dict[str, Any], start_response: Any) -> Any:
            if self.down.is_set():
                start_response("503 Service Unavailable", [("Content-Type", "application/json")])
                return [b'{"message": "maintenance"}']
            return app(environ, start_response)
        return wrapped


def test_the_loop_backs_off_while_the_api_fails_and_recovers(workdir: Path) -> None:
    (workdir / "pipelines").mkdir()
    (workdir / "pipelines" / "frames.yaml").write_text(SPEC)
    outage = Outage()
    outage.down.set()
    with serve_in_thread(workdir / "db.sqlite", wrap=outage) as server:
        backend = RestBackend(ApiSession(server.base_url, server.token, options=FAST), label="test")
        reports: list[CycleReport] = []

        def log(report: CycleReport) -> None:
            reports.append(report)
            if report.cycle == 2:
                outage.down.clear()

        options = ReconcileOptions(interval=0.05, max_backoff=0.15, max_cycles=4)
        loop = Reconciler(make_plan=planner(workdir, backend), backend=backend, options=options, log=log)
        loop.run()
        backend.close()
    assert [r.result for r in reports] == ["failed", "failed", "applied", "in-sync"]
    assert "503" in (reports[0].error or "") or "maintenance" in (reports[0].error or "")
    # the wait doubles per consecutive failure (capped), and resets after a success
    probe = Reconciler(make_plan=planner(workdir, backend), backend=backend, options=options, log=print)
    waits = [probe.wait_after(CycleReport(cycle=1, started_at="", result=r))
             for r in ("failed", "failed", "failed", "applied", "failed")]
    assert waits == [0.1, 0.15, 0.15, 0.05, 0.1]


def test_sigterm_ends_the_loop_cleanly(workdir: Path, applied: ServerHandle) -> None:
    env = {**os.environ, "NO_COLOR": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "reconciler", "reconcile", "--interval", "0.2s"],
                            cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    stdout, stderr = Drain(proc.stdout), Drain(proc.stderr)
    try:
        first = json.loads(stdout.wait_for("\n").splitlines()[0])  # the first cycle has run: the loop waits
        assert first["result"] == "in-sync"
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        err = stderr.rest()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Stopped." in err and "Traceback" not in err


class SignalOnWrite:
    """WSGI middleware: on the first PATCH of a pipeline, SIGTERMs the armed process before letting
    the request through (a signal arriving while a write of the apply is in flight)."""

    def __init__(self) -> None:
        self.pid: int | None = None
        self.expecting = threading.Event()  # set just before the process is started
        self.armed = threading.Event()  # set once its pid is known
        self.sent = threading.Event()

    def arm(self, pid: int) -> None:
        self.pid = pid
        self.armed.set()

    def __call__(self, app: Any) -> Any:
        def wrapped(environ: dict[str, Any], start_response: Any) -> Any:
            # A PATCH of the process that came before the test knew its pid waits for arm().
            if environ["REQUEST_METHOD"] == "PATCH" and self.expecting.is_set() \
                    and self.armed.wait(OUTPUT_DEADLINE) and not self.sent.is_set():
                assert self.pid is not None
                os.kill(self.pid, signal.SIGTERM)
                self.sent.set()
            return app(environ, start_response)
        return wrapped


def test_sigterm_during_an_apply_lets_it_finish_then_ends_the_loop(
        workdir: Path, monkeypatch: pytest.MonkeyPatch, dtlpy_module: ModuleType) -> None:
    (workdir / "pipelines").mkdir()
    (workdir / "pipelines" / "frames.yaml").write_text(SPEC)
    trap = SignalOnWrite()
    with serve_in_thread(workdir / "db.sqlite", wrap=trap) as server:
        monkeypatch.setenv("LOOPFORM_API_URL", server.base_url)
        monkeypatch.setenv("LOOPFORM_TOKEN", server.token)
        assert cli("apply", "--auto-approve").code == 0
        raise_priority(dtlpy_module, server)
        trap.expecting.set()
        proc = subprocess.Popen([sys.executable, "-m", "reconciler", "reconcile", "--interval", "1h"],
                                cwd=workdir, env={**os.environ, "NO_COLOR": "1"},
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stdout is not None and proc.stderr is not None
        stdout, stderr = Drain(proc.stdout), Drain(proc.stderr)
        trap.arm(proc.pid)
        try:
            proc.wait(timeout=60)
            out, err = stdout.rest(), stderr.rest()
        finally:
            if proc.poll() is None:
                proc.kill()
        assert trap.sent.is_set()
        assert proc.returncode == 0, err
        (line,) = cycles(out)  # the apply finished; no second cycle, no wait for the hour
        assert line["result"] == "applied" and line["applied"] == ["local/frames"]
        assert "Stopped." in err and "Traceback" not in err
        assert live_priority(dtlpy_module, server) != 3


def test_an_api_down_when_the_loop_starts_is_a_failed_cycle_not_the_end(workdir: Path) -> None:
    (workdir / "pipelines").mkdir()
    (workdir / "pipelines" / "frames.yaml").write_text(SPEC)
    outage = Outage()
    outage.down.set()
    with serve_in_thread(workdir / "db.sqlite", wrap=outage) as server:
        settings = Settings(kind=BackendKind.DATALOOP, project="local", selected_by="test",
                            url=server.base_url, token=server.token)
        reports: list[CycleReport] = []

        def log(report: CycleReport) -> None:
            reports.append(report)
            outage.down.clear()

        def plan() -> Plan:
            assert loop.backend is not None  # connected before planning
            return planner(workdir, loop.backend)()  # type: ignore[arg-type]

        loop = Reconciler(make_plan=plan, connect=lambda: connect(settings, options=FAST), log=log,
                          options=ReconcileOptions(interval=0.05, max_cycles=3))
        loop.run()
        assert loop.backend is not None
        loop.backend.close()  # type: ignore[attr-defined]
    assert [r.result for r in reports] == ["failed", "applied", "in-sync"]
    assert "maintenance" in (reports[0].error or "")
