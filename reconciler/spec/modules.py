"""Modules: a sub-graph written once (a file of kind `Module`) and used as a node of pipelines.

A pipeline (or a module) uses a module as a node::

    stage:
      type: module
      source: modules/label-review.yaml     # relative to the file that uses it
      with: {dataset: frames, recipe: boxes}

A spec may also write such keys itself (export writes a pipeline built from modules that way, expanded);
one that is also the key of an instance's node is an error.

Expansion happens here, in the loading layer, on the parsed data before validation: each use is
replaced by the module's nodes under keys `<instance>/<module node key>` (stable ids, since a node
id derives from its key, and no two instances collide), the module's connections come along, and
connections that reach an instance's exposed ports (`stage.in`, `from: stage.approved`) are
rewired to the nodes behind those ports. compile, diff and plan therefore see plain nodes.

Values of a module are written `${input.NAME}`; a value that is one whole reference takes the
input's typed value, as `${var.NAME}` does. Each expanded node and connection keeps where it came
from (`Graft`), so a problem found later (a schema error, a graph check) is reported at its line in
the module file and names the use site.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from reconciler.errors import Location, SpecError
from reconciler.interpolate import Context, ExpansionTooLarge, ValueBudget, interpolate, substitute
from reconciler.spec.module_models import (
    MODULE_KIND,
    MODULE_TYPE,
    ModulePort,
    ModuleSpec,
    ModuleUse,
    _an,
    has_type,
    is_module_document,
)
from reconciler.spec.messages import translate
from reconciler.spec.source import SourceDocument, read_source
from reconciler.spec.templates import TemplateError, is_manifest, template_module
from reconciler.spec.values import describe, pointer_escape


@dataclass(frozen=True)
class Graft:
    """Where an expanded node or connection was written: `pointer` in `doc`, reached through `via`."""

    doc: SourceDocument
    pointer: str
    via: Via


@dataclass(frozen=True)
class UseSite:
    """A module use as messages name it ("module instance 'stage' at file:line:col", then the use
    that brought that file in). Written out only when a message needs it: locating reads a file's
    line marks, which loading a file without problems never needs (see reconciler.spec.source)."""

    doc: SourceDocument
    pointer: str
    key: str
    outer: Via

    def __str__(self) -> str:
        site = f"module instance '{self.key}' at {self.doc.locate(self.pointer)}"
        return f"{site}, {self.outer}" if self.outer else site


# How an expanded part was reached: "" for the spec's own, else the use of the module it came from.
Via = UseSite | str


@dataclass
class Expansion:
    """What expanding a document's module uses changed: where its new parts come from, and the
    module files read (their sha256 by path relative to the spec's directory, for the spec digest
    and the marker)."""

    grafts: dict[str, Graft] = field(default_factory=dict)
    modules: dict[str, str] = field(default_factory=dict)
    # expanded connection pointer -> how its ends were written (`'stage.in' is 'stage/label'`), for
    # the graph checks' messages, which see only the expanded ends
    through: dict[str, str] = field(default_factory=dict)
    errors: list[SpecError] = field(default_factory=list)


@dataclass(frozen=True)
class _Port:
    endpoint: str
    action: str | None
    output: bool
    broken: bool = False  # leads nowhere (reported at the module): connections through it are left out


@dataclass
class _Body:
    """A graph at one level, expanded: nodes and connections with their origins."""

    nodes: dict[str, Any]
    connections: list[Any]
    node_origin: dict[str, Graft]
    connection_origin: list[Graft]
    ports: dict[str, dict[str, _Port]] = field(default_factory=dict)  # of the instances in it
    broken: set[str] = field(default_factory=set)  # instances that failed (reported)
    # pipeline variables the pipeline template instances in it bring (reconciler.spec.templates)
    variables: list[tuple[dict[str, Any], Graft]] = field(default_factory=list)


class ModuleFiles:
    """The module files of one load, each read and checked once however many pipelines use it.
    Safe to share: expansion builds new containers from a module's data, never changes it."""

    def __init__(self) -> None:
        self._read: dict[str, tuple[SourceDocument, bytes | None, ModuleSpec | list[SpecError] | None]] = {}
        self._roots: dict[Path, str] = {}
        self._real: dict[Path, str] = {}
        self._digests: dict[str, str] = {}

    def real_root(self, root: Path) -> str:
        """The real path of a project root (modules must be inside it), resolved once per root."""
        found = self._roots.get(root)
        if found is None:
            found = self._roots[root] = os.path.realpath(root)
        return found

    def real_path(self, target: Path) -> str:
        """Where `target` leads, links followed (the file's identity), resolved once per path."""
        found = self._real.get(target)
        if found is None:
            found = self._real[target] = os.path.realpath(target)
        return found

    def digest(self, identity: str, raw: bytes) -> str:
        """The sha256 of a module file read by `read`, hashed once however many uses it has."""
        found = self._digests.get(identity)
        if found is None:
            found = self._digests[identity] = hashlib.sha256(raw).hexdigest()
        return found

    def read(self, identity: str, target: Path, shown: str) -> tuple[SourceDocument, bytes | None,
                                                                     ModuleSpec | list[SpecError] | None]:
        """The file at `target` (`identity`: its real path), its bytes, and its module model or the
        problems of its shape (None when it is no module document)."""
        found = self._read.get(identity)
        if found is None:
            doc, raw = read_source(target, shown=shown)
            model = None if doc.fatal or raw is None else _module_model(doc)
            found = self._read[identity] = (doc, raw, model)
        return found


