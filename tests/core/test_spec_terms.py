"""Plan changes in spec terms: each platform field a spec has a word for is shown in that word,
with the document-level change kept beside it; nothing a spec cannot say is hidden or reworded."""

from __future__ import annotations

from typing import Any

from coretools import DictResolver, applied, build, pipeline_spec
from reconciler.backend import ResourceKind as R
from reconciler.diff import diff_pipeline
from reconciler.document import Pipeline
from reconciler.plan import ChangeOp

NODES: dict[str, Any] = {
    "videos": {"type": "dataset", "dataset": "raw"},
    "label": {"type": "task", "task": {"dataset": "frames", "recipe": "default", "priority": "low"}},
    "model": {"type": "ml", "model": "yolo"},
    "cut": {"type": "code", "code": "def run(item):\n    return item\n"},
}
CONNS = [{"from": "videos", "to": "label"}, {"from": "label", "action": "complete", "to": "model"},
         {"from": "model.item", "to": "cut"}]
KNOWN = {(R.DATASET, "raw"): "d-raw", (R.DATASET, "frames"): "d-frames", (R.DATASET, "other"): "d-other",
         (R.RECIPE, "default"): "r-default", (R.RECIPE, "strict"): "r-strict", (R.MODEL, "yolo"): "m-yolo",
         (R.MODEL, "sam"): "m-sam"}
# What the backend's reverse lookup would answer for live ids (`Resolver.name_of`).
NAMES = {f"{kind.value}/{ident}": name for (kind, name), ident in KNOWN.items()}


def _names(kind: R, ident: str) -> str | None:
    return NAMES.get(f"{kind.value}/{ident}")


def _live(nodes: dict[str, Any] = NODES) -> Pipeline:
    return applied(build(pipeline_spec(nodes, CONNS), resolver=DictResolver(KNOWN)))


def _diff(live: Pipeline, nodes: dict[str, Any], names=_names):
    c = build(pipeline_spec(nodes, CONNS), live, resolver=DictResolver(KNOWN))
    return diff_pipeline(c.desired, live, owned=c.owned, status=c.status, reset_token=c.reset_token,
                         desired_essence=c.essence, names=names).changes


def _edit_live(**metadata_by_node: dict[str, Any]) -> Pipeline:
    data = _live().wire()
    for node in data["nodes"]:
        for key, value in metadata_by_node.get(node["name"], {}).items():
            section, _, field = key.partition(".")
            node[section][field] = value
    return Pipeline.model_validate(data)


def _view(changes) -> list[tuple[str, Any, Any]]:
    return [(c.path, c.before, c.after) for c in changes]


def test_task_fields_read_as_the_spec_writes_them() -> None:
    nodes = {**NODES, "label": {"type": "task", "task": {"dataset": "other", "recipe": "strict", "priority": "high",
                                                         "dueDate": "2027-01-02"}}}
    changes = _diff(_live(), nodes)
    assert _view(changes) == [
        ("nodes.label.task.dataset", "frames", "other"),
        ("nodes.label.task.dueDate", None, "2027-01-02"),
        ("nodes.label.task.priority", "low", "high"),
        ("nodes.label.task.recipe", "default", "strict"),
    ]
    recipe = changes[-1]
    assert [(p.path, p.before, p.after) for p in recipe.platform] == [
        ("nodes.label.metadata.recipeId", "r-default", "r-strict"),
        ("nodes.label.metadata.recipeTitle", "default", "strict")]
    assert changes[1].op is ChangeOp.ADD


def test_a_live_id_edited_elsewhere_is_named_by_the_reverse_lookup() -> None:
    # Someone pointed the model node at another model by id (dtlpy), leaving modelName stale.
    live = _edit_live(model={"metadata.modelId": "m-sam"})
    (change,) = _diff(live, NODES)
    assert (change.path, change.before, change.after) == ("nodes.model.model", "sam", "yolo")
    # modelName did not move on either side, so only the id is behind the change.
    assert [p.path for p in change.platform] == ["nodes.model.metadata.modelId"]


def test_without_a_name_the_id_is_shown() -> None:
    live = _edit_live(videos={"metadata.datasetId": "d-gone"})
    (change,) = _diff(live, NODES)
    assert (change.path, change.before, change.after) == ("nodes.videos.dataset", "d-gone", "raw")
    # A model id with no name: the title the platform keeps beside it names it, with both ids.
    live = _edit_live(model={"metadata.modelId": "m-gone"})
    (change,) = _diff(live, NODES)
    assert (change.before, change.after) == ("yolo (m-gone)", "yolo (m-yolo)")


