"""Work a member's pipeline makes the engine do is bounded, and going past the bound is a visible
failure of that cycle (status and message dtlpy reads), never a server busy for hours: a graph of
2-node layers each connected to both nodes of the next (2^layers executions from one item), a code
node returning a long list for a port that takes one item, and an item trigger whose pipeline
writes items that start it again."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from reconciler.server.engine import cycles
from reconciler.server.testing import connection, storage_node

if TYPE_CHECKING:
    from conftest import Api


def _ladder(api: Api, dataset_id: str, layers: int) -> dict[str, Any]:
    """A root, then `layers` layers of two dataset nodes, each node connected to both of the next
    layer: the item reaches layer k 2^k times."""
    names = [["root"]] + [[f"l{k}a", f"l{k}b"] for k in range(1, layers + 1)]
    links = [connection(s, t) for before, after in zip(names, names[1:], strict=False) for s in before for t in after]
    return api.create_pipeline("ladder", nodes=[storage_node(n, dataset_id) for layer in names for n in layer],
                               connections=links, startNodes=[{"nodeId": "root", "type": "root"}])


def _executions(cycle: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for listed in cycle["executions"].values() for e in listed]


def _limit(api: Api, **limits: int) -> None:
    engine = api.server.control_plane.engine
    engine.limits = dataclasses.replace(engine.limits, **limits)


def test_a_graph_that_doubles_per_layer_fails_its_cycle_at_the_execution_limit(api: Api) -> None:
    _limit(api, cycle_executions=40)
    dataset = api.dataset("ladder")
    item = api.upload(dataset["id"], "/a.jpg")
    pipeline = _ladder(api, dataset["id"], layers=20)  # 2^21 - 1 executions without a limit
    api.ok(api.post(f"/pipelines/{pipeline['id']}/install", {}))
    started = api.ok(api.post(f"/pipelines/{pipeline['id']}/execute", {"pipeline": {"input": {"item": item["id"]}}}))
    cycle = api.cycle(pipeline["id"], started["id"])
    assert cycle["status"] == "failed"
    ran = _executions(cycle)
    assert len(ran) <= 40
    stopped = [e for e in ran if e["status"] == "failed"]
    assert stopped and {e["latestStatus"]["message"] for e in stopped} == {cycles.too_many_executions(40)}
    assert all(e["status"] in ("success", "failed") for e in ran)  # nothing left queued or running


def test_a_graph_within_the_limit_runs_every_execution(api: Api) -> None:
    _limit(api, cycle_executions=40)
    dataset = api.dataset("small-ladder")
    item = api.upload(dataset["id"], "/a.jpg")
    pipeline = _ladder(api, dataset["id"], layers=4)  # 1 + 2 + 4 + 8 + 16 = 31 executions
    api.ok(api.post(f"/pipelines/{pipeline['id']}/install", {}))
    started = api.ok(api.post(f"/pipelines/{pipeline['id']}/execute", {"pipeline": {"input": {"item": item["id"]}}}))
    cycle = api.cycle(pipeline["id"], started["id"])
    assert cycle["status"] == "success" and len(_executions(cycle)) == 31


def test_a_long_list_for_a_port_that_takes_one_item_fails_the_execution_that_returned_it(api: Api) -> None:
    _limit(api, cycle_executions=50)
    dataset = api.dataset("long-list")
    item = api.upload(dataset["id"], "/a.jpg")
    doc = api.sample("long-list")
    videos, cut, _ = doc["nodes"]
    videos["metadata"]["datasetId"] = dataset["id"]
    cut["config"]["package"]["code"] = "def run(item):\n    return [item] * 100000\n"
    doc["nodes"][2] = storage_node("after", dataset["id"])
    doc["connections"][1] = {"src": {"nodeId": cut["id"], "portId": "p-cut-out"},
                             "tgt": {"nodeId": "after", "portId": "after-in"}}
    pipeline = api.ok(api.post("/pipelines", doc))
    api.ok(api.post(f"/pipelines/{pipeline['id']}/install", {}))
    started = api.ok(api.post(f"/pipelines/{pipeline['id']}/execute", {"pipeline": {"input": {"item": item["id"]}}}))
    cycle = api.cycle(pipeline["id"], started["id"])
    assert cycle["status"] == "failed"
    (code,) = cycle["executions"][cut["id"]]
    assert code["status"] == "failed" and code["latestStatus"]["message"] == cycles.too_many_executions(50)
    assert "after" not in cycle["executions"]


def _writes_back(api: Api, name: str, code: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """dataset -> code, started by an item-created trigger on that dataset: whatever `code` uploads
    there starts it again. The dataset and the installed pipeline."""
    dataset = api.dataset(name)
    doc = api.sample(name)
    videos, cut, _ = doc["nodes"]
    videos["metadata"]["datasetId"] = dataset["id"]
    cut["config"]["package"]["code"] = code
    doc["nodes"], doc["connections"] = doc["nodes"][:2], doc["connections"][:1]
    doc["startNodes"] = [{"nodeId": videos["id"], "type": "root", "trigger": {
        "type": "Event", "spec": {"resource": "Item", "actions": ["Created"], "executionMode": "Once"}}}]
    pipeline = api.ok(api.post("/pipelines", doc))
    api.ok(api.post(f"/pipelines/{pipeline['id']}/install", {}))
    return dataset, pipeline


def _cycles(api: Api, pipeline_id: str) -> list[dict[str, Any]]:
    api.server.control_plane.engine.drain()
    return api.ok(api.post("/pipelines/query", {"filter": {"pipelineId": pipeline_id},
                                                "resource": "pipelineState"}))["items"]


# Uploads the next numbered item (an endless loop but for the stop at 9, which keeps the test
# finite without the limit), `per_run` of them per run.
def _next_items(per_run: int) -> str:
    return ("import io\n\ndef run(item):\n"
            "    n = int(item.name.split('-')[0])\n"
            "    if n < 9:\n"
            f"        for k in range({per_run}):\n"
            "            item.dataset.items.upload(local_path=io.BytesIO(b'x'), remote_path='/',\n"
            "                                      remote_name=f'{n + 1}-{item.name}-{k}.jpg')\n"
            "    return item\n")


def test_a_pipeline_writing_into_its_own_triggers_dataset_stops_at_the_chain_depth(api: Api) -> None:
    _limit(api, caused_depth=3)
    dataset, pipeline = _writes_back(api, "loop", _next_items(1))
    api.upload(dataset["id"], "/0-first.jpg")
    found = _cycles(api, pipeline["id"])
    assert sorted(c["status"] for c in found) == ["failed"] + ["success"] * 4  # the first, then 3 caused
    (refused,) = [c for c in found if c["status"] == "failed"]
    (start,) = [e for listed in refused["executions"].values() for e in listed]
    assert start["latestStatus"]["message"] == cycles.chain_too_deep(3)
    assert len(refused["executions"]) == 1  # the refused cycle ran nothing


def test_a_chain_that_doubles_every_round_stops_at_the_cycles_its_first_may_cause(api: Api) -> None:
    _limit(api, caused_cycles=4)
    dataset, pipeline = _writes_back(api, "doubling", _next_items(2))
    api.upload(dataset["id"], "/0-first.jpg")
    found = _cycles(api, pipeline["id"])
    ran = [c for c in found if c["status"] == "success"]
    refused = [c for c in found if c["status"] == "failed"]
    assert len(ran) == 5  # the first and the 4 it may cause; each of those wrote 2 items
    assert len(refused) == 2 * 5 - 4
    first = next(c for c in ran if "causedBy" not in c)
    messages = {e["latestStatus"]["message"] for c in refused for listed in c["executions"].values() for e in listed}
    assert messages == {cycles.chain_too_long(first["id"], 4)}


def _code_after_dataset(api: Api, name: str, code: str) -> tuple[dict[str, Any], str, dict[str, Any], dict[str, Any]]:
    """An installed pipeline `name`: a dataset node, then a code node running `code`; executed once
    with an item uploaded to the dataset. (pipeline, the code node's id, the item, the cycle started)."""
    dataset = api.dataset(name)
    doc = api.sample(name)
    videos, cut, _ = doc["nodes"]
    videos["metadata"]["datasetId"] = dataset["id"]
    cut["config"]["package"]["code"] = code
    doc["nodes"], doc["connections"] = doc["nodes"][:2], doc["connections"][:1]
    pipeline = api.ok(api.post("/pipelines", doc))
    api.ok(api.post(f"/pipelines/{pipeline['id']}/install", {}))
    item = api.upload(dataset["id"], "/a.jpg")
    started = api.ok(api.post(f"/pipelines/{pipeline['id']}/execute", {"pipeline": {"input": {"item": item["id"]}}}))
    return pipeline, cut["id"], item, started


def test_code_executing_its_own_pipeline_is_a_chain_like_a_trigger(api: Api) -> None:
    _limit(api, caused_depth=2)
    # executes the pipeline again (an endless loop but for the stop at 9 cycles)
    code = ("def run(item):\n"
            "    pipeline = item.project.pipelines.get(pipeline_name='self-execute')\n"
            "    if len(pipeline.pipeline_executions.list().items) < 9:\n"
            "        pipeline.execute(execution_input={'item': item.id})\n"
            "    return item\n")
    pipeline, _, _, _ = _code_after_dataset(api, "self-execute", code)
    found = _cycles(api, pipeline["id"])
    assert sorted(c["status"] for c in found) == ["failed"] + ["success"] * 3
    (refused,) = [c for c in found if c["status"] == "failed"]
    assert refused["causedBy"]["depth"] == 3


def test_an_update_of_many_items_asks_the_index_whether_each_started_a_cycle(api: Api) -> None:
    # An Updated trigger in executionMode Once starts a cycle for an item only if none started with
    # it: that question read every cycle of the pipeline for every item updated, so one DQL update
    # of 1000 items with a cycle each took 21 s (quadratic); it is an index search now.
    store = api.server.control_plane.store
    with store.read() as db:
        plan = db.execute("EXPLAIN QUERY PLAN SELECT 1 FROM executions WHERE pipeline_id = ? AND "
                          "json_extract(doc, '$.input.item') = ? LIMIT 1", ("p", "i")).fetchall()
    assert "USING INDEX executions_by_input_item" in " ".join(str(row[-1]) for row in plan)
    dataset = api.dataset("once")
    doc = api.sample("once")
    doc["nodes"][0]["metadata"]["datasetId"] = dataset["id"]
    doc["nodes"], doc["connections"] = doc["nodes"][:1], []
    doc["startNodes"] = [{"nodeId": doc["nodes"][0]["id"], "type": "root", "trigger": {
        "type": "Event", "spec": {"resource": "Item", "actions": ["Created", "Updated"], "executionMode": "Once"}}}]
    pipeline = api.ok(api.post("/pipelines", doc))
    api.ok(api.post(f"/pipelines/{pipeline['id']}/install", {}))
    items = [api.upload(dataset["id"], f"/{k}.jpg") for k in range(3)]
    for _ in range(2):
        api.ok(api.post(f"/datasets/{dataset['id']}/query", {"filter": {}, "update": {"metadata": {"user": {"x": 1}}}}))
    assert sorted(c["input"]["item"] for c in _cycles(api, pipeline["id"])) == sorted(i["id"] for i in items)
    assert store.started_with_item(pipeline["id"], items[0]["id"])
    assert not store.started_with_item(pipeline["id"], "another")


def test_a_rerun_from_a_node_named_many_times_runs_it_once(api: Api) -> None:
    dataset = api.dataset("rerun-many")
    item = api.upload(dataset["id"], "/a.jpg")
    pipeline = _ladder(api, dataset["id"], layers=1)
    api.ok(api.post(f"/pipelines/{pipeline['id']}/install", {}))
    started = api.ok(api.post(f"/pipelines/{pipeline['id']}/execute", {"pipeline": {"input": {"item": item["id"]}}}))
    api.cycle(pipeline["id"], started["id"])
    named = ["l1a"] * 50 + [f"not-a-node-{k}" for k in range(50)]
    api.ok(api.post(f"/pipelines/{pipeline['id']}/executions/rerun",
                    {"pipeline": {"method": "startFromNodes", "startNodeIds": named}}))
    cycle = api.cycle(pipeline["id"], started["id"])
    assert [(e["status"], e["attempts"]) for e in cycle["executions"]["l1a"]] == [("success", 2)]
    assert {k: len(v) for k, v in cycle["executions"].items()} == {"root": 1, "l1a": 1, "l1b": 1}


def test_a_cycle_that_fans_out_shares_the_workers_with_another_members_cycle(api: Api) -> None:
    # The workers take the cycles' executions in turn: behind one FIFO queue, a cycle started
    # while a doubling graph had queued hundreds of executions waited for all of them (a minute).
    _limit(api, cycle_executions=200)
    dataset = api.dataset("busy")
    item = api.upload(dataset["id"], "/a.jpg")
    ladder = _ladder(api, dataset["id"], layers=12)
    other = api.create_pipeline("other", nodes=[storage_node("x", dataset["id"]), storage_node("y", dataset["id"])],
                                connections=[connection("x", "y")], startNodes=[{"nodeId": "x", "type": "root"}])
    for pipeline in (ladder, other):
        api.ok(api.post(f"/pipelines/{pipeline['id']}/install", {}))
    big = api.ok(api.post(f"/pipelines/{ladder['id']}/execute", {"pipeline": {"input": {"item": item["id"]}}}))
    while len(_executions(api.ok(api.get(f"/pipelines/{ladder['id']}/executions/{big['id']}")))) < 60:
        pass  # until the ladder has queued a wide layer
    small = api.ok(api.post(f"/pipelines/{other['id']}/execute", {"pipeline": {"input": {"item": item["id"]}}}))
    done = api.cycle(other["id"], small["id"])
    assert done["status"] == "success"
    finished = max(e["updatedAt"] for e in _executions(done))
    started = min(e["createdAt"] for e in _executions(done))
    ran_meanwhile = [e for e in _executions(api.cycle(ladder["id"], big["id"])) if started <= e["updatedAt"] <= finished]
    assert len(ran_meanwhile) < 30  # a turn or two each; before, the ladder's whole queue (over 100)


def test_an_item_written_reads_only_the_pipelines_its_projects_triggers_start(api: Api) -> None:
    # Every item written read every pipeline of its project, code and all, installed or not: with
    # 20 pipelines of 2 MB an upload took 129 ms instead of 2, and a DQL update of n items paid it
    # n times. The triggers are read first now, and only the pipelines they start.
    dataset = api.dataset("quiet")
    for k in range(3):
        pipeline = _ladder(api, dataset["id"], layers=1)
        api.ok(api.patch(f"/pipelines/{pipeline['id']}", {"name": f"no-trigger-{k}"}))
        if k == 0:
            api.ok(api.post(f"/pipelines/{pipeline['id']}/install", {}))
    statements: list[str] = []
    db = api.server.control_plane.store._db
    db.set_trace_callback(statements.append)
    try:
        api.upload(dataset["id"], "/a.jpg")
        api.ok(api.post(f"/datasets/{dataset['id']}/query", {"filter": {}, "update": {"metadata": {"user": {"x": 1}}}}))
    finally:
        db.set_trace_callback(None)
    assert any("FROM resources" in s for s in statements)  # the triggers were asked
    assert not [s for s in statements if "FROM pipelines" in s]


def test_a_status_set_on_many_items_at_once_reads_the_pipelines_cycles_once(api: Api) -> None:
    # Each item named read every cycle of the task node's pipeline: a status set on 1000 waiting
    # items read 1000 cycles 1000 times in the request, and an item named 100,000 times (the body
    # allows it) was set and looked for 100,000 times.
    dataset = api.dataset("bulk")
    doc = api.sample("bulk")
    videos, _, label = doc["nodes"]
    videos["metadata"]["datasetId"] = label["metadata"]["datasetId"] = dataset["id"]
    doc["nodes"] = [videos, label, storage_node("kept", dataset["id"])]
    doc["nodes"][2]["metadata"]["dir"] = "/kept"
    doc["connections"] = [{"src": {"nodeId": videos["id"], "portId": "p-videos-out"},
                           "tgt": {"nodeId": label["id"], "portId": "p-label-in"}},
                          {"src": {"nodeId": label["id"], "portId": "p-label-out"},
                           "tgt": {"nodeId": "kept", "portId": "kept-in"}, "action": "complete"}]
    pipeline = api.ok(api.post("/pipelines", doc))
    api.ok(api.post(f"/pipelines/{pipeline['id']}/install", {}))
    items = [api.upload(dataset["id"], f"/{k}.jpg")["id"] for k in range(3)]
    for item in items:
        api.ok(api.post(f"/pipelines/{pipeline['id']}/execute", {"pipeline": {"input": {"item": item}}}))
    assert {c["status"] for c in _cycles(api, pipeline["id"])} == {"in-progress"}
    (task,) = api.ok(api.post("/annotationtasks/query", {"filter": {"name": "label"},
                                                         "context": {"projectIds": [api.project_id]}}))["items"]
    statements: list[str] = []
    db = api.server.control_plane.store._db
    db.set_trace_callback(statements.append)
    try:
        done = api.ok(api.post(f"/assignments/items/tasks/{task['id']}/status",
                               {"itemIds": items * 50, "statusPayload": {"operation": "create", "status": "completed"}}))
    finally:
        db.set_trace_callback(None)
    assert sorted(done) == sorted(items)
    assert len([s for s in statements if "FROM executions" in s and "pipeline_id" in s]) == 1
    assert {c["status"] for c in _cycles(api, pipeline["id"])} == {"success"}
    assert {api.ok(api.get(f"/items/{i}"))["dir"] for i in items} == {"/kept"}


def test_a_list_passed_along_a_chain_of_list_ports_stops_at_the_cycles_size(api: Api) -> None:
    # Each execution keeps its inputs and outputs in the cycle's one document: a result of 4 MB
    # passed along 100 nodes of list ports made it 800 MB, rewritten at every step.
    _limit(api, cycle_bytes=2 * 1024 ** 2)
    dataset = api.dataset("chain")
    item = api.upload(dataset["id"], "/a.jpg")
    doc = api.sample("chain")
    videos, cut, _ = doc["nodes"]
    videos["metadata"]["datasetId"] = dataset["id"]
    cut["config"]["package"]["code"] = "def run(item):\n    return [item] * 20000\n"  # 0.5 MB of ids
    cut["outputs"][0]["type"] = "Item[]"
    chain = [storage_node(f"s{k}", dataset["id"]) for k in range(5)]
    for node in chain:
        node["inputs"][0]["type"] = node["outputs"][0]["type"] = "Item[]"
    doc["nodes"] = [videos, cut, *chain]
    doc["connections"] = [doc["connections"][0], {"src": {"nodeId": cut["id"], "portId": "p-cut-out"},
                                                  "tgt": {"nodeId": "s0", "portId": "s0-in"}}]
    doc["connections"] += [connection(f"s{k}", f"s{k + 1}") for k in range(4)]
    pipeline = api.ok(api.post("/pipelines", doc))
    api.ok(api.post(f"/pipelines/{pipeline['id']}/install", {}))
    started = api.ok(api.post(f"/pipelines/{pipeline['id']}/execute", {"pipeline": {"input": {"item": item["id"]}}}))
    cycle = api.cycle(pipeline["id"], started["id"])
    assert cycle["status"] == "failed"
    (stopped,) = [e for e in _executions(cycle) if e["status"] == "failed"]
    assert stopped["latestStatus"]["message"] == cycles.too_large(2 * 1024 ** 2) and stopped["output"] is None
    assert len(api.get(f"/pipelines/{pipeline['id']}/executions/{started['id']}").content) <= 2 * 1024 ** 2
    assert "s4" not in cycle["executions"]


def test_a_cron_expression_longer_than_any_real_one_is_refused_at_install(api: Api) -> None:
    # Every minute the cron loop parses each active cron trigger's expression: 8 MB of "0,0,0,..."
    # cost it a second a minute per trigger, holding the interpreter.
    doc = api.sample("long-cron")
    root = doc["startNodes"][0]["nodeId"]
    every_value = "0-59/1," * 60 + "0 " + "0," * 24 + "1 * * *"  # longer than any useful one: fine
    for cron, problems in ((every_value, 0), (",".join(["0"] * 5000) + " * * * *", 1)):
        doc["startNodes"] = [{"nodeId": root, "type": "root", "trigger": {"type": "Cron", "spec": {"cron": cron}}}]
        errors = api.ok(api.post("/pipelines/validate", doc))["errors"]
        assert [e["pointer"] for e in errors] == ["/startNodes/0/trigger/spec/cron"] * problems
    pipeline = api.ok(api.post("/pipelines", doc))
    refused = api.post(f"/pipelines/{pipeline['id']}/install", {})
    assert refused.status_code == 400 and "longer than 1000 characters" in refused.text


def test_code_re_running_its_own_cycle_is_refused_past_the_chain_depth(api: Api) -> None:
    _limit(api, caused_depth=3)
    # counts its runs on the item, and re-runs its cycle (an endless loop but for the stop at 15)
    code = ("import dtlpy as dl\n\ndef run(item):\n"
            "    n = item.metadata.get('user', {}).get('n', 0) + 1\n"
            "    item.metadata.setdefault('user', {})['n'] = n\n"
            "    item.update()\n"
            "    if n < 15:\n"
            "        item.project.pipelines.get(pipeline_name='rerun-self').pipeline_executions.rerun(\n"
            "            method=dl.CycleRerunMethod.START_FROM_BEGINNING, wait=False)\n"
            "    return item\n")
    pipeline, code_id, item, started = _code_after_dataset(api, "rerun-self", code)
    cycle = api.cycle(pipeline["id"], started["id"])
    assert api.ok(api.get(f"/items/{item['id']}"))["metadata"]["user"]["n"] == 4  # the first run and 3 re-runs
    (refused,) = cycle["executions"][code_id]
    assert refused["status"] == "failed"
    assert cycles.reruns_too_many(started["id"], 3) in refused["latestStatus"]["message"]


def test_outputs_of_an_execution_its_cycle_re_ran_meanwhile_go_nowhere(api: Api) -> None:
    # The execution re-runs its cycle from the beginning, then returns: the cycle it belonged to
    # is gone, yet its outputs started the next node in the new one, beside the re-run's own.
    code = ("import dtlpy as dl\n\ndef run(item):\n"
            "    if not item.metadata.get('user', {}).get('again'):\n"
            "        item.metadata.setdefault('user', {})['again'] = True\n"
            "        item.update()\n"
            "        item.project.pipelines.get(pipeline_name='rerun-stale').pipeline_executions.rerun(\n"
            "            method=dl.CycleRerunMethod.START_FROM_BEGINNING, wait=False)\n"
            "    return item\n")
    dataset = api.dataset("rerun-stale")
    doc = api.sample("rerun-stale")
    videos, cut, _ = doc["nodes"]
    videos["metadata"]["datasetId"] = dataset["id"]
    cut["config"]["package"]["code"] = code
    doc["nodes"][2] = storage_node("kept", dataset["id"])
    doc["connections"][1] = {"src": {"nodeId": cut["id"], "portId": "p-cut-out"},
                             "tgt": {"nodeId": "kept", "portId": "kept-in"}}
    pipeline = api.ok(api.post("/pipelines", doc))
    api.ok(api.post(f"/pipelines/{pipeline['id']}/install", {}))
    item = api.upload(dataset["id"], "/a.jpg")
    started = api.ok(api.post(f"/pipelines/{pipeline['id']}/execute", {"pipeline": {"input": {"item": item["id"]}}}))
    cycle = api.cycle(pipeline["id"], started["id"])
    assert cycle["status"] == "success"
    assert {k: len(v) for k, v in cycle["executions"].items()} == {videos["id"]: 1, cut["id"]: 1, "kept": 1}
