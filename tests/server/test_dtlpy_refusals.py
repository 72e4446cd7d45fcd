"""The platform's refusals, at the step where it refuses, in its words: dtlpy's own calls and the
messages its own tests expect (tests/features/pipeline_entity in dataloop-ai/dtlpy:
test_pipeline_validation, pipeline_update, test_pipeline_create, test_pipeline_pulling_task)."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest
from harness import DtlpySdk

DATASET_ID = "64f0c0ffee0123456789abcd"
RECIPE_ID = "64f0c0ffee0123456789abce"
OWNER = "local@loopform.dev"


@pytest.fixture(scope="module")
def sdk(dtlpy_sdk: DtlpySdk) -> DtlpySdk:
    return dtlpy_sdk


def run(item):  # a code node's function; dtlpy ships its source text
    return item


def code_node(sdk: DtlpySdk, name: str, *, input_type: str = "Item", position: tuple[int, int] = (1, 1)) -> Any:
    """The code node of dtlpy's validation tests: one input, one output, no actions."""
    dl = sdk.dl
    return dl.CodeNode(
        name=name, position=position, project_id=sdk.project.id, project_name=sdk.project.name, method=run,
        inputs=[dl.PipelineNodeIO(port_id=str(uuid.uuid4()), input_type=input_type, name="item", color=None,
                                  display_name="item")],
        outputs=[dl.PipelineNodeIO(port_id=str(uuid.uuid4()), input_type="Item", name="item", color=None,
                                   display_name="item")],
    )


def dataset_node(sdk: DtlpySdk, name: str, **kw: Any) -> Any:
    kw.setdefault("dataset_id", DATASET_ID)
    return sdk.dl.DatasetNode(name=name, project_id=sdk.project.id, position=(1, 1), **kw)


def task_node(sdk: DtlpySdk, name: str, **kw: Any) -> Any:
    dl = sdk.dl
    return dl.TaskNode(
        name=name, project_id=sdk.project.id, dataset_id=DATASET_ID, recipe_id=RECIPE_ID, recipe_title="default",
        task_owner=OWNER, workload=[dl.WorkloadUnit(assignee_id=OWNER, load=100)], position=(2, 2), **kw,
    )


def refused(sdk: DtlpySdk, call: Any) -> str:
    """The message of the BadRequest (400) that dtlpy raises for `call()`."""
    with pytest.raises(sdk.dl.exceptions.BadRequest) as caught:
        call()
    assert caught.value.status_code == "400"
    return str(caught.value.message)


def test_a_connection_between_ports_of_different_types_is_refused_on_update(sdk: DtlpySdk) -> None:
    pipeline = sdk.project.pipelines.create(name="input-output")
    pipeline.nodes.add(code_node(sdk, "first")).connect(code_node(sdk, "second", input_type="Dataset"))
    assert refused(sdk, pipeline.update) == (
        "Invalid input specified, Failed to update pipeline: connection source and target ports must be of "
        "the same type")
    assert sdk.project.pipelines.get(pipeline_id=pipeline.id).nodes == []  # nothing was stored


def test_an_action_from_a_port_without_actions_is_refused_on_update(sdk: DtlpySdk) -> None:
    pipeline = sdk.project.pipelines.create(name="output-action")
    pipeline.nodes.add(code_node(sdk, "first")).connect(code_node(sdk, "second"))
    pipeline = pipeline.update()
    pipeline.connections[0].action = "test"
    # The platform's own JavaScript error, which dtlpy's test matches word for word.
    assert refused(sdk, pipeline.update) == (
        "Invalid input specified, Cannot read properties of undefined (reading 'includes')")


def test_an_action_the_port_does_not_offer_is_refused_on_create(sdk: DtlpySdk) -> None:
    pipeline = sdk.project.pipelines.create(name="action-source")
    pipeline.nodes.add(task_node(sdk, "label")).connect(code_node(sdk, "after"), action="complete")
    document = copy.deepcopy(pipeline.to_json())
    document["connections"][0]["action"] = "approve"  # the annotation task offers complete, discard
    message = refused(sdk, lambda: sdk.project.pipelines.create(
        name="action-not-offered", project_id=sdk.project.id, pipeline_json=document))
    assert message == (
        "Invalid input specified, Failed to create pipeline: connection action do not includes in port actions")


def test_a_second_root_is_refused_on_update(sdk: DtlpySdk) -> None:
    pipeline = sdk.project.pipelines.create(name="multiple-start")
    pipeline.nodes.add(code_node(sdk, "first"))
    pipeline.nodes.add(code_node(sdk, "second", position=(2, 2)))
    pipeline = pipeline.update()
    pipeline.start_nodes.append({"nodeId": pipeline.nodes[1].node_id, "type": "root"})
    assert refused(sdk, pipeline.update) == "Invalid input specified, Pipeline may only include 1 root node"


