"""Dataloop pipeline templates as module sources: a DPK manifest (`dataloop.json`) lists them under
`components.pipelineTemplates[]`, as platform pipeline documents. A use names the manifest as its
`source` (and the template with `template:` when the manifest has several)::

    rag:
      type: module
      source: vendor/rag-dpk/dataloop.json
      template: RAG Preprocessing Template
      with: {chunks-dataset: 6571f0c1a3c2a0d1e5f1b2c3}

The template becomes a module (pure, `template_module`): its nodes and connections are what
`export` writes for the same document (reconciler.export.export_data, without live ids, so ids
derive from the instance key as for any module), and

- inputs: the template's `variables[]`, typed from their platform type, each with the variable's
  value as its default unless it has none or holds a DPK install placeholder (`$var(...)`), which
  only the platform's app installer fills: then the input is required. The values become the
  pipeline's variables of those names (the template's nodes refer to them by name, as they do on
  the platform when the template is installed). A dataset node the template leaves for the installer
  (no dataset) reads its dataset from a variable of its own, a required input named after the node;
- ports: `in` is the input of the template's start node (its first input when it has several);
  each node no connection leaves exposes its output as a port named after the node key
  (`<key>-<port>` for each output of a node with several).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from reconciler.interpolate import escape_references
from reconciler.spec.module_models import MODULE_KIND, has_type
from reconciler.spec.values import pointer_escape

TEMPLATES = "pipelineTemplates"
_PLACEHOLDER = re.compile(r"^\$var\(.*\)$")  # a DPK installer's placeholder: no value yet
# Platform variable type -> module input type (resources such as Dataset or Model are ids: strings)
_INPUT_TYPE = {"String": "string", "Integer": "integer", "Float": "number", "Boolean": "boolean", "Json": "map"}


@dataclass(frozen=True)
class TemplateModule:
    """A template as a module document (`data`, of kind Module), where each of its pointers was
    written in the manifest (`origins`: module pointer -> manifest pointer), and the platform
    variables its inputs stand for (name -> type and description)."""

    data: dict[str, Any]
    origins: dict[str, str]
    variables: dict[str, dict[str, Any]]


def is_manifest(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get("components"), dict) and TEMPLATES in data["components"]


def template_names(manifest: dict[str, Any]) -> list[str | None]:
    """The name of each entry of the manifest's templates (None for an entry without one)."""
    found = manifest["components"][TEMPLATES]
    if not isinstance(found, list):
        return []
    return [t["name"] if isinstance(t, dict) and isinstance(t.get("name"), str) else None for t in found]


class TemplateError(ValueError):
    """A template that cannot be a module: the message, and the manifest pointer it is about."""

    def __init__(self, message: str, pointer: str = "") -> None:
        super().__init__(message)
        self.message, self.pointer = message, pointer


def _select(manifest: dict[str, Any], wanted: str | None) -> int:
    names = template_names(manifest)
    listed = ", ".join(repr(n) for n in names if n is not None) or "none"
    if wanted is None:
        if len(names) == 1:
            return 0
        if not names:
            raise TemplateError("the manifest has no pipeline templates", f"/components/{TEMPLATES}")
        raise TemplateError(f"the manifest has {len(names)} pipeline templates ({listed}): choose one with "
                            "`template:`", f"/components/{TEMPLATES}")
    if wanted not in names:
        raise TemplateError(f"the manifest has no pipeline template {wanted!r} (its templates: {listed})",
                            f"/components/{TEMPLATES}")
    return names.index(wanted)


def _input(variable: dict[str, Any]) -> dict[str, Any]:
    kind = str(variable.get("type") or "String")
    value = variable.get("value")
    out: dict[str, Any] = {"type": "list" if kind.endswith("[]") else _INPUT_TYPE.get(kind, "string")}
    if isinstance(value, list) and kind == "Json":
        out["type"] = "list"
    if value is not None and not (isinstance(value, str) and _PLACEHOLDER.match(value)) and has_type(value, out["type"]):
        out["default"] = value
    if variable.get("description"):
        out["description"] = variable["description"]
    return out


