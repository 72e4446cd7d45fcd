"""Apply under faults over real HTTP: it succeeds or fails cleanly, a re-run converges, no pipeline
is ever duplicated, and nothing outside the plan is touched."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from faultkit import DroppingProxy, FaultInjector
from specs import copy_examples, plan_for, spec_names, writes

from reconciler.apply import Outcome, apply_plan
from reconciler.client import ApiSession, ClientOptions, RestBackend
from reconciler.document import Pipeline
from reconciler.normalize import fingerprint
from reconciler.server.testing import ServerHandle

FAST = ClientOptions(read_timeout=0.5, attempts=3, backoff_factor=0.001, backoff_max=0.01,
                     backoff_jitter=0.001, retry_after_max=0.01)


@pytest.fixture
def specs(tmp_path: Path) -> Path:
    return copy_examples(tmp_path)


def _backend(base_url: str, server: ServerHandle) -> RestBackend:
    return RestBackend(ApiSession(base_url, server.token, options=FAST), label="test")


@pytest.fixture
def bystander(server: ServerHandle) -> Iterator[tuple[RestBackend, Pipeline]]:
    """A pipeline nobody planned to touch, and a clean backend to check the end state with."""
    checker = _backend(server.base_url, server)
    pid = checker.project("local").id
    theirs = checker.create_pipeline(Pipeline(name="someone-elses", projectId=pid, description="hands off"))
    yield checker, checker.get_pipeline(theirs.id or "")
    checker.close()


def _assert_converged(checker: RestBackend, specs: Path, bystander: Pipeline) -> None:
    pid = checker.project("local").id
    live = checker.list_pipelines(pid)
    names = [p.name for p in live]
    assert sorted(names) == sorted([*spec_names(specs), bystander.name])  # one of each: no twins
    assert not plan_for(specs, checker).has_changes
    assert fingerprint(checker.get_pipeline(bystander.id or "")) == fingerprint(bystander)


@pytest.mark.parametrize(
    ("method", "path", "kind", "status", "times"),
    [
        ("PATCH", r"/pipelines/[0-9a-f]+$", "status", 500, 2),
        ("POST", r"/install$", "status", 503, 2),
        ("POST", r"/pipelines$", "status", 429, 2),
        ("POST", r"/loopform/provision$", "status", 502, 2),
        ("POST", r"/pipelines/query$", "status", 504, 2),
        ("POST", r"/pipelines$", "status-after-commit", 500, 2),
        ("POST", r"/pipelines$", "slow-after-commit", 0, 1),
        ("GET", r"/projects/", "slow", 0, 1),
    ],
)
def test_transient_faults_are_absorbed_or_resolved(
    server: ServerHandle, faults: FaultInjector, specs: Path, bystander: tuple[RestBackend, Pipeline],
    method: str, path: str, kind: str, status: int, times: int,
) -> None:
    checker, theirs = bystander
    backend = _backend(server.base_url, server)
    plan = plan_for(specs, backend)
    faults.add(method, path, kind, times=times, status=status, headers=[("Retry-After", "2")], delay=1.0)
    result = apply_plan(plan, backend)
    assert result.ok, [r.error for r in result.results]
    _assert_converged(checker, specs, theirs)
    backend.close()


def test_persistent_failure_fails_cleanly_and_a_rerun_converges(
    server: ServerHandle, faults: FaultInjector, specs: Path, bystander: tuple[RestBackend, Pipeline],
) -> None:
    checker, theirs = bystander
    backend = _backend(server.base_url, server)
    faults.add("POST", r"/install$", "status", times=100, status=500)
    first = apply_plan(plan_for(specs, backend), backend)
    assert not first.ok
    failed = [r for r in first.results if r.outcome is Outcome.FAILED]
    assert failed and all("injected 500" in (r.error or "") for r in failed)
    faults.clear()
    second = apply_plan(plan_for(specs, backend), backend)
    assert second.ok
    _assert_converged(checker, specs, theirs)
    backend.close()


def test_connection_resets_and_lost_answers(
    server: ServerHandle, specs: Path, bystander: tuple[RestBackend, Pipeline],
) -> None:
    checker, theirs = bystander
    proxy = DroppingProxy(server.port)
    backend = _backend(proxy.base_url(), server)
    plan = plan_for(specs, backend)
    proxy.drop("POST", r"/pipelines$", when="after", times=2)  # committed, answer lost: looked up
    proxy.drop("POST", r"/pipelines$", when="before", times=1)  # never arrived: fails cleanly
    proxy.drop("PATCH", r"/pipelines/", when="before", times=1)  # idempotent: retried
    proxy.drop("POST", r"/install$", when="after", times=1)  # idempotent: retried
    first = apply_plan(plan, backend, parallelism=1)
    outcomes = sorted(r.outcome.value for r in first.results)
    assert outcomes in (["done", "done", "failed"], ["done", "done", "done"])
    for r in first.results:
        if r.outcome is Outcome.FAILED:
            assert "connection" in (r.error or "")
    second = apply_plan(plan_for(specs, backend), backend)
    assert second.ok
    _assert_converged(checker, specs, theirs)
    assert proxy.dropped >= 4
    backend.close()
    proxy.close()


def test_only_planned_pipelines_are_written(server: ServerHandle, specs: Path,
                                            bystander: tuple[RestBackend, Pipeline]) -> None:
    checker, theirs = bystander
    backend = _backend(server.base_url, server)
    server.control_plane.request_log.clear()
    result = apply_plan(plan_for(specs, backend), backend)
    ids = {r.pipeline_id for r in result.results}
    for method, path in writes(server.control_plane):
        assert theirs.id not in path
        if path.startswith("/api/v1/pipelines/"):
            assert path.split("/")[4] in ids
    backend.close()


def test_two_applies_at_once_make_one_pipeline_per_spec(server: ServerHandle, specs: Path,
                                                        bystander: tuple[RestBackend, Pipeline]) -> None:
    checker, theirs = bystander
    backends = [_backend(server.base_url, server) for _ in range(2)]
    plans = [plan_for(specs, b) for b in backends]  # both planned before either applied
    results = []
    barrier = threading.Barrier(2)

    def run(i: int) -> None:
        barrier.wait()
        results.append(apply_plan(plans[i], backends[i]))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.ok for r in results), [[x.error for x in r.results] for r in results]
    _assert_converged(checker, specs, theirs)
    for b in backends:
        b.close()
