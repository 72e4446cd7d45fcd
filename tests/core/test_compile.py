"""compile: per node type, the document real pipelines carry; identity; errors located."""

from __future__ import annotations

import json

import pytest

from coretools import DictResolver, InlineSpec, applied, build, pipeline_spec
from reconciler.backend import ResourceKind
from reconciler.compile import compile_spec, deterministic_id
from reconciler.errors import SpecErrors
from reconciler.marker import read_marker

R = ResourceKind


def _node(compiled, key):
    node_id = compiled.keys[key]
    return next(n for n in compiled.desired.nodes if n.id == node_id)


def test_dataset_node_handle_and_clone() -> None:
    spec = pipeline_spec({
        "src": {"type": "dataset", "dataset": "raw", "folder": "/in", "loadExisting": {"filter": {"dir": "/in"}}},
        "dst": {"type": "dataset", "dataset": "out", "operation": "clone", "datasetVariable": "target"},
    }, [{"from": "src", "to": "dst"}])
    c = build(spec, resolver=DictResolver({(R.DATASET, "raw"): "d-raw", (R.DATASET, "out"): "d-out"}))
    src = _node(c, "src").wire()
    assert src["type"] == "storage"
    assert src["namespace"] == {"functionName": "dataset_handler", "projectName": "DataloopTasks",
                                "serviceName": "pipeline-utils"}
    assert src["metadata"]["datasetId"] == "d-raw"
    assert src["metadata"]["dir"] == "/in"
    assert src["metadata"]["triggerToPipeline"] == {"active": True, "filter": '{"dir":"/in"}'}
    dst = _node(c, "dst").wire()
    assert dst["namespace"]["functionName"] == "clone_item"
    assert dst["namespace"]["packageName"] == "pipeline-utils"
    assert dst["metadata"]["variableDataset"] == "target"


def test_task_node_metadata() -> None:
    spec = pipeline_spec({"label": {"type": "task", "task": {
        "type": "qa", "dataset": "frames", "recipe": "default", "owner": "lead@x.io",
        "workload": [{"assignee": "ann@x.io", "load": 60}, {"assignee": "bob@x.io", "load": 40}],
        "priority": "high", "dueDate": "2026-12-31", "batchSize": 5, "maxBatchWorkload": 7,
        "consensus": {"percentage": 50, "assignees": 2}, "groups": ["g"]}}})
    resolver = DictResolver({(R.DATASET, "frames"): "d1", (R.RECIPE, "default"): "r1", (R.USER, "lead@x.io"): "u0",
                             (R.USER, "ann@x.io"): "u1", (R.USER, "bob@x.io"): "u2"})
    node = _node(build(spec, resolver=resolver), "label").wire()
    assert node["namespace"] == {"functionName": "move_to_task", "projectName": "DataloopTasks",
                                 "serviceName": "pipeline-utils"}
    meta = node["metadata"]
    assert {k: meta[k] for k in meta if k != "position"} == {
        "repeatable": True, "taskType": "qa", "datasetId": "d1", "recipeId": "r1", "recipeTitle": "default",
        "taskOwner": "lead@x.io", "workload": [{"assigneeId": "ann@x.io", "load": 60}, {"assigneeId": "bob@x.io", "load": 40}],
        "priority": 3, "dueDate": 1798675200000.0, "batchSize": 5, "maxBatchWorkload": 7,
        "consensusTaskType": "consensus", "consensusPercentage": 50, "consensusAssignees": 2, "groups": ["g"]}
    # The recipe is looked up by title within the dataset.
    assert (R.RECIPE, "default", "d1") in resolver.calls
    assert node["outputs"][0]["actions"] == ["approve", "discard"]


def test_code_node_uses_loaded_source_and_function() -> None:
    spec = pipeline_spec({"cut": {"type": "code", "source": "snippets/cut.py", "function": "cut"}})
    node = _node(build(spec, code={"cut": "def cut(item): return item\n"}), "cut").wire()
    assert node["config"] == {"package": {"code": "def cut(item): return item\n", "name": "cut", "type": "code"}}
    assert node["namespace"] == {"functionName": "cut", "projectName": "local"}


