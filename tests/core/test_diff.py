"""diff: one case per kind of change, asserting the exact actions and changes."""

from __future__ import annotations

from typing import Any

from coretools import applied, build, pipeline_spec
from reconciler.diff import diff_delete, diff_pipeline
from reconciler.document import Pipeline
from reconciler.marker import read_marker, with_marker_fields
from reconciler.plan import Action, ChangeOp, FieldChange, PlatformChange

NODES: dict[str, Any] = {
    "videos": {"type": "dataset", "dataset": "raw"},
    "label": {"type": "task", "task": {"dataset": "frames", "recipe": "default"}},
    "review": {"type": "task", "task": {"type": "qa", "dataset": "frames"}},
    "trash": {"type": "dataset", "dataset": "trash"},
}
CONNS: list[dict[str, Any]] = [
    {"from": "videos", "to": "label"},
    {"from": "label", "action": "complete", "to": "review"},
    {"from": "label", "action": "discard", "to": "trash"},
]


def _plan(live: Pipeline | None, nodes=NODES, conns=CONNS, **body: Any):
    c = build(pipeline_spec(nodes, conns, **body), live)
    return diff_pipeline(c.desired, live, owned=c.owned, status=c.status, reset_token=c.reset_token), c


def _live(**body: Any) -> Pipeline:
    return applied(build(pipeline_spec(NODES, CONNS, **body)))


def _paths(d) -> list[tuple[str, str]]:
    return [(c.path, c.op.value) for c in d.changes]


def test_create() -> None:
    d, _ = _plan(None)
    assert d.actions == [Action.CREATE, Action.RESUME]
    assert ("nodes.videos", "add") in _paths(d)
    assert ("connections.label.item[complete] -> review.item", "add") in _paths(d)
    paused, _ = _plan(None, status="paused")
    assert paused.actions == [Action.CREATE]


def test_a_create_shows_only_what_the_spec_sets() -> None:
    d, _ = _plan(None)
    paths = [c.path for c in d.changes]
    assert "metadata.name" in paths and "metadata.description" not in paths  # the "" default is noise


def test_no_changes_after_apply() -> None:
    live = _live()
    d, _ = _plan(live)
    assert d.actions == [Action.NO_OP] and d.changes == []


def test_add_and_remove_node() -> None:
    live = _live()
    nodes = {**NODES, "extra": {"type": "code", "code": "x"}}
    d, _ = _plan(live, nodes, [*CONNS, {"from": "review", "to": "extra"}])
    assert d.actions == [Action.UPDATE]
    assert _paths(d) == [("nodes.extra", "add"), ("connections.review.item -> extra.item", "add")]
    nodes = {k: v for k, v in NODES.items() if k != "trash"}
    d, _ = _plan(live, nodes, CONNS[:2])
    assert _paths(d) == [("nodes.trash", "remove"), ("connections.label.item[discard] -> trash.item", "remove")]


def test_change_task_recipe() -> None:
    live = _live()
    nodes = {**NODES, "label": {"type": "task", "task": {"dataset": "frames", "recipe": "strict"}}}
    d, _ = _plan(live, nodes)
    # In spec terms, one change; the two document fields it stands for ride along.
    assert d.changes == [FieldChange(path="nodes.label.task.recipe", before="default", after="strict", platform=[
        PlatformChange(path="nodes.label.metadata.recipeId", before="new-recipe-default", after="new-recipe-strict"),
        PlatformChange(path="nodes.label.metadata.recipeTitle", before="default", after="strict"),
    ])]


def test_rewire_and_filter_change() -> None:
    live = _live()
    conns = [CONNS[0], {"from": "label", "action": "complete", "to": "trash"},
             {"from": "label", "action": "discard", "to": "trash", "filter": {"metadata.user.bad": True}}]
    d, _ = _plan(live, NODES, conns, root="videos")
    assert d.changes == [
        FieldChange(path="connections.label.item[complete]", before="-> review.item", after="-> trash.item"),
        FieldChange(path="connections.label.item[discard] -> trash.item.filter", before={}, after={"metadata.user.bad": True}),
    ]


