"""Checks beyond the schema: the graph and references between parts of a spec (pure).

`spec_findings(spec)` gives the findings of one spec as JSON pointers; the loader locates them in
their file and adds the checks across files (`reconciler.spec.loader.check`). Per node type checks
are the node type modules' (`reconciler.nodes`).

Rules (each message says what to do):
- connections must name existing nodes and ports; a bare node key needs a node with exactly one
  port on that side; `action` must be one the source port offers; port types must be compatible
  (`reconciler.spec.ports.accepts`); exact duplicate connections are warned about;
- the root is `spec.root` or the only node without incoming connections;
- nodes that neither the root nor a trigger node reach are warned about (they would never run);
- an event trigger needs an input port for its resource (Item and ItemStatus events feed an
  `Item` port, Dataset events a `Dataset` port, ...); a task node may carry one (dtlpy's
  pulling-task flow installs a task root with an Item event trigger); an event action the platform
  does not know is warned about;
- what the platform refuses when it saves or installs a graph: a loop that passes no task node
  (a node connected to itself included: "Infinite Loop detected for node ..."), a dataset node
  without a dataset ("must have a datasetId"; only in a spec to be installed: a paused
  one may be a template whose datasets are chosen later), a dataset node that loads existing data and also
  has an incoming connection;
- variables are unique, their values fit their scalar types (`Float` takes a number, not "0.5"),
  and variables named by nodes and ports exist (with the right type for `datasetVariable` /
  `modelVariable`);
- port names are unique per node side, explicit node ids unique per pipeline;
- task workloads add up to 100; a pulling task's maxBatchWorkload is from batchSize + 2 to
  2 x batchSize (the platform's rule, dtlpy `tasks.create`);
- a generic node type the platform does not know is warned about (it may be a typo);
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from reconciler.spec.graph import Edge, Finding, endless_loops, find_root, resolve_edges
from reconciler.nodes import for_spec as node_type
from reconciler.nodes import node_ports
from reconciler.nodes.base import GraphFacts, NodeChecks
from reconciler.spec.models import AnyNode, PipelineSpec, PortSpec
from reconciler.spec.values import describe, is_reference, pointer_escape
from reconciler.spec.suggest import Hints

# Which input port (element) type an event on a resource is delivered to.
_TRIGGER_INPUT = {
    "Item": "Item",
    "ItemStatus": "Item",
    "Dataset": "Dataset",
    "Annotation": "Annotation",
    "Task": "Task",
    "Assignment": "Assignment",
}
# The event actions the platform knows (dtlpy `TriggerAction`); the schema keeps the list open, so
# that an action the platform adds later is not refused, but a typo is worth a warning.
TRIGGER_ACTIONS = ("Created", "Updated", "Deleted", "statusChanged", "Clone")


# What a variable's value must be for the scalar types (bool is an int in Python: excluded).
_VALUE_CHECKS: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "String": ("a string", lambda v: isinstance(v, str)),
    "Boolean": ("true or false", lambda v: isinstance(v, bool)),
    "Integer": ("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    "Float": ("a number", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)),
    "Number": ("a number", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)),
}


def _value_finding(index: int, type_: str, value: Any) -> Finding | None:
    """A variable whose value is not of its type (`value: "0.5"` for a Float)."""
    if value is None or is_reference(value):  # no value, or one known only in an environment
        return None
    if type_.endswith("[]"):
        wanted, fits = "a list", isinstance(value, list)
    elif type_ in _VALUE_CHECKS:
        wanted, check = _VALUE_CHECKS[type_]
        fits = check(value)
    else:  # resources (Dataset, Model, ...) are ids or template references; Json is anything
        return None
    if fits:
        return None
    return Finding(
        f"/spec/variables/{index}/value",
        f"variable value {describe(value)} is not {wanted}, as type {type_} needs",
    )


def _node(key: str) -> str:
    return f"/spec/nodes/{pointer_escape(key)}"


def _base(port_type: str) -> str:
    return port_type[:-2] if port_type.endswith("[]") else port_type


def _reachability(spec: PipelineSpec, root: str | None, adjacency: dict[str, set[str]]) -> list[Finding]:
    starts = [key for key, node in spec.spec.nodes.items() if node.trigger is not None]
    if root is not None:
        starts.append(root)
    if not starts:
        return []
    seen = set(starts)
    queue = deque(starts)
    while queue:
        for nxt in adjacency.get(queue.popleft(), ()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return [
        Finding(
            _node(key),
            f"node '{key}' is unreachable: no path from the root or a trigger leads to it",
            "warning",
        )
        for key in spec.spec.nodes
        if key not in seen
    ]


def _node_findings(spec: PipelineSpec) -> list[Finding]:
    findings: list[Finding] = []
    hints = Hints()
    variables: dict[str, str] = {}
    for index, variable in enumerate(spec.spec.variables):
        if variable.name in variables:
            findings.append(
                Finding(f"/spec/variables/{index}/name", f"duplicate variable '{variable.name}'")
            )
        variables.setdefault(variable.name, variable.type)
        mismatch = _value_finding(index, variable.type, variable.value)
        if mismatch is not None:
            findings.append(mismatch)

    def needs_variable(pointer: str, name: str, wanted: str | None) -> None:
        if name not in variables:
            extra = hints.hint(name, list(variables))
            findings.append(Finding(pointer, f"unknown variable '{name}'{extra}; declare it in spec.variables"))
        elif wanted is not None and variables[name] != wanted:
            findings.append(
                Finding(pointer, f"variable '{name}' has type {variables[name]}; expected {wanted}")
            )

    checks = NodeChecks(needs_variable=needs_variable, hints=hints)
    ids: dict[str, str] = {}
    for key, node in spec.spec.nodes.items():
        base = _node(key)
        if node.id is not None:
            if node.id in ids:
                findings.append(
                    Finding(f"{base}/id", f"node id '{node.id}' is also used by node '{ids[node.id]}'")
                )
            ids.setdefault(node.id, key)
        inputs, outputs = node_ports(node)
        for side, ports in (("inputs", inputs), ("outputs", outputs)):
            names: set[str] = set()
            for i, port in enumerate(ports):
                if port.name in names:
                    findings.append(
                        Finding(f"{base}/{side}/{i}/name", f"duplicate {side[:-1]} port '{port.name}'")
                    )
                names.add(port.name)
                if port.variableName is not None:
                    needs_variable(f"{base}/{side}/{i}/variableName", port.variableName, None)
        findings.extend(node_type(node).findings(key, node, base, checks))
        if node.trigger is not None:
            findings.extend(_trigger_findings(key, node, inputs, hints))
    return findings


def _trigger_findings(key: str, node: AnyNode, inputs: list[PortSpec], hints: Hints) -> list[Finding]:
    pointer = f"{_node(key)}/trigger"
    trigger = node.trigger
    if trigger is None or trigger.event is None:
        return []
    findings: list[Finding] = []
    for index, action in enumerate(trigger.event.actions):
        if action not in TRIGGER_ACTIONS:
            findings.append(
                Finding(
                    f"{pointer}/event/actions/{index}",
                    f"trigger action '{action}' is not one the platform knows"
                    f"{hints.hint(action, TRIGGER_ACTIONS)}: {', '.join(TRIGGER_ACTIONS)}",
                    "warning",
                )
            )
    wanted = _TRIGGER_INPUT.get(trigger.event.resource)
    if wanted is not None and not any(_base(p.type) in (wanted, "Json") for p in inputs):
        findings.append(
            Finding(
                f"{pointer}/event/resource",
                f"a {trigger.event.resource} event trigger needs an input port of type {wanted}; "
                f"node '{key}' has: {', '.join(f'{p.name} ({p.type})' for p in inputs) or 'none'}",
            )
        )
    return findings


def _loop_findings(spec: PipelineSpec, edges: list[Edge]) -> list[Finding]:
    """One error per endless loop, at the first connection inside it (spec order)."""
    successors: dict[str, list[str]] = {}
    for edge in edges:
        successors.setdefault(edge.src, []).append(edge.tgt)
    waiting = {key for key, node in spec.spec.nodes.items() if node_type(node).waits}
    findings = []
    for group in endless_loops(list(spec.spec.nodes), successors, waiting):
        members = set(group)
        edge = next(e for e in edges if e.src in members and e.tgt in members)
        through = "itself" if len(group) == 1 else ", ".join(f"'{key}'" for key in group)
        findings.append(Finding(
            f"/spec/connections/{edge.index}/to/{edge.target_index}",
            f"endless loop: node '{group[0]}' feeds {through} with no task node in between, so items "
            "would circle forever; the platform refuses it (Infinite Loop detected)",
        ))
    return findings


def _install_findings(spec: PipelineSpec, edges: list[Edge]) -> list[Finding]:
    """What the platform's install refuses on a node, as its type module says."""
    graph = GraphFacts(installed=spec.spec.status == "installed", targeted=frozenset(edge.tgt for edge in edges))
    findings = []
    for key, node in spec.spec.nodes.items():
        findings.extend(node_type(node).install_findings(key, node, _node(key), graph))
    return findings


