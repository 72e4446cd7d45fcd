"""Install / uninstall / reset, graph checks (validate and install Failure), executions, statistics."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conftest import Api


def _created(api: Api, name: str) -> dict[str, Any]:
    return api.ok(api.post("/pipelines", api.sample(name)))


def test_status_lifecycle(api: Api) -> None:
    pipeline = _created(api, "life")
    pid = pipeline["id"]
    installed = api.ok(api.post(f"/pipelines/{pid}/install", {"resumeOption": "resumeExistingCycles"}))
    assert installed["status"] == "Installed" and len(installed["compositionId"]) == 24
    assert installed["compositionId"] == pipeline["compositionId"]  # named at create
    paused = api.ok(api.post(f"/pipelines/{pid}/uninstall", {"keepTriggersActive": True}))
    assert paused["status"] == "Uninstalled"
    again = api.ok(api.post(f"/pipelines/{pid}/install", {}))
    assert again["status"] == "Installed" and again["compositionId"] == installed["compositionId"]
    # a PATCH of an installed pipeline keeps its status
    assert api.ok(api.patch(f"/pipelines/{pid}", {"description": "x"}))["status"] == "Installed"
    assert api.post(f"/pipelines/{pid}/install", {"resumeOption": "sometimes"}).status_code == 400
    assert api.post(f"/pipelines/{pid}/uninstall", {"keepTriggersActive": "yes"}).status_code == 400


def test_reset_takes_no_body_and_zeroes_statistics(api: Api) -> None:
    pipeline = _created(api, "reset-me")
    pid = pipeline["id"]
    api.ok(api.post(f"/pipelines/{pid}/install", {}))
    api.ok(api.post(f"/pipelines/{pid}/execute", {"pipeline": {"input": {"item": "i1"}}}))
    assert api.ok(api.get(f"/pipelines/{pid}/statistics"))["pipelineExecutionCounters"]
    response = api.call("POST", f"/pipelines/{pid}/reset")  # no body at all, like dtlpy
    assert response.status_code == 200 and response.json()["resetTimestamp"]
    stats = api.ok(api.get(f"/pipelines/{pid}/statistics"))
    assert stats["pipelineExecutionCounters"] == [] and stats["nodeExecutionsCounters"] == []


def test_install_an_invalid_graph_fails_and_records_failure(api: Api) -> None:
    doc = api.sample("broken")
    doc["connections"][0]["tgt"]["portId"] = "no-such-port"
    pipeline = api.ok(api.post("/pipelines", doc))
    response = api.post(f"/pipelines/{pipeline['id']}/install", {})
    assert response.status_code == 400
    assert "no-such-port" in response.json()["message"]
    assert api.ok(api.get(f"/pipelines/{pipeline['id']}"))["status"] == "Failure"
    # an empty pipeline cannot be installed either
    empty = api.create_pipeline("empty")
    assert api.post(f"/pipelines/{empty['id']}/install", {}).status_code == 400
    assert api.ok(api.get(f"/pipelines/{empty['id']}"))["status"] == "Failure"


def test_an_installed_pipeline_refuses_an_update_that_breaks_its_graph(api: Api) -> None:
    pipeline = _created(api, "running")
    pid = pipeline["id"]
    installed = api.ok(api.post(f"/pipelines/{pid}/install", {}))
    broken = copy.deepcopy(installed)
    broken["connections"][0]["tgt"]["portId"] = "no-such-port"
    broken["description"] = "broken edit"
    response = api.patch(f"/pipelines/{pid}", broken)
    assert response.status_code == 400, response.text
    assert response.json()["status"] == 400
    assert "/connections/0/tgt/portId" in response.json()["message"] and "pause" in response.json()["message"]
    # nothing was stored: the running pipeline keeps its graph, status and revision
    assert api.ok(api.get(f"/pipelines/{pid}")) == installed
    # removing every node breaks it too; a sound edit goes through and keeps it installed
    assert api.patch(f"/pipelines/{pid}", {"nodes": [], "connections": [], "startNodes": []}).status_code == 400
    fine = api.ok(api.patch(f"/pipelines/{pid}", {**installed, "description": "sound edit"}))
    assert fine["status"] == "Installed" and fine["description"] == "sound edit"
    assert fine["updatedAt"] >= installed["updatedAt"]
    # paused, the same broken edit is a draft: stored, and install then fails and records Failure
    api.ok(api.post(f"/pipelines/{pid}/uninstall", {}))
    draft = api.ok(api.patch(f"/pipelines/{pid}", broken))
    assert draft["status"] == "Uninstalled" and draft["description"] == "broken edit"
    assert api.post(f"/pipelines/{pid}/install", {}).status_code == 400
    assert api.ok(api.get(f"/pipelines/{pid}"))["status"] == "Failure"


def test_validate_reports_each_graph_problem(api: Api) -> None:
    good = api.sample("good")
    assert api.ok(api.post("/pipelines/validate", good)) == {"valid": True, "errors": []}
    bad = copy.deepcopy(good)
    bad["nodes"].append(copy.deepcopy(bad["nodes"][0]))  # duplicate node id
    bad["connections"].append({"src": {"nodeId": "ghost", "portId": "p"},
                               "tgt": {"nodeId": good["nodes"][1]["id"], "portId": "p-cut-in"}})
    bad["connections"].append({"src": {"nodeId": good["nodes"][2]["id"], "portId": "p-label-out"},
                               "tgt": {"nodeId": good["nodes"][1]["id"], "portId": "p-cut-in"},
                               "action": "approve"})
    bad["nodes"][1]["inputs"][0]["type"] = "Annotation"
    bad["startNodes"] = []
    result = api.ok(api.post("/pipelines/validate", bad))
    assert result["valid"] is False
    messages = "\n".join(e["message"] for e in result["errors"])
    assert "duplicate node id" in messages
    assert "unknown node 'ghost'" in messages
    assert "action 'approve' is not offered" in messages
    assert "port type mismatch" in messages
    assert "no root start node" in messages
    pointers = {e["pointer"] for e in result["errors"]}
    assert "/connections/2/src/nodeId" in pointers and "/connections/3/action" in pointers


def test_validate_applies_the_spec_validators_port_and_trigger_rules(api: Api) -> None:
    good = api.sample("rules")
    # Json feeds anything only as a target: a Json output into an Item input is a mismatch,
    # exactly as `loopform validate` judges a spec (reconciler.spec.ports.accepts).
    json_out = copy.deepcopy(good)
    json_out["nodes"][1]["outputs"][0]["type"] = "Json"
    result = api.ok(api.post("/pipelines/validate", json_out))
    assert [e["pointer"] for e in result["errors"]] == ["/connections/1"]
    into_json = copy.deepcopy(good)
    into_json["nodes"][2]["inputs"][0]["type"] = "Json"
    assert api.ok(api.post("/pipelines/validate", into_json))["valid"] is True
    # triggers: a task may carry one (dtlpy's pulling-task flow); an Item event trigger needs an
    # Item (or Json) input
    triggered = copy.deepcopy(good)
    label, cut = good["nodes"][2]["id"], good["nodes"][1]["id"]
    triggered["nodes"][1]["inputs"][0]["type"] = "Dataset"  # `cut` takes a dataset, not items
    triggered["connections"] = triggered["connections"][1:]  # and nothing feeds it
    triggered["startNodes"] += [
        {"nodeId": label, "type": "trigger", "trigger": {"type": "Cron", "spec": {"cron": "0 * * * *"}}},
        {"nodeId": cut, "type": "trigger",
         "trigger": {"type": "Event", "spec": {"resource": "Item", "actions": ["Created"]}}},
    ]
    errors = api.ok(api.post("/pipelines/validate", triggered))["errors"]
    assert [e["pointer"] for e in errors] == ["/startNodes/2/trigger/spec/resource"]
    assert "needs an input port of type Item" in errors[0]["message"]


def test_an_event_trigger_filter_that_is_no_json_object_is_refused_not_deployed_as_every_item(api: Api) -> None:
    good = api.sample("filtered")
    root = good["startNodes"][0]["nodeId"]

    def with_filter(value: Any) -> dict[str, Any]:
        doc = copy.deepcopy(good)
        spec = {"resource": "Item", "actions": ["Created"]} | ({} if value is None else {"filter": value})
        doc["startNodes"] = [{"nodeId": root, "type": "root", "trigger": {"type": "Event", "spec": spec}}]
        return doc

    for fine in (None, "{}", '{"$and": [{"dir": "/in"}]}', {"dir": "/in"}):
        assert api.ok(api.post("/pipelines/validate", with_filter(fine)))["valid"] is True, fine
    for bad in ("{", "[1, 2]", '"text"', 5, ["dir"]):
        errors = api.ok(api.post("/pipelines/validate", with_filter(bad)))["errors"]
        assert [e["pointer"] for e in errors] == ["/startNodes/0/trigger/spec/filter"], bad
    # Installed, such a trigger deployed as "no filter" started a cycle for every item of the project.
    pipeline = api.ok(api.post("/pipelines", with_filter("{not json")))
    assert api.post(f"/pipelines/{pipeline['id']}/install", {}).status_code == 400
    listed = api.ok(api.post("/query/faas", {"resource": "triggers", "filter": {
        "$and": [{"projectId": pipeline["projectId"]}, {"spec.operation.id": pipeline["id"]}]}}))
    assert listed["items"] == []


def test_the_trigger_table_is_the_spec_validators() -> None:
    from reconciler.server.graph import TRIGGER_INPUT
    from reconciler.spec import checks

    assert TRIGGER_INPUT == checks._TRIGGER_INPUT


def test_execute_requires_installed(api: Api) -> None:
    pipeline = _created(api, "not-yet")
    response = api.post(f"/pipelines/{pipeline['id']}/execute", {"pipeline": {"input": {"item": "i"}}})
    assert response.status_code == 400 and "not installed" in response.json()["message"]


RUN_CODE = "def run(item):\n    print('cutting', item.name)\n    return item\n"


def _runnable(api: Api, name: str) -> tuple[dict[str, Any], list[str]]:
    """The sample pipeline over a real dataset (its task node's too) with code that runs, created,
    and two image items in the dataset."""
    dataset = api.dataset(f"{name}-data")
    doc = api.sample(name)
    videos, cut, label = doc["nodes"]
    videos["metadata"]["datasetId"] = label["metadata"]["datasetId"] = dataset["id"]
    cut["config"]["package"]["code"] = RUN_CODE
    items = [api.upload(dataset["id"], f"/{n}.jpg")["id"] for n in ("one", "two")]
    return api.ok(api.post("/pipelines", doc)), items


def test_execution_carries_the_item_through_the_graph_and_statistics_count_it(api: Api) -> None:
    pipeline, (first, second_item) = _runnable(api, "runs")
    pid = pipeline["id"]
    api.ok(api.post(f"/pipelines/{pid}/install", {}))
    started = api.ok(api.post(f"/pipelines/{pid}/execute",
                              {"pipeline": {"testMode": False, "input": {"item": first}}}))
    assert started["pipelineId"] == pid and started["input"] == {"item": first}
    execution = api.cycle(pid, started["id"])
    # dataset and code nodes complete; the task node waits for annotators
    assert [(n["name"], n["status"]) for n in execution["nodes"]] == [
        ("videos", "success"), ("cut", "success"), ("label", "in-progress")]
    assert execution["status"] == "in-progress"
    assert "cutting one.jpg" in execution["executions"][api.node_ids["cut"]][0]["log"]
    # a second run from an explicit start node, in test mode
    second = api.ok(api.post(f"/pipelines/{pid}/execute", {"pipeline": {
        "input": {"item": second_item}, "nodeId": api.node_ids["videos"], "testMode": True}}))
    assert second["testMode"] is True and second["startNodeId"] == api.node_ids["videos"]
    api.cycle(pid, second["id"])
    stats = api.ok(api.get(f"/pipelines/{pid}/statistics"))
    assert stats["pipelineExecutionCounters"] == [{"status": "in-progress", "count": 2}]
    counters = {c["nodeId"]: c["statusCount"] for c in stats["nodeExecutionsCounters"]}
    assert counters[api.node_ids["label"]] == [{"status": "in-progress", "count": 2}]
    assert counters[api.node_ids["cut"]] == [{"status": "success", "count": 2}]
    for counter in stats["pipelineExecutionCounters"]:
        assert set(counter) == {"status", "count"}
    assert api.get(f"/pipelines/{pid}/executions/000000000000000000000000").status_code == 404
    bad_node = api.post(f"/pipelines/{pid}/execute", {"pipeline": {"nodeId": "nope"}})
    assert bad_node.status_code == 400


def test_execution_without_a_task_succeeds(api: Api) -> None:
    pipeline, (item, _) = _runnable(api, "no-task")
    doc = {**pipeline, "nodes": pipeline["nodes"][:2], "connections": pipeline["connections"][:1]}
    api.ok(api.patch(f"/pipelines/{pipeline['id']}", doc))
    api.ok(api.post(f"/pipelines/{pipeline['id']}/install", {}))
    started = api.ok(api.post(f"/pipelines/{pipeline['id']}/execute", {"pipeline": {"input": {"item": item}}}))
    execution = api.cycle(pipeline["id"], started["id"])
    assert execution["status"] == "success"
    assert [n["status"] for n in execution["nodes"]] == ["success", "success"]
    stats = api.ok(api.get(f"/pipelines/{pipeline['id']}/statistics"))
    assert stats["pipelineExecutionCounters"] == [{"status": "success", "count": 1}]


def test_a_missing_item_fails_the_execution_not_the_server(api: Api) -> None:
    pipeline, _ = _runnable(api, "no-item")
    api.ok(api.post(f"/pipelines/{pipeline['id']}/install", {}))
    started = api.ok(api.post(f"/pipelines/{pipeline['id']}/execute", {"pipeline": {"input": {"item": "nope"}}}))
    execution = api.cycle(pipeline["id"], started["id"])
    assert execution["status"] == "failed"
    (failed,) = execution["executions"][api.node_ids["videos"]]
    assert failed["latestStatus"]["message"] == "item 'nope' does not exist"


def test_batch_execute_returns_a_command(api: Api) -> None:
    pipeline = _created(api, "batch")
    pid = pipeline["id"]
    api.ok(api.post(f"/pipelines/{pid}/install", {}))
    command = api.ok(api.post(f"/pipelines/{pid}/execute", {"batch": {
        "query": {"filter": {"$and": [{"hidden": False}, {"type": "file"}]}, "page": 0,
                  "pageSize": 1000, "resource": "items"}, "args": {"threshold": 0.1}}}))
    assert command["status"] == "success" and command["spec"]["pipelineId"] == pid
    assert api.ok(api.get(f"/commands/{command['id']}")) == command
    assert api.get("/commands/000000000000000000000000").status_code == 404


def test_rerun_from_nodes_updates_the_cycles_and_returns_a_command(api: Api) -> None:
    pipeline, (item, _) = _runnable(api, "rerun")
    pid = pipeline["id"]
    api.ok(api.post(f"/pipelines/{pid}/install", {}))
    first = api.cycle(pid, api.ok(api.post(f"/pipelines/{pid}/execute", {"pipeline": {"input": {"item": item}}}))["id"])
    command = api.ok(api.post(f"/pipelines/{pid}/executions/rerun", {
        "pipeline": {"method": "startFromNodes", "startNodeIds": [api.node_ids["cut"]]},
        "batch": {"query": {"filter": {"$and": [{"pipelineId": pid}]}, "resource": "pipelineState"}}}))
    assert command["spec"]["cycleOptions"] == {"method": "startFromNodes",
                                               "startNodeIds": [api.node_ids["cut"]]}
    assert command["result"] == {"cyclesCount": 1}
    rerun = api.cycle(pid, first["id"])
    # the node re-run is its second attempt; what follows it runs anew
    assert [(n["name"], n["attempts"]) for n in rerun["nodes"]] == [("videos", 1), ("cut", 2), ("label", 1)]
    assert rerun["createdAt"] == first["createdAt"]
    cut = rerun["executions"][api.node_ids["cut"]]
    assert len(cut) == 1 and cut[0]["input"] == {"item": item} and cut[0]["status"] == "success"
    bad = api.post(f"/pipelines/{pid}/executions/rerun", {"pipeline": {"method": "sideways"}})
    assert bad.status_code == 400
