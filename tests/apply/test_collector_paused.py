"""Loading specs and planning keep everything they build to the end: the cyclic garbage collector
does not traverse all of it again and again meanwhile (that made a large plan a third slower), so
the collections they start do not grow with the number of specs; it runs as before once they are
done."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from specs import many_pipelines, plan_for

from reconciler.apply import apply_plan
from reconciler.client import RestBackend
from reconciler.plan import Plan
from reconciler.spec import load


@pytest.fixture
def count_collections() -> Iterator[Callable[[Callable[[], Any]], int]]:
    """How many collections start while a function runs, with one due at nearly every allocation."""
    started: list[int] = []

    def record(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started.append(info["generation"])

    def count(work: Callable[[], Any]) -> int:
        before = len(started)
        work()
        return len(started) - before

    threshold = gc.get_threshold()
    gc.set_threshold(1)
    gc.callbacks.append(record)
    try:
        yield count
    finally:
        gc.callbacks.remove(record)
        gc.set_threshold(*threshold)


def test_loading_more_specs_starts_no_more_collections(
        tmp_path: Path, count_collections: Callable[[Callable[[], Any]], int]) -> None:
    few, many = many_pipelines(tmp_path / "few", 1), many_pipelines(tmp_path / "many", 8)
    assert count_collections(lambda: load([many])) == count_collections(lambda: load([few]))
    assert gc.isenabled()


def test_planning_more_pipelines_starts_no_more_collections(
        tmp_path: Path, backend: RestBackend, count_collections: Callable[[Callable[[], Any]], int]) -> None:
    many = many_pipelines(tmp_path, 8)
    assert apply_plan(plan_for(many, backend), backend).ok
    few = sorted(many.glob("*.yaml"))[:3]
    from reconciler.planner import make_plan
    from reconciler.spec_set import find_spec_set

    def plan(paths: list[Path]) -> Callable[[], None]:
        specs, spec_set = load(paths).specs, find_spec_set(tmp_path, paths)

        def make() -> None:
            made.append(make_plan(specs, backend, default_project="local", spec_set=spec_set))

        return make

    made: list[Plan] = []
    assert count_collections(plan([many])) == count_collections(plan(few))
    assert [len(p.pipelines) for p in made] == [24, 3] and not any(p.has_changes for p in made)
    assert gc.isenabled()


def test_the_collector_stays_off_if_it_was_off(tmp_path: Path) -> None:
    gc.disable()
    try:
        load([many_pipelines(tmp_path, 1)])
        assert not gc.isenabled()
    finally:
        gc.enable()
