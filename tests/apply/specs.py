"""The repository's example specs, copied into a test's directory, and helpers to plan them."""

from __future__ import annotations

from pathlib import Path

from reconciler.backend import Backend
from reconciler.plan import Plan
from reconciler.planner import make_plan
from reconciler.server import ControlPlane
from reconciler.spec import load
from reconciler.spec_set import find_spec_set

from harness import copy_examples

__all__ = ["copy_examples", "plan_for", "spec_names", "writes"]


def plan_for(specs: Path, backend: Backend, *, prune: bool = False) -> Plan:
    loaded = load([specs])
    assert loaded.ok, [str(e) for e in loaded.errors]
    # The spec set the CLI plans for when run next to `specs` (reconciler.spec_set).
    return make_plan(loaded.specs, backend, default_project="local", prune=prune,
                     spec_set=find_spec_set(specs.parent, [specs]))


def many_pipelines(into: Path, copies: int) -> Path:
    """The examples (datasets, recipes, models, services, members) `copies` times over."""
    specs = copy_examples(into)
    for original in sorted(specs.glob("*.yaml")):
        text = original.read_text()
        name = next(line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("  name:"))
        for i in range(1, copies):
            (specs / f"{original.stem}-{i}.yaml").write_text(text.replace(f"  name: {name}\n", f"  name: {name}-{i}\n", 1))
    return specs


def spec_names(specs: Path) -> list[str]:
    return sorted(s.spec.metadata.name for s in load([specs]).specs)


def writes(plane: ControlPlane) -> list[tuple[str, str]]:
    """Write requests served, as the control plane classifies them (query routes are reads)."""
    return [(e.method, e.path) for e in plane.request_log.writes()]
