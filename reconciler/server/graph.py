"""Graph checks on a raw pipeline document, as the platform runs them on validate and install.

Contract: `check_graph(doc) -> list[GraphProblem]`, empty when the graph is sound. Pure; never raises
for a bad graph. Checks (each catches a document the platform could not deploy):
- node ids unique; port ids unique within a node;
- every connection's source is an output port and its target an input port of existing nodes;
- connected ports carry compatible types: `reconciler.spec.ports.accepts`, the rule `loopform
  validate` applies to specs (same element type in either list form; anything into `Json`);
- a connection's `action` is one the source port offers (task ports: complete / discard ...);
- `condition` is a JSON string;
- at least one node (an empty pipeline has nothing to deploy);
- start nodes reference existing nodes; exactly one root (manual execute starts at the root);
- triggers: an event trigger needs an input port for its resource (an Item event feeds an Item or
  Json port; a task root with an Item event trigger is dtlpy's pulling-task flow) — as
  `loopform validate` checks specs, so validate and install agree with the offline validator.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass

from reconciler.document import Node, Pipeline, Trigger
from reconciler.spec.ports import accepts


@dataclass(frozen=True)
class GraphProblem:
    message: str
    pointer: str  # JSON pointer into the document, e.g. /connections/3/src/portId

    def as_json(self) -> dict[str, str]:
        return {"message": self.message, "pointer": self.pointer}


# The input port type an event trigger's resource feeds (the same table as the spec checks').
TRIGGER_INPUT: dict[str, str] = {
    "Item": "Item", "ItemStatus": "Item", "Dataset": "Dataset", "Annotation": "Annotation",
    "Task": "Task", "Assignment": "Assignment",
}


def check_graph(doc: Pipeline) -> list[GraphProblem]:
    problems: list[GraphProblem] = []
    counts = Counter(node.id for node in doc.nodes)
    for index, node in enumerate(doc.nodes):
        if counts[node.id] > 1:
            problems.append(GraphProblem(f"duplicate node id {node.id!r}", f"/nodes/{index}/id"))
        port_counts = Counter(p.portId for p in (*node.inputs, *node.outputs))
        for key, ports in (("inputs", node.inputs), ("outputs", node.outputs)):
            for p_index, port in enumerate(ports):
                if port_counts[port.portId] > 1:
                    problems.append(GraphProblem(
                        f"duplicate port id {port.portId!r} in node {node.name!r}",
                        f"/nodes/{index}/{key}/{p_index}/portId",
                    ))
    nodes = {node.id: node for node in doc.nodes}

    for index, conn in enumerate(doc.connections):
        where = f"/connections/{index}"
        src_node, tgt_node = nodes.get(conn.src.nodeId), nodes.get(conn.tgt.nodeId)
        if src_node is None:
            problems.append(GraphProblem(
                f"connection source references unknown node {conn.src.nodeId!r}", f"{where}/src/nodeId"))
        if tgt_node is None:
            problems.append(GraphProblem(
                f"connection target references unknown node {conn.tgt.nodeId!r}", f"{where}/tgt/nodeId"))
        src_port = next((p for p in src_node.outputs if p.portId == conn.src.portId), None) if src_node else None
        tgt_port = next((p for p in tgt_node.inputs if p.portId == conn.tgt.portId), None) if tgt_node else None
        if src_node is not None and src_port is None:
            problems.append(GraphProblem(
                f"connection source port {conn.src.portId!r} is not an output of node {src_node.name!r}",
                f"{where}/src/portId",
            ))
        if tgt_node is not None and tgt_port is None:
            problems.append(GraphProblem(
                f"connection target port {conn.tgt.portId!r} is not an input of node {tgt_node.name!r}",
                f"{where}/tgt/portId",
            ))
        if src_port is not None and tgt_port is not None and not accepts(src_port.type, tgt_port.type):
            problems.append(GraphProblem(
                f"port type mismatch: {src_node.name!r} outputs {src_port.type}"  # type: ignore[union-attr]
                f" but {tgt_node.name!r} expects {tgt_port.type}",  # type: ignore[union-attr]
                where,
            ))
        if conn.action and src_port is not None and conn.action not in (src_port.actions or []):
            offered = ", ".join(src_port.actions or []) or "none"
            problems.append(GraphProblem(
                f"action {conn.action!r} is not offered by the source port (offered: {offered})",
                f"{where}/action",
            ))
        try:
            json.loads(conn.condition)
        except ValueError:
            problems.append(GraphProblem("condition is not a valid JSON string", f"{where}/condition"))

    roots = 0
    for index, start in enumerate(doc.startNodes):
        if start.nodeId not in nodes:
            problems.append(GraphProblem(
                f"start node references unknown node {start.nodeId!r}", f"/startNodes/{index}/nodeId"))
        if start.type == "root":
            roots += 1
            if roots > 1:
                problems.append(GraphProblem("more than one root start node", f"/startNodes/{index}"))
        started = nodes.get(start.nodeId)
        if started is not None and start.trigger is not None:
            problems.extend(_trigger_problems(started, start.trigger, f"/startNodes/{index}/trigger"))
    if not doc.nodes:
        problems.append(GraphProblem("the pipeline has no nodes", "/nodes"))
    elif roots == 0:
        problems.append(GraphProblem("the pipeline has no root start node", "/startNodes"))
    return problems


def _trigger_problems(node: Node, trigger: Trigger, where: str) -> list[GraphProblem]:
    resource = trigger.spec.get("resource") if trigger.type == "Event" else None
    wanted = TRIGGER_INPUT.get(resource) if isinstance(resource, str) else None
    if wanted is not None and not any(p.type.removesuffix("[]") in (wanted, "Json") for p in node.inputs):
        offered = ", ".join(f"{p.name} ({p.type})" for p in node.inputs) or "none"
        return [GraphProblem(
            f"a {resource} event trigger needs an input port of type {wanted}; node {node.name!r} has: {offered}",
            f"{where}/spec/resource",
        )]
    return []
