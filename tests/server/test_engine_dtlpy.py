"""The execution engine driven by dtlpy against a real local control plane: code nodes run the
spec's Python in their own process (with dtlpy pointed back at the control plane), items flow by
output port, through connection filters and into tasks, and wait there until a status with an
action sends them on; failures, timeouts and rerun behave as on Dataloop."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from harness import DtlpySdk

from reconciler.server.engine.runner import Limits

OWNER = "local@loopform.dev"


@pytest.fixture(scope="module")
def sdk(dtlpy_sdk: DtlpySdk) -> DtlpySdk:
    return dtlpy_sdk


@pytest.fixture
def limited(sdk: DtlpySdk) -> Iterator[Any]:
    """Sets the engine's limits for one test (the defaults come back after it)."""
    engine = sdk.server.control_plane.engine
    before = engine.limits

    def use(limits: Limits) -> None:
        engine.limits = limits

    yield use
    engine.limits = before


def upload(dataset: Any, name: str, **metadata: Any) -> Any:
    return dataset.items.upload(local_path=io.BytesIO(b"x"), remote_name=name, remote_path="/",
                                item_metadata={"user": metadata} if metadata else None)


def finished(sdk: DtlpySdk, pipeline: Any, cycle_id: str) -> Any:
    """The cycle once the engine has nothing left to run."""
    sdk.server.control_plane.engine.drain()
    return sdk.project.pipelines.get(pipeline_id=pipeline.id).pipeline_executions.get(pipeline_execution_id=cycle_id)


def statuses(pipeline: Any, cycle: Any) -> dict[str, list[str]]:
    names = {node.node_id: node.name for node in pipeline.nodes}
    return {names[node_id]: [e["status"] for e in listed] for node_id, listed in cycle.executions.items()}


def only_execution(cycle: Any, pipeline: Any, name: str) -> dict[str, Any]:
    (node,) = [n for n in pipeline.nodes if n.name == name]
    (execution,) = cycle.executions[node.node_id]
    return execution


def code_node(sdk: DtlpySdk, method: Any, **kw: Any) -> Any:
    return sdk.dl.CodeNode(name=method.__name__, project_id=sdk.project.id, project_name=sdk.project.name,
                           method=method, **kw)


def installed(pipeline: Any) -> Any:
    pipeline.update()
    pipeline.install()
    return pipeline


# -- the functions the code nodes run (dtlpy ships their source text) -----------------------------

def tag(item):
    item.metadata.setdefault("user", {})["seen"] = True
    item.update()
    print("tagged", item.name)
    return item


def explode(item):
    raise RuntimeError("no frames in " + item.name)


def spin(item):
    print("spinning")
    while True:
        pass


def chatter(item):
    for _ in range(10000):
        print("x" * 100)
    return item


def split(item):
    import dtlpy as dl

    fetched = dl.items.get(item_id=item.id)  # the SDK inside reaches this control plane
    return (fetched, None) if fetched.metadata["user"].get("kind") == "cat" else (None, fetched)


# -- tests ------------------------------------------------------------------------------------------

def test_a_code_node_runs_the_specs_python_and_its_item_flows_into_the_dataset_folder(sdk: DtlpySdk) -> None:
    dl, project = sdk.dl, sdk.project
    dataset = project.datasets.create(dataset_name="engine-in")
    item = upload(dataset, "a.jpg")
    pipeline = project.pipelines.create(name="engine-tag")
    done = dl.DatasetNode(name="done", project_id=project.id, dataset_id=dataset.id, dataset_folder="/done",
                          position=(2, 1))
    pipeline.nodes.add(code_node(sdk, tag)).connect(node=done)
    installed(pipeline)
    cycle = finished(sdk, pipeline, pipeline.execute(execution_input={"item": item.id}).id)
    assert cycle.status == "success"
    assert statuses(pipeline, cycle) == {"tag": ["success"], "done": ["success"]}
    tagged = only_execution(cycle, pipeline, "tag")
    assert "tagged a.jpg" in tagged["log"] and tagged["output"] == {"item": item.id}
    got = dataset.items.get(item_id=item.id)
    assert got.metadata["user"] == {"seen": True} and got.filename == "/done/a.jpg"
    execution = dl.executions.get(execution_id=tagged["_id"])
    assert execution.status == "success"
    stats = pipeline.pipeline_executions.list()
    assert [c.status for c in stats.items] == ["success"]