def _module_model(doc: SourceDocument) -> ModuleSpec | list[SpecError] | None:
    """The module `doc` holds, the problems of its shape, or None when it is no module document."""
    if not is_module_document(doc.data):
        return None
    try:
        return ModuleSpec.model_validate(doc.data)
    except ValidationError as exc:
        return translate(exc, doc)


class _Expander:
    def __init__(self, root: Path, spec_dir: Path, context: Context | None, shown: Callable[[Path], str],
                 files: ModuleFiles, budget: ValueBudget) -> None:
        self.budget = budget
        self.over_budget = False  # reported once, at the use where it ran out
        self.root = root
        self.real_root = files.real_root(root)
        self.files = files
        self.spec_dir = spec_dir
        self.context = context
        self.shown = shown
        self.out = Expansion()

    def error(self, message: str, location: Location, via: Via = "") -> None:
        """Report a problem; `via` names the use that brought its file in (none for the spec itself)."""
        if via:
            message = f"{message} (in the module used by {via})"
        self.out.errors.append(SpecError(message, location))

    def body(self, doc: SourceDocument, data: dict[str, Any], base: str, path: Path, via: Via,
             stack: tuple[str, ...]) -> _Body:
        """Expand the `nodes` and `connections` of `data` (at pointer `base` in `doc`)."""
        nodes: dict[str, Any] = {}
        node_origin: dict[str, Graft] = {}
        connections: list[Any] = []
        connection_origin: list[Graft] = []
        ports: dict[str, dict[str, _Port]] = {}
        broken: set[str] = set()
        variables: list[tuple[dict[str, Any], Graft]] = []
        raw_nodes = data.get("nodes")
        if not isinstance(raw_nodes, dict):
            raw_nodes = {}
        for key, node in raw_nodes.items():
            pointer = f"{base}/nodes/{pointer_escape(str(key))}"
            if isinstance(node, dict) and node.get("type") == MODULE_TYPE:
                inner = self.instance(doc, node, pointer, path, via, stack)
                if inner is None:  # reported; connections to it are left out, not reported again
                    broken.add(key)
                    continue
                body, exposed = inner
                ports[key] = exposed
                for inner_key, inner_node in body.nodes.items():
                    if f"{key}/{inner_key}" in raw_nodes:
                        self.error(f"node key '{key}/{inner_key}' is also the key of a node of module instance "
                                   f"'{key}'; rename one", doc.locate(f"{base}/nodes/{pointer_escape(f'{key}/{inner_key}')}"),
                                   via)
                        continue
                    nodes[f"{key}/{inner_key}"] = inner_node
                    node_origin[f"{key}/{inner_key}"] = body.node_origin[inner_key]
                connections.extend(_prefixed(c, key) for c in body.connections)
                connection_origin.extend(body.connection_origin)
                variables.extend(body.variables)
                continue
            if via and isinstance(node, dict) and isinstance(node.get("source"), str):
                # a code file is named relative to the module; the loader reads it relative to the spec
                node = {**node, "source": os.path.relpath(path.parent / node["source"], self.spec_dir)}
            nodes[key] = node
            node_origin[key] = Graft(doc, pointer, via)
        raw_connections = data.get("connections")
        own: list[Any] = []
        own_origin: list[Graft] = []
        for index, connection in enumerate(raw_connections if isinstance(raw_connections, list) else ()):
            pointer = f"{base}/connections/{index}"
            if _touches(connection, broken):
                continue
            rewired = self.rewire(doc, connection, pointer, ports, via)
            if rewired is not None:
                if not via:  # the spec's own connection: say which written ports its ends stand for
                    through = _through(connection, rewired)
                    if through:
                        self.out.through[f"/spec/connections/{len(own)}"] = through
                own.append(rewired)
                own_origin.append(Graft(doc, pointer, via))
        return _Body(nodes, own + connections, node_origin, own_origin + connection_origin, ports, broken,
                     variables)

    def rewire(self, doc: SourceDocument, connection: Any, pointer: str,
               ports: dict[str, dict[str, _Port]], via: Via) -> Any:
        """`connection` with its ends that name an instance's port replaced by the nodes behind it."""
        if not isinstance(connection, dict) or not ports:
            return connection
        out = dict(connection)
        ok = True
        source = connection.get("from")
        if isinstance(source, str):
            port = self.port(doc, source, f"{pointer}/from", ports, via, output=True)
            if port is False:
                ok = False
            elif port is not None:
                out["from"] = port.endpoint
                if port.action is not None:
                    if connection.get("action") not in (None, port.action):
                        self.error(f"'{source}' passes only items with action '{port.action}'; this "
                                   f"connection asks for '{connection.get('action')}'",
                                   doc.locate(f"{pointer}/action"), via)
                        ok = False
                    out["action"] = port.action
        targets = connection.get("to")
        listed = targets if isinstance(targets, list) else [targets]
        rewired: list[Any] = []
        for index, target in enumerate(listed):
            where = f"{pointer}/to/{index}" if isinstance(targets, list) else f"{pointer}/to"
            if not isinstance(target, str):
                rewired.append(target)
                continue
            port = self.port(doc, target, where, ports, via, output=False)
            if port is False:
                ok = False
            rewired.append(port.endpoint if isinstance(port, _Port) else target)
        out["to"] = rewired if isinstance(targets, list) else rewired[0]
        return out if ok else None

    def port(self, doc: SourceDocument, endpoint: str, pointer: str, ports: dict[str, dict[str, _Port]],
             via: Via, *, output: bool) -> _Port | None | Literal[False]:
        """The port an endpoint names, None when it names no instance, False (reported) when it names
        an instance wrongly."""
        key, dot, name = endpoint.partition(".")
        exposed = ports.get(key)
        if exposed is None:
            return None
        direction = "output" if output else "input"
        fitting = sorted(n for n, p in exposed.items() if p.output == output)
        offered = ", ".join(f"'{key}.{n}'" for n in fitting) or "none"
        if not dot:
            self.error(f"'{key}' is a module instance: name one of its {direction} ports "
                       f"({offered})", doc.locate(pointer), via)
            return False
        port = exposed.get(name)
        if port is None or port.output != output:
            what = (f"has no {direction} port '{name}'" if port is None else
                    f"has '{name}' as an {'input' if output else 'output'} port, not an {direction} port")
            self.error(f"module instance '{key}' {what} (its {direction} ports: {offered})", doc.locate(pointer),
                       via)
            return False
        return False if port.broken else port

    def instance(self, doc: SourceDocument, node: dict[str, Any], pointer: str, path: Path, via: Via,
                 stack: tuple[str, ...]) -> tuple[_Body, dict[str, _Port]] | None:
        key = pointer.rsplit("/", 1)[1].replace("~1", "/").replace("~0", "~")
        try:
            use = ModuleUse.model_validate(node)
        except ValidationError as exc:
            for problem in translate(exc, _Sub(doc, pointer, node)):  # type: ignore[arg-type]
                self.error(problem.message, problem.location, via)
            return None
        target = path.parent / use.source
        here = UseSite(doc, pointer, key, via)
        identity = self.files.real_path(target)
        if not Path(identity).is_relative_to(self.real_root):
            self.error(f"module '{use.source}' is outside the project ({self.root}); keep modules in the "
                       "repository, next to the specs", doc.locate(f"{pointer}/source"), via)
            return None
        if identity in stack:
            chain = " -> ".join(self.shown(Path(p)) for p in (*stack[stack.index(identity):], identity))
            self.error(f"module '{use.source}' uses itself: {chain}", doc.locate(f"{pointer}/source"), via)
            return None
        module_doc, raw, module = self.files.read(identity, target, self.shown(target))
        if module_doc.fatal or raw is None:
            reason = module_doc.errors[0].message if module_doc.errors else "cannot read it"
            self.error(f"module '{use.source}': {reason}", doc.locate(f"{pointer}/source"), via)
            return None
        # keyed as the spec's directory sees it: the same on every clone (the marker records it)
        self.out.modules[Path(os.path.relpath(target, self.spec_dir)).as_posix()] = self.files.digest(identity, raw)
        template_variables: dict[str, dict[str, Any]] | None = None
        if is_manifest(module_doc.data):
            try:
                template = template_module(module_doc.data, use.template)
            except TemplateError as exc:
                where = f"{pointer}/template" if use.template is not None else f"{pointer}/source"
                self.error(f"module '{use.source}': {exc.message} (at {module_doc.locate(exc.pointer)})",
                           doc.locate(where), via)
                return None
            module_doc = _grafted(module_doc, template.data, template.origins)
            template_variables = template.variables
            module = _module_model(module_doc)
        elif use.template is not None:
            self.error(f"`template` picks a pipeline template of a DPK manifest (dataloop.json); '{use.source}' "
                       "is not one", doc.locate(f"{pointer}/template"), via)
            return None
        if module is None:
            self.error(f"'{use.source}' is not a module (kind: {MODULE_KIND}) nor a DPK manifest with pipeline "
                       "templates", doc.locate(f"{pointer}/source"), via)
            return None
        if isinstance(module, list):
            for problem in module:
                self.error(problem.message, problem.location, here)
            return None
        values = self.inputs(doc, pointer, module, module_doc, use, via)
        if values is None or self.over_budget:
            return None
        try:
            data = self.substitute(module_doc, module, values, here)
        except ExpansionTooLarge:
            self.over_budget = True
            self.error(f"module uses make this file's pipelines hold more than {self.budget.limit} values (a "
                       f"module used many times in a module used many times); this use is where they ran out",
                       doc.locate(pointer), via)
            return None
        if data is None:
            return None
        body = self.body(module_doc, data, "/spec", target, here, (*stack, identity))
        for name, variable in (template_variables or {}).items():
            # the template's nodes name its variables: the pipeline holds them, with the inputs' values
            entry = {"name": name, "type": variable["type"], "value": values[name]}
            if variable["description"]:
                entry["description"] = variable["description"]
            body.variables.append((entry, Graft(doc, f"{pointer}/with/{pointer_escape(name)}"
                                               if name in use.with_ else pointer, via)))
        exposed: dict[str, _Port] = {}
        for name, port in module.spec.ports.items():
            exposed[name] = self.exposed(module_doc, name, port, body, key, here)
        return body, exposed

    def exposed(self, module_doc: SourceDocument, name: str, port: ModulePort, body: _Body, key: str,
                here: Via) -> _Port:
        """Port `name` of instance `key`: the node port behind it, through any instances inside."""
        end = port.from_ if port.from_ is not None else port.to
        assert end is not None
        output = port.from_ is not None
        at = f"/spec/ports/{pointer_escape(name)}"
        broken = _Port(end, port.action, output, broken=True)
        if end.partition(".")[0] in body.broken:  # reported where it failed
            return broken
        inner = self.port(module_doc, end, f"{at}/{'from' if output else 'to'}", body.ports, here,
                          output=output)
        if inner is False:
            return broken
        if inner is None:  # a node of this module, not an instance in it
            if end.partition(".")[0] not in body.nodes:
                self.error(f"port '{name}' leads to node '{end.partition('.')[0]}', which the module does not "
                           "have", module_doc.locate(at), here)
                return broken
            inner = _Port(end, None, output)
        if port.action is not None and inner.action not in (None, port.action):
            self.error(f"'{end}' passes only items with action '{inner.action}'; port '{name}' asks for "
                       f"'{port.action}'", module_doc.locate(f"{at}/action"), here)
            return broken
        return _Port(_prefixed_end(inner.endpoint, key), inner.action or port.action, output)

    def inputs(self, doc: SourceDocument, pointer: str, module: ModuleSpec, module_doc: SourceDocument,
               use: ModuleUse, via: Via) -> dict[str, Any] | None:
        declared = module.spec.inputs
        ok = True
        name = module.metadata.name
        for given, value in use.with_.items():
            where = f"{pointer}/with/{pointer_escape(given)}"
            spec = declared.get(given)
            if spec is None:
                known = ", ".join(sorted(declared)) or "none"
                self.error(f"module '{name}' has no input '{given}' (its inputs: {known})", doc.locate(where), via)
                ok = False
            elif not has_type(value, spec.type) and not _unresolved(value, self.context):
                self.error(f"input '{given}' of module '{name}' is {_an(spec.type)}, got {describe(value)} "
                           f"(declared at {module_doc.locate(f'/spec/inputs/{pointer_escape(given)}')})", doc.locate(where),
                           via)
                ok = False
        for wanted, spec in declared.items():
            if spec.required and wanted not in use.with_:
                self.error(f"module '{name}' needs input '{wanted}' (declared at "
                           f"{module_doc.locate(f'/spec/inputs/{pointer_escape(wanted)}')}); give it under "
                           "`with:`", doc.locate(pointer), via)
                ok = False
        if not ok:
            return None
        return {n: use.with_.get(n, s.default) for n, s in declared.items()}

    def substitute(self, module_doc: SourceDocument, module: ModuleSpec, values: dict[str, Any],
                   here: Via) -> dict[str, Any] | None:
        """The module's body with `${input.*}` replaced, then `${var.*}`/`${env.*}` as in a spec."""
        body = module_doc.data["spec"]
        known = ", ".join(sorted(values)) or "none"
        data, problems = substitute(
            {"nodes": body["nodes"], "connections": body.get("connections", [])}, "input",
            lambda name: values[name],
            lambda reference, pointer: SpecError(
                f"'{reference}' names no input of module '{module.metadata.name}' (its inputs: {known})",
                module_doc.locate(f"/spec{pointer}")), self.budget)
        for problem in problems:
            self.error(problem.message, problem.location, here)
        if problems:
            return None
        interpolated = interpolate(data, self.context, lambda p: module_doc.locate(f"/spec{p}"))
        for problem in interpolated.errors:
            self.error(problem.message, problem.location, here)
        if interpolated.digest:
            self.out.modules[f"{module_doc.path}\0vars"] = interpolated.digest
        result: dict[str, Any] = interpolated.data
        return result


