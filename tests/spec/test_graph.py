"""Default ports, endpoint resolution, root inference, and checks on data without a file."""

from __future__ import annotations

import pytest
from spec_corpus import VALID

from reconciler.errors import SpecErrors
from reconciler.spec import SpecFile
from reconciler.spec.loader import check
from reconciler.spec.graph import Edge, edges, parse_endpoint, root_key
from reconciler.spec.models import GenericNode, PipelineSpec, TaskNode
from reconciler.nodes import node_ports
from reconciler.spec.ports import accepts
from reconciler.spec.source import parse_text


def spec(nodes: dict, connections: list, **body: object) -> PipelineSpec:
    return PipelineSpec.model_validate(
        {
            "apiVersion": "loopform/v1",
            "kind": "Pipeline",
            "metadata": {"name": "g"},
            "spec": {"nodes": nodes, "connections": connections, **body},
        }
    )


def _ports(node: dict) -> tuple[list[tuple[str, str, list[str] | None]], ...]:
    s = spec({"n": node}, [])
    inputs, outputs = node_ports(s.spec.nodes["n"])
    return tuple([(p.name, p.type, p.actions) for p in side] for side in (inputs, outputs))


def test_default_ports_per_type() -> None:
    item = [("item", "Item", None)]
    assert _ports({"type": "dataset"}) == (item, item)
    assert _ports({"type": "code", "code": "x"}) == (item, item)
    assert _ports({"type": "merge"}) == (item, item)
    assert _ports({"type": "task"}) == (item, [("item", "Item", ["complete", "discard"])])
    assert _ports({"type": "task", "task": {"type": "qa"}}) == (
        item,
        [("item", "Item", ["approve", "discard"])],
    )
    assert _ports({"type": "task", "task": {"actions": ["done", "skip"]}}) == (
        item,
        [("item", "Item", ["done", "skip"])],
    )
    assert _ports({"type": "ml", "model": "m"}) == (
        item,
        [("item", "Item", None), ("annotations", "Annotation[]", None)],
    )
    assert _ports({"type": "dataset", "inputs": [], "outputs": [{"name": "x", "type": "Json"}]}) == (
        [],
        [("x", "Json", None)],
    )


def test_task_output_displays_its_first_action() -> None:
    s = spec({"t": {"type": "task", "task": {"type": "qa"}}}, [])
    assert node_ports(s.spec.nodes["t"])[1][0].displayName == "approve"


def test_port_type_compatibility() -> None:
    assert accepts("Item", "Item")
    assert accepts("Item", "Item[]")
    assert accepts("Item[]", "Item")  # real pipelines connect list outputs to item inputs
    assert accepts("Annotation[]", "Json")
    assert not accepts("Item", "Model")
    assert not accepts("Annotation[]", "Item")


def test_unknown_types_are_generic_nodes() -> None:
    s = spec({"a": {"type": "split", "metadata": {"x": 1}}, "b": {"type": "task"}}, [])
    assert isinstance(s.spec.nodes["a"], GenericNode)
    assert isinstance(s.spec.nodes["b"], TaskNode)


def test_parse_endpoint() -> None:
    assert parse_endpoint("review") == ("review", None)
    assert parse_endpoint("review.item") == ("review", "item")


def test_edges_fan_out_and_actions() -> None:
    s = spec(
        {
            "v": {"type": "dataset"},
            "a": {"type": "task"},
            "b": {"type": "task"},
            "r": {"type": "task", "task": {"type": "qa"}},
        },
        [
            {"from": "v", "to": ["a", "b"]},
            {"from": "a", "action": "complete", "to": "r.item", "filter": {"x": 1}},
        ],
    )
    assert edges(s) == [
        Edge(src="v", src_port="item", tgt="a", tgt_port="item", index=0, target_index=0),
        Edge(src="v", src_port="item", tgt="b", tgt_port="item", index=0, target_index=1),
        Edge(
            src="a", src_port="item", tgt="r", tgt_port="item", action="complete",
            filter={"x": 1}, index=1, target_index=0,
        ),
    ]
    assert root_key(s) == "v"


def test_edges_raise_located_errors() -> None:
    s = spec({"v": {"type": "dataset"}, "m": {"type": "ml"}}, [{"from": "m", "to": "v.nope"}])
    with pytest.raises(SpecErrors) as caught:
        edges(s)
    assert [(e.location.pointer, e.message) for e in caught.value.errors] == [
        ("/spec/connections/0/from", "node 'm' has several output ports (item, annotations); name one, e.g. 'm.item'"),
        ("/spec/connections/0/to/0", "node 'v' has no input port 'nope'; its inputs: item"),
    ]


def test_explicit_root_wins() -> None:
    s = spec({"a": {"type": "dataset"}, "b": {"type": "dataset"}}, [], root="b")
    assert root_key(s) == "b"


def test_root_errors() -> None:
    with pytest.raises(SpecErrors, match="ambiguous root"):
        root_key(spec({"a": {"type": "dataset"}, "b": {"type": "dataset"}}, []))


def test_check_runs_on_data_without_a_file() -> None:
    data = parse_text(VALID.replace("to: work}", "to: nowhere}"), "x").data
    spec_file, errors = SpecFile.from_data(data, path="<request>")
    assert errors == [] and spec_file is not None
    assert [(str(e.location), e.location.pointer, e.message) for e in check([spec_file])] == [
        ("<request>:1:1", "/spec/connections/0/to/0", "unknown node 'nowhere'"),
    ]
    assert spec_file.code == {"work": "print(1)"}


def test_from_data_reports_schema_errors_and_unreadable_sources() -> None:
    spec_file, errors = SpecFile.from_data({"kind": "Pipeline"}, path="<request>")
    assert spec_file is None
    assert [e.message for e in errors] == [
        "missing required field 'apiVersion'",
        "missing required field 'metadata'",
        "missing required field 'spec'",
    ]
    data = parse_text(VALID.replace("code: 'print(1)'", "source: x.py"), "x").data
    _, errors = SpecFile.from_data(data)
    assert [e.message for e in errors] == [
        "a code `source:` file cannot be read here; inline the code with `code:`"
    ]