def test_two_ids_with_one_name_are_shown_with_their_ids() -> None:
    names = {**NAMES, "recipe/r-elsewhere": "default"}
    live = _edit_live(label={"metadata.recipeId": "r-elsewhere"})
    (change,) = _diff(live, NODES, names=lambda kind, ident: names.get(f"{kind.value}/{ident}"))
    assert (change.path, change.before, change.after) == (
        "nodes.label.task.recipe", "default (r-elsewhere)", "default (r-default)")


def test_a_value_the_spec_cannot_write_stays_raw() -> None:
    live = _edit_live(label={"metadata.priority": 7})  # not low/medium/high
    (change,) = _diff(live, NODES)
    assert (change.path, change.before, change.after) == ("nodes.label.metadata.priority", 7, 1)
    assert change.platform is None  # already the document's own terms


def test_derived_names_move_with_their_field_or_stay_raw_on_both_sides() -> None:
    nodes = {**NODES, "model": {"type": "ml", "model": "yolo", "function": "train"}}
    (change,) = _diff(_live(), nodes)
    assert (change.path, change.before, change.after) == ("nodes.model.function", "predict", "train")
    assert {p.path for p in change.platform} == {"nodes.model.namespace.functionName",
                                                 "nodes.model.namespace.serviceName",
                                                 "nodes.model.namespace.moduleName"}
    # A hand-made service name on the live side cannot be read as `function`: shown as it is.
    live = _edit_live(model={"namespace.serviceName": "my-service"})
    assert _view(_diff(live, NODES)) == [("nodes.model.namespace.serviceName", "my-service",
                                          "model-mgmt-app-predict")]


def test_code_and_raw_metadata() -> None:
    nodes = {**NODES, "cut": {"type": "code", "code": "def run(item):\n    return None\n",
                              "metadata": {"color": "red"}}}
    assert _view(_diff(_live(), nodes)) == [
        ("nodes.cut.code", "def run(item):\n    return item\n", "def run(item):\n    return None\n"),
        ("nodes.cut.metadata.color", None, "red"),
    ]


def test_trigger_fields_are_node_trigger_fields() -> None:
    base = {**NODES, "videos": {**NODES["videos"], "trigger": {"event": {"filter": {"dir": "/a"}}}}}
    live = applied(build(pipeline_spec(base, CONNS), resolver=DictResolver(KNOWN)))
    nodes = {**NODES, "videos": {**NODES["videos"], "trigger": {"event": {"filter": {"dir": "/b"}}}}}
    (change,) = _diff(live, nodes)
    assert (change.path, change.before, change.after) == ("nodes.videos.trigger.event.filter", {"dir": "/a"},
                                                          {"dir": "/b"})
    assert change.platform[0].path == "triggers.videos.spec.filter"


def test_added_node_is_its_spec_view() -> None:
    nodes = {**NODES, "trash": {"type": "dataset", "dataset": "frames", "folder": "/trash"}}
    c = build(pipeline_spec(nodes, [*CONNS, {"from": "label", "action": "discard", "to": "trash"}]), _live(),
              resolver=DictResolver(KNOWN))
    changes = diff_pipeline(c.desired, _live(), owned=c.owned, names=_names).changes
    (change,) = [c for c in changes if c.path == "nodes.trash"]
    assert {k: change.after[k] for k in ("type", "dataset", "folder")} == {
        "type": "dataset", "dataset": "frames", "folder": "/trash"}
    assert "namespace" not in change.after  # the fixed pipeline-utils namespace is not a spec field
    assert change.platform[0].after["metadata"]["datasetId"] == "d-frames"


def test_task_actions_are_the_tasks_not_its_ports() -> None:
    nodes = {**NODES, "label": {**NODES["label"], "task": {**NODES["label"]["task"],
                                                           "actions": ["complete", "discard", "redo"]}}}
    (change,) = _diff(_live(), nodes)
    assert (change.path, change.before, change.after) == (
        "nodes.label.task.actions", ["complete", "discard"], ["complete", "discard", "redo"])
    assert change.platform[0].path == "nodes.label.outputs.item.actions"


def test_a_load_existing_filter_is_compared_as_a_filter() -> None:
    base = {**NODES, "videos": {**NODES["videos"], "loadExisting": {"filter": {"dir": "/a"}}}}
    live = applied(build(pipeline_spec(base, CONNS), resolver=DictResolver(KNOWN)))
    data = live.wire()
    videos = next(n for n in data["nodes"] if n["name"] == "videos")
    videos["metadata"]["triggerToPipeline"]["filter"] = '{"dir": "/a"}'  # dtlpy's json.dumps spelling
    assert _diff(Pipeline.model_validate(data), base) == []
    videos["metadata"]["triggerToPipeline"]["filter"] = '{"dir": "/b"}'
    (change,) = _diff(Pipeline.model_validate(data), base)
    assert (change.path, change.before, change.after) == (
        "nodes.videos.loadExisting.filter", {"dir": "/b"}, {"dir": "/a"})
