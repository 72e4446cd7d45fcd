"""Graph checks on a raw pipeline document, as the platform runs them on validate and install.

Contract: `check_graph(doc) -> list[GraphProblem]`, empty when the graph is sound. Pure; never raises
for a bad graph. Time linear in the document: install runs the checks inside the database's write
lock, so a quadratic check on a crafted 2 MB document (one node with 16,000 ports, one connection
to each) held every other request up for a minute. Checks (each catches a document the platform could not deploy):
- node ids unique; port ids unique within a node;
- every connection's source is an output port and its target an input port of existing nodes;
- connected ports carry compatible types: `reconciler.spec.ports.accepts`, the rule `loopform
  validate` applies to specs (same element type in either list form; anything into `Json`);
- a connection's `action` is one the source port offers (task ports: complete / discard ...);
- `condition` is a JSON string;
- at least one node (an empty pipeline has nothing to deploy);
- start nodes reference existing nodes; exactly one root (manual execute starts at the root);
- triggers: an event trigger's filter is a JSON object (as a string or an object); it needs an input port for its resource (an Item event feeds an Item or
  Json port; a task root with an Item event trigger is dtlpy's pulling-task flow) — as
  `loopform validate` checks specs, so validate and install agree with the offline validator.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from reconciler.document import Node, Pipeline, Port, PortRef, Trigger
from reconciler.server.http import parse_json
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
    port_index = PortIndex(doc)

    for index, conn in enumerate(doc.connections):
        where = f"/connections/{index}"
        src_node, tgt_node = nodes.get(conn.src.nodeId), nodes.get(conn.tgt.nodeId)
        if src_node is None:
            problems.append(GraphProblem(
                f"connection source references unknown node {conn.src.nodeId!r}", f"{where}/src/nodeId"))
        if tgt_node is None:
            problems.append(GraphProblem(
                f"connection target references unknown node {conn.tgt.nodeId!r}", f"{where}/tgt/nodeId"))
        src_port, tgt_port = port_index.output(conn.src), port_index.input(conn.tgt)
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
        if conn.action and src_port is not None and not port_index.offers(conn.src, conn.action):
            problems.append(GraphProblem(
                f"action {conn.action!r} is not offered by the source port (offered: "
                f"{listed(src_port.actions or [])})",
                f"{where}/action",
            ))
        try:
            parse_json(conn.condition)
        except ValueError:  # not JSON, or too deep to keep (UnsafeJson)
            problems.append(GraphProblem("condition is not a valid JSON string", f"{where}/condition"))

    roots = 0
    input_types: dict[str, set[str]] = {}  # per started node, computed once however many starts
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
            if started.id not in input_types:
                input_types[started.id] = {p.type.removesuffix("[]") for p in started.inputs}
            problems.extend(_trigger_problems(started, start.trigger, f"/startNodes/{index}/trigger",
                                              input_types[started.id]))
    if not doc.nodes:
        problems.append(GraphProblem("the pipeline has no nodes", "/nodes"))
    elif roots == 0:
        problems.append(GraphProblem("the pipeline has no root start node", "/startNodes"))
    return problems


class PortIndex:
    """A document's ports by node id and port id, and the actions each output offers.

    One lookup per connection: scanning a node's ports (or a port's actions) for every connection
    made the checks quadratic in a crafted document. Of nodes sharing an id the last counts (as in
    a dict of nodes by id); of ports sharing an id within a node, the first (as a scan finds it).
    """

    def __init__(self, doc: Pipeline) -> None:
        self._outputs = {node.id: _first_by_id(node.outputs) for node in doc.nodes}
        self._inputs = {node.id: _first_by_id(node.inputs) for node in doc.nodes}
        self._actions: dict[tuple[str, str], frozenset[str]] = {}

    def output(self, ref: PortRef) -> Port | None:
        return self._outputs.get(ref.nodeId, {}).get(ref.portId)

    def input(self, ref: PortRef) -> Port | None:
        return self._inputs.get(ref.nodeId, {}).get(ref.portId)

    def offers(self, ref: PortRef, action: str) -> bool:
        """Whether the output port `ref` offers `action` (False for no such port)."""
        key = (ref.nodeId, ref.portId)
        if key not in self._actions:
            port = self.output(ref)
            self._actions[key] = frozenset(port.actions or []) if port is not None else frozenset()
        return action in self._actions[key]


def _first_by_id(ports: list[Port]) -> dict[str, Port]:
    found: dict[str, Port] = {}
    for port in ports:
        found.setdefault(port.portId, port)
    return found


_SHOWN = 10  # a message lists at most this many ports or actions: there is one per connection


def listed(names: list[str], *, total: int | None = None) -> str:
    """`names` comma-separated, the first _SHOWN of `total` (default: all of them), or "none"."""
    count = len(names) if total is None else total
    text = ", ".join(names[:_SHOWN])
    return (text + (f" and {count - _SHOWN} more" if count > _SHOWN else "")) or "none"


MAX_CRON_CHARS = 1000


def _trigger_problems(node: Node, trigger: Trigger, where: str, input_types: set[str]) -> list[GraphProblem]:
    problems = []
    if trigger.type != "Cron" and event_filter(trigger.spec.get("filter")) is None:  # deployed as an event
        # Deployed as "no filter", it would start a cycle for every item of the project.
        problems.append(GraphProblem("the event trigger's filter is not a JSON object (a DQL filter)",
                                     f"{where}/spec/filter"))
    cron = trigger.spec.get("cron") if trigger.type == "Cron" else None
    if isinstance(cron, str) and len(cron) > MAX_CRON_CHARS:
        # The cron loop reads every active cron trigger's expression every minute: 8 MB of
        # "0,0,0,..." took it a second a minute per trigger, holding the interpreter.
        problems.append(GraphProblem(f"the cron expression is longer than {MAX_CRON_CHARS} characters "
                                     "(one listing every value of every field is shorter)", f"{where}/spec/cron"))
    resource = trigger.spec.get("resource") if trigger.type == "Event" else None
    wanted = TRIGGER_INPUT.get(resource) if isinstance(resource, str) else None
    if wanted is not None and not input_types & {wanted, "Json"}:
        offered = listed([f"{p.name} ({p.type})" for p in node.inputs[:_SHOWN + 1]], total=len(node.inputs))
        problems.append(GraphProblem(
            f"a {resource} event trigger needs an input port of type {wanted}; node {node.name!r} has: {offered}",
            f"{where}/spec/resource",
        ))
    return problems


def event_filter(value: Any) -> dict[str, Any] | None:
    """An event trigger's filter as an object: the document holds a JSON string (dtlpy, compile)
    or an object (templates); none means no filter (`{}`). None when it is neither: not JSON, not
    an object, or unsafe to keep (see `parse_json`)."""
    if value is None:
        return {}
    if isinstance(value, str):
        try:
            value = parse_json(value)
        except ValueError:
            return None
    return value if isinstance(value, dict) else None
