"""dtlpy's own pipeline flows that need code to run, against `loopform serve`, modelled on the
scenarios of dtlpy's feature tests (tests/features/pipeline_entity in its history): an input's
default when nothing arrives on it (pipeline_node_input_handling, DAT-54491), an item-created
trigger with a filter made through `pipeline.triggers.create`, and rerunning cycles from the
beginning, from a node and from their failed executions (pipeline_rerun_cycles, DAT-70140). Two
output ports, connection filters and an exception's traceback in a failed execution are in
test_engine_dtlpy.py."""

from __future__ import annotations

import io
from typing import Any

import pytest
from harness import DtlpySdk


@pytest.fixture(scope="module")
def sdk(dtlpy_sdk: DtlpySdk) -> DtlpySdk:
    return dtlpy_sdk


def finished(sdk: DtlpySdk, pipeline: Any, cycle_id: str) -> Any:
    sdk.server.control_plane.engine.drain()
    return sdk.project.pipelines.get(pipeline_id=pipeline.id).pipeline_executions.get(pipeline_execution_id=cycle_id)


def runs(pipeline: Any, cycle: Any) -> dict[str, list[tuple[str, Any]]]:
    """Per node name: each execution's status and output, in order."""
    names = {node.node_id: node.name for node in pipeline.nodes}
    return {names[node_id]: [(e["status"], e.get("output")) for e in listed]
            for node_id, listed in cycle.executions.items()}


def string_port(dl: Any, **extra: Any) -> Any:
    return dl.PipelineNodeIO(input_type=dl.PackageInputType.STRING, name="string", display_name="string", **extra)


def code(sdk: DtlpySdk, method: Any, name: str, position: tuple[int, int], **kw: Any) -> Any:
    return sdk.dl.CodeNode(name=name, position=position, project_id=sdk.project.id,
                           project_name=sdk.project.name, method=method, **kw)


# -- what the code nodes run (dtlpy ships their source text) ----------------------------------------

def run(string):
    if string != "return_none":
        return string


def run1(string):
    if string is None:
        raise ValueError("required input is missing")
    return string


def set_input(item):
    item.metadata["user"] = {"userInput": "test"}
    return item.update()


def fail_once(item):
    if item.metadata.get("user", {}).get("userInput", None):
        item.metadata["user"]["userInput"] = None
        item.update()
        raise ValueError("err")
    return item


def mark(item):
    user = item.metadata.setdefault("user", {})
    user["marks"] = user.get("marks", 0) + 1
    item.update()
    return item


# -- tests ------------------------------------------------------------------------------------------

def test_an_input_takes_what_arrives_and_else_its_default_value(sdk: DtlpySdk) -> None:
    dl, project = sdk.dl, sdk.project
    pipeline = project.pipelines.create(name="flows-defaults")
    root = code(sdk, run, "root", (2, 2), inputs=[string_port(dl)], outputs=[string_port(dl)])
    second = code(sdk, run1, "n1", (3, 2), inputs=[string_port(dl, default_value="default_string")],
                  outputs=[string_port(dl)])
    pipeline.nodes.add(node=root).connect(node=second)
    pipeline.update()
    pipeline.install()
    # DAT-54491: the first node's output reaches the second, whose default is not used
    passed = finished(sdk, pipeline, pipeline.execute(execution_input={"string": "string_from_root"}).id)
    assert passed.status == "success"
    assert runs(pipeline, passed) == {"root": [("success", {"string": "string_from_root"})],
                                      "n1": [("success", {"string": "string_from_root"})]}
    # started at the second node with nothing given: its input takes the default value
    alone = finished(sdk, pipeline, pipeline.execute(execution_input={}, node_id=second.node_id).id)
    assert runs(pipeline, alone) == {"n1": [("success", {"string": "default_string"})]}
    # a node that returns nothing sends nothing on: the next node does not run
    stopped = finished(sdk, pipeline, pipeline.execute(execution_input={"string": "return_none"}).id)
    assert stopped.status == "success" and list(runs(pipeline, stopped)) == ["root"]


