"""Live and desired pipeline documents -> one comparable form (the "essence", after kopf).

`essence(doc, keys=..., owned=...)` keeps only what a spec author decides, in spec terms: nodes are
keyed by spec key (not id), ports by (io, name), connections by their endpoints, so two documents
that mean the same pipeline give `==` essences. The diff compares essences; nothing else in
Loopform needs to know the normalization rules below. Each rule says why it exists.

Pure: no I/O, no printing. Essences are plain JSON values (dicts, lists, str, numbers) so that
native `==` does the comparison (0.1 ms for a 50-node pipeline, versus 260 ms for deepdiff).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from reconciler.document import MARKER_VARIABLE, Pipeline, parse_json_text
from reconciler.nodes import for_platform, runtime_variables

# Node fields the server owns or that only identify where a node lives; never authored in a spec.
# - projectId: the SDK stamps the pipeline's project on nodes and templates sometimes carry one;
#   it is the pipeline's own project, not a choice (compile keeps the live value of a matched node).
_NODE_SERVER_FIELDS = frozenset({"projectId"})

# Port fields that are UI bookkeeping: exported templates carry `io` and `nodeId` (= portId) that
# neither the SDK nor the API use; `portId` is identity (connections are compared by port name).
_PORT_IGNORED = frozenset({"portId", "nodeId", "io"})
# Cosmetic port fields: compared only where the spec sets them (`owned`), because the UI and the
# SDK fill them with their own defaults (displayName "Complete" vs "complete", colour null).
_PORT_COSMETIC = ("displayName", "color")

# Pipeline fields that are server-owned, identity, or not stored: id/projectId identify; the rest
# are stamped by the server (creator, orgId, url, status, timestamps, compositionId on install,
# preview image, revisions, updatedBy). Status is compared separately (it is an action, not a
# field). Unknown top-level keys (templateKind, _id in templates) are dropped: APIPipeline is
# `additionalProperties: false`, so the server would not keep them either.
_PIPELINE_COMPARED = ("name", "description")

# Settings the server manages itself: `lastUpdate` is a server timestamp.
_SETTINGS_IGNORED = frozenset({"lastUpdate"})


class Essence(BaseModel):
    """The comparable form of one pipeline. Sections are compared with `==` first, cheaply."""

    model_config = ConfigDict(frozen=True)

    fields: dict[str, Any] = Field(default_factory=dict)
    nodes: dict[str, dict[str, Any]] = Field(default_factory=dict)  # spec key -> node essence
    connections: dict[str, dict[str, Any]] = Field(default_factory=dict)  # identity -> details
    root: str | None = None  # spec key of the root node
    triggers: dict[str, dict[str, Any]] = Field(default_factory=dict)  # "key" / "key#2" -> trigger
    variables: dict[str, dict[str, Any]] = Field(default_factory=dict)  # marker excluded
    settings: dict[str, Any] = Field(default_factory=dict)


def drop_nulls(value: Any) -> Any:
    """`null` and an absent key mean the same to the SDK (it reads everything with `.get()`), and
    the SDK sends nulls (`color: null`, `variableName: null`) where templates omit the key; so an
    essence never holds a null inside a mapping. Lists keep their nulls (positions matter there)."""
    if isinstance(value, dict):
        return {k: drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_nulls(v) for v in value]
    return value


_SLUG_RE = re.compile(r"[^A-Za-z0-9_-]+")


def slug(text: str) -> str:
    """A spec key made from a display name: the key pattern `^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$`."""
    s = _SLUG_RE.sub("-", text.strip()).strip("-").lower()
    if not s or s[0] == "-":
        s = "node" + s
    return s[:56]


def node_keys(doc: Pipeline, known: Mapping[str, str]) -> dict[str, str]:
    """id -> spec key for every node of `doc`: `known` (id -> key) first, then names made unique.

    Unknown nodes (live nodes no spec node matched) get `slug(name)`, suffixed `-2`, `-3`... when
    taken, so a removed node is shown under a readable name; the suffix keeps two nodes both
    called "dataset" apart.
    """
    result: dict[str, str] = {}
    taken = set()
    for node in doc.nodes:
        key = known.get(node.id)
        if key is not None and key not in taken:
            result[node.id] = key
            taken.add(key)
    tried: dict[str, int] = {}  # base -> the last suffix taken: 8,000 live nodes of one name took 2.5 s
    for node in doc.nodes:
        if node.id in result:
            continue
        base = slug(node.name)
        # `taken` only grows, so the suffixes tried before for this base are still taken.
        n = tried.get(base, 1)
        key = base if n == 1 else f"{base}-{n}"
        while key in taken:
            n += 1
            key = f"{base}-{n}"
        tried[base] = n
        result[node.id] = key
        taken.add(key)
    return result


def _port_names(ports: list[dict[str, Any]]) -> list[str]:
    # Port names are unique in practice; if a node repeats one, `name#2` keeps both visible.
    names: list[str] = []
    seen: dict[str, int] = {}
    for p in ports:
        name = str(p.get("name", "item"))
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return names


def _port_essence(port: dict[str, Any], owned_cosmetics: Iterable[str]) -> dict[str, Any]:
    # Port fields are model fields (already null-free in the wire form) or UI extras: shallow.
    out = {k: v for k, v in port.items()
           if k not in _PORT_IGNORED and k not in _PORT_COSMETIC and v is not None}
    for k in owned_cosmetics:
        if port.get(k) is not None:
            out[k] = port[k]
    return out


def _owned_cosmetics(owned: frozenset[str]) -> dict[str, tuple[str, ...]]:
    """`nodes.<key>.<io>.<port>` -> the cosmetic port fields the spec sets there, in
    `_PORT_COSMETIC` order; read from `owned` once per essence, not tried for every port (most
    specs set none)."""
    found: dict[str, tuple[str, ...]] = {}
    for c in _PORT_COSMETIC:
        suffix = f".{c}"
        for path in owned:
            if path.endswith(suffix):
                port = path[: -len(suffix)]
                found[port] = (*found.get(port, ()), c)
    return found


def _node_essence(node: dict[str, Any], key: str, owned: frozenset[str],
                  port_names: dict[str, list[str]], cosmetics: dict[str, tuple[str, ...]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    # Names the platform generates at install for some types (a code node's service): never compared.
    kind = for_platform(node.get("type"))
    for field, value in node.items():
        if field in _NODE_SERVER_FIELDS or field in ("inputs", "outputs"):
            continue
        if field == "name" and f"nodes.{key}.name" not in owned:
            # Display names are cosmetic (and may repeat): owned only where the spec sets one.
            continue
        if field == "namespace":
            if kind.server_namespace:
                value = {k: v for k, v in value.items() if k not in kind.server_namespace}
        elif field == "metadata":
            # Canvas position is cosmetic: owned by the spec only where it sets one.
            value = {k: drop_nulls(v) for k, v in value.items()
                     if k != "position" and v is not None
                     and k not in kind.server_metadata}
            if value.get("triggerToPipeline") == {}:
                # dtlpy's DatasetNode writes `triggerToPipeline: {filter: null}` when loading
                # existing data is off; that and no key at all both mean "off".
                del value["triggerToPipeline"]
            elif isinstance(value.get("triggerToPipeline"), dict) and "filter" in value["triggerToPipeline"]:
                # The load-existing filter is a JSON string: dtlpy writes it with `json.dumps`
                # spacing, compile compactly; compared parsed, like connection conditions.
                ttp = value["triggerToPipeline"]
                value["triggerToPipeline"] = {**ttp, "filter": parse_json_text(ttp["filter"])}
            if f"nodes.{key}.position" in owned and "position" in node["metadata"]:
                pos = node["metadata"]["position"]
                out["position"] = {"x": pos.get("x", 0), "y": pos.get("y", 0)}
        elif field == "config":
            if not value:
                # `config: {}` and no config are the same to the platform (templates omit it).
                continue
            value = drop_nulls(value)
        elif value is None:
            continue
        elif isinstance(value, (dict, list)):
            value = drop_nulls(value)
        out[field] = value
    for io in ("inputs", "outputs"):
        ports = node.get(io) or []
        names = port_names[io]
        out[io] = {
            name: _port_essence(p, cosmetics.get(f"nodes.{key}.{io}.{name}", ()) if cosmetics else ())
            for name, p in zip(names, ports)
        }
    return out


def _trigger_essence(trigger: dict[str, Any]) -> dict[str, Any]:
    # Shallow null-dropping only: a DQL filter's nulls mean "is null" and must survive.
    spec = {k: v for k, v in (trigger.get("spec") or {}).items() if v is not None}
    if "filter" in spec:
        spec["filter"] = parse_json_text(spec["filter"])
    if trigger.get("type", "Event") == "Event" and spec.get("filter") is None:
        # The SDK sends `filter: {}` for "no filter"; other writers omit it: same meaning.
        spec["filter"] = {}
    out: dict[str, Any] = {"type": trigger.get("type", "Event"), "spec": spec}
    if trigger.get("name"):
        out["name"] = trigger["name"]
    return out


@dataclass(frozen=True)
class ConnectionRef:
    """A connection by its ends: `ident` is its key in the essence and in change addresses
    (`<node>.<port>[<action>] -> <node>.<port>`); `source` / `target` are node keys."""

    ident: str
    source: str
    target: str
    action: str | None


def connection_refs(wire: Mapping[str, Any], keys: Mapping[str, str],
                    port_name: Mapping[tuple[str, str], str] | None = None) -> list[ConnectionRef]:
    """The connections of a pipeline document (wire form) by their ends, in document order.
    `port_name` ((node id, port id) -> port name, as `essence` works it out) saves reading the
    ports again."""
    if port_name is None:
        port_name = {(node["id"], p.get("portId", "")): name for node in wire.get("nodes", [])
                     for io in ("inputs", "outputs")
                     for name, p in zip(_port_names(node.get(io) or []), node.get(io) or [])}

    def end(ref: dict[str, Any]) -> tuple[str, str]:
        node_id, port_id = ref.get("nodeId", ""), ref.get("portId", "")
        key = keys.get(node_id, f"?{node_id}")
        return key, f"{key}.{port_name.get((node_id, port_id), '?' + port_id)}"

    out = []
    for conn in wire.get("connections", []):
        action = conn.get("action")
        (src, src_end), (tgt, tgt_end) = end(conn["src"]), end(conn["tgt"])
        out.append(ConnectionRef(ident=f"{src_end}{f'[{action}]' if action else ''} -> {tgt_end}",
                                 source=src, target=tgt, action=action))
    return out


def essence(doc: Pipeline, *, keys: Mapping[str, str], owned: frozenset[str] = frozenset()) -> Essence:
    """The comparable form of `doc`.

    `keys` maps node id -> spec key (see `node_keys`); every node id of `doc` must be in it.
    `owned` lists the cosmetic paths the spec sets (`nodes.<key>.name`, `nodes.<key>.position`,
    `nodes.<key>.<io>.<port>.displayName|color`); other cosmetic fields are left out.
    """
    wire = doc.wire()
    fields = {f: wire.get(f) or "" for f in _PIPELINE_COMPARED}  # description: "" is the default

    nodes: dict[str, dict[str, Any]] = {}
    port_name: dict[tuple[str, str], str] = {}  # (node id, port id) -> port name
    cosmetics = _owned_cosmetics(owned)
    for node in wire.get("nodes", []):
        key = keys[node["id"]]
        names = {io: _port_names(node.get(io) or []) for io in ("inputs", "outputs")}
        nodes[key] = _node_essence(node, key, owned, names, cosmetics)
        for io in ("inputs", "outputs"):
            for name, p in zip(names[io], node.get(io) or []):
                port_name[(node["id"], p.get("portId", ""))] = name

    connections: dict[str, dict[str, Any]] = {}
    for ref, conn in zip(connection_refs(wire, keys, port_name), wire.get("connections", [])):
        # "{}" and a missing condition both mean "no filter" (the SDK omits it).
        condition = parse_json_text(conn.get("condition") or "{}")
        extra = {k: v for k, v in conn.items()
                 if k not in ("src", "tgt", "condition", "action") and v is not None}
        connections[ref.ident] = {"filter": condition, **extra}

    root: str | None = None
    triggers: dict[str, dict[str, Any]] = {}
    slots: dict[str, int] = {}  # node key -> its triggers so far (a live document may hold thousands)
    for start in wire.get("startNodes", []):
        key = keys.get(start["nodeId"], f"?{start['nodeId']}")
        if start.get("type", "root") == "root":
            root = key
        # Start-node ids are server-assigned (reference 4.5): identity is the node and trigger.
        if start.get("trigger"):
            n = slots[key] = slots.get(key, 0) + 1
            slot = key if n == 1 else f"{key}#{n}"
            while slot in triggers:  # a key spelled like another's slot (`a#2`) comes before it
                n = slots[key] = n + 1
                slot = f"{key}#{n}"
            triggers[slot] = _trigger_essence(start["trigger"])

    variables = {}
    # A variable a node sets while cycles run (updateVariable) holds the pipeline's state: its value
    # is compared by no plan, or every apply would undo what the pipeline learned.
    runtime = runtime_variables(doc.nodes)
    for v in wire.get("variables", []):
        # The marker is Loopform's bookkeeping, compared by the diff on its own terms.
        if v["name"] == MARKER_VARIABLE:
            continue
        entry = {"type": v.get("type", "String")}
        if v.get("value") is not None and v["name"] not in runtime:
            entry["value"] = v["value"]
        if v.get("description"):
            entry["description"] = v["description"]
        variables[v["name"]] = entry
    settings = {k: v for k, v in (wire.get("settings") or {}).items()
                if k not in _SETTINGS_IGNORED and v is not None}
    return Essence.model_construct(fields=fields, nodes=nodes, connections=connections, root=root,
                                   triggers=triggers, variables=variables, settings=settings)


def canonical_json(value: Any) -> str:
    """Sorted, compact JSON: the one text form digests are computed over."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def short_digest(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()[:16]