@pytest.mark.parametrize("kind", ["dataset", "code"])
def test_a_node_connected_to_itself_is_an_infinite_loop(sdk: DtlpySdk, kind: str) -> None:
    pipeline = sdk.project.pipelines.create(name=f"loop-{kind}")
    node = dataset_node(sdk, "random_dataset") if kind == "dataset" else code_node(sdk, "codenode")
    pipeline.nodes.add(node)
    pipeline.nodes[0].connect(pipeline.nodes[0])
    message = refused(sdk, pipeline.update)
    assert f'Failed to update pipeline: Infinite Loop detected for node "{node.name}"' in message
    # the same document as a create body is refused at create, in create's words
    document = pipeline.to_json()
    message = refused(sdk, lambda: sdk.project.pipelines.create(
        name=f"loop-{kind}-json", project_id=sdk.project.id, pipeline_json=document))
    assert f'Failed to create pipeline: Infinite Loop detected for node "{node.name}"' in message


def test_a_loop_through_a_task_node_is_accepted(sdk: DtlpySdk) -> None:
    pipeline = sdk.project.pipelines.create(name="tasks-loop")
    label, fix = task_node(sdk, "label"), code_node(sdk, "fix", position=(3, 3))
    pipeline.nodes.add(code_node(sdk, "start")).connect(label)  # dtlpy allows no connection into the root
    label.connect(fix, action="discard")
    fix.connect(label)
    assert pipeline.update().install().status == "Installed"


def test_a_dataset_node_without_a_dataset_is_refused_at_install(sdk: DtlpySdk) -> None:
    pipeline = sdk.project.pipelines.create(name="at-least-one")
    pipeline.nodes.add(dataset_node(sdk, "source")).connect(task_node(sdk, "label"))
    pipeline.nodes[1].connect(dataset_node(sdk, "done", dataset_id=None), source_port=pipeline.nodes[1].outputs[0])
    pipeline = pipeline.update()  # saving is fine: the platform checks this at install
    assert "must have a datasetId" in refused(sdk, pipeline.install)
    failed = sdk.project.pipelines.get(pipeline_id=pipeline.id)
    assert failed.status == "Failure"
    composition = sdk.dl.compositions.get(composition_id=failed.composition_id)
    assert "must have a datasetId" in composition["errorText"]["message"]


def test_a_dataset_node_loading_existing_data_behind_a_connection_is_refused_at_install(sdk: DtlpySdk) -> None:
    pipeline = sdk.project.pipelines.create(name="in-port-connection")
    first = code_node(sdk, "first")
    pipeline.nodes.add(first).connect(dataset_node(sdk, "existing", load_existing_data=True))
    pipeline.nodes[1].connect(code_node(sdk, "last", position=(3, 3)))
    pipeline = pipeline.update()
    assert "cannot have an incoming connection" in refused(sdk, pipeline.install)


def pulling_task_pipeline(sdk: DtlpySdk, name: str, *, batch_size: int, max_batch_workload: int) -> Any:
    """dtlpy's pulling-task flow: a task root with an Item event trigger, feeding a dataset node."""
    dl = sdk.dl
    pipeline = sdk.project.pipelines.create(name=name)
    task = task_node(sdk, f"{name}-task", batch_size=batch_size, max_batch_workload=max_batch_workload,
                     priority=dl.TaskPriority.LOW)
    pipeline.nodes.add(task).connect(node=dataset_node(sdk, "done"), source_port=task.outputs[0])
    filters = dl.Filters()
    filters.add(field="datasetId", values=DATASET_ID)
    task.add_trigger(filters=filters)
    return pipeline.update()


def test_an_event_trigger_on_a_task_root_installs(sdk: DtlpySdk) -> None:
    pipeline = pulling_task_pipeline(sdk, "pulling", batch_size=5, max_batch_workload=7)
    starts = [s for s in pipeline.start_nodes if s.get("trigger")]
    assert starts and starts[0]["nodeId"] == pipeline.nodes[0].node_id
    assert pipeline.install().status == "Installed"


def test_a_task_the_platform_cannot_create_fails_the_install_with_the_composition_error(sdk: DtlpySdk) -> None:
    dl = sdk.dl
    pipeline = pulling_task_pipeline(sdk, "pulling-wrong", batch_size=10, max_batch_workload=7)
    assert pipeline.composition_id  # named at create, as on the platform
    assert "Failed to create a task" in refused(sdk, pipeline.install)
    # dtlpy's test reads the reason from the composition, queried through the pipelines route
    filters = dl.Filters(resource=dl.FiltersResource.COMPOSITION)
    filters.add(field="id", values=[pipeline.composition_id], operator=dl.FILTERS_OPERATIONS_IN)
    page = dl.pipelines._list(filters=filters)
    assert page["totalItemsCount"] == 1
    assert "Failed to create a task" in page["items"][0]["errorText"]["message"]
    assert page["items"][0]["status"] == "Failure"


def test_validate_reports_what_save_and_install_would_refuse(sdk: DtlpySdk) -> None:
    pipeline = sdk.project.pipelines.create(name="validated")
    pipeline.nodes.add(dataset_node(sdk, "looped", dataset_id=None))
    pipeline.nodes[0].connect(pipeline.nodes[0])
    result = pipeline.validate()
    assert result["valid"] is False
    messages = {e["pointer"]: e["message"] for e in result["errors"]}
    assert 'Infinite Loop detected for node "looped"' in messages[""]
    assert "must have a datasetId" in messages["/nodes/0"]