def test_an_item_created_trigger_made_by_dtlpy_starts_a_cycle_per_matching_upload(sdk: DtlpySdk) -> None:
    dl, project = sdk.dl, sdk.project
    dataset = project.datasets.create(dataset_name="flows-trigger")
    pipeline = project.pipelines.create(name="flows-trigger")
    start = dl.DatasetNode(name="incoming", project_id=project.id, dataset_id=dataset.id, position=(1, 1))
    pipeline.nodes.add(start).connect(node=code(sdk, mark, "mark", (2, 1)))
    pipeline.update()
    assert pipeline.triggers.create(pipeline=pipeline, resource=dl.TriggerResource.ITEM,
                                    actions=[dl.TriggerAction.CREATED],
                                    filters=dl.Filters(field="metadata.user.kind", values="cat")) is True
    before = dataset.items.upload(local_path=io.BytesIO(b"x"), remote_name="early.jpg",
                                  item_metadata={"user": {"kind": "cat"}})
    pipeline = project.pipelines.get(pipeline_id=pipeline.id)
    pipeline.install()
    cat = dataset.items.upload(local_path=io.BytesIO(b"x"), remote_name="cat.jpg",
                               item_metadata={"user": {"kind": "cat"}})
    dataset.items.upload(local_path=io.BytesIO(b"x"), remote_name="dog.jpg", item_metadata={"user": {"kind": "dog"}})
    sdk.server.control_plane.engine.drain()
    (cycle,) = project.pipelines.get(pipeline_id=pipeline.id).pipeline_executions.list().all()
    assert cycle.status == "success"
    assert dataset.items.get(item_id=cat.id).metadata["user"]["marks"] == 1
    assert "marks" not in dataset.items.get(item_id=before.id).metadata["user"]  # uploaded before install
    pipeline.pause()
    dataset.items.upload(local_path=io.BytesIO(b"x"), remote_name="late.jpg", item_metadata={"user": {"kind": "cat"}})
    sdk.server.control_plane.engine.drain()
    assert len(list(project.pipelines.get(pipeline_id=pipeline.id).pipeline_executions.list().all())) == 1


def test_a_failed_cycle_reruns_from_its_failed_execution_from_a_node_and_from_the_beginning(sdk: DtlpySdk) -> None:
    # DAT-70140's pipeline "with dynamic node status": root marks the item, n1 fails once on a
    # marked item (clearing the mark), n2 is a dataset node
    dl, project = sdk.dl, sdk.project
    dataset = project.datasets.create(dataset_name="flows-rerun")
    item = dataset.items.upload(local_path=io.BytesIO(b"x"), remote_name="a.jpg")
    pipeline = project.pipelines.create(name="flows-rerun")
    root, n1 = code(sdk, set_input, "root", (2, 2)), code(sdk, fail_once, "n1", (3, 2))
    n2 = dl.DatasetNode(name="n2", position=(4, 2), project_id=project.id, dataset_id=dataset.id)
    pipeline.nodes.add(node=root).connect(node=n1).connect(node=n2)
    pipeline.update()
    pipeline.install()

    def rerun(method: str, **kw: Any) -> dict[str, list[str]]:
        """Rerun every cycle of the pipeline (as dtlpy's tests do); the cycle's execution ids after."""
        dl.pipeline_executions.rerun(pipeline_id=pipeline.id, method=method, **kw)
        return ids(finished(sdk, pipeline, cycle.id))

    def ids(cycle: Any) -> dict[str, list[str]]:
        names = {node.node_id: node.name for node in pipeline.nodes}
        return {names[node_id]: [e["_id"] for e in listed] for node_id, listed in cycle.executions.items()}

    cycle = finished(sdk, pipeline, pipeline.execute(execution_input={"item": item.id}).id)
    assert cycle.status == "failed"
    assert {name: [s for s, _ in listed] for name, listed in runs(pipeline, cycle).items()} == {
        "root": ["success"], "n1": ["failed"]}
    before = ids(cycle)

    after_failed = rerun(dl.CycleRerunMethod.START_FROM_FAILED_EXECUTIONS)
    done = finished(sdk, pipeline, cycle.id)
    assert done.status == "success" and list(after_failed) == ["root", "n1", "n2"]
    assert after_failed["root"] == before["root"] and after_failed["n1"] != before["n1"]
    assert rerun(dl.CycleRerunMethod.START_FROM_FAILED_EXECUTIONS) == after_failed  # nothing failed: unchanged

    after_node = rerun(dl.CycleRerunMethod.START_FROM_NODES, start_nodes_ids=[n1.node_id])
    assert after_node["root"] == after_failed["root"]
    assert after_node["n1"] != after_failed["n1"] and after_node["n2"] != after_failed["n2"]
    assert finished(sdk, pipeline, cycle.id).status == "success"  # the item was no longer marked

    after_start = rerun(dl.CycleRerunMethod.START_FROM_BEGINNING)
    assert after_start["root"] != after_node["root"] and "n2" not in after_start
    assert finished(sdk, pipeline, cycle.id).status == "failed"  # root marked it again: n1 fails once more
    assert len(list(pipeline.pipeline_executions.list().all())) == 1  # reruns change the cycle, add none