def test_an_exception_fails_the_execution_with_its_traceback_and_rerun_runs_it_again(sdk: DtlpySdk) -> None:
    dl, project = sdk.dl, sdk.project
    dataset = project.datasets.create(dataset_name="engine-fail")
    item = upload(dataset, "b.jpg")
    pipeline = project.pipelines.create(name="engine-fail")
    pipeline.nodes.add(code_node(sdk, explode)).connect(node=code_node(sdk, tag, position=(2, 1)))
    installed(pipeline)
    cycle = finished(sdk, pipeline, pipeline.execute(execution_input={"item": item.id}).id)
    assert cycle.status == "failed"
    assert statuses(pipeline, cycle) == {"explode": ["failed"]}  # nothing after a failure runs
    failed = only_execution(cycle, pipeline, "explode")
    assert "RuntimeError: no frames in b.jpg" in failed["latestStatus"]["message"]
    assert "Traceback" in failed["latestStatus"]["message"]
    assert dl.executions.get(execution_id=failed["_id"]).status == "failed"
    pipeline.pipeline_executions.rerun(method=dl.CycleRerunMethod.START_FROM_FAILED_EXECUTIONS,
                                       filters=dl.Filters(field="id", values=cycle.id,
                                                          resource=dl.FiltersResource.PIPELINE_EXECUTION))
    again = only_execution(finished(sdk, pipeline, cycle.id), pipeline, "explode")
    assert again["status"] == "failed" and again["attempts"] == 2 and again["_id"] != failed["_id"]


def test_an_endless_loop_or_a_flood_of_output_fails_that_execution_only(sdk: DtlpySdk, limited: Any) -> None:
    project = sdk.project
    dataset = project.datasets.create(dataset_name="engine-limits")
    item = upload(dataset, "c.jpg")
    looping = project.pipelines.create(name="engine-spin")
    looping.nodes.add(code_node(sdk, spin))
    installed(looping)
    noisy = project.pipelines.create(name="engine-chatter")
    noisy.nodes.add(code_node(sdk, chatter))
    installed(noisy)
    # long enough for the child to start and print on a loaded machine; the loop never ends
    limited(Limits(timeout_seconds=10, log_bytes=2048))
    spun = finished(sdk, looping, looping.execute(execution_input={"item": item.id}).id)
    stopped = only_execution(spun, looping, "spin")
    assert stopped["status"] == "failed" and "timed out" in stopped["latestStatus"]["message"]
    assert "spinning" in stopped["log"]
    limited(Limits(log_bytes=2048))  # the default timeout: only the log is bounded here
    chatty = only_execution(finished(sdk, noisy, noisy.execute(execution_input={"item": item.id}).id), noisy, "chatter")
    assert chatty["status"] == "success"
    assert len(chatty["log"]) < 2048 + 100 and "[log truncated:" in chatty["log"]


def test_two_output_ports_route_by_port_and_connection_filters_are_evaluated_on_the_item(sdk: DtlpySdk) -> None:
    dl, project = sdk.dl, sdk.project
    dataset = project.datasets.create(dataset_name="engine-route")
    cat, dog = upload(dataset, "cat.jpg", kind="cat"), upload(dataset, "dog.jpg", kind="dog", big=True)
    ports = [dl.PipelineNodeIO(input_type=dl.PackageInputType.ITEM, name=n, display_name=n, port_id=n)
             for n in ("cats", "others")]
    splitter = code_node(sdk, split, outputs=ports)
    cats = dl.DatasetNode(name="cats", project_id=project.id, dataset_id=dataset.id, dataset_folder="/cats",
                          position=(2, 1))
    big = dl.DatasetNode(name="big", project_id=project.id, dataset_id=dataset.id, dataset_folder="/big",
                         position=(2, 2))
    pipeline = project.pipelines.create(name="engine-route")
    pipeline.nodes.add(splitter).connect(node=cats, source_port=ports[0])
    splitter.connect(node=big, source_port=ports[1], filters=dl.Filters(field="metadata.user.big", values=True))
    installed(pipeline)
    went_cat = finished(sdk, pipeline, pipeline.execute(execution_input={"item": cat.id}).id)
    assert statuses(pipeline, went_cat) == {"split": ["success"], "cats": ["success"]}
    went_dog = finished(sdk, pipeline, pipeline.execute(execution_input={"item": dog.id}).id)
    assert statuses(pipeline, went_dog) == {"split": ["success"], "big": ["success"]}
    small = upload(dataset, "mouse.jpg", kind="mouse")
    stayed = finished(sdk, pipeline, pipeline.execute(execution_input={"item": small.id}).id)
    assert statuses(pipeline, stayed) == {"split": ["success"]}  # the filter kept it back
    assert dataset.items.get(item_id=dog.id).filename == "/big/dog.jpg"
    assert dataset.items.get(item_id=small.id).filename == "/mouse.jpg"


