"""Apply under faults over real HTTP: it succeeds or fails cleanly, a re-run converges, no pipeline
is ever duplicated, and nothing outside the plan is touched.

Every test starts from a `World` whose plan uses every kind of write (provision, create, update,
pause/resume, reset, delete) and checks that the faults it injects did fire. The local control plane
refuses a second pipeline of the same name (409), as the real platform is assumed to; so "never
duplicated" is checked where a platform without that rule would have made the twin: no create of a
name that was already committed ever reaches the server.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from faultkit import DroppingProxy, FaultInjector
from specs import copy_examples, plan_for, spec_names, writes

from reconciler.apply import Outcome, Step, apply_plan
from reconciler.client import ApiSession, ClientOptions, RestBackend
from reconciler.document import Pipeline
from reconciler.normalize import fingerprint
from reconciler.plan import Action, Plan
from reconciler.server.testing import ServerHandle

FAST = ClientOptions(read_timeout=0.5, attempts=3, backoff_factor=0.001, backoff_max=0.01,
                     backoff_jitter=0.001, retry_after_max=0.01)
CREATE = "/api/v1/pipelines"


def _backend(base_url: str, server: ServerHandle) -> RestBackend:
    return RestBackend(ApiSession(base_url, server.token, options=FAST), label="test")


@dataclass
class World:
    server: ServerHandle
    specs: Path
    checker: RestBackend  # a clean backend to check the end state with
    bystander: Pipeline  # a pipeline nobody planned to touch (not managed)

    def plan(self, backend: RestBackend) -> Plan:
        return plan_for(self.specs, backend, prune=True)

    def assert_converged(self) -> None:
        live = self.checker.list_pipelines(self.checker.project("local").id)
        # One of each, no twins, the pruned one gone, the bystander kept as it was.
        assert sorted(p.name for p in live) == sorted([*spec_names(self.specs), self.bystander.name])
        assert not self.plan(self.checker).has_changes
        assert fingerprint(self.checker.get_pipeline(self.bystander.id or "")) == fingerprint(self.bystander)

    def committed_creates(self) -> list[int]:
        """The statuses the server itself answered to creates (faults injected in front excluded)."""
        return [e.status for e in self.server.control_plane.request_log.entries()
                if e.method == "POST" and e.path == CREATE]


@pytest.fixture
def world(tmp_path: Path, server: ServerHandle) -> Iterator[World]:
    """The examples to apply onto a project where video-frames exists (paused, another description
    and resetToken) and `retired` is managed but has no spec: the plan creates model-review (and
    installs it) and nightly-quality, resets, updates and resumes video-frames, deletes retired."""
    specs = copy_examples(tmp_path)
    frames = specs / "video-frames.yaml"
    final = frames.read_text().replace("spec:\n", 'spec:\n  resetToken: "r1"\n', 1)
    frames.write_text(final.replace('resetToken: "r1"', 'resetToken: "r0"').replace(
        "status: installed", "status: paused").replace("description: Cut videos", "description: Formerly cut videos"))
    retired = specs / "retired.yaml"
    retired.write_text((specs / "model-review.yaml").read_text().replace("name: model-review", "name: retired"))
    later = ("model-review.yaml", "nightly-quality.yaml", "tests/model-review.yaml", "tests/nightly-quality.yaml")
    (tmp_path / "tests").mkdir()
    for name in later:  # a spec set aside takes its test file along (a test naming no spec is an error)
        (specs / name).rename(tmp_path / name)
    checker = _backend(server.base_url, server)
    assert apply_plan(plan_for(specs, checker), checker).ok
    frames.write_text(final)
    retired.unlink()
    for name in later:
        (tmp_path / name).rename(specs / name)
    pid = checker.project("local").id
    theirs = checker.create_pipeline(Pipeline(name="someone-elses", projectId=pid, description="hands off"))
    w = World(server, specs, checker, checker.get_pipeline(theirs.id or ""))
    planned = {c.name: c.actions for c in w.plan(checker).pipelines}
    assert planned == {"model-review": [Action.CREATE, Action.RESUME], "nightly-quality": [Action.CREATE],
                       "retired": [Action.DELETE],
                       "video-frames": [Action.RESET, Action.UPDATE, Action.RESUME]}, planned
    server.control_plane.request_log.clear()
    yield w
    checker.close()


Rule = tuple[str, str, str, int, int]  # method, path regex, kind, status, times

ID = r"/pipelines/[0-9a-f]+"


@pytest.mark.parametrize("rules", [
    pytest.param([("PATCH", ID + "$", "status", 500, 2)], id="update-500"),
    pytest.param([("PATCH", ID + "$", "slow", 0, 1)], id="update-timeout"),
    pytest.param([("POST", ID + "/install$", "status", 503, 2)], id="install-503"),
    pytest.param([("POST", ID + "/reset$", "status", 503, 2)], id="reset-503"),
    pytest.param([("POST", "/pipelines$", "status", 429, 2)], id="create-429-retry-after"),
    pytest.param([("POST", "/loopform/provision$", "status", 502, 2)], id="provision-502"),
    pytest.param([("POST", "/pipelines$", "status-after-commit", 500, 2)], id="create-committed-then-500"),
    pytest.param([("POST", "/pipelines$", "slow-after-commit", 0, 1)], id="create-committed-then-timeout"),
    pytest.param([("POST", "/pipelines$", "status-after-commit", 500, 1),
                  ("POST", "/pipelines/query$", "status", 504, 2)], id="create-lost-and-lookup-504"),
    pytest.param([("DELETE", ID + "$", "status", 503, 2)], id="delete-503"),
    pytest.param([("DELETE", ID + "$", "status-after-commit", 500, 1)], id="delete-committed-then-500"),
])
def test_transient_faults_are_absorbed_or_resolved(world: World, faults: FaultInjector, rules: list[Rule]) -> None:
    backend = _backend(world.server.base_url, world.server)
    plan = world.plan(backend)
    added = [faults.add(method, path, kind, times=times, status=status, headers=[("Retry-After", "2")])
             for method, path, kind, status, times in rules]
    result = apply_plan(plan, backend)
    assert result.ok, [r.error for r in result.results]
    assert [r.fired for r in added] == [r.times for r in added]  # the faults did happen
    # Each create reached the server once: none was resent after it had committed.
    assert world.committed_creates() == [200, 200]
    world.assert_converged()
    backend.close()


def test_persistent_failure_fails_cleanly_and_a_rerun_converges(world: World, faults: FaultInjector) -> None:
    backend = _backend(world.server.base_url, world.server)
    rule = faults.add("POST", r"/install$", "status", times=100, status=500)
    first = apply_plan(world.plan(backend), backend)
    assert rule.fired == 2 * (1 + FAST.attempts)  # model-review's and video-frames' installs, each retried
    by_name = {r.name: r for r in first.results}
    for name, done in (("model-review", [Step.CREATE]),  # retired's provisions serve it too
                       ("video-frames", [Step.RESET, Step.UPDATE])):
        failed = by_name[name]
        assert (failed.outcome, failed.done, failed.failed_step, failed.pending) == (
            Outcome.FAILED, done, Step.RESUME, [])
        assert "injected 500" in (failed.error or "")
    assert by_name["nightly-quality"].outcome is Outcome.DONE and by_name["retired"].outcome is Outcome.DONE
    faults.clear()
    second = apply_plan(world.plan(backend), backend)
    assert second.ok
    assert [(r.name, r.done) for r in second.results if r.outcome is Outcome.DONE] == [
        ("model-review", [Step.RESUME]), ("video-frames", [Step.RESUME])]  # only what was left
    world.assert_converged()
    backend.close()


def test_connection_resets_and_lost_answers(world: World) -> None:
    proxy = DroppingProxy(world.server.port)
    backend = _backend(proxy.base_url(), world.server)
    plan = world.plan(backend)
    # One worker: the plan's order (model-review, nightly-quality, retired, video-frames) decides
    # which request each rule meets.
    rules = [
        proxy.drop("POST", r"/pipelines$", when="after"),  # model-review committed, answer lost: found by name
        proxy.drop("POST", r"/pipelines$", when="before"),  # nightly-quality never arrived: fails cleanly
        proxy.drop("DELETE", r"/pipelines/", when="after"),  # retired deleted, answer lost: retried, 404, done
        proxy.drop("PATCH", r"/pipelines/", when="before"),  # idempotent: retried
        proxy.drop("POST", r"/install$", when="after"),  # idempotent: retried
    ]
    first = apply_plan(plan, backend, parallelism=1)
    assert [r.fired for r in rules] == [1] * len(rules)
    outcomes = {r.name: r.outcome for r in first.results}
    assert outcomes == {"model-review": Outcome.DONE, "nightly-quality": Outcome.FAILED,
                        "retired": Outcome.DONE, "video-frames": Outcome.DONE}
    failed = next(r for r in first.results if r.outcome is Outcome.FAILED)
    assert "connection" in (failed.error or "") and "run again" in (failed.error or "")
    second = apply_plan(world.plan(backend), backend)
    assert second.ok
    assert [(r.name, r.done[-1]) for r in second.results if r.outcome is Outcome.DONE] == [
        ("nightly-quality", Step.CREATE)]
    assert 409 not in world.committed_creates()
    world.assert_converged()
    backend.close()
    proxy.close()


def test_only_planned_pipelines_are_written(world: World) -> None:
    backend = _backend(world.server.base_url, world.server)
    plan = world.plan(backend)
    result = apply_plan(plan, backend)
    assert result.ok
    ids = {r.pipeline_id for r in result.results}
    touched = set()
    for method, path in writes(world.server.control_plane):
        assert world.bystander.id not in path
        if path.startswith("/api/v1/pipelines/"):
            assert path.split("/")[4] in ids
            touched.add(path.split("/")[4])
    # Each pipeline has a write besides its create: its id recorded in its marker, installed,
    # reset/updated, deleted.
    assert touched == ids
    backend.close()


def test_two_applies_at_once_make_one_pipeline_per_spec(world: World) -> None:
    backends = [_backend(world.server.base_url, world.server) for _ in range(2)]
    plans = [world.plan(b) for b in backends]  # both planned before either applied
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
    # Both sent each create; the server took one of each and refused the other, which that apply
    # then adopted (it carries the marker) instead of failing or making a twin.
    assert sorted(world.committed_creates()) == [200, 200, 409, 409]
    world.assert_converged()
    for b in backends:
        b.close()
