"""Live pipeline -> spec YAML (plus code files): how a pipeline built in the UI is adopted.

`export_pipeline(live, project=...)` writes the typed spec fields it can read back from the
document (dataset folder, task type, custom app, ml function, triggers, connections...), node keys
made unique from display names (or the marker's keys for a managed pipeline), and each node's live
`id` so that the adopted pipeline keeps its ids. Everything the typed fields do not reproduce is
written under the node's raw `namespace` / `metadata` / `config` / `raw` (a `null` there removes a
key compile would generate), computed by compiling the typed spec and comparing essences.

Round-trip law (tested on the 16 fixtures): compile(export(x)) equals x after normalization, so
`plan` right after adopting shows no changes. `ExportedSpec.residue` lists anything that could
not be expressed (empty for every document the tests know).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from secrets import token_hex
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from reconciler.backend import Resolved, ResourceKind, Resolver
from reconciler.compile import compile_spec
from reconciler.diff import essence_changes, is_running
from reconciler.document import MARKER_VARIABLE, Node, Pipeline, parse_json_text
from reconciler.errors import ClientError, Location, SpecErrors
from reconciler.interpolate import escape_references
from reconciler.marker import read_marker
from reconciler.nodes import for_platform, node_ports, spec_type_of
from reconciler.nodes.base import ExportContext
from reconciler.normalize import drop_nulls, essence, node_keys, slug
from reconciler.secret_paths import recorded_secrets
from reconciler.spec.graph import find_root
from reconciler.spec.models import TRIGGER_RESOURCES, PipelineSpec

SCHEMA_COMMENT = "# yaml-language-server: $schema="  # + where the schema is, relative to the spec file
# Essence fields a typed spec node or compile already owns; everything else goes to `raw`.
_NODE_OWN = frozenset({"id", "name", "type", "namespace", "metadata", "config", "inputs", "outputs",
                       "position", "description"})


class ExportedSpec(BaseModel):
    """One exported pipeline: the spec text, code files by path relative to it, and residue."""

    model_config = ConfigDict(frozen=True)

    name: str
    filename: str
    text: str
    files: dict[str, str] = Field(default_factory=dict)
    residue: list[str] = Field(default_factory=list)  # differences export could not express


class _Names:
    """The names export writes for ids, and (as compile's resolver) the same ids back.

    With a live `resolver`, an id becomes a name only when the reverse lookup gives one and the
    forward lookup of that name (in the project, for a recipe within its dataset) gives the same
    id again: otherwise a plan of the exported spec would resolve the name to something else (a
    dataset of another project, a duplicate name, a sandbox provision). Ids that do not qualify
    stay in the node's raw metadata, exactly as live has them.
    """

    def __init__(self, resolver: Resolver | None) -> None:
        self._resolver = resolver
        self._ids: dict[tuple[ResourceKind, str, str | None], str] = {}

    def name(self, kind: ResourceKind, ident: Any, *, scope: str | None = None) -> str | None:
        if self._resolver is None or not isinstance(ident, str) or not ident:
            return None
        name = self._resolver.name_of(kind, ident)
        if not name:
            return None
        try:
            back = self._resolver.resolve(kind, name, scope=scope)
        except ClientError:  # unknown, or more than one object with that name
            return None
        if back.id != ident or back.provision:
            return None
        self._ids[(kind, name, scope)] = ident
        return name

    def resolve(self, kind: ResourceKind, name: str, *, scope: str | None = None) -> Resolved:
        # Names export did not write (owners, assignees) resolve to themselves: compile only has
        # to succeed for them, their values are carried as they are.
        return Resolved(kind=kind, name=name, id=self._ids.get((kind, name, scope), name))

    def is_user(self, email: str) -> bool:
        """Whether a plan of the exported spec will accept `email` as a typed user."""
        if self._resolver is None:
            return False
        try:
            self._resolver.resolve(ResourceKind.USER, email)
        except ClientError:
            return False
        return True

    def name_of(self, kind: ResourceKind, ident: str) -> str | None:
        return next((n for (k, n, _), i in self._ids.items() if k is kind and i == ident), None)


class _Source:
    def __init__(self, spec: PipelineSpec, code: dict[str, str]) -> None:
        self.spec = spec
        self.code = code

    def locate(self, pointer: str) -> Location:
        return Location("<export>", pointer=pointer)


def minimal_override(generated: Any, live: Any) -> Any:
    """The smallest raw override that turns `generated` into `live` under compile's deep merge
    (None: nothing to override). Keys compile generates that live lacks become null."""
    if isinstance(generated, dict) and isinstance(live, dict):
        out: dict[str, Any] = {}
        for k, v in live.items():
            if k not in generated:
                out[k] = v
            elif generated[k] != v:
                sub = minimal_override(generated[k], v)
                out[k] = sub if isinstance(v, dict) and isinstance(generated[k], dict) else v
        for k in generated:
            if k not in live:
                out[k] = None
        return out or None
    return None if generated == live else live


def _port_spec(port: dict[str, Any]) -> dict[str, Any]:
    out = {"name": port.get("name", "item"), "type": port.get("type", "Item")}
    for attr in ("actions", "actionIcon", "defaultValue", "variableName", "portPercentage", "description"):
        if port.get(attr) is not None:
            out[attr] = port[attr]
    return out


def _trigger_spec(trigger: dict[str, Any]) -> dict[str, Any] | None:
    spec = trigger.get("spec") or {}
    out: dict[str, Any] = {}
    if trigger.get("name"):
        out["name"] = trigger["name"]
    if trigger.get("type") == "Cron":
        if not isinstance(spec.get("cron"), str):
            return None
        out["cron"] = spec["cron"]
        return out
    event: dict[str, Any] = {}
    if spec.get("resource", "Item") != "Item":
        event["resource"] = spec["resource"]
    if spec.get("actions") and spec["actions"] != ["Created"]:
        event["actions"] = list(spec["actions"])
    flt = parse_json_text(spec.get("filter"))
    if isinstance(flt, dict) and flt:
        event["filter"] = flt
    if spec.get("executionMode", "Once") != "Once":
        event["executionMode"] = spec["executionMode"]
    if spec.get("resource", "Item") not in TRIGGER_RESOURCES:
        return None
    out["event"] = event
    return out


def _typed_node(key: str, node: Node, ctx: ExportContext) -> dict[str, Any]:
    """The typed spec fields read from a live node (no raw overrides yet); ids become names where
    `ctx.names` can tell them."""
    kind = for_platform(node.type)
    out: dict[str, Any] = {"type": spec_type_of(node.type), "id": node.id}
    if node.name != key:
        out["name"] = node.name
    if node.description:
        out["description"] = node.description
    out.update(kind.from_platform(key, node, ctx))
    return out


def _endpoint(key: str, port_name: str, ports: list[Any]) -> str:
    return key if len(ports) == 1 else f"{key}.{port_name}"


def _build(live: Pipeline, keys: dict[str, str], nodes: dict[str, dict[str, Any]], project: str | None) -> dict[str, Any]:
    ports = {n.id: {p.portId: p.name for p in (*n.inputs, *n.outputs)} for n in live.nodes}
    by_id = {n.id: n for n in live.nodes}
    grouped: dict[tuple[str, str | None, str], dict[str, Any]] = {}
    for conn in live.connections:
        src, tgt = by_id.get(conn.src.nodeId), by_id.get(conn.tgt.nodeId)
        if src is None or tgt is None:
            continue
        src_port = ports[src.id].get(conn.src.portId)
        tgt_port = ports[tgt.id].get(conn.tgt.portId)
        if src_port is None or tgt_port is None:
            continue
        flt = conn.condition_filter()
        frm = _endpoint(keys[src.id], src_port, src.outputs)
        ident = (frm, conn.action, json.dumps(flt, sort_keys=True))
        entry = grouped.setdefault(ident, {"from": frm, "to": []})
        if conn.action:
            entry["action"] = conn.action
        if isinstance(flt, dict) and flt:
            entry["filter"] = flt
        entry["to"].append(_endpoint(keys[tgt.id], tgt_port, tgt.inputs))
    connections = []
    for entry in grouped.values():
        to = entry.pop("to")
        connections.append({"from": entry.pop("from"), **entry, "to": to[0] if len(to) == 1 else to})

    body: dict[str, Any] = {}
    if not is_running(live.status) and live.status is not None:
        body["status"] = "paused"
    marker = read_marker(live)
    if marker is not None and marker.resetToken is not None:
        body["resetToken"] = marker.resetToken
    settings = {k: v for k, v in (live.settings or {}).items()
                if (k == "defaultResumeOption" and v in ("resumeExistingCycles", "terminateExistingCycles"))
                or (k == "keepTriggersActive" and isinstance(v, bool))}
    if settings:
        body["settings"] = settings
    variables = []
    for var in live.variables:
        if var.name == MARKER_VARIABLE:
            continue
        entry = {"name": var.name, "type": var.type}
        if var.value is not None:
            entry["value"] = var.value
        if var.description:
            entry["description"] = var.description
        variables.append(entry)
    if variables:
        body["variables"] = variables
    root = live.root()
    if root is not None and root.nodeId in keys:
        body["root"] = keys[root.nodeId]
    body["nodes"] = nodes
    if connections:
        body["connections"] = connections
    metadata: dict[str, Any] = {"name": live.name}
    if project:
        metadata["project"] = project
    if live.description:
        metadata["description"] = live.description
    return {"apiVersion": "loopform/v1", "kind": "Pipeline", "metadata": metadata, "spec": body}


def _node_overrides(key: str, generated: dict[str, Any], live: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in ("namespace", "metadata", "config"):
        ov = minimal_override(generated.get(field, {}), live.get(field, {}))
        if ov:
            out[field] = ov
    raw_gen = {k: v for k, v in generated.items() if k not in _NODE_OWN}
    raw_live = {k: v for k, v in live.items() if k not in _NODE_OWN}
    ov = minimal_override(raw_gen, raw_live)
    if ov:
        out["raw"] = ov
    for io in ("inputs", "outputs"):
        if generated.get(io) != live.get(io):
            out[io] = "explicit"
    return out


def _dump(data: dict[str, Any], references: Mapping[str, str]) -> str:
    """The spec's YAML, each of `references`' values (secrets) written as its reference.

    The values are swapped for placeholders of letters and digits before dumping and the
    references put in their place after: YAML folds long strings at spaces and escapes or doubles
    quotes, so a secret in the dumped text need not be spelled as it is, and searching the text
    for it could miss it."""
    class _Dumper(yaml.SafeDumper):
        pass

    def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    _Dumper.add_representer(str, _str)
    placeholders = {value: f"loopformsecret{token_hex(8)}" for value in references}
    text = yaml.dump(_placed(escape_references(data), placeholders), Dumper=_Dumper, sort_keys=False,
                     allow_unicode=True, width=110, default_flow_style=False)
    for value, placeholder in placeholders.items():
        text = text.replace(placeholder, references[value])
    return text


def _placed(value: Any, placeholders: Mapping[str, str]) -> Any:
    """`value` with each secret (a key of `placeholders`) as its placeholder, longest first."""
    if isinstance(value, str):
        for secret in sorted(placeholders, key=len, reverse=True):
            value = value.replace(secret, placeholders[secret])
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool) and str(value) in placeholders:
        return placeholders[str(value)]
    if isinstance(value, dict):
        return {k: _placed(v, placeholders) for k, v in value.items()}
    if isinstance(value, list):
        return [_placed(v, placeholders) for v in value]
    return value


def _referenced(text: str, references: Mapping[str, str]) -> str:
    for secret in sorted(references, key=len, reverse=True):
        text = text.replace(secret, references[secret])
    return text


def _bears_secret(name: str, references: Mapping[str, str]) -> bool:
    """Whether a file or key name made from `name` (`slug`) would spell part of a secret."""
    return any(secret in name or (slug(secret) and slug(secret) in slug(name)) for secret in references)




class ExportedData(BaseModel):
    """An exported pipeline before it is written: the spec as data, code files by path, residue,
    and the node key of each live node id."""

    model_config = ConfigDict(frozen=True)

    data: dict[str, Any]
    files: dict[str, str]
    residue: list[str]
    keys: dict[str, str]
    stem: str


def export_data(live: Pipeline, *, references: Mapping[str, str], project: str | None = None,
                project_id: str | None = None, code_dir: str | None = "snippets",
                resolver: Resolver | None = None) -> ExportedData:
    """The spec of `live` as data (see `export_pipeline`, which writes it; pipeline templates used as
    modules read it, reconciler.spec.templates); `references` as there (secret -> its reference)."""
    names = _Names(resolver)
    stem = slug(live.name) or "pipeline"
    if _bears_secret(live.name, references):
        stem = f"pipeline-{(live.id or '')[-8:]}"
    marker = read_marker(live)
    known = marker.node_key_by_id() if marker else {}
    keys = node_keys(live, known)
    for index, (node_id, key) in enumerate(sorted(keys.items(), key=lambda kv: kv[1])):
        if _bears_secret(key, references):
            keys[node_id] = f"node-{index + 1}"
    code_files: dict[str, str] = {}
    nodes: dict[str, dict[str, Any]] = {}
    for node in live.nodes:
        key = keys[node.id]
        path = f"{code_dir}/{stem}-{key}.py" if code_dir else None
        nodes[key] = _typed_node(key, node, ExportContext(names=names, code_path=path, code_files=code_files))
    starts: dict[str, dict[str, Any]] = {}
    for start in live.startNodes:
        if start.trigger is not None and start.nodeId in keys and keys[start.nodeId] not in starts:
            trig = _trigger_spec(start.trigger.model_dump(mode="json", exclude_none=True))
            if trig is not None:
                starts[keys[start.nodeId]] = trig
    for key, trig in starts.items():
        nodes[key]["trigger"] = trig
    for node in live.nodes:
        # Ports start explicit (connections may name any of them); the defaults replace them below
        # where they are the same ports.
        nodes[keys[node.id]]["inputs"] = [_port_spec(p.model_dump(exclude_none=True)) for p in node.inputs]
        nodes[keys[node.id]]["outputs"] = [_port_spec(p.model_dump(exclude_none=True)) for p in node.outputs]

    data = _build(live, keys, nodes, project)
    by_id = keys
    pid = project_id or live.projectId or "export"
    code = {k: code_files.get(v["source"], "") if "source" in v else v.get("code", "")
            for k, v in nodes.items() if "source" in v or "code" in v}

    def compiled_essences(d: dict[str, Any]) -> tuple[Any, Any]:
        """(live essence, compiled essence), compared on the cosmetics the spec owns."""
        spec = PipelineSpec.model_validate(d)
        c = compile_spec(_Source(spec, code), project_id=pid, resolver=names, live=live, project_name=project)
        return essence(live, keys=by_id, owned=c.owned), essence(c.desired, keys=by_id, owned=c.owned)

    try:
        validated = PipelineSpec.model_validate(data)
        for key, typed in validated.spec.nodes.items():
            defaults = node_ports(typed.model_copy(update={"inputs": None, "outputs": None}))
            for io, ports in zip(("inputs", "outputs"), defaults):
                if [_port_spec(p.model_dump(exclude_none=True)) for p in ports] == nodes[key][io]:
                    del nodes[key][io]
        live_ess, gen_ess = compiled_essences(data)
    except (ValidationError, SpecErrors) as exc:
        raise ValueError(f"export of {live.name!r} produced an invalid spec: {exc}") from exc
    for node in live.nodes:
        key = keys[node.id]
        overrides = _node_overrides(key, gen_ess.nodes.get(key, {}), live_ess.nodes.get(key, {}))
        overrides.pop("inputs", None)
        overrides.pop("outputs", None)
        nodes[key].update(overrides)
    if find_root(PipelineSpec.model_validate(data))[0] == data["spec"].get("root") and "root" in data["spec"]:
        # Written only when the spec could not infer it.
        inferred_without = dict(data["spec"])
        inferred_without.pop("root")
        probe = {**data, "spec": inferred_without}
        if find_root(PipelineSpec.model_validate(probe))[0] == data["spec"]["root"]:
            data["spec"] = inferred_without
    try:
        live_ess, final_ess = compiled_essences(data)
    except (ValidationError, SpecErrors) as exc:
        raise ValueError(f"export of {live.name!r} produced an invalid spec: {exc}") from exc
    residue: list[str] = []
    for item in essence_changes(live_ess, final_ess):
        residue.append(f"{item.path}: {json.dumps(drop_nulls(item.before), default=str)[:80]} -> "
                       f"{json.dumps(drop_nulls(item.after), default=str)[:80]}")
    return ExportedData(data=data, files=code_files, residue=residue, keys=keys, stem=stem)



def export_pipeline(live: Pipeline, *, project: str | None = None, project_id: str | None = None,
                    code_dir: str | None = "snippets", resolver: Resolver | None = None,
                    secrets: Mapping[str, str] | None = None, schema: str | None = None) -> ExportedSpec:
    """The spec (and code files under `code_dir`, or inline code when None) for `live`.

    With `resolver` (the live project's), datasets, recipes and models are written by name
    (`dataset: frames`, `task.recipe: default`, `model: yolo`) where a name reads back to the same
    id; without one, or where it does not, ids stay in the node's raw `metadata`. Calls only the
    resolver's lookups; otherwise pure.

    A secret is never written: each value of `secrets` (value -> the reference to write, e.g. the
    selected environment's secret variables as `${var.NAME}`) and each value the marker records as
    a secret (`secret_paths`: a `${env.*}` value, a rotated secret's old value) is written as its
    reference, and no file name or node key is made from a name that holds one.

    `schema` is the published schema's path relative to where the spec will be written, for the
    editor's `$schema` line (as the repository's own specs have it); None writes no such line."""
    references = {h.value: h.reference for h in recorded_secrets(live)}
    references.update(secrets or {})
    exported = export_data(live, references=references, project=project, project_id=project_id,
                           code_dir=code_dir, resolver=resolver)
    data, code_files, residue, stem = exported.data, exported.files, exported.residue, exported.stem
    source = _referenced(f"{project + '/' if project else ''}{live.name}", references).replace("\n", " ")
    header = f"{SCHEMA_COMMENT}{schema}\n" if schema else ""
    header += f"# Exported by loopform from {source}\n"
    return ExportedSpec(name=live.name, filename=f"{stem}.yaml", text=header + _dump(data, references),
                        files={path: _referenced(text, references) for path, text in code_files.items()},
                        residue=residue)