def section_digests(ess: Essence) -> dict[str, str]:
    """Digest per section (per node for nodes), stored in the marker to tell drift per change.

    Settings are left out: the server fills defaults the spec never set, so live settings differ
    from the applied ones without anybody having edited them.
    """
    out = {"fields": short_digest(ess.fields), "connections": short_digest(ess.connections),
           "startNodes": short_digest([ess.root, ess.triggers]),
           "variables": short_digest(ess.variables)}
    for key, node in ess.nodes.items():
        out[f"nodes.{key}"] = short_digest(node)
    return out


def essence_digest(ess: Essence, sections: dict[str, str] | None = None) -> str:
    """Digest of the whole essence (without settings, see `section_digests`); pass the
    sections when they are at hand to avoid computing them twice."""
    return hashlib.sha256(canonical_json(sections or section_digests(ess)).encode()).hexdigest()


def fingerprint(live: Pipeline) -> str:
    """sha256 of the live document as decoded: a saved plan is stale when it moves.

    pydantic's own JSON serializer is deterministic for a given document (model fields in
    declaration order, unknown fields in the order the server sent them) and much cheaper than
    sorted JSON; it runs once per live pipeline on every plan.
    """
    return hashlib.sha256(live.model_dump_json(by_alias=True, exclude_none=True).encode()).hexdigest()
