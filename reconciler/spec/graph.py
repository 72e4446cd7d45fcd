"""The spec's graph: connection endpoints resolved to ports, and the root node.

`edges()` and `root_key()` are what compile calls on a spec that validate accepted; the
`resolve_edges()` / `find_root()` forms return findings instead of raising, so that validate can
report every problem of a file in one run. A finding carries a JSON pointer into the spec
document; the caller turns it into a file location (`SpecFile.locate`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

from reconciler.errors import Location, SpecError, SpecErrors
from reconciler.spec.models import PipelineSpec, PortSpec
from reconciler.spec.ports import accepts, node_ports
from reconciler.spec.suggest import Hints

# Names listed in one message at most (a generated spec can have thousands of root candidates).
_LISTED = 10


@dataclass(frozen=True)
class Finding:
    """A problem found in a spec, at a JSON pointer into the spec document."""

    pointer: str
    message: str
    severity: str = "error"  # "error" | "warning"


class Edge(BaseModel):
    """One resolved connection: a fan-out `to: [a, b]` gives one Edge per target.

    `index` is the connection's position in `spec.connections` and `target_index` the target's
    position in its `to` list, so that a problem can be located and order kept stable.
    """

    model_config = ConfigDict(frozen=True)

    src: str
    src_port: str
    tgt: str
    tgt_port: str
    action: str | None = None
    filter: dict[str, Any] | None = None
    index: int
    target_index: int = 0


def parse_endpoint(text: str) -> tuple[str, str | None]:
    """`node` -> (node, None); `node.port` -> (node, port). Node keys contain no dots."""
    node, dot, port = text.partition(".")
    return node, (port if dot else None)


def _listed(names: list[str]) -> str:
    """Names for a message: all of them, or the first few and how many more."""
    if len(names) <= _LISTED:
        return ", ".join(names)
    return f"{', '.join(names[:_LISTED])}, and {len(names) - _LISTED} more"


def _names(ports: list[PortSpec]) -> str:
    return _listed([p.name for p in ports]) or "none"


def _pick_port(
    key: str, port_name: str | None, ports: list[PortSpec], io: str, pointer: str, hints: Hints
) -> tuple[PortSpec | None, Finding | None]:
    if port_name is not None:
        for port in ports:
            if port.name == port_name:
                return port, None
        hint = hints.hint(port_name, [p.name for p in ports])
        return None, Finding(
            pointer, f"node '{key}' has no {io} port '{port_name}'{hint}; its {io}s: {_names(ports)}"
        )
    if len(ports) == 1:
        return ports[0], None
    if not ports:
        return None, Finding(pointer, f"node '{key}' has no {io} ports")
    return None, Finding(
        pointer,
        f"node '{key}' has several {io} ports ({_names(ports)}); name one, e.g. '{key}.{ports[0].name}'",
    )


def resolve_edges(spec: PipelineSpec) -> tuple[list[Edge], list[Finding]]:
    """All connections as edges; a connection with a bad endpoint yields findings, not edges."""
    nodes = spec.spec.nodes
    keys = list(nodes)
    ports = {key: node_ports(node) for key, node in nodes.items()}
    found: list[Edge] = []
    findings: list[Finding] = []
    seen: set[tuple[str, str, str, str, str | None, str]] = set()
    hints = Hints()

    for index, conn in enumerate(spec.spec.connections):
        base = f"/spec/connections/{index}"
        src_key, src_port_name = parse_endpoint(conn.from_)
        src_port: PortSpec | None = None
        if src_key not in nodes:
            findings.append(
                Finding(f"{base}/from", f"unknown node '{src_key}'{hints.hint(src_key, keys)}")
            )
        else:
            src_port, problem = _pick_port(
                src_key, src_port_name, ports[src_key][1], "output", f"{base}/from", hints
            )
            if problem:
                findings.append(problem)
        if src_port is not None and conn.action is not None:
            offered = src_port.actions or []
            if conn.action not in offered:
                where = f"'{src_key}.{src_port.name}'"
                if offered:
                    message = (
                        f"action '{conn.action}' is not offered by {where}"
                        f"{hints.hint(conn.action, offered)}; it offers: {_listed(offered)}"
                    )
                else:
                    message = f"action '{conn.action}' is not offered by {where}: it has no actions"
                findings.append(Finding(f"{base}/action", message))
                src_port = None

        for target_index, target in enumerate(conn.to):
            pointer = f"{base}/to/{target_index}"
            tgt_key, tgt_port_name = parse_endpoint(target)
            if tgt_key not in nodes:
                findings.append(
                    Finding(pointer, f"unknown node '{tgt_key}'{hints.hint(tgt_key, keys)}")
                )
                continue
            tgt_port, problem = _pick_port(
                tgt_key, tgt_port_name, ports[tgt_key][0], "input", pointer, hints
            )
            if problem:
                findings.append(problem)
                continue
            assert tgt_port is not None
            if src_port is None:
                continue
            if not accepts(src_port.type, tgt_port.type):
                findings.append(
                    Finding(
                        pointer,
                        f"port type mismatch: '{src_key}.{src_port.name}' ({src_port.type}) "
                        f"cannot feed '{tgt_key}.{tgt_port.name}' ({tgt_port.type})",
                    )
                )
                continue
            identity = (
                src_key, src_port.name, tgt_key, tgt_port.name, conn.action,
                repr(sorted((conn.filter or {}).items(), key=str)),
            )
            if identity in seen:
                findings.append(
                    Finding(
                        pointer,
                        f"duplicate connection '{src_key}.{src_port.name}' -> "
                        f"'{tgt_key}.{tgt_port.name}'",
                        "warning",
                    )
                )
                continue
            seen.add(identity)
            found.append(
                Edge(
                    src=src_key,
                    src_port=src_port.name,
                    tgt=tgt_key,
                    tgt_port=tgt_port.name,
                    action=conn.action,
                    filter=conn.filter,
                    index=index,
                    target_index=target_index,
                )
            )
    return found, findings


def find_root(spec: PipelineSpec) -> tuple[str | None, list[Finding]]:
    """The root node key: `spec.root`, else the only node that no connection targets."""
    nodes = spec.spec.nodes
    if spec.spec.root is not None:
        if spec.spec.root in nodes:
            return spec.spec.root, []
        hint = Hints().hint(spec.spec.root, list(nodes))
        return None, [Finding("/spec/root", f"root '{spec.spec.root}' is not a node{hint}")]
    targeted = {
        parse_endpoint(target)[0] for conn in spec.spec.connections for target in conn.to
    }
    candidates = [key for key in nodes if key not in targeted]
    if len(candidates) == 1:
        return candidates[0], []
    if not candidates:
        return None, [
            Finding(
                "/spec/nodes",
                "cannot infer the root: every node has an incoming connection; set `spec.root`",
            )
        ]
    return None, [
        Finding(
            "/spec/nodes",
            f"ambiguous root: {len(candidates)} nodes have no incoming connection "
            f"({_listed(candidates)}); set `spec.root` to one of them",
        )
    ]


def endless_loops(order: list[str], successors: Mapping[str, Iterable[str]],
                  waiting: set[str]) -> list[list[str]]:
    """The groups of nodes that pass items round and round with nothing to stop them.

    A cycle of the graph (a node connected to itself included) that contains no `waiting` node:
    a task node waits for people, so a loop through one (rejected items back to annotation) ends;
    the platform accepts those (dtlpy's `pipeline_tasks_loop` test) and refuses any other loop
    ("Infinite Loop detected for node ..."). Each group is a strongly connected component, its
    nodes in `order`; groups ordered by their first node. Iterative Tarjan: linear, no recursion,
    so a hostile document of many nodes cannot exhaust the stack.
    """
    position = {key: i for i, key in enumerate(order)}
    graph = {key: [n for n in successors.get(key, ()) if n in position and n not in waiting]
             for key in order if key not in waiting}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            key, child = work.pop()
            if child == 0:
                index[key] = low[key] = len(index)
                stack.append(key)
                on_stack.add(key)
            targets = graph[key]
            if child < len(targets):
                work.append((key, child + 1))
                nxt = targets[child]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[key] = min(low[key], index[nxt])
                continue
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[key])
            if low[key] == index[key]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == key:
                        break
                if len(group) > 1 or key in graph[key]:
                    groups.append(sorted(group, key=position.__getitem__))
    return sorted(groups, key=lambda g: position[g[0]])


def _raise(findings: list[Finding]) -> None:
    errors = [
        SpecError(f.message, Location("<spec>", pointer=f.pointer), severity=f.severity)
        for f in findings
        if f.severity == "error"
    ]
    if errors:
        raise SpecErrors(errors)


def edges(spec: PipelineSpec) -> list[Edge]:
    """Resolved edges, in spec order. Raises SpecErrors when a connection cannot be resolved."""
    found, findings = resolve_edges(spec)
    _raise(findings)
    return found


def root_key(spec: PipelineSpec) -> str:
    """The root node's key. Raises SpecErrors when it is missing or ambiguous."""
    key, findings = find_root(spec)
    _raise(findings)
    assert key is not None
    return key