def test_trigger_variables_settings() -> None:
    live = _live(variables=[{"name": "t", "type": "Float", "value": 0.5}])
    nodes = {**NODES, "videos": {**NODES["videos"], "trigger": {"cron": "0 * * * *"}}}
    d, _ = _plan(live, nodes, variables=[{"name": "t", "type": "Float", "value": 0.7}, {"name": "n", "value": "x"}],
                 settings={"defaultResumeOption": "terminateExistingCycles"})
    assert _paths(d) == [("nodes.videos.trigger", "add"), ("variables.n", "add"), ("variables.t.value", "change"),
                         ("settings.defaultResumeOption", "add")]
    assert d.changes[0].after == {"cron": "0 * * * *"}  # the spec's own shape of a trigger


def test_status_changes() -> None:
    live = _live()
    d, _ = _plan(live, status="paused")
    assert d.actions == [Action.PAUSE]
    assert d.changes == [FieldChange(path="status", before="installed", after="paused", platform=[
        PlatformChange(path="status", before="Installed", after="Uninstalled")])]
    stopped = applied(build(pipeline_spec(NODES, CONNS)), status="Uninstalled")
    d, _ = _plan(stopped)
    assert d.actions == [Action.RESUME]


def test_reset_token_bump_resets_once() -> None:
    live = _live(resetToken="1")
    d, _ = _plan(live, resetToken="1")
    assert d.actions == [Action.NO_OP]
    d, c = _plan(live, resetToken="2")
    assert d.actions == [Action.RESET, Action.UPDATE]
    assert d.changes == [FieldChange(path="resetToken", before="1", after="2")]
    d2, _ = _plan(applied(c), resetToken="2")
    assert d2.actions == [Action.NO_OP]


def test_pause_and_update_order() -> None:
    live = _live()
    nodes = {**NODES, "extra": {"type": "code", "code": "x"}}
    d, _ = _plan(live, nodes, [*CONNS, {"from": "review", "to": "extra"}], status="paused", resetToken="z")
    assert d.actions == [Action.PAUSE, Action.RESET, Action.UPDATE]


def test_adopting_unmarked_pipeline_adds_marker_without_reset() -> None:
    data = _live().wire()
    data["variables"] = [v for v in data["variables"] if v["name"] != "loopform"]
    live = Pipeline.model_validate(data)
    d, _ = _plan(live, resetToken="1")
    assert d.actions == [Action.UPDATE]
    assert _paths(d) == [("managedBy", "add"), ("resetToken", "change")]
    # The same pipeline, identical and without a token: adopting it alone is no change.
    d, _ = _plan(live)
    assert d.actions == [Action.NO_OP]
    nodes = {**NODES, "extra": {"type": "code", "code": "x"}}
    d, _ = _plan(live, nodes, [*CONNS, {"from": "review", "to": "extra"}])
    assert d.actions == [Action.UPDATE]
    assert ("managedBy", "add") in _paths(d)


def test_edit_outside_loopform_is_marked_as_drift() -> None:
    data = _live().wire()
    label = next(n for n in data["nodes"] if n["name"] == "label")
    label["metadata"]["priority"] = 3  # someone edited the task in the UI
    d, _ = _plan(Pipeline.model_validate(data))
    assert d.changes == [FieldChange(path="nodes.label.task.priority", before="high", after=None,
                                     op=ChangeOp.REMOVE, drift=True, platform=[
        PlatformChange(path="nodes.label.metadata.priority", before=3, after=None, op=ChangeOp.REMOVE)])]
    assert "outside Loopform" in d.reason


def test_delete() -> None:
    d = diff_delete(_live())
    assert d.actions == [Action.DELETE]


def test_a_stale_marker_map_shows_only_the_entries_that_differ() -> None:
    live = _live()
    marker = read_marker(live)
    assert marker is not None
    # An older apply recorded another key for one node id (the spec keys are the same).
    stale = {**marker.nodes, "ghost": "0" * 8}
    live = with_marker_fields(live, {"nodes": stale})
    d, _ = _plan(live)
    assert d.actions == [Action.UPDATE]
    (change,) = d.changes
    assert (change.path, change.before, change.after) == ("marker.nodes", {"ghost": "0" * 8}, {})
