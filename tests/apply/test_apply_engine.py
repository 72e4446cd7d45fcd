"""apply_plan executes hand-built plans against the real local control plane over HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest
from docs import change, document, plan
from faultkit import Concurrency, FaultInjector

from reconciler.apply import DEFAULT_PARALLELISM, Outcome, ResultEvent, StartEvent, Step, StepEvent, apply_plan
from reconciler.backend import Resolved, ResourceKind
from reconciler.client import ApiSession, ClientOptions, RestBackend
from reconciler.document import Pipeline
from reconciler.marker import read_marker
from reconciler.plan import Action
from reconciler.server.testing import ServerHandle, serve_in_thread

FAST = ClientOptions(read_timeout=5.0, attempts=3, backoff_factor=0.001, backoff_max=0.01,
                     backoff_jitter=0.001, retry_after_max=0.01)


@pytest.fixture
def client_options() -> ClientOptions:
    """The shared `backend` (tests/conftest.py) with these options."""
    return FAST


@pytest.fixture
def pid(backend: RestBackend) -> str:
    return backend.project("local").id


def _live(backend: RestBackend, pid: str) -> dict[str, Pipeline]:
    return {p.name: p for p in backend.list_pipelines(pid)}


def test_create_and_resume_then_events_and_results(backend: RestBackend, pid: str) -> None:
    events: list[object] = []
    result = apply_plan(plan(change(pid, "a", [Action.CREATE, Action.RESUME], desired=document("a", pid)),
                             change(pid, "b", [Action.CREATE], desired=document("b", pid))),
                        backend, on_event=events.append)
    assert result.ok
    assert [(r.name, r.outcome, r.done) for r in result.results] == [
        ("a", Outcome.DONE, [Step.CREATE, Step.RESUME]), ("b", Outcome.DONE, [Step.CREATE])]
    live = _live(backend, pid)
    assert live["a"].status == "Installed" and live["b"].status == "Created"
    assert read_marker(live["a"]) is not None
    assert [n.id for n in live["a"].nodes] == [n.id for n in document("a", pid).nodes]
    kinds = [type(e) for e in events]
    assert kinds.count(StartEvent) == 2 and kinds.count(ResultEvent) == 2 and kinds.count(StepEvent) == 3


def test_update_pause_and_delete(backend: RestBackend, pid: str) -> None:
    apply_plan(plan(change(pid, "a", [Action.CREATE, Action.RESUME], desired=document("a", pid))), backend)
    live = _live(backend, pid)["a"]
    edited = document("a", pid, nodes=3, label="m")
    result = apply_plan(plan(change(pid, "a", [Action.UPDATE, Action.PAUSE], desired=edited,
                                    pipeline_id=live.id)), backend)
    assert result.ok
    after = _live(backend, pid)["a"]
    assert [n.name for n in after.nodes] == ["m0", "m1", "m2"]
    assert after.status == "Uninstalled"
    assert apply_plan(plan(change(pid, "a", [Action.DELETE], pipeline_id=live.id)), backend).ok
    assert _live(backend, pid) == {}
    # Deleting what is already gone converges (a lost answer to an earlier DELETE).
    assert apply_plan(plan(change(pid, "a", [Action.DELETE], pipeline_id=live.id)), backend).ok


def test_delete_refuses_an_unmanaged_pipeline(backend: RestBackend, pid: str) -> None:
    theirs = backend.create_pipeline(Pipeline(name="theirs", projectId=pid))
    result = apply_plan(plan(change(pid, "theirs", [Action.DELETE], pipeline_id=theirs.id)), backend)
    assert not result.ok
    assert "not managed by loopform" in (result.results[0].error or "")
    assert "theirs" in _live(backend, pid)


def test_reset_then_the_marker_records_the_token(backend: RestBackend, pid: str, server: ServerHandle) -> None:
    apply_plan(plan(change(pid, "a", [Action.CREATE, Action.RESUME], desired=document("a", pid))), backend)
    live = _live(backend, pid)["a"]
    server.control_plane.request_log.clear()
    result = apply_plan(plan(change(pid, "a", [Action.RESET], pipeline_id=live.id, reset_token="t1",
                                    desired=document("a", pid, reset_token="t1"))), backend)
    assert result.ok and result.results[0].done == [Step.RESET, Step.MARKER]
    writes = [(e.method, e.path.rsplit("/", 1)[-1]) for e in server.control_plane.request_log.writes()]
    assert writes == [("POST", "reset"), ("PATCH", live.id)]  # reset first, then the marker
    marker = read_marker(_live(backend, pid)["a"])
    assert marker is not None and marker.resetToken == "t1"


def test_reset_before_update_lets_the_update_write_the_marker(backend: RestBackend, pid: str,
                                                              server: ServerHandle) -> None:
    apply_plan(plan(change(pid, "a", [Action.CREATE], desired=document("a", pid))), backend)
    live = _live(backend, pid)["a"]
    server.control_plane.request_log.clear()
    result = apply_plan(plan(change(pid, "a", [Action.RESET, Action.UPDATE], pipeline_id=live.id,
                                    reset_token="t2", desired=document("a", pid, nodes=3, reset_token="t2"))),
                        backend)
    assert result.results[0].done == [Step.RESET, Step.UPDATE]
    assert len(server.control_plane.request_log.writes()) == 2
    assert read_marker(_live(backend, pid)["a"]).resetToken == "t2"  # type: ignore[union-attr]


def test_concurrent_create_adopts_a_managed_twin_but_not_a_stranger(backend: RestBackend, pid: str) -> None:
    # Another apply created "a" (with the marker) after our plan was made: adopt it, converge.
    backend.create_pipeline(document("a", pid, label="old"))
    # Someone else's "b" (no marker): never adopted.
    backend.create_pipeline(Pipeline(name="b", projectId=pid))
    result = apply_plan(plan(change(pid, "a", [Action.CREATE, Action.RESUME], desired=document("a", pid)),
                             change(pid, "b", [Action.CREATE], desired=document("b", pid))), backend)
    a, b = result.results
    assert a.outcome is Outcome.DONE
    assert b.outcome is Outcome.FAILED and "409" in (b.error or "")
    live = _live(backend, pid)
    assert [n.name for n in live["a"].nodes] == ["n0", "n1"] and live["a"].status == "Installed"
    assert live["b"].nodes == []


def test_a_failed_step_leaves_later_steps_not_attempted(backend: RestBackend, pid: str,
                                                       faults: FaultInjector) -> None:
    faults.add("POST", r"/install$", "status", times=1, status=400)
    result = apply_plan(plan(change(pid, "a", [Action.CREATE, Action.RESUME], desired=document("a", pid)),
                             change(pid, "b", [Action.CREATE], desired=document("b", pid))), backend)
    a, b = result.results
    assert (a.outcome, a.done, a.failed_step, a.pending) == (Outcome.FAILED, [Step.CREATE], Step.RESUME, [])
    assert "injected 400" in (a.error or "")
    assert b.outcome is Outcome.DONE
    assert not result.ok
    # A re-run of the rest of the plan finishes the job.
    live = _live(backend, pid)["a"]
    assert apply_plan(plan(change(pid, "a", [Action.RESUME], pipeline_id=live.id)), backend).ok


def test_refused_credentials_stop_the_rest(server: ServerHandle, pid: str) -> None:
    bad = RestBackend(ApiSession(server.base_url, "not-a-token", options=FAST), label="bad")
    result = apply_plan(plan(*(change(pid, f"p{i}", [Action.CREATE], desired=document(f"p{i}", pid))
                               for i in range(3))), bad, parallelism=1)
    assert [r.outcome for r in result.results] == [Outcome.FAILED, Outcome.NOT_ATTEMPTED, Outcome.NOT_ATTEMPTED]
    assert result.results[1].pending == [Step.CREATE]
    bad.close()


def test_no_op_changes_are_unchanged_and_make_no_request(backend: RestBackend, pid: str, server: ServerHandle) -> None:
    server.control_plane.request_log.clear()
    result = apply_plan(plan(change(pid, "a", [Action.NO_OP], pipeline_id="x")), backend)
    assert result.ok and result.results[0].outcome is Outcome.UNCHANGED
    assert len(server.control_plane.request_log) == 0


def test_provisions_happen_before_the_create(backend: RestBackend, pid: str) -> None:
    resolved = backend.resolver(pid).resolve(ResourceKind.DATASET, "frames")
    assert resolved.provision
    c = change(pid, "a", [Action.CREATE], desired=document("a", pid)).model_copy(
        update={"provisions": [resolved, Resolved(kind=ResourceKind.DATASET, name="known", id="abc")]})
    result = apply_plan(plan(c), backend)
    assert result.results[0].done == [Step.PROVISION, Step.CREATE]
    again = backend.resolver(pid).resolve(ResourceKind.DATASET, "frames")
    assert (again.id, again.provision) == (resolved.id, False)


def test_a_provision_shared_by_pipelines_is_made_once(backend: RestBackend, pid: str, server: ServerHandle) -> None:
    shared = backend.resolver(pid).resolve(ResourceKind.DATASET, "shared-frames")
    changes = [change(pid, f"p{i}", [Action.CREATE], desired=document(f"p{i}", pid)).model_copy(
        update={"provisions": [shared]}) for i in range(6)]
    server.control_plane.request_log.clear()
    result = apply_plan(plan(*changes), backend, parallelism=4)
    assert result.ok
    assert all(r.done == [Step.PROVISION, Step.CREATE] for r in result.results)
    provisions = [e for e in server.control_plane.request_log.entries() if e.path.endswith("/loopform/provision")]
    assert len(provisions) == 1


@pytest.mark.parametrize("parallelism", [None, 1, 3])
def test_parallelism_is_bounded_and_used(tmp_path: Path, parallelism: int | None) -> None:
    bound = parallelism or DEFAULT_PARALLELISM  # apply_plan's default, the CLI's too
    # The server holds the first creates (up to a second) until one more than the bound is in:
    # an apply that kept more in flight would be seen, one that kept fewer would too.
    inflight = Concurrency("POST", r"/pipelines$", target=bound + 1, patience=1.0)
    with serve_in_thread(tmp_path / "state.db", wrap=inflight) as server:
        b = RestBackend(ApiSession(server.base_url, server.token, options=FAST), label="x")
        pid = b.project("local").id
        changes = [change(pid, f"p{i}", [Action.CREATE], desired=document(f"p{i}", pid))
                   for i in range(2 * bound)]
        kwargs = {} if parallelism is None else {"parallelism": parallelism}
        assert apply_plan(plan(*changes), b, **kwargs).ok
        b.close()
    assert inflight.count == 2 * bound
    assert inflight.max_seen == bound


def test_a_failing_event_handler_does_not_cut_the_apply_short(backend: RestBackend, pid: str) -> None:
    seen: list[object] = []

    def closed_pipe(event: object) -> None:
        seen.append(event)
        raise BrokenPipeError("stdout is gone")

    changes = [change(pid, f"p{i}", [Action.CREATE, Action.RESUME], desired=document(f"p{i}", pid)) for i in range(3)]
    with pytest.raises(BrokenPipeError):
        apply_plan(plan(*changes), backend, on_event=closed_pipe, parallelism=2)
    assert len(seen) == 1  # not called again after it failed
    live = _live(backend, pid)
    assert sorted(live) == ["p0", "p1", "p2"] and {p.status for p in live.values()} == {"Installed"}


def test_steps_after_the_failed_one_are_not_attempted(backend: RestBackend, pid: str, faults: FaultInjector,
                                                      server: ServerHandle) -> None:
    apply_plan(plan(change(pid, "a", [Action.CREATE], desired=document("a", pid))), backend)
    live = _live(backend, pid)["a"]
    faults.add("POST", r"/reset$", "status", times=1, status=400)
    server.control_plane.request_log.clear()
    result = apply_plan(plan(change(pid, "a", [Action.RESET, Action.UPDATE, Action.RESUME], pipeline_id=live.id,
                                    reset_token="t", desired=document("a", pid, nodes=3, reset_token="t"))),
                        backend)
    a = result.results[0]
    assert (a.outcome, a.done, a.failed_step, a.pending) == (Outcome.FAILED, [], Step.RESET,
                                                             [Step.UPDATE, Step.RESUME])
    assert server.control_plane.request_log.writes() == []  # the update did not run: the token stays unrecorded
    assert read_marker(_live(backend, pid)["a"]).resetToken is None  # type: ignore[union-attr]