def test_items_wait_in_the_task_until_a_status_sends_them_along_that_actions_connection(sdk: DtlpySdk) -> None:
    dl, project = sdk.dl, sdk.project
    dataset = project.datasets.create(dataset_name="engine-task")
    recipe = dataset.recipes.list()[0]
    keep, drop = upload(dataset, "keep.jpg"), upload(dataset, "drop.jpg")
    task_node = dl.TaskNode(name="label", project_id=project.id, dataset_id=dataset.id, recipe_id=recipe.id,
                            recipe_title=recipe.title, task_owner=OWNER,
                            workload=[dl.WorkloadUnit(assignee_id=OWNER, load=100)], position=(1, 1),
                            task_type="annotation", actions=["complete", "discard"])
    kept = dl.DatasetNode(name="kept", project_id=project.id, dataset_id=dataset.id, dataset_folder="/kept",
                          position=(2, 1))
    dropped = dl.DatasetNode(name="dropped", project_id=project.id, dataset_id=dataset.id,
                             dataset_folder="/dropped", position=(2, 2))
    pipeline = project.pipelines.create(name="engine-task")
    pipeline.nodes.add(task_node).connect(node=kept, source_port=task_node.outputs[0], action="complete")
    task_node.connect(node=dropped, source_port=task_node.outputs[0], action="discard")
    installed(pipeline)
    first = pipeline.execute(execution_input={"item": keep.id}).id
    second = pipeline.execute(execution_input={"item": drop.id}).id
    waiting = finished(sdk, pipeline, first)
    assert waiting.status == "in-progress" and statuses(pipeline, waiting) == {"label": ["in-progress"]}
    task = project.tasks.get(task_name="label")
    assert sorted(i.id for i in task.get_items().all()) == sorted([keep.id, drop.id])
    dataset.items.get(item_id=keep.id).update_status(status="completed", task_id=task.id)
    dataset.items.get(item_id=drop.id).update_status(status="discard", task_id=task.id)
    done = finished(sdk, pipeline, first)
    assert done.status == "success" and statuses(pipeline, done) == {"label": ["success"], "kept": ["success"]}
    assert statuses(pipeline, finished(sdk, pipeline, second)) == {"label": ["success"], "dropped": ["success"]}
    assert dataset.items.get(item_id=keep.id).filename == "/kept/keep.jpg"
    assert dataset.items.get(item_id=drop.id).filename == "/dropped/drop.jpg"


PACKAGE_CODE = """import dtlpy as dl


class ServiceRunner(dl.BaseServiceRunner):
    def __init__(self, label="none"):
        self.label = label

    def stamp(self, item):
        item.metadata.setdefault("user", {})["stamped"] = self.label
        item.update()
        print("stamped", item.name)
        return item
"""


def test_a_function_node_runs_the_pushed_packages_function(sdk: DtlpySdk, tmp_path: Path) -> None:
    dl, project = sdk.dl, sdk.project
    (tmp_path / "main.py").write_text(PACKAGE_CODE)
    module = dl.PackageModule(name="default_module", entry_point="main.py", class_name="ServiceRunner",
                              init_inputs=[dl.FunctionIO(type=dl.PackageInputType.STRING, name="label")],
                              functions=[dl.PackageFunction(
                                  name="stamp", inputs=[dl.FunctionIO(type=dl.PackageInputType.ITEM, name="item")],
                                  outputs=[dl.FunctionIO(type=dl.PackageInputType.ITEM, name="item")])])
    package = project.packages.push(package_name="stamper", src_path=str(tmp_path), modules=[module])
    service = package.services.deploy(service_name="stamper", module_name="default_module",
                                      init_input={"label": "ok"})
    dataset = project.datasets.create(dataset_name="engine-function")
    item = upload(dataset, "f.jpg")
    pipeline = project.pipelines.create(name="engine-function")
    pipeline.nodes.add(dl.FunctionNode(name="stamp", service=service, function_name="stamp", project_id=project.id,
                                       project_name=project.name, position=(1, 1)))
    installed(pipeline)
    cycle = finished(sdk, pipeline, pipeline.execute(execution_input={"item": item.id}).id)
    stamped = only_execution(cycle, pipeline, "stamp")
    assert stamped["status"] == "success", stamped["latestStatus"]
    assert "stamped f.jpg" in stamped["log"]
    assert dataset.items.get(item_id=item.id).metadata["user"] == {"stamped": "ok"}


