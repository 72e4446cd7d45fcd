"""The Plan model is a public, versioned JSON format: it must round-trip exactly and count right."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from reconciler.backend import ResourceKind, Resolved
from reconciler.document import Node, Pipeline
from reconciler.plan import Action, ChangeOp, FieldChange, PipelineChange, Plan, PlatformChange


def _change(name: str, actions: list[Action], project: str = "p") -> PipelineChange:
    return PipelineChange(
        project=project, project_id="pid", name=name, actions=actions,
        desired=Pipeline(name=name, nodes=[Node(id="n1", name="a", type="code")]),
        changes=[FieldChange(path="nodes.a", after={"type": "code"}, op=ChangeOp.ADD),
                 FieldChange(path="nodes.b.task.recipe", before="default", after="strict", platform=[
                     PlatformChange(path="nodes.b.metadata.recipeId", before="r1", after="r2")])],
        provisions=[Resolved(kind=ResourceKind.DATASET, name="frames", id="d1", provision=True)],
    )


def test_plan_round_trips_through_json_and_sorts_pipelines() -> None:
    plan = Plan.build(
        [_change("zeta", [Action.CREATE, Action.RESUME]), _change("alpha", [Action.NO_OP]),
         _change("beta", [Action.UPDATE], project="a")],
        backend="local", spec_digests={"b.yaml": "2", "a.yaml": "1"}, created_at="2026-01-01T00:00:00+00:00",
    )
    assert [(p.project, p.name) for p in plan.pipelines] == [("a", "beta"), ("p", "alpha"), ("p", "zeta")]
    text = plan.to_json()
    assert Plan.from_json(text) == plan
    data = json.loads(text)
    assert data["format_version"] == 1
    # desired is the wire form: no null fields that apply would send
    assert "description" not in data["pipelines"][0]["desired"]


def test_counts_and_has_changes() -> None:
    plan = Plan.build(
        [_change("a", [Action.CREATE, Action.RESUME]), _change("b", [Action.UPDATE, Action.RESUME]),
         _change("c", [Action.PAUSE]), _change("d", [Action.DELETE]), _change("e", [Action.NO_OP])],
        backend="local", spec_digests={},
    )
    counts = plan.counts()
    assert (counts.create, counts.update, counts.delete, counts.status) == (1, 1, 1, 2)
    assert plan.has_changes
    assert not Plan.build([_change("e", [Action.NO_OP])], backend="x", spec_digests={}).has_changes
    assert plan.pipelines[1].primary is Action.UPDATE
    assert plan.pipelines[2].primary is Action.PAUSE


def test_foreign_format_version_is_rejected() -> None:
    data = json.loads(Plan.build([], backend="x", spec_digests={}).to_json())
    data["format_version"] = 2
    with pytest.raises(ValidationError):
        Plan.from_json(json.dumps(data))


def test_unknown_action_is_rejected() -> None:
    with pytest.raises(ValidationError):
        PipelineChange(project="p", project_id="i", name="n", actions=["explode"])  # type: ignore[list-item]
