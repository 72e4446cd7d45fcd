"""normalize: each rule, proven by a pair of documents that must (or must not) compare equal."""

from __future__ import annotations

from typing import Any

from coretools import applied, build, pipeline_spec
from reconciler.document import Pipeline
from reconciler.normalize import essence, fingerprint, node_keys, slug


def _doc(**over: Any) -> dict[str, Any]:
    base = {
        "name": "p", "projectId": "proj",
        "nodes": [{"id": "n1", "name": "dataset", "type": "storage",
                   "namespace": {"functionName": "dataset_handler", "moduleName": None},
                   "inputs": [{"portId": "i1", "type": "Item", "name": "item"}],
                   "outputs": [{"portId": "o1", "type": "Item", "name": "item"}],
                   "metadata": {"position": {"x": 1, "y": 2, "z": 0}}},
                  {"id": "n2", "name": "dataset", "type": "storage", "namespace": {"functionName": "clone_item"},
                   "inputs": [{"portId": "i2", "type": "Item", "name": "item"}], "outputs": [], "metadata": {}}],
        "connections": [{"src": {"nodeId": "n1", "portId": "o1"}, "tgt": {"nodeId": "n2", "portId": "i2"},
                         "condition": '{"a": 1, "b": 2}'}],
        "startNodes": [{"nodeId": "n1", "type": "root"}],
        "variables": [{"name": "v", "type": "String", "value": "x"}],
    }
    base.update(over)
    return base


def _ess(data: dict[str, Any], owned: frozenset[str] = frozenset()):
    doc = Pipeline.model_validate(data)
    return essence(doc, keys=node_keys(doc, {}), owned=owned)


def test_repeated_display_names_get_distinct_keys() -> None:
    doc = Pipeline.model_validate(_doc())
    assert node_keys(doc, {}) == {"n1": "dataset", "n2": "dataset-2"}
    assert node_keys(doc, {"n2": "dataset"}) == {"n2": "dataset", "n1": "dataset-2"}
    assert slug("Data Storage (copy)") == "data-storage-copy"


def test_many_nodes_of_one_name_get_the_keys_probing_from_the_start_gives() -> None:
    # A live pipeline (any member may write one) of thousands of nodes named alike: the keys are
    # those of trying `name`, `name-2`, `name-3`... for each node in turn, however many there are.
    names = ["dataset", "Dataset 2", "dataset", "x", "dataset-3", "dataset", "X", "dataset"] * 400
    doc = Pipeline.model_validate({"name": "p", "nodes": [
        {"id": f"n{i}", "name": name, "type": "storage"} for i, name in enumerate(names)]})
    known = {"n7": "dataset-5", "n1": "x"}
    expected = dict(known)
    taken = set(known.values())
    for node in doc.nodes:
        if node.id in expected:
            continue
        key, n = slug(node.name), 1
        while key in taken:
            n += 1
            key = f"{slug(node.name)}-{n}"
        expected[node.id] = key
        taken.add(key)
    assert node_keys(doc, known) == expected


def test_server_owned_fields_are_ignored() -> None:
    a = _doc()
    b = _doc(id="x", creator="c", orgId="o", url="u", status="Installed", createdAt="t", updatedAt="t",
             compositionId="c", preview="data:", revisions=[1], updatedBy="me", templateKind="x")
    b["startNodes"][0]["id"] = "server-start-id"
    b["variables"][0].update(id="vid", reference="x", creator="c", createdAt="t", updatedAt="t")
    b["nodes"][0]["projectId"] = "proj"
    assert _ess(a) == _ess(b)


def test_null_and_absent_are_the_same() -> None:
    b = _doc()
    b["nodes"][0]["outputs"][0].update(color=None, variableName=None, portPercentage=None)
    b["nodes"][0]["namespace"].pop("moduleName")
    b["nodes"][0]["metadata"]["triggerToPipeline"] = {"filter": None}
    a = _doc()
    assert _ess(a) == _ess(b)  # dtlpy's "load existing data: off" is no key at all
    a["nodes"][0]["metadata"]["triggerToPipeline"] = {"active": True}
    assert _ess(a) != _ess(b)


