"""One scenario per kind of change, against the real local control plane, asserted on golden
text and JSON output of `loopform plan`."""

from __future__ import annotations

import copy
import json
from types import ModuleType
from typing import Any

from conftest import BASE_SPEC, World, cli
from harness import point_dtlpy

from reconciler.document import Pipeline


def _spec(**edits: Any) -> dict[str, Any]:
    """A fresh copy of the scenario's spec, with `edits` set in its `spec:` section
    (`_spec(status="paused")`)."""
    spec = copy.deepcopy(BASE_SPEC)
    spec["spec"].update(copy.deepcopy(edits))
    return spec


def test_no_changes_after_apply(world: World) -> None:
    text, as_json = world.plan("no_changes")
    assert text.code == 0
    assert "No changes. Live pipelines match the specs." in text.out
    assert json.loads(as_json.out)["summary"]["has_changes"] is False


def test_add_node(world: World) -> None:
    spec = _spec()
    spec["spec"]["nodes"]["trash"] = {"type": "dataset", "dataset": "trash", "name": "Discarded"}
    spec["spec"]["connections"].append({"from": "label", "action": "discard", "to": "trash"})
    world.write(spec)
    text, _ = world.plan("add_node")
    assert text.code == 2


def test_remove_node(world: World) -> None:
    spec = _spec()
    del spec["spec"]["nodes"]["done"]
    spec["spec"]["connections"].pop()
    world.write(spec)
    world.plan("remove_node")


def test_change_task_recipe(world: World) -> None:
    spec = _spec()
    spec["spec"]["nodes"]["label"]["task"]["recipe"] = "strict"
    world.write(spec)
    world.plan("change_task_recipe")


def test_rewire_connection(world: World) -> None:
    spec = _spec()
    spec["spec"]["connections"][2]["to"] = "done"  # label --complete--> done instead of review
    spec["spec"]["root"] = "videos"  # review now has no incoming edge
    world.write(spec)
    world.plan("rewire_connection")


def test_change_filter(world: World) -> None:
    spec = _spec()
    spec["spec"]["connections"][3]["filter"] = {"metadata.user.ok": True, "metadata.user.score": {"$gt": 0.8}}
    world.write(spec)
    world.plan("change_filter")


def test_change_trigger(world: World) -> None:
    spec = _spec()
    spec["spec"]["nodes"]["videos"]["trigger"] = {"cron": "0 */6 * * *"}
    world.write(spec)
    world.plan("change_trigger")


def test_change_variables(world: World) -> None:
    spec = _spec()
    spec["spec"]["variables"] = [{"name": "threshold", "type": "Float", "value": 0.8},
                                 {"name": "fps", "type": "Integer", "value": 2}]
    world.write(spec)
    world.plan("change_variables")


def test_change_status(world: World) -> None:
    world.write(_spec(status="paused"))
    world.plan("change_status")


def test_bump_reset_token(world: World) -> None:
    world.write(_spec(resetToken="r2"))
    world.plan("bump_reset_token")


def test_add_and_remove_a_pipeline(world: World) -> None:
    other = _spec()
    other["metadata"]["name"] = "frames-copy"
    world.write(other, "frames-copy.yaml")
    world.plan("add_pipeline")
    world.apply()
    (world.specs / "frames-copy.yaml").unlink()
    without_prune = cli("plan", "pipelines", "--detailed-exitcode")
    assert without_prune.code == 0 and "No changes." in without_prune.out
    world.plan("remove_pipeline", "--prune")


def test_unmanaged_pipelines_are_never_pruned(world: World) -> None:
    backend = world.backend()
    try:
        project = backend.project("local")
        backend.create_pipeline(Pipeline(name="built-in-the-ui", projectId=project.id))
    finally:
        backend.close()
    run = cli("plan", "pipelines", "--prune", "--detailed-exitcode")
    assert run.code == 0 and "built-in-the-ui" not in run.out


