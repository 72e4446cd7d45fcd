"""Spec -> the exact pipeline document the Dataloop API takes (pure; name lookups are injected).

`compile_spec(spec_file, project_id=..., resolver=..., live=...)` builds the desired `Pipeline`:
nodes with the per-type namespace / metadata / config real pipelines carry (reference 4.2 and the
exported fixtures), ports with ids, connections with JSON-string conditions, start nodes with
triggers, variables (the managed marker last) and settings. The spec's raw `namespace`,
`metadata`, `config` and `raw` are deep-merged last, so every platform field stays expressible.

Identity (what keeps live ids stable across applies, display-name edits and repeated names):
  node id   explicit spec `id` > the live marker's key -> id map > uuid5(project/pipeline/key)
  port id   explicit spec `id` > the matched live node's port with the same (io, name) > uuid5
  start-node id  the live one for the same (node id, type); otherwise left to the server
Cosmetics (node display name, canvas position, port displayName/colour) come from the spec where it
sets them (recorded in `CompiledPipeline.owned`, so only those are compared), else from the
matched live node, else defaults (automatic layout for positions).

Unknown names raise every problem at once as `SpecErrors`, located in the spec file.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from reconciler.backend import Resolved, ResourceKind, Resolver
from reconciler.document import (
    Connection,
    Namespace,
    Node,
    Pipeline,
    Port,
    PortRef,
    StartNode,
    Trigger,
    Variable,
    compact_json,
)
from reconciler.errors import Location, NotFound, SpecError, SpecErrors
from reconciler.layout import layered_positions
from reconciler.marker import Marker, read_marker, with_marker
from reconciler.nodes import for_spec as node_type
from reconciler.nodes import node_ports, runtime_variables
from reconciler.normalize import Essence, essence, essence_digest, section_digests
from reconciler.secret_paths import secret_templates
from reconciler.spec.graph import edges as spec_edges
from reconciler.spec.graph import Edge, root_key
from reconciler.spec.models import PipelineSpec, PortSpec

# Fixed namespace for Loopform's deterministic ids: the same spec in the same project always
# produces the same node and port ids, so a lost marker still matches the nodes by id.
ID_NAMESPACE = uuid.UUID("6f1c0c8e-5b8e-4d57-9a55-6c0f6d1f7a10")



class SpecSource(Protocol):
    """What compile needs of a loaded spec file (`reconciler.spec.SpecFile` provides it)."""

    @property
    def spec(self) -> PipelineSpec: ...

    @property
    def code(self) -> Mapping[str, str]: ...

    def locate(self, pointer: str) -> Location: ...


class CompiledPipeline(BaseModel):
    """The desired document plus what plan and diff need to know about how it was made."""

    model_config = ConfigDict(frozen=True)

    desired: Pipeline
    provisions: list[Resolved] = Field(default_factory=list)  # names resolved by provisioning
    owned: frozenset[str] = frozenset()  # cosmetic paths the spec sets (see normalize.essence)
    keys: dict[str, str] = Field(default_factory=dict)  # spec key -> node id
    status: str = "installed"
    reset_token: str | None = None
    # The desired essence (marker excluded) compared on `owned`: computed once here, reused by diff.
    essence: Essence | None = Field(default=None, exclude=True, repr=False)
    # "kind/id" -> the name the spec wrote for it: the plan shows ids of the desired side by name.
    names: dict[str, str] = Field(default_factory=dict)

    def name_of(self, kind: ResourceKind, ident: str) -> str | None:
        return self.names.get(f"{kind.value}/{ident}")


def deterministic_id(*parts: str) -> str:
    return str(uuid.uuid5(ID_NAMESPACE, "/".join(parts)))


def deep_merge(base: Any, override: Any) -> Any:
    """`override` merged into a copy of `base`: mappings recurse, anything else replaces (a null
    replaces too, which is how a spec or an export removes a generated key)."""
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for k, v in override.items():
            out[k] = deep_merge(base[k], v) if k in base else copy.deepcopy(v)
        return out
    return copy.deepcopy(override)


class _Context:
    """Per-compile state: resolution with error collection, and the provisions relied on."""

    def __init__(self, source: SpecSource, resolver: Resolver, project_name: str | None) -> None:
        self.source = source
        self.resolver = resolver
        self.project_name = project_name
        self.errors: list[SpecError] = []
        self.provisions: dict[tuple[str, str, str | None], Resolved] = {}
        self.names: dict[str, str] = {}  # "kind/id" -> the name the spec used

    def code_of(self, key: str) -> str | None:
        return self.source.code.get(key)

    def resolve(self, kind: ResourceKind, name: str, pointer: str, *, scope: str | None = None) -> Resolved | None:
        try:
            found = self.resolver.resolve(kind, name, scope=scope)
        except NotFound:
            where = " in that dataset" if kind is ResourceKind.RECIPE else ""
            self.errors.append(SpecError(f"unknown {kind.value} '{name}'{where}", self.source.locate(pointer)))
            return None
        if found.provision:
            self.provisions.setdefault((found.kind.value, found.name, scope), found)
        self.names.setdefault(f"{kind.value}/{found.id}", name)
        return found


def _ports(key: str, node_id: str, io: str, specs: list[PortSpec], explicit: bool,
           live: Node | None, owned: set[str]) -> list[Port]:
    live_ports = {p.name: p for p in ((live.inputs if io == "inputs" else live.outputs) if live else [])}
    ports: list[Port] = []
    for spec in specs:
        matched = live_ports.get(spec.name)
        fields: dict[str, Any] = {}
        if matched is not None:
            # UI bookkeeping (io, nodeId) and cosmetics are carried over so an update does not
            # churn them; normalize ignores them unless the spec owns them.
            fields.update(matched.model_extra or {})
            for attr in ("displayName", "color"):
                if getattr(matched, attr) is not None:
                    fields[attr] = getattr(matched, attr)
        port_id = spec.id or (matched.portId if matched else deterministic_id(node_id, io, spec.name))
        fields.update(portId=port_id, name=spec.name, type=spec.type)
        for attr in ("actions", "actionIcon", "defaultValue", "variableName", "portPercentage",
                     "description"):
            value = getattr(spec, attr)
            if value is not None:
                fields[attr] = value
            else:
                fields.pop(attr, None)
        for attr in ("displayName", "color"):
            value = getattr(spec, attr)
            if explicit and value is not None:
                owned.add(f"nodes.{key}.{io}.{spec.name}.{attr}")
                fields[attr] = value
            elif attr not in fields:
                default = value if value is not None else (spec.name if attr == "displayName" else None)
                if default is not None:
                    fields[attr] = default
        ports.append(Port.model_validate(fields))
    return ports


def referenced_names(spec: PipelineSpec) -> dict[ResourceKind, set[str]]:
    """The names compiling `spec` resolves, by kind (recipes by title), as each node type's
    `names` reads them from the fields its `to_platform` resolves: a resolver can then fetch each
    kind in one query for many specs (`reconciler.backend.BatchResolver.prefetch`). A name missed
    here is still resolved, one by one."""
    names: dict[ResourceKind, set[str]] = {}
    for node in spec.spec.nodes.values():
        for kind, name in node_type(node).names(node):
            names.setdefault(kind, set()).add(name)
    return names


def _trigger(spec: Any) -> Trigger:
    if spec.cron is not None:
        return Trigger(type="Cron", spec={"cron": spec.cron}, name=spec.name)
    event = spec.event
    return Trigger(type="Event", name=spec.name, spec={
        "resource": event.resource, "actions": list(event.actions),
        "executionMode": event.executionMode,
        # A JSON string, as the SDK sends it (reference 4.5); "{}" for no filter.
        "filter": compact_json(event.filter if event.filter is not None else {}),
    })


def compile_spec(
    spec_file: SpecSource,
    *,
    project_id: str,
    resolver: Resolver,
    live: Pipeline | None,
    project_name: str | None = None,
    spec_set: str | None = None,
    spec_path: str | None = None,
    secrets: Mapping[str, str] | None = None,
    modules: Mapping[str, str] | None = None,
    edges: Sequence[Edge] | None = None,
) -> CompiledPipeline:
    """The desired document for `spec_file` in project `project_id`, matched against `live`.

    `modules` (module file -> sha256, `SpecFile.modules`) go into the marker: which module versions
    built the pipeline. `edges`: the spec's connections as the loader's checks resolved them
    (`SpecFile.edges`); without, they are resolved here.

    `spec_set` / `spec_path` (the spec set's identity, the file's path in it) go into the marker:
    they say who may prune the pipeline (reconciler.spec_set). `secrets` (name -> value, as
    `interpolate.Context.secrets()` gives them) are the values the spec must not show: the marker
    records where they sit (`reconciler.secret_paths`).

    Pure apart from `resolver.resolve` calls. Raises `SpecErrors` listing every unknown name (and
    graph errors, located, should validate have been skipped).
    """
    spec: PipelineSpec = spec_file.spec
    body = spec.spec
    ctx = _Context(spec_file, resolver, project_name)
    try:
        graph = list(edges) if edges is not None else spec_edges(spec)
        root = root_key(spec)
    except SpecErrors as exc:
        raise SpecErrors([SpecError(e.message, spec_file.locate(e.location.pointer), severity=e.severity)
                          for e in exc.errors]) from None

    live_marker = read_marker(live)
    marker_ids = live_marker.nodes if live_marker else {}
    live_nodes = {n.id: n for n in live.nodes} if live else {}
    layout: dict[str, tuple[float, float]] = {}  # computed on first need: most plans place no node

    owned: set[str] = set()
    keys: dict[str, str] = {}
    nodes: list[Node] = []
    ports_by_key: dict[str, tuple[dict[str, str], dict[str, str]]] = {}
    used_by: dict[str, str] = {}
    for key, node in body.nodes.items():
        node_id = node.id or marker_ids.get(key) or deterministic_id(project_id, spec.metadata.name, key)
        if node_id in used_by:
            # Two nodes with one id would overwrite each other on the platform.
            ctx.errors.append(SpecError(f"node id {node_id} is also the id of node '{used_by[node_id]}'",
                                        spec_file.locate(f"/spec/nodes/{key}/id" if node.id else f"/spec/nodes/{key}")))
        used_by[node_id] = key
        keys[key] = node_id
        matched = live_nodes.get(node_id)
        kind = node_type(node)
        parts = kind.to_platform(key, node, ctx)
        if matched is not None:
            kind.keep_live(node, parts, matched)
        meta = parts.metadata

        if node.name is not None:
            owned.add(f"nodes.{key}.name")
            name = node.name
        else:
            name = matched.name if matched is not None else key
        if node.position is not None:
            owned.add(f"nodes.{key}.position")
            position = {"x": node.position.x, "y": node.position.y, "z": 0}
        elif matched is not None and isinstance(matched.metadata.get("position"), dict):
            position = matched.metadata["position"]
        else:
            if not layout:
                layout = layered_positions(list(body.nodes), [(e.src, e.tgt) for e in graph])
            x, y = layout[key]
            position = {"x": x, "y": y, "z": 0}
        meta = {"position": position, **meta}

        inputs_spec, outputs_spec = node_ports(node)
        inputs = _ports(key, node_id, "inputs", inputs_spec, node.inputs is not None, matched, owned)
        outputs = _ports(key, node_id, "outputs", outputs_spec, node.outputs is not None, matched, owned)
        ports_by_key[key] = ({p.name: p.portId for p in inputs}, {p.name: p.portId for p in outputs})

        doc: dict[str, Any] = {
            "id": node_id, "name": name, "type": parts.type,
            "namespace": deep_merge(parts.namespace, node.namespace or {}),
            "metadata": deep_merge(meta, node.metadata or {}),
            "inputs": inputs, "outputs": outputs, **parts.extra,
        }
        merged_config = deep_merge(parts.config, node.config or {})
        if merged_config:
            doc["config"] = merged_config
        if node.description is not None:
            doc["description"] = node.description
        # The node's project is the pipeline's: kept from live, or stamped like the SDK does.
        doc["projectId"] = matched.projectId if matched is not None and matched.projectId else project_id
        if matched is not None and matched.app is not None:
            doc["app"] = matched.app
        doc = deep_merge(doc, node.raw or {})
        doc["namespace"] = Namespace.model_validate(doc["namespace"] or {})
        nodes.append(Node.model_validate(doc))

    connections = [
        Connection(
            src=PortRef(nodeId=keys[e.src], portId=ports_by_key[e.src][1][e.src_port]),
            tgt=PortRef(nodeId=keys[e.tgt], portId=ports_by_key[e.tgt][0][e.tgt_port]),
            condition=compact_json(e.filter) if e.filter else "{}",
            action=e.action,
        )
        for e in graph
    ]

    live_start_ids = {(s.nodeId, s.type): s.id for s in (live.startNodes if live else []) if s.id}
    start_nodes = [StartNode(id=live_start_ids.get((keys[root], "root")), nodeId=keys[root], type="root",
                             trigger=_trigger(body.nodes[root].trigger) if body.nodes[root].trigger else None)]
    for key, node in body.nodes.items():
        if key != root and node.trigger is not None:
            start_nodes.append(StartNode(id=live_start_ids.get((keys[key], "trigger")), nodeId=keys[key],
                                         type="trigger", trigger=_trigger(node.trigger)))

    live_vars = {v.name: v for v in (live.variables if live else [])}
    # The spec's value of a variable a node sets at run time is its first value only: an update
    # keeps the running pipeline's (normalize compares it with no plan).
    runtime = runtime_variables(nodes)
    variables = []
    for var in body.variables:
        base: dict[str, Any] = {}
        if var.name in live_vars:
            # Keep the server's identity fields so an update edits the variable in place.
            base = live_vars[var.name].model_dump(include={"id", "reference", "creator", "createdAt", "updatedAt"},
                                                  exclude_none=True)
        if var.id is not None:
            base["id"] = var.id
        value = live_vars[var.name].value if var.name in runtime and var.name in live_vars else var.value
        variables.append(Variable(name=var.name, type=var.type, value=value,
                                  description=var.description, **base))

    settings = dict(live.settings or {}) if live else {}
    if body.settings is not None:
        settings.update(body.settings.model_dump(exclude_none=True))

    if ctx.errors:
        raise SpecErrors(ctx.errors)

    desired = Pipeline(
        name=spec.metadata.name, projectId=project_id, id=live.id if live else None,
        description=spec.metadata.description or "", nodes=nodes, connections=connections,
        startNodes=start_nodes, variables=variables, settings=settings or None,
    )
    by_id = {v: k for k, v in keys.items()}
    # Digests cover what the spec owns, cosmetics it sets included (so moving a node the spec
    # places counts as drift); diff computes the live side with the same `owned`.
    owned_ess = essence(desired, keys=by_id, owned=frozenset(owned))
    token = body.resetToken if body.resetToken is not None else (live_marker.resetToken if live_marker else None)
    sections = section_digests(owned_ess)
    # The digests' terms (keys above, `owned`) are recorded with them: drift is decided in the
    # terms of the apply that wrote them, so a later spec edit never reads as drift.
    marker = Marker(nodes=keys, resetToken=token, specDigest=essence_digest(owned_ess, sections), sections=sections,
                    owned=sorted(owned), status=body.status, specSet=spec_set, specPath=spec_path,
                    pipelineId=live.id if live else None, secrets=secret_templates(owned_ess, secrets or {}),
                    modules=dict(modules) if modules else None)
    desired = with_marker(desired, marker, live=live)
    return CompiledPipeline(desired=desired, provisions=list(ctx.provisions.values()), owned=frozenset(owned),
                            keys=keys, status=body.status, reset_token=body.resetToken, essence=owned_ess,
                            names=ctx.names)