def _grafted(manifest: SourceDocument, data: dict[str, Any], origins: dict[str, str]) -> SourceDocument:
    """A document of `data` (a template as a module) whose pointers locate where `origins` says
    they were written in `manifest`."""
    doc = SourceDocument(path=manifest.path, data=data)
    doc.grafts = {pointer: Graft(manifest, origin, "") for pointer, origin in origins.items()}
    return doc


@dataclass
class _Sub:
    """A view of `doc` whose pointers start at `base` (to translate a use's own schema errors)."""

    doc: SourceDocument
    base: str
    data: Any

    def locate(self, pointer: str) -> Location:
        return self.doc.locate(self.base + pointer)

    @property
    def plain(self) -> dict[str, str]:
        return {p[len(self.base):]: t for p, t in self.doc.plain.items() if p.startswith(f"{self.base}/")}


def _unresolved(value: Any, context: Context | None) -> bool:
    """Offline, a `${var.X}` reference has no known type yet (see loader)."""
    from reconciler.spec.values import is_reference

    return context is None and is_reference(value)


def _through(written: dict[str, Any], rewired: dict[str, Any]) -> str:
    def ends(connection: dict[str, Any]) -> list[Any]:
        targets = connection.get("to")
        return [connection.get("from"), *(targets if isinstance(targets, list) else [targets])]

    return "; ".join(f"'{a}' is '{b}'" for a, b in zip(ends(written), ends(rewired), strict=True) if a != b)