def spec_findings(spec: PipelineSpec, resolved: tuple[list[Edge], list[Finding]] | None = None) -> list[Finding]:
    """Every finding of one spec, without file locations (pointers only). `resolved`: the spec's
    `resolve_edges`, when the caller has it (not changed)."""
    edges, found = resolved or resolve_edges(spec)
    findings = list(found)
    root, root_findings = find_root(spec)
    # A mistyped target leaves its intended node without incoming connections: the root then
    # looks ambiguous, but the typo is the one mistake to report.
    if not any(f.message.startswith("unknown node") and "/to/" in f.pointer for f in findings):
        findings.extend(root_findings)
    adjacency: dict[str, set[str]] = {}
    for edge in edges:
        adjacency.setdefault(edge.src, set()).add(edge.tgt)
    # Unresolved connections still connect their nodes for reachability: report the connection,
    # not a cascade of "unreachable" warnings behind it.
    for conn in spec.spec.connections:
        src = conn.from_.partition(".")[0]
        for target in conn.to:
            adjacency.setdefault(src, set()).add(target.partition(".")[0])
    findings.extend(_reachability(spec, root, adjacency))
    findings.extend(_loop_findings(spec, edges))
    findings.extend(_install_findings(spec, edges))
    findings.extend(_node_findings(spec))
    return findings
