"""The execution engine over raw HTTP: inputs take their pipeline variable or default, an ml node
stops the item with a clear pending message, and item events fire the triggers of installed
pipelines (with the trigger's filter), never those of a paused one."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conftest import Api

FPS_CODE = ("def run(item, fps, step):\n"
            "    item.metadata.setdefault('user', {})['fps'] = fps\n"
            "    item.metadata['user']['step'] = step\n"
            "    item.update()\n"
            "    return item\n")


def _port(port_id: str, **extra: Any) -> dict[str, Any]:
    return {"portId": port_id, "type": "Item", "name": "item", "displayName": "item", **extra}


def _code_then(api: Api, name: str, dataset_id: str, *, second: dict[str, Any]) -> dict[str, Any]:
    """dataset -> code (FPS_CODE, its `fps` input from the variable, `step` from its default) -> `second`."""
    doc = api.sample(name)
    videos, cut, _ = doc["nodes"]
    videos["metadata"]["datasetId"] = dataset_id
    cut["config"]["package"]["code"] = FPS_CODE
    cut["inputs"] += [{"portId": "p-fps", "type": "Integer", "name": "fps", "displayName": "fps", "variableName": "fps"},
                      {"portId": "p-step", "type": "Integer", "name": "step", "displayName": "step", "defaultValue": 5}]
    doc["nodes"][2] = second
    doc["connections"][1] = {"src": {"nodeId": cut["id"], "portId": "p-cut-out"},
                             "tgt": {"nodeId": second["id"], "portId": second["inputs"][0]["portId"]}}
    doc["variables"] = [{"name": "fps", "type": "Integer", "value": 3}]
    return api.ok(api.post("/pipelines", doc))


def _ml_node(api: Api) -> dict[str, Any]:
    return {"id": api.node_ids["label"], "name": "detect", "type": "ml",
            "namespace": {"functionName": "predict", "serviceName": "model-mgmt-app-predict",
                          "moduleName": "model-mgmt-app-predict", "packageName": "model-mgmt-app"},
            "inputs": [_port("p-ml-in")], "outputs": [_port("p-ml-out")], "metadata": {},
            "config": {}}


def _cycles(api: Api, pipeline_id: str) -> list[dict[str, Any]]:
    api.server.control_plane.engine.drain()
    return api.ok(api.post("/pipelines/query", {"filter": {"pipelineId": pipeline_id},
                                                "resource": "pipelineState"}))["items"]


def test_inputs_take_their_variable_or_default_and_an_ml_node_is_pending_not_pretended(api: Api) -> None:
    dataset = api.dataset("engine-ml")
    pipeline = _code_then(api, "engine-ml", dataset["id"], second=_ml_node(api))
    api.ok(api.post(f"/pipelines/{pipeline['id']}/install", {}))
    item = api.upload(dataset["id"], "/a.jpg")
    started = api.ok(api.post(f"/pipelines/{pipeline['id']}/execute", {"pipeline": {"input": {"item": item["id"]}}}))
    cycle = api.cycle(pipeline["id"], started["id"])
    assert api.ok(api.get(f"/items/{item['id']}"))["metadata"]["user"] == {"fps": 3, "step": 5}
    (pending,) = cycle["executions"][api.node_ids["label"]]
    assert pending["status"] == "pending"
    assert pending["latestStatus"]["message"] == "pending: no local runner for ml node 'detect'"
    assert cycle["status"] == "in-progress"  # never a pretended success
    # A node execution by its id alone (dtlpy's executions.get): the project's members only
    assert api.ok(api.get(f"/executions/{pending['id']}"))["latestStatus"] == pending["latestStatus"]
    eve = api.server.control_plane.mint_token("eve@example.com")
    assert api.get(f"/executions/{pending['id']}", token=eve).status_code == 404
    assert api.get("/executions/no-such-execution").status_code == 404


def test_item_events_fire_the_triggers_of_installed_pipelines_with_their_filter(api: Api) -> None:
    dataset = api.dataset("engine-trigger")
    doc = api.sample("engine-trigger")
    videos, cut, _ = doc["nodes"]
    videos["metadata"]["datasetId"] = dataset["id"]
    cut["config"]["package"]["code"] = "def run(item):\n    return item\n"
    doc["nodes"], doc["connections"] = doc["nodes"][:2], doc["connections"][:1]
    doc["startNodes"] = [{"nodeId": videos["id"], "type": "root", "trigger": {
        "type": "Event", "spec": {"resource": "Item", "actions": ["Created"], "executionMode": "Once",
                                  "filter": {"metadata.user.kind": "video"}}}}]
    pipeline = api.ok(api.post("/pipelines", doc))
    pid = pipeline["id"]
    api.upload(dataset["id"], "/before-install.mp4", metadata={"kind": "video"})
    api.ok(api.post(f"/pipelines/{pid}/install", {}))
    video = api.upload(dataset["id"], "/v.mp4", metadata={"kind": "video"})
    api.upload(dataset["id"], "/not-a-video.jpg", metadata={"kind": "image"})
    elsewhere = api.dataset("engine-trigger-elsewhere")
    api.upload(elsewhere["id"], "/other.mp4", metadata={"kind": "video"})  # not the start node's dataset
    (cycle,) = _cycles(api, pid)
    assert cycle["input"] == {"item": video["id"]} and cycle["status"] == "success"
    assert [n["name"] for n in cycle["nodes"]] == ["videos", "cut"]
    api.ok(api.post(f"/pipelines/{pid}/uninstall", {}))
    api.upload(dataset["id"], "/while-paused.mp4", metadata={"kind": "video"})
    assert len(_cycles(api, pid)) == 1  # a paused pipeline starts no cycles


def test_an_updated_trigger_fires_once_per_item(api: Api) -> None:
    dataset = api.dataset("engine-updated")
    doc = api.sample("engine-updated")
    videos = doc["nodes"][0]
    videos["metadata"]["datasetId"] = dataset["id"]
    doc["nodes"], doc["connections"] = doc["nodes"][:1], []
    doc["startNodes"] = [{"nodeId": videos["id"], "type": "root", "trigger": {
        "type": "Event", "spec": {"resource": "Item", "actions": ["Updated"], "executionMode": "Once"}}}]
    pipeline = api.ok(api.post("/pipelines", copy.deepcopy(doc)))
    api.ok(api.post(f"/pipelines/{pipeline['id']}/install", {}))
    item = api.upload(dataset["id"], "/a.jpg")
    assert _cycles(api, pipeline["id"]) == []  # created, not updated
    for value in (1, 2):
        api.ok(api.patch(f"/items/{item['id']}", {"metadata": {"user": {"n": value}}}))
    (cycle,) = _cycles(api, pipeline["id"])
    assert cycle["input"] == {"item": item["id"]}


def test_code_runs_with_a_token_of_the_pipelines_project_only(api: Api) -> None:
    plane = api.server.control_plane
    other = plane.create_project("elsewhere", owner=plane.default_user)
    foreign_dataset = api.ok(api.post("/datasets", {"name": "foreign", "projects": [other["id"]]}))
    foreign = api.upload(foreign_dataset["id"], "/secret.jpg")
    assert api.get(f"/items/{foreign['id']}").status_code == 200  # the caller may see it; the code may not
    dataset = api.dataset("engine-scope")
    doc = api.sample("engine-scope")
    videos, cut, _ = doc["nodes"]
    videos["metadata"]["datasetId"] = dataset["id"]
    cut["config"]["package"]["code"] = (f"import dtlpy as dl\n\ndef run(item):\n"
                                        f"    dl.items.get(item_id={foreign['id']!r})\n    return item\n")
    doc["nodes"], doc["connections"] = doc["nodes"][:2], doc["connections"][:1]
    pipeline = api.ok(api.post("/pipelines", doc))
    api.ok(api.post(f"/pipelines/{pipeline['id']}/install", {}))
    item = api.upload(dataset["id"], "/mine.jpg")
    started = api.ok(api.post(f"/pipelines/{pipeline['id']}/execute", {"pipeline": {"input": {"item": item['id']}}}))
    cycle = api.cycle(pipeline["id"], started["id"])
    (refused,) = cycle["executions"][api.node_ids["cut"]]
    assert refused["status"] == "failed" and "NotFound" in refused["latestStatus"]["message"]
    assert api.server.token not in refused["latestStatus"]["message"] + refused.get("log", "")
    members = {m["email"]: m["role"] for m in api.ok(api.get(f"/projects/{api.project_id}/members"))}
    assert members[f"pipelines@{api.project_id}.loopform.local"] == "engineer"
    assert f"pipelines@{api.project_id}.loopform.local" not in {
        m["email"] for m in api.ok(api.get(f"/projects/{other['id']}/members"))}


def test_load_existing_data_starts_a_cycle_per_matching_item_at_install_once(api: Api) -> None:
    dataset = api.dataset("engine-existing")
    wanted = api.upload(dataset["id"], "/old.jpg", metadata={"keep": True})
    api.upload(dataset["id"], "/other.jpg", metadata={"keep": False})
    doc = api.sample("engine-existing")
    videos = doc["nodes"][0]
    videos["metadata"].update(datasetId=dataset["id"],
                              triggerToPipeline={"active": True, "filter": '{"metadata.user.keep": true}'})
    doc["nodes"], doc["connections"] = [videos], []
    pipeline = api.ok(api.post("/pipelines", doc))
    api.ok(api.post(f"/pipelines/{pipeline['id']}/install", {}))
    (cycle,) = _cycles(api, pipeline["id"])
    assert cycle["input"] == {"item": wanted["id"]} and cycle["status"] == "success"
    api.ok(api.post(f"/pipelines/{pipeline['id']}/uninstall", {}))
    api.ok(api.post(f"/pipelines/{pipeline['id']}/install", {}))
    assert len(_cycles(api, pipeline["id"])) == 1  # loaded once per item


def _task_then_kept(api: Api, name: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """videos -> cut (passes the item on) -> label (a task) -complete-> kept (folder /kept); the
    pipeline installed, one item waiting in the task; (pipeline, task, cycle id)."""
    dataset = api.dataset(f"{name}-data")
    doc = api.sample(name)
    videos, cut, label = doc["nodes"]
    videos["metadata"]["datasetId"] = label["metadata"]["datasetId"] = dataset["id"]
    cut["config"]["package"]["code"] = "def run(item):\n    return item\n"
    kept = {**copy.deepcopy(videos), "id": "0b7f2a5e-1111-4c3d-9a4e-000000000004", "name": "kept",
            "inputs": [_port("p-kept-in")], "outputs": [_port("p-kept-out")]}
    kept["metadata"]["dir"] = "/kept"
    doc["nodes"].append(kept)
    doc["connections"].append({"src": {"nodeId": label["id"], "portId": "p-label-out"},
                               "tgt": {"nodeId": kept["id"], "portId": "p-kept-in"}, "action": "complete"})
    pipeline = api.ok(api.post("/pipelines", doc))
    api.ok(api.post(f"/pipelines/{pipeline['id']}/install", {}))
    item = api.upload(dataset["id"], "/a.jpg")
    started = api.ok(api.post(f"/pipelines/{pipeline['id']}/execute", {"pipeline": {"input": {"item": item["id"]}}}))
    assert api.cycle(pipeline["id"], started["id"])["status"] == "in-progress"
    (task,) = api.ok(api.post("/annotationtasks/query", {"filter": {"name": "label"},
                                                         "context": {"projectIds": [api.project_id]}}))["items"]
    return pipeline, {**task, "item": item["id"]}, started["id"]


def test_work_waits_while_paused_and_goes_on_when_resumed(api: Api) -> None:
    pipeline, task, cycle_id = _task_then_kept(api, "engine-resume")
    pid = pipeline["id"]
    api.ok(api.post(f"/pipelines/{pid}/uninstall", {}))
    api.ok(api.post(f"/assignments/items/tasks/{task['id']}/status",
                    {"itemIds": [task["item"]], "statusPayload": {"operation": "create", "status": "completed"}}))
    paused = api.cycle(pid, cycle_id)
    assert [(n["name"], n["status"]) for n in paused["nodes"]][-1] == ("kept", "in-progress")
    assert paused["executions"]["0b7f2a5e-1111-4c3d-9a4e-000000000004"][0]["status"] == "created"
    api.ok(api.post(f"/pipelines/{pid}/install", {"resumeOption": "resumeExistingCycles"}))
    resumed = api.cycle(pid, cycle_id)
    assert resumed["status"] == "success"
    assert api.ok(api.get(f"/items/{task['item']}"))["filename"] == "/kept/a.jpg"


def test_resuming_with_terminate_ends_the_open_cycles(api: Api) -> None:
    pipeline, _, cycle_id = _task_then_kept(api, "engine-terminate")
    pid = pipeline["id"]
    api.ok(api.post(f"/pipelines/{pid}/uninstall", {}))
    api.ok(api.post(f"/pipelines/{pid}/install", {"resumeOption": "terminateExistingCycles"}))
    ended = api.cycle(pid, cycle_id)
    assert ended["status"] == "terminated"
    assert [(n["name"], n["status"]) for n in ended["nodes"]] == [
        ("videos", "success"), ("cut", "success"), ("label", "terminated")]
    stats = api.ok(api.get(f"/pipelines/{pid}/statistics"))
    assert stats["pipelineExecutionCounters"] == [{"status": "terminated", "count": 1}]