def _touches(connection: Any, keys: set[str]) -> bool:
    if not keys or not isinstance(connection, dict):
        return False
    targets = connection.get("to")
    ends = [connection.get("from"), *(targets if isinstance(targets, list) else [targets])]
    return any(isinstance(e, str) and e.partition(".")[0] in keys for e in ends)


def _prefixed_end(endpoint: str, key: str) -> str:
    return f"{key}/{endpoint}"


def _prefixed(connection: Any, key: str) -> Any:
    if not isinstance(connection, dict):
        return connection
    out = dict(connection)
    if isinstance(out.get("from"), str):
        out["from"] = _prefixed_end(out["from"], key)
    targets = out.get("to")
    if isinstance(targets, str):
        out["to"] = _prefixed_end(targets, key)
    elif isinstance(targets, list):
        out["to"] = [_prefixed_end(t, key) if isinstance(t, str) else t for t in targets]
    return out


def module_file_errors(doc: SourceDocument) -> list[SpecError]:
    """The problems of a module file on its own: its shape (inputs, ports); its nodes are checked
    with each use's inputs."""
    try:
        ModuleSpec.model_validate(doc.data)
    except ValidationError as exc:
        return translate(exc, doc)
    return []


def uses_modules(data: Any) -> bool:
    nodes = data.get("spec", {}).get("nodes") if isinstance(data, dict) and isinstance(data.get("spec"), dict) else None
    return isinstance(nodes, dict) and any(
        isinstance(n, dict) and n.get("type") == MODULE_TYPE for n in nodes.values())