def template_module(manifest: dict[str, Any], wanted: str | None) -> TemplateModule:
    """The template `wanted` (the only one when None) of `manifest` as a module (pure); raises
    TemplateError when there is no such template or it is not a pipeline export can read."""
    # Imported here: export compiles specs, and the spec package (loading modules) is below it.
    from pydantic import ValidationError

    from reconciler.document import Pipeline
    from reconciler.export import export_data

    index = _select(manifest, wanted)
    base = f"/components/{TEMPLATES}/{index}"
    raw = manifest["components"][TEMPLATES][index]
    if not isinstance(raw, dict):
        raise TemplateError("the pipeline template is not a JSON object", base)
    try:
        live = Pipeline.model_validate({**raw, "status": "Uninstalled"})
    except ValidationError as exc:
        where = "/".join(str(part) for part in exc.errors()[0]["loc"])
        raise TemplateError(f"template {raw.get('name')!r} is not a pipeline document Loopform can read (see "
                            f"its '{where}')", f"{base}/{where}") from exc
    try:
        exported = export_data(live, references={}, code_dir=None)
    except ValueError as exc:  # what export could read does not make a valid spec
        raise TemplateError(f"template {raw.get('name')!r} cannot be read as spec nodes: {exc}", base) from exc
    if exported.residue:
        raise TemplateError(f"template {raw.get('name')!r} has parts a spec cannot express: "
                            f"{'; '.join(exported.residue)}", base)
    spec = exported.data["spec"]
    origins = {"": base, "/metadata": base, "/spec": base}
    index_of = {node.id: i for i, node in enumerate(live.nodes)}
    nodes: dict[str, Any] = {}
    for node_id, key in exported.keys.items():
        node = dict(spec["nodes"][key])
        node.pop("id", None)  # ids derive from the instance key, so two instances never collide
        nodes[key] = node
        origins[f"/spec/nodes/{pointer_escape(key)}"] = f"{base}/nodes/{index_of[node_id]}"
    connections = spec.get("connections", [])
    for i in range(len(connections)):
        origins[f"/spec/connections/{i}"] = f"{base}/connections"
    variables: dict[str, dict[str, Any]] = {}
    inputs: dict[str, Any] = {}
    for i, variable in enumerate(raw.get("variables") or []):
        if not isinstance(variable, dict) or not isinstance(variable.get("name"), str):
            continue
        name = variable["name"]
        inputs[name] = _input(variable)
        variables[name] = {"type": variable.get("type") or "String", "description": variable.get("description")}
        origins[f"/spec/inputs/{pointer_escape(name)}"] = f"{base}/variables/{i}"
    _unfilled(live, exported.keys, nodes, inputs, variables, origins, base, index_of)
    data = {"apiVersion": "loopform/v1", "kind": MODULE_KIND,
            "metadata": {"name": str(raw.get("name") or "template")},
            "spec": {"inputs": inputs, "nodes": escape_references(nodes),
                     "connections": escape_references(connections), "ports": _ports(live, exported.keys)}}
    return TemplateModule(data=data, origins=origins, variables=variables)


def _unfilled(live: Any, keys: dict[str, str], nodes: dict[str, Any], inputs: dict[str, Any],
              variables: dict[str, dict[str, Any]], origins: dict[str, str], base: str,
              index_of: dict[str, int]) -> None:
    """Bind the nodes the template leaves for the platform's installer to fill (a dataset node
    without a dataset: the platform would refuse to install it) to a variable of their own, a
    required input named after the node key, where the node's type reads its resource from a
    variable (`NodeType.variable_field`)."""
    from reconciler.nodes import for_platform

    for node in live.nodes:
        kind = for_platform(node.type)
        key = keys[node.id]
        if kind.variable_field is None or kind.install_refusal(node, targeted=False) is None:
            continue
        field, wanted = kind.variable_field
        if field in nodes[key]:
            continue
        name, n = key, 1
        while name in inputs:
            n += 1
            name = f"{key}-{wanted.lower()}" + (f"-{n}" if n > 2 else "")
        nodes[key] = {**nodes[key], field: name}
        about = f"{wanted} of node '{node.name or key}' (the template leaves it to the installer)"
        inputs[name] = {"type": "string", "description": about}
        variables[name] = {"type": wanted, "description": about}
        origins[f"/spec/inputs/{pointer_escape(name)}"] = f"{base}/nodes/{index_of[node.id]}"


def _ports(live: Any, keys: dict[str, str]) -> dict[str, Any]:
    ports: dict[str, Any] = {}
    root = live.root()
    by_id = {n.id: n for n in live.nodes}
    start = by_id.get(root.nodeId) if root is not None else None
    if start is None:  # no start node recorded: the only node nothing leads to, as a spec's root
        targeted = {c.tgt.nodeId for c in live.connections}
        entries = [n for n in live.nodes if n.id not in targeted]
        start = entries[0] if len(entries) == 1 else None
    if start is not None and start.inputs:
        key = keys[start.id]
        ports["in"] = {"to": key if len(start.inputs) == 1 else f"{key}.{start.inputs[0].name}",
                       "description": "Items entering the template"}
    leaving = {c.src.nodeId for c in live.connections}
    for node in live.nodes:
        if node.id in leaving or not node.outputs:
            continue
        key = keys[node.id]
        for port in node.outputs:
            name = key if len(node.outputs) == 1 else f"{key}-{port.name}"
            if name in ports or "." in name or "/" in name:
                continue  # a clash with another port: not exposed rather than exposed wrongly
            ports[name] = {"from": key if len(node.outputs) == 1 else f"{key}.{port.name}",
                           "description": f"Items leaving {node.name or key}"}
    return ports