def test_ml_custom_function_update_variable_and_generic_nodes() -> None:
    spec = pipeline_spec({
        "m": {"type": "ml", "model": "yolo", "function": "embed", "mlType": "embeddings", "modelConfig": {"k": 1}},
        "c": {"type": "custom", "app": "scoring", "function": "agree", "service": "svc", "module": "mod",
              "package": "pkg", "nodeConfig": {"t": 0.5}},
        "f": {"type": "function", "service": "frames", "function": "extract"},
        "u": {"type": "updateVariable"},
        "g": {"type": "merge", "namespace": {"functionName": "merge"}},
    }, [{"from": "m.item", "to": "c"}, {"from": "c", "to": "f"}, {"from": "f", "to": "u"}, {"from": "u", "to": "g"}])
    c = build(spec, resolver=DictResolver({(R.MODEL, "yolo"): "m1", (R.SERVICE, "frames"): "s1"}))
    m = _node(c, "m").wire()
    assert m["namespace"] == {"functionName": "embed", "serviceName": "model-mgmt-app-embed",
                              "moduleName": "model-mgmt-app-embed", "packageName": "model-mgmt-app"}
    assert (m["metadata"]["modelId"], m["metadata"]["modelName"], m["metadata"]["mlType"]) == ("m1", "yolo", "embeddings")
    assert [p["name"] for p in m["outputs"]] == ["item", "annotations"]
    cn = _node(c, "c").wire()
    assert (cn["appName"], cn["dpkName"]) == ("scoring", "scoring")
    assert cn["metadata"]["customNodeConfig"] == {"t": 0.5}
    assert cn["metadata"]["pipelineNodeName"] == "agree"
    assert cn["namespace"] == {"functionName": "agree", "serviceName": "svc", "moduleName": "mod", "packageName": "pkg"}
    f = _node(c, "f").wire()
    assert f["namespace"]["serviceName"] == "frames" and f["namespace"]["functionName"] == "extract"
    assert _node(c, "u").wire()["namespace"]["functionName"] == "update_variable"
    g = _node(c, "g").wire()
    assert g["type"] == "merge" and g["namespace"] == {"functionName": "merge"}


def test_raw_overrides_are_deep_merged_last_and_null_removes() -> None:
    spec = pipeline_spec({"t": {"type": "task", "namespace": {"moduleName": "default_module", "projectName": None},
                                "metadata": {"componentGroupName": "labeling", "repeatable": False},
                                "raw": {"projectId": "other"}}})
    node = _node(build(spec), "t").wire()
    assert node["namespace"] == {"functionName": "move_to_task", "serviceName": "pipeline-utils",
                                 "moduleName": "default_module"}
    assert node["metadata"]["componentGroupName"] == "labeling"
    assert node["metadata"]["repeatable"] is False
    assert node["projectId"] == "other"


def test_connections_start_nodes_and_triggers() -> None:
    spec = pipeline_spec({
        "a": {"type": "dataset", "dataset": "d", "trigger": {"event": {"filter": {"dir": "/x"}}}},
        "t": {"type": "task"},
        "b": {"type": "code", "code": "x", "trigger": {"cron": "0 */6 * * *"}},
    }, [{"from": "a", "to": "t"}, {"from": "t", "action": "complete", "to": "b", "filter": {"metadata.user.ok": True}}],
        root="a")
    c = build(spec)
    doc = c.desired.wire()
    conn = doc["connections"]
    assert conn[0]["condition"] == "{}" and "action" not in conn[0]
    assert conn[1]["condition"] == '{"metadata.user.ok":true}' and conn[1]["action"] == "complete"
    assert conn[1]["src"] == {"nodeId": c.keys["t"], "portId": _node(c, "t").outputs[0].portId}
    assert doc["startNodes"] == [
        {"nodeId": c.keys["a"], "type": "root", "trigger": {"type": "Event", "spec": {
            "resource": "Item", "actions": ["Created"], "executionMode": "Once", "filter": '{"dir":"/x"}'}}},
        {"nodeId": c.keys["b"], "type": "trigger", "trigger": {"type": "Cron", "spec": {"cron": "0 */6 * * *"}}},
    ]