def expand(doc: SourceDocument, path: Path, root: Path, context: Context | None,
           shown: Callable[[Path], str], files: ModuleFiles, budget: ValueBudget) -> Expansion:
    """Replace the module uses in `doc.data` (a pipeline) by their nodes; record where each came from
    in the returned grafts (also installed on `doc`, so that `doc.locate` finds module lines). The
    copies of module bodies are charged to `budget` (running out is a located error at the use)."""
    expander = _Expander(root, path.parent, context, shown, files, budget)
    spec = doc.data["spec"]
    body = expander.body(doc, spec, "/spec", path, "", (os.path.realpath(path),))
    spec = dict(spec)
    start = spec.get("root")
    if isinstance(start, str) and start in body.ports:  # the root is where items enter: the node behind `in`
        entries = sorted({p.endpoint.partition(".")[0] for p in body.ports[start].values() if not p.output})
        if len(entries) == 1:
            spec["root"] = entries[0]
        else:
            expander.error(f"'{start}' is a module instance with {len(entries)} input nodes: set `root` to one "
                           f"of its nodes ({', '.join(repr(e) for e in entries) or 'none'})",
                           doc.locate("/spec/root"))
    spec["nodes"] = body.nodes
    if body.variables:
        _add_variables(expander, spec, body.variables)
    if "connections" in spec or body.connections:
        spec["connections"] = body.connections
    doc.data = {**doc.data, "spec": spec}
    grafts = expander.out.grafts
    for key, origin in body.node_origin.items():
        if origin.doc is not doc:
            grafts[f"/spec/nodes/{pointer_escape(key)}"] = origin
    for index, origin in enumerate(body.connection_origin):
        if origin.doc is not doc or origin.pointer != f"/spec/connections/{index}":
            grafts[f"/spec/connections/{index}"] = origin
    doc.grafts = grafts
    return expander.out


def _add_variables(expander: _Expander, spec: dict[str, Any], brought: list[tuple[dict[str, Any], Graft]]) -> None:
    """The variables template instances bring, after the spec's own: a pipeline holds one variable
    per name, so a name given twice is an error unless both are the same variable."""
    own = spec.get("variables")
    variables = list(own) if isinstance(own, list) else []
    by_name = {v.get("name"): v for v in variables if isinstance(v, dict)}
    for entry, origin in brought:
        same = by_name.get(entry["name"])
        if same is None:
            expander.out.grafts[f"/spec/variables/{len(variables)}"] = origin
            variables.append(entry)
            by_name[entry["name"]] = entry
        elif (same.get("type"), same.get("value")) != (entry["type"], entry["value"]):
            expander.error(f"the pipeline template's variable '{entry['name']}' is also a variable of this "
                           "pipeline with another type or value (a pipeline holds one variable per name)",
                           origin.doc.locate(origin.pointer), origin.via)
    spec["variables"] = variables