def remember(item, earlier):
    # `earlier` is read from the pipeline variable, which the updateVariable node before set to this item
    item.metadata.setdefault("user", {})["earlier"] = earlier.id
    item.update()
    return item


def _update_variable_node(sdk: DtlpySdk, name: str, *, port: str, position: tuple[int, int]) -> Any:
    # As Dataloop's templates build it: ports named after the variable they set, nothing else configured
    dl = sdk.dl
    ios = [dl.PipelineNodeIO(input_type=dl.PackageInputType.ITEM, name=port, display_name=port) for _ in range(2)]
    # (dl.PipelineNode is a DPK's node description; the pipeline node class is entities.node's)
    return dl.entities.node.PipelineNode(name=name, node_id=f"{name}-node", node_type="updateVariable", inputs=ios[:1],
                           outputs=ios[1:], project_id=sdk.project.id, position=position,
                           namespace=dl.PipelineNameSpace(function_name="update_variable", project_name="DataloopTasks",
                                                          service_name="pipeline-utils"))


def test_an_update_variable_node_sets_the_pipeline_variable_for_later_nodes_and_passes_the_item_on(
        sdk: DtlpySdk) -> None:
    dl, project = sdk.dl, sdk.project
    dataset = project.datasets.create(dataset_name="engine-variable")
    item = upload(dataset, "v.jpg")
    pipeline = project.pipelines.create(name="engine-variable")
    pipeline.variables = [dl.Variable(name="last item", variable_type=dl.PackageInputType.ITEM)]
    update = _update_variable_node(sdk, "keep-last", port="last item", position=(2, 1))
    reader = code_node(sdk, remember, position=(3, 1), inputs=[
        dl.PipelineNodeIO(input_type=dl.PackageInputType.ITEM, name="item", display_name="item"),
        dl.PipelineNodeIO(input_type=dl.PackageInputType.ITEM, name="earlier", display_name="earlier",
                          variable_name="last item")])
    pipeline.nodes.add(code_node(sdk, tag)).connect(node=update)
    update.connect(node=reader, target_port=reader.inputs[0])
    installed(pipeline)
    cycle = finished(sdk, pipeline, pipeline.execute(execution_input={"item": item.id}).id)
    assert statuses(pipeline, cycle) == {"tag": ["success"], "keep-last": ["success"], "remember": ["success"]}, \
        only_execution(cycle, pipeline, "remember")["latestStatus"]
    variables = project.pipelines.get(pipeline_id=pipeline.id).variables
    assert [(v.name, v.value) for v in variables] == [("last item", item.id)]
    assert dataset.items.get(item_id=item.id).metadata["user"] == {"seen": True, "earlier": item.id}


def test_an_update_variable_node_whose_port_names_no_variable_fails_saying_so(sdk: DtlpySdk) -> None:
    dl, project = sdk.dl, sdk.project
    dataset = project.datasets.create(dataset_name="engine-novariable")
    item = upload(dataset, "n.jpg")
    pipeline = project.pipelines.create(name="engine-novariable")
    pipeline.variables = [dl.Variable(name="kept", variable_type=dl.PackageInputType.ITEM)]
    pipeline.nodes.add(code_node(sdk, tag)).connect(node=_update_variable_node(sdk, "set", port="item", position=(2, 1)))
    installed(pipeline)
    cycle = finished(sdk, pipeline, pipeline.execute(execution_input={"item": item.id}).id)
    failed = only_execution(cycle, pipeline, "set")
    assert cycle.status == "failed" and failed["status"] == "failed"
    assert failed["latestStatus"]["message"] == (
        "updateVariable node 'set': its input 'item' names no pipeline variable (an input port is named after "
        "the variable it sets; the pipeline's variables: 'kept')")