def test_ids_are_deterministic_and_live_ids_are_kept() -> None:
    spec = pipeline_spec({"a": {"type": "dataset", "dataset": "d"}, "b": {"type": "task"}}, [{"from": "a", "to": "b"}],
                         variables=[{"name": "v", "type": "String", "value": "x"}])
    first = build(spec)
    assert first.keys["a"] == deterministic_id("proj-1", "demo", "a")
    assert build(spec).desired == first.desired
    live = applied(first)
    # A live pipeline whose node ids came from somewhere else (UI) but whose marker maps them.
    data = live.wire()
    data["nodes"][0]["id"] = "ui-node-a"
    data["nodes"][0]["outputs"][0]["portId"] = "ui-port"
    data["connections"][0]["src"] = {"nodeId": "ui-node-a", "portId": "ui-port"}
    data["startNodes"][0]["nodeId"] = "ui-node-a"
    for var in data["variables"]:
        if var["name"] == "loopform":
            var["value"]["nodes"]["a"] = "ui-node-a"
        var["id"] = f"var-{var['name']}"
    from reconciler.document import Pipeline
    live = Pipeline.model_validate(data)
    again = build(spec, live)
    assert again.keys["a"] == "ui-node-a"
    assert _node(again, "a").outputs[0].portId == "ui-port"
    assert again.desired.startNodes[0].id == "start-0"
    assert [v.id for v in again.desired.variables] == ["var-v", "var-loopform"]
    assert again.desired.id == live.id


def test_cosmetics_come_from_spec_else_live_else_layout() -> None:
    spec = pipeline_spec({"a": {"type": "dataset", "dataset": "d"}, "b": {"type": "task", "position": {"x": 5, "y": 6}}},
                         [{"from": "a", "to": "b"}])
    c = build(spec)
    assert _node(c, "a").metadata["position"] == {"x": 100.0, "y": 87.0, "z": 0}
    assert _node(c, "b").metadata["position"] == {"x": 5, "y": 6, "z": 0}
    assert c.owned == frozenset({"nodes.b.position"})
    data = applied(c).wire()
    data["nodes"][0]["metadata"]["position"] = {"x": 1, "y": 2, "z": 0}
    data["nodes"][0]["name"] = "Renamed in the UI"
    from reconciler.document import Pipeline
    again = build(spec, Pipeline.model_validate(data))
    assert _node(again, "a").metadata["position"] == {"x": 1, "y": 2, "z": 0}
    assert _node(again, "a").name == "Renamed in the UI"


def test_marker_records_keys_token_and_digest() -> None:
    spec = pipeline_spec({"a": {"type": "dataset", "dataset": "d"}}, resetToken="2026-11-20")
    c = build(spec)
    marker = read_marker(c.desired)
    assert marker is not None and marker.nodes == c.keys and marker.resetToken == "2026-11-20"
    assert marker.specDigest and "nodes.a" in marker.sections
    var = c.desired.variables[-1]
    assert (var.name, var.type) == ("loopform", "Json")


def test_unknown_names_are_all_reported_located() -> None:
    spec = pipeline_spec({
        "a": {"type": "dataset", "dataset": "nope"},
        "t": {"type": "task", "task": {"dataset": "frames", "recipe": "gone", "owner": "who@x.io"}},
    }, [{"from": "a", "to": "t"}])
    with pytest.raises(SpecErrors) as info:
        compile_spec(InlineSpec(spec), project_id="p", resolver=DictResolver({(R.DATASET, "frames"): "d1"}), live=None)
    assert [(e.location.pointer, e.message) for e in info.value.errors] == [
        ("/spec/nodes/a/dataset", "unknown dataset 'nope'"),
        ("/spec/nodes/t/task/recipe", "unknown recipe 'gone' in that dataset"),
        ("/spec/nodes/t/task/owner", "unknown user 'who@x.io'"),
    ]


def test_provisions_are_collected_once() -> None:
    spec = pipeline_spec({"a": {"type": "dataset", "dataset": "frames"}, "b": {"type": "task", "task": {"dataset": "frames"}}},
                         [{"from": "a", "to": "b"}])
    c = build(spec, resolver=DictResolver(provision=True))
    assert [(p.kind, p.name) for p in c.provisions] == [(R.DATASET, "frames")]
    assert json.loads(c.desired.model_dump_json())  # serialisable


def test_two_nodes_with_one_id_are_an_error() -> None:
    spec = pipeline_spec({"a": {"type": "dataset", "id": "same"}, "b": {"type": "task", "id": "same"}},
                         [{"from": "a", "to": "b"}])
    with pytest.raises(SpecErrors) as info:
        build(spec)
    assert [(e.location.pointer, e.message) for e in info.value.errors] == [
        ("/spec/nodes/b/id", "node id same is also the id of node 'a'")]
