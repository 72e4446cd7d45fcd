"""Tasks and assignments through dtlpy's own calls: `tasks.create` queues the dataset's items,
tasks are found by name and listed, items get a status with an action, a pipeline's task node
creates its task at install (the pulling-task flow of dtlpy's tests)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from harness import DtlpySdk

OWNER = "local@loopform.dev"


@pytest.fixture(scope="module")
def sdk(dtlpy_sdk: DtlpySdk) -> DtlpySdk:
    return dtlpy_sdk


def dataset_with_items(sdk: DtlpySdk, name: str, count: int) -> Any:
    dataset = sdk.project.datasets.create(dataset_name=name)
    for index in range(count):
        dataset.items.upload(local_path=io.BytesIO(b"x"), remote_name=f"{index}.jpg", remote_path="/todo")
    return dataset


def test_tasks_create_queues_the_items_and_deals_them_to_assignments(sdk: DtlpySdk) -> None:
    dl = sdk.dl
    dataset = dataset_with_items(sdk, "to-label", 4)
    task = dataset.tasks.create(task_name="label-them", assignee_ids=["ann@example.com", "bob@example.com"],
                                filters=dl.Filters(field="dir", values="/todo"))
    assert task.name == "label-them" and task.dataset_id == dataset.id and task.spec["type"] == "annotation"
    assignments = task.assignments.list()
    assert sorted(a.annotator for a in assignments) == ["ann@example.com", "bob@example.com"]
    items = task.get_items().all()
    assert len(list(items)) == 4
    per_assignment = [len(list(a.get_items().all())) for a in assignments]
    assert per_assignment == [2, 2]
    assert sdk.project.tasks.get(task_name="label-them").id == task.id
    assert task.id in [t.id for t in sdk.project.tasks.list()]


def test_an_item_gets_a_status_with_an_action(sdk: DtlpySdk) -> None:
    dataset = dataset_with_items(sdk, "to-review", 1)
    task = dataset.tasks.create(task_name="review-them", assignee_ids=[OWNER])
    (item,) = list(task.get_items().all())
    item.update_status(status="completed", task_id=task.id)  # returns None in dtlpy 1.126.5
    assert dataset.items.get(item_id=item.id).status(task_id=task.id) == "completed"
    item.update_status(status="completed", task_id=task.id, clear=True)  # returns None in dtlpy 1.126.5
    assert dataset.items.get(item_id=item.id).status(task_id=task.id) is None
    assignment = task.assignments.list()[0]
    item.update_status(status="discard", assignment_id=assignment.id)  # returns None in dtlpy 1.126.5
    assert dataset.items.get(item_id=item.id).status(assignment_id=assignment.id) == "discard"


def test_a_pulling_task_node_creates_its_task_at_install(sdk: DtlpySdk) -> None:
    dl, project = sdk.dl, sdk.project
    dataset = dataset_with_items(sdk, "pulled", 0)
    recipe = dataset.recipes.list()[0]
    pipeline = project.pipelines.create(name="pulling-task")
    task_node = dl.TaskNode(
        name="My Task-completed", project_id=project.id, dataset_id=dataset.id, recipe_id=recipe.id,
        recipe_title=recipe.title, task_owner=OWNER, workload=[dl.WorkloadUnit(assignee_id=OWNER, load=100)],
        position=(1, 1), task_type="annotation", batch_size=5, max_batch_workload=7, priority=dl.TaskPriority.LOW)
    done = dl.DatasetNode(name=dataset.name, project_id=project.id, dataset_id=dataset.id, position=(2, 2))
    pipeline.nodes.add(task_node).connect(node=done, source_port=task_node.outputs[0])
    filters = dl.Filters()
    filters.add(field="datasetId", values=dataset.id)
    task_node.add_trigger(filters=filters)
    pipeline.update()
    project.pipelines.get(pipeline_name="pulling-task").install()
    # dtlpy's test: "I validate pulling task created equal to pipeline task node"
    task = project.tasks.get(task_name="My Task-completed")
    assert task.spec["type"] == "annotation"
    assert task.metadata["system"]["batchSize"] == 5 and task.metadata["system"]["maxBatchWorkload"] == 7
    assert task.priority == dl.TaskPriority.LOW
    # a second install does not make a second task
    pipeline = project.pipelines.get(pipeline_name="pulling-task")
    pipeline.pause()
    pipeline.install()
    assert len([t for t in project.tasks.list() if t.name == "My Task-completed"]) == 1


def test_a_task_with_impossible_batch_settings_is_refused(sdk: DtlpySdk) -> None:
    dataset = dataset_with_items(sdk, "impossible", 0)
    with pytest.raises(sdk.dl.exceptions.BadRequest) as caught:
        dataset.tasks.create(task_name="too-big", assignee_ids=[OWNER], batch_size=10, max_batch_workload=7)
    assert "Failed to create a task" in str(caught.value)


def test_a_cycle_that_reaches_a_task_node_queues_its_item_in_the_task(sdk: DtlpySdk) -> None:
    dl, project = sdk.dl, sdk.project
    dataset = dataset_with_items(sdk, "executed", 1)
    (item,) = list(dataset.items.list().all())
    recipe = dataset.recipes.list()[0]
    pipeline = project.pipelines.create(name="into-a-task")
    source = dl.DatasetNode(name="source", project_id=project.id, dataset_id=dataset.id, position=(1, 1))
    review = dl.TaskNode(name="executed-review", project_id=project.id, dataset_id=dataset.id, recipe_id=recipe.id,
                         recipe_title=recipe.title, task_owner=OWNER, position=(2, 1),
                         workload=[dl.WorkloadUnit(assignee_id=OWNER, load=100)])
    pipeline.nodes.add(source).connect(review)
    pipeline = pipeline.update().install()
    task = project.tasks.get(task_name="executed-review")
    assert list(task.get_items().all()) == []
    pipeline.execute(execution_input={"item": item.id})
    assert [i.id for i in task.get_items().all()] == [item.id]
    assert dataset.items.get(item_id=item.id).status(task_id=task.id) is None  # waiting for people
