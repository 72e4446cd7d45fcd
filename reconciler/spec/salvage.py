"""Partial validation: keep checking a spec whose schema errors are confined to some parts of it.

Validate promises every error of a file in one run. Schema errors alone would hide the graph and
reference errors of the rest of the file until the user fixed them and ran again. So, after schema
errors, the broken parts are set aside — a broken node becomes a typeless placeholder, a broken
connection or variable is dropped, a broken optional field is removed — and the rest is validated
again and checked. Findings that could be artefacts of what was set aside are suppressed: anything
about a broken node or a connection touching one, root inference when connections or nodes were
dropped, reachability when connections were dropped, variable references when variables were,
findings about a whole node that lost a broken field.
If the spine of the document is broken (no `spec`, `nodes` not a mapping), nothing is salvaged.
"""

from __future__ import annotations

import copy
import functools
import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from reconciler.spec.graph import Finding, parse_endpoint
from reconciler.spec.models import API_VERSION, KIND, NODE_KEY_PATTERN, PipelineSpec

PLACEHOLDER_TYPE = "loopformInvalidNode"
_CONNECTION = re.compile(r"^/spec/connections/(\d+)(/.*)?$")
_NODE_KEY = re.compile(NODE_KEY_PATTERN)


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


@dataclass
class Salvage:
    """What was set aside, so that findings about it can be suppressed or re-pointed."""

    spec: PipelineSpec
    broken_nodes: set[str] = field(default_factory=set)
    repaired_nodes: set[str] = field(default_factory=set)  # nodes that lost a broken field
    connection_index: list[int] = field(default_factory=list)  # new index -> original index
    dropped_connections: bool = False
    dropped_variables: bool = False
    broken_metadata: bool = False

    @functools.cached_property
    def deleted_nodes(self) -> set[str]:
        """Broken nodes not even kept as placeholders (their key itself is invalid)."""
        return self.broken_nodes - set(self.spec.spec.nodes)

    def keep(self, finding: Finding) -> Finding | None:
        """The finding re-pointed at the original document, or None when it may be an artefact."""
        pointer = finding.pointer
        parts = pointer.split("/")
        if len(parts) >= 4 and parts[1:3] == ["spec", "nodes"]:
            if _unescape(parts[3]) in self.broken_nodes:
                return None
            # A finding about the node as a whole (a dataset node naming no dataset) may be
            # about the field that was removed from it.
            if len(parts) == 4 and _unescape(parts[3]) in self.repaired_nodes:
                return None
        if pointer in ("/spec/nodes", "/spec/root") and (
            self.dropped_connections or self.broken_nodes
        ):
            return None
        if "unreachable" in finding.message and (self.dropped_connections or self.broken_nodes):
            return None
        if "unknown variable" in finding.message and self.dropped_variables:
            return None
        match = _CONNECTION.match(pointer)
        if match:
            index = int(match.group(1))
            conn = self.spec.spec.connections[index]
            touched = {parse_endpoint(conn.from_)[0], *(parse_endpoint(t)[0] for t in conn.to)}
            if touched & self.broken_nodes:
                return None
            # A node deleted for its invalid key may be named in ways that parse differently.
            if finding.message.startswith("unknown node") and self.deleted_nodes:
                return None
            original = self.connection_index[index]
            pointer = f"/spec/connections/{original}{match.group(2) or ''}"
        return Finding(pointer, finding.message, finding.severity)


def _node_repair(parts: list[str]) -> tuple[str, ...] | None:
    """For an error at /spec/nodes/<key>/<parts...>: the field path to delete, or None when the
    node must become a placeholder (its type or ports — what the graph checks rely on — are
    broken, or the node as a whole is)."""
    if not parts or parts[0] in ("type", "inputs", "outputs"):
        return None
    if parts[0] == "task":
        if len(parts) == 1 or parts[1] in ("type", "actions"):
            return None
        return ("task", parts[1])
    return (parts[0],)


def salvage(data: Any, error_pointers: list[str]) -> Salvage | None:
    """A valid spec made of the parts of `data` that had no schema error, or None."""
    if not isinstance(data, dict) or not isinstance(data.get("spec"), dict):
        return None
    source_nodes = data["spec"].get("nodes")
    if not isinstance(source_nodes, dict) or not source_nodes:
        return None
    fixed = copy.copy(data)
    fixed["apiVersion"], fixed["kind"] = API_VERSION, KIND
    body = fixed["spec"] = copy.copy(data["spec"])
    raw_connections = body.get("connections")
    connections = list(raw_connections) if isinstance(raw_connections, list) else []
    raw_variables = body.get("variables")
    variables = list(raw_variables) if isinstance(raw_variables, list) else []
    broken: set[str] = set()
    repairs: dict[str, list[tuple[str, ...]]] = {}
    bad_connections: set[int] = set()
    bad_variables: set[int] = set()
    broken_metadata = lost_connections = lost_variables = lost_trigger = False

    for pointer in error_pointers:
        parts = [_unescape(p) for p in pointer.split("/")[1:]]
        if not parts:
            return None
        if parts[0] in ("apiVersion", "kind"):
            continue
        if parts[0] == "metadata":
            broken_metadata = True
            continue
        if parts[0] != "spec" or len(parts) < 2:
            return None
        section = parts[1]
        if section == "nodes":
            if len(parts) < 3:
                return None
            repair = _node_repair(parts[3:])
            if repair is None:
                broken.add(parts[2])
            else:
                repairs.setdefault(parts[2], []).append(repair)
                lost_trigger = lost_trigger or repair[0] == "trigger"
        elif section == "connections":
            if len(parts) < 3 or not parts[2].isdigit():
                connections, lost_connections = [], True
            else:
                bad_connections.add(int(parts[2]))
        elif section == "variables":
            if len(parts) < 3 or not parts[2].isdigit():
                variables, lost_variables = [], True
            else:
                bad_variables.add(int(parts[2]))
        else:  # status, resetToken, settings, root, an unknown field: optional, drop it
            body.pop(section, None)

    if broken_metadata:
        fixed["metadata"] = {"name": "\0invalid"}
    nodes: dict[str, Any] = {}
    for key, node in source_nodes.items():
        if key in broken or not isinstance(node, dict):
            broken.add(key)
            # A key that is itself invalid cannot stay, even as a placeholder.
            if _NODE_KEY.match(key):
                nodes[key] = {"type": PLACEHOLDER_TYPE}
            continue
        if key in repairs:
            node = copy.deepcopy(node)
            for path in repairs[key]:
                holder: Any = node
                for step in path[:-1]:
                    holder = holder.get(step) if isinstance(holder, dict) else None
                if isinstance(holder, dict):
                    holder.pop(path[-1], None)
        nodes[key] = node
    body["nodes"] = nodes
    kept = [i for i in range(len(connections)) if i not in bad_connections]
    body["connections"] = [connections[i] for i in kept]
    body["variables"] = [v for i, v in enumerate(variables) if i not in bad_variables]
    try:
        spec = PipelineSpec.model_validate(fixed)
    except ValidationError:
        return None
    return Salvage(
        spec=spec,
        broken_nodes=broken,
        repaired_nodes=set(repairs) - broken,
        connection_index=kept,
        dropped_connections=lost_connections or bool(bad_connections) or lost_trigger,
        dropped_variables=lost_variables or bool(bad_variables),
        broken_metadata=broken_metadata,
    )