def test_edit_made_through_dtlpy_shows_as_drift(world: World, dtlpy_module: ModuleType) -> None:
    pipeline = point_dtlpy(dtlpy_module, world.server).project.pipelines.get(pipeline_name="frames")
    label = next(n for n in pipeline.nodes if n.name == "label")
    label.metadata["priority"] = 3  # someone raised the task's priority in a notebook
    label.metadata["position"] = {"x": 999, "y": 999, "z": 0}  # and moved it: cosmetic, not shown
    pipeline.update()
    text, _ = world.plan("edit_through_dtlpy")
    assert "(drift: edited outside Loopform)" in text.out


def test_an_id_edited_through_dtlpy_is_shown_by_name(world: World, dtlpy_module: ModuleType) -> None:
    sdk = point_dtlpy(dtlpy_module, world.server)
    raw = sdk.project.datasets.get(dataset_name="raw-videos")
    pipeline = sdk.project.pipelines.get(pipeline_name="frames")
    label = next(n for n in pipeline.nodes if n.name == "label")
    label.metadata["datasetId"] = raw.id  # someone pointed the task at another dataset, by id
    pipeline.update()
    text = cli("plan", "pipelines")
    # The live id is named through the backend's reverse lookup (GET /datasets/{id}).
    assert '~ nodes.label.task.dataset: "raw-videos" -> "frames"  (drift: edited outside Loopform)' in text.out
    as_json = json.loads(cli("plan", "pipelines", "--json").out)
    (change,) = as_json["pipelines"][0]["changes"]
    assert change["platform"] == [{"path": "nodes.label.metadata.datasetId", "before": raw.id,
                                   "after": change["platform"][0]["after"], "op": "change"}]
    assert change["platform"][0]["after"] != raw.id


def _prepare(item):  # a code node's function: dtlpy ships its source text
    return item


def test_pipeline_built_with_dtlpy_is_adopted_by_export_with_no_changes(
    world: World, dtlpy_module: ModuleType
) -> None:
    sdk = point_dtlpy(dtlpy_module, world.server)
    dl, project = sdk.dl, sdk.project
    frames = project.datasets.get(dataset_name="frames")  # made by the scenario's first apply
    recipe = frames.recipes.list()[0]
    pipeline = project.pipelines.create(name="built-with-dtlpy")
    code = dl.CodeNode(name="prepare", project_id=project.id, project_name=project.name, method=_prepare,
                       position=(1, 1))
    task = dl.TaskNode(name="label", project_id=project.id, dataset_id=frames.id,
                       recipe_title=recipe.title, recipe_id=recipe.id, task_owner="owner@example.com",
                       workload=[dl.WorkloadUnit(assignee_id="annotator@example.com", load=100)], position=(2, 1),
                       due_date=1_900_000_000_000)
    done = dl.DatasetNode(name="done", project_id=project.id, dataset_id="64f0c0ffee0123456789abcd",
                          dataset_folder="/done", position=(3, 1))
    pipeline.nodes.add(code)
    code.connect(task, filters=dl.Filters(field="metadata.system.mimetype", values="image*"))
    task.connect(done, action="complete")
    code.add_trigger(trigger_type=dl.TriggerType.EVENT, filters=dl.Filters(field="dir", values="/incoming"),
                     actions=[dl.TriggerAction.CREATED])
    done.add_trigger(trigger_type=dl.TriggerType.CRON, cron="0 */6 * * *")
    pipeline.variables.append(dl.Variable(name="threshold", value=0.5, variable_type=dl.PackageInputType.FLOAT))
    pipeline.update()

    exported = cli("export", "--project", "local", "-o", "adopted", "built-with-dtlpy")
    assert exported.code == 0, exported.err
    assert "warning" not in exported.err
    plan = cli("plan", "adopted", "--detailed-exitcode")
    assert plan.code == 0, plan.out + plan.err
    assert "No changes." in plan.out
    text = (world.root / "adopted" / "built-with-dtlpy.yaml").read_text()
    assert "priority: medium" in text  # typed where the value reads back exactly
    # Ids the project can name are written by name; one that names nothing stays as it is.
    assert "dataset: frames\n" in text and "recipe: default\n" in text
    assert text.count("datasetId: 64f0c0ffee0123456789abcd") == 1  # the `done` node's unknown dataset
    # Users the project accepts are typed too (the sandbox accepts any email; Dataloop checks members).
    assert "owner: owner@example.com\n" in text and "assignees:\n        - annotator@example.com\n" in text


