"""Planning against a remote API waits for few round trips: every name the specs use is looked up
in one query per kind (`$in`), while the pipelines are listed, and nothing is fetched twice."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from faultkit import FaultInjector
from specs import many_pipelines, plan_for

from reconciler.apply import apply_plan
from reconciler.client import RestBackend
from reconciler.server.testing import ServerHandle


def test_a_no_change_plan_looks_each_kind_up_once(tmp_path: Path, server: ServerHandle, backend: RestBackend) -> None:
    specs = many_pipelines(tmp_path, copies=10)
    assert apply_plan(plan_for(specs, backend), backend).ok
    log = server.control_plane.request_log
    log.clear()

    plan = plan_for(specs, backend)

    assert not plan.has_changes and len(plan.pipelines) == 30
    served = Counter((e.method, e.path.removeprefix("/api/v1")) for e in log)
    assert [r for r, n in served.items() if n > 1] == []  # nothing fetched twice
    project = backend.project("local").id
    assert sorted(served) == sorted([
        ("GET", "/projects/local/name"),
        ("POST", "/pipelines/query"),
        ("POST", "/datasets/query"),  # every dataset name in one query
        ("GET", "/recipes"),  # the project's recipes, matched to the datasets' recipe ids
        ("POST", "/ml/models/query"),
        ("POST", "/query/faas"),
        ("GET", f"/projects/{project}/members"),
    ])


def test_names_not_found_by_the_batch_are_not_asked_again(tmp_path: Path, server: ServerHandle,
                                                          backend: RestBackend) -> None:
    # A fresh sandbox: every name is unknown, and is planned as a provision after one query per kind.
    specs = many_pipelines(tmp_path, copies=3)
    backend.project("local")
    log = server.control_plane.request_log
    log.clear()

    plan = plan_for(specs, backend)

    assert plan.has_changes
    served = Counter((e.method, e.path.removeprefix("/api/v1")) for e in log)
    assert [r for r, n in served.items() if n > 1] == []
    assert not any(method == "GET" and path.startswith(("/datasets/", "/recipes/")) for method, path in served)


def test_a_server_refusing_a_batch_query_is_asked_name_by_name(tmp_path: Path, server: ServerHandle,
                                                               backend: RestBackend, faults: FaultInjector) -> None:
    specs = many_pipelines(tmp_path, copies=2)
    assert apply_plan(plan_for(specs, backend), backend).ok
    faults.add("POST", r"/datasets/query$", "status", status=400)  # the batch, not the single lookups after it

    assert not plan_for(specs, backend).has_changes
    assert faults.seen.count(("POST", "/api/v1/datasets/query")) > 2