def test_condition_is_compared_parsed_and_missing_means_no_filter() -> None:
    b = _doc()
    b["connections"][0]["condition"] = {"b": 2, "a": 1}
    assert _ess(_doc()) == _ess(b)
    c, d = _doc(), _doc()
    c["connections"][0]["condition"] = "{}"
    d["connections"][0].pop("condition")
    assert _ess(c) == _ess(d)
    e = _doc()
    e["connections"][0]["condition"] = '{"a": 2}'
    assert _ess(_doc()) != _ess(e)


def test_positions_display_names_and_port_cosmetics_only_when_owned() -> None:
    b = _doc()
    b["nodes"][0]["metadata"]["position"] = {"x": 500, "y": 9}
    b["nodes"][0]["name"] = "Renamed"
    b["nodes"][0]["outputs"][0].update(displayName="Item!", color="#fff", io="output", nodeId="o1")
    keys = {"n1": "src", "n2": "dst"}
    pa, pb = Pipeline.model_validate(_doc()), Pipeline.model_validate(b)
    assert essence(pa, keys=keys) == essence(pb, keys=keys)
    for owned in ("nodes.src.position", "nodes.src.name", "nodes.src.outputs.item.displayName",
                  "nodes.src.outputs.item.color"):
        assert essence(pa, keys=keys, owned=frozenset({owned})) != essence(pb, keys=keys, owned=frozenset({owned}))


def test_code_node_names_generated_at_install_are_ignored() -> None:
    spec = pipeline_spec({"c": {"type": "code", "code": "x"}})
    compiled = build(spec)
    data = applied(compiled).wire()
    data["nodes"][0]["namespace"].update(serviceName="p-0ed2", packageName="p-0ed2", moduleName="code_module",
                                         projectName="DataloopTasks")
    data["nodes"][0]["metadata"]["codeApplicationName"] = "p-0ed2"
    live = Pipeline.model_validate(data)
    keys = {v: k for k, v in compiled.keys.items()}
    assert essence(live, keys=keys) == essence(compiled.desired, keys=keys)


def test_triggers_of_one_node_take_numbered_slots_in_document_order() -> None:
    data = _doc()
    cron = [{"nodeId": "n1", "type": "trigger", "trigger": {"type": "Cron", "spec": {"cron": f"{i % 60} * * * *"}}}
            for i in range(3000)]
    other = {"nodeId": "n2", "type": "trigger", "trigger": {"type": "Cron", "spec": {"cron": "0 0 * * *"}}}
    data["startNodes"] = [data["startNodes"][0], *cron[:2], other, *cron[2:]]
    slots = list(_ess(data).triggers)
    assert slots == ["dataset", "dataset#2", "dataset-2", *(f"dataset#{n}" for n in range(3, 3001))]
    assert _ess(data).triggers["dataset#2999"]["spec"] == {"cron": f"{2998 % 60} * * * *"}


def test_trigger_filter_string_object_and_absent() -> None:
    a, b, c = _doc(), _doc(), _doc()
    a["startNodes"][0]["trigger"] = {"type": "Event", "spec": {"resource": "Item", "filter": '{"x": 1}'}}
    b["startNodes"][0]["trigger"] = {"type": "Event", "spec": {"resource": "Item", "filter": {"x": 1}}}
    assert _ess(a) == _ess(b)
    a["startNodes"][0]["trigger"]["spec"]["filter"] = "{}"
    c["startNodes"][0]["trigger"] = {"type": "Event", "spec": {"resource": "Item"}}
    assert _ess(a) == _ess(c)


def test_marker_variable_and_settings_timestamp_are_excluded() -> None:
    b = _doc(settings={"lastUpdate": {"x": 1}})
    b["variables"].append({"name": "loopform", "type": "Json", "value": {"managedBy": "loopform"}})
    a = _doc()
    assert _ess(a) == _ess(b)


def test_fingerprint_moves_with_any_live_change() -> None:
    a = Pipeline.model_validate(_doc(updatedAt="1"))
    b = Pipeline.model_validate(_doc(updatedAt="2"))
    assert fingerprint(a) == fingerprint(Pipeline.model_validate(_doc(updatedAt="1")))
    assert fingerprint(a) != fingerprint(b)