def _named(spec: dict[str, Any]) -> dict[str, Any]:
    """The base spec with display names on its nodes (the spec owns them)."""
    for key, node in spec["spec"]["nodes"].items():
        node["name"] = key.capitalize()
    return spec


def test_removing_a_named_node_is_a_spec_change_not_drift(world: World) -> None:
    world.write(_named(_spec()))
    world.apply()
    spec = _named(_spec())
    del spec["spec"]["nodes"]["done"]
    spec["spec"]["connections"].pop()
    world.write(spec)
    text, as_json = world.plan("remove_named_node")
    assert "drift" not in text.out and "edited outside" not in text.out
    # The removed node keeps its display name in the plan.
    assert "- nodes.done: dataset node 'Done'" in text.out
    (change,) = [c for c in json.loads(as_json.out)["pipelines"][0]["changes"] if c["path"] == "nodes.done"]
    assert change["drift"] is False


def test_renaming_a_node_key_with_its_id_kept_is_shown_as_a_rename(world: World) -> None:
    spec = _spec()
    spec["spec"]["nodes"]["label"]["id"] = "5d7e1c52-0000-4000-8000-00000000000b"
    world.write(spec)
    world.apply()
    renamed = copy.deepcopy(spec)
    nodes = renamed["spec"]["nodes"]
    renamed["spec"]["nodes"] = {("label-bee" if k == "label" else k): v for k, v in nodes.items()}
    for conn in renamed["spec"]["connections"]:
        for end in ("from", "to"):
            if conn[end] == "label":
                conn[end] = "label-bee"
    world.write(renamed)
    text, as_json = world.plan("rename_node_key")
    assert "~ nodes.label -> nodes.label-bee (id kept)" in text.out
    assert "marker" not in text.out and "drift" not in text.out
    assert "Plan: 0 to create, 1 to update, 0 to delete, 0 status changes." in text.out
    world.apply()
    assert cli("plan", "pipelines", "--detailed-exitcode").code == 0


def test_an_edit_next_to_a_spec_edit_is_still_drift(world: World, dtlpy_module: ModuleType) -> None:
    """Deciding drift in the terms of the last apply still catches an edit made outside."""
    pipeline = point_dtlpy(dtlpy_module, world.server).project.pipelines.get(pipeline_name="frames")
    label = next(n for n in pipeline.nodes if n.name == "label")
    label.metadata["priority"] = 3
    pipeline.update()
    spec = _spec()
    del spec["spec"]["nodes"]["done"]
    spec["spec"]["connections"].pop()
    world.write(spec)
    changes = json.loads(cli("plan", "pipelines", "--json").out)["pipelines"][0]["changes"]
    assert {c["path"]: c["drift"] for c in changes} == {
        "nodes.label.task.priority": True, "nodes.done": False,
        "connections.review.item[approve] -> done.item": False}


def test_a_pause_made_through_dtlpy_is_drift(world: World, dtlpy_module: ModuleType) -> None:
    point_dtlpy(dtlpy_module, world.server).project.pipelines.get(pipeline_name="frames").pause()
    text = cli("plan", "pipelines")
    assert '~ status: "paused" -> "installed"  (drift: edited outside Loopform)' in text.out
    # When the spec then asks for the pause, nothing is paused again: only the status Loopform
    # records is brought up to date, shown as that, and then the pipeline is in sync.
    spec = _spec()
    spec["spec"]["status"] = "paused"
    world.write(spec)
    text = cli("plan", "pipelines")
    assert '~ marker.status: "installed" -> "paused"' in text.out and "(drift" not in text.out
    world.apply()
    assert cli("plan", "pipelines", "--detailed-exitcode").code == 0
