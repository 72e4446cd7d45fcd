"""Platform-level differences -> the words a spec author uses (pure; a name lookup is injected).

The diff finds differences between essences, which are still shaped like the API document
(`nodes.review.metadata.priority: 1 -> 3`, `metadata.recipeId` + `metadata.recipeTitle`). A spec
says `nodes.review.task.priority: low -> high` and `nodes.label.task.recipe: default -> strict`.
This module rewrites each changed node as a *spec view* (the typed spec fields it can be read as,
plus the untouched rest under the same raw `namespace` / `metadata` / `config` keys a spec would
use to set it), compares the two views, and keeps, for every spec-terms change, the platform-level
changes it stands for (`FieldChange.platform`, so JSON readers still see the exact document edit).

Rules that keep the translation honest:
- A platform key is read as a spec field only when it reads back exactly (priority 1..3, a dueDate
  in epoch ms, an ml service name derived from its function...); otherwise it stays raw.
- A key read as a spec field on one side but left raw on the other is left raw on both, so a change
  never shows as a spec field appearing plus a raw key disappearing.
- Ids are shown by name where the lookup knows one; when two different ids have the same name
  (the "default" recipe of two datasets), both are shown as `name (id)`, so no change vanishes.

Only pipelines that changed reach this module: the unchanged path never pays for it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from reconciler.backend import ResourceKind
from reconciler.document import RUNNING_STATUSES, STATUS_CREATED, STATUS_UNINSTALLED
from reconciler.leafdiff import leaf_changes
from reconciler.plan import ChangeOp, FieldChange, PlatformChange

# id -> name of a platform object, or None when unknown. Injected: the planner backs it with what
# compile resolved plus the backend's reverse lookup; tests pass a dict's `get`.
NameLookup = Callable[[ResourceKind, str], "str | None"]

PLATFORM_TO_SPEC_TYPE = {"storage": "dataset"}
PRIORITY_NAMES = {1: "low", 2: "medium", 3: "high"}
ML_PACKAGE = "model-mgmt-app"


def _no_names(kind: ResourceKind, ident: str) -> str | None:
    return None


class _View:
    """A node's spec view under construction: `out` (spec terms), `sources` (spec path -> the
    platform paths it was read from), and the raw remainder still to be placed."""

    def __init__(self, node: dict[str, Any], raw_only: frozenset[str]) -> None:
        self.node = node
        self.raw_only = raw_only
        self.out: dict[str, Any] = {}
        self.sources: dict[str, tuple[str, ...]] = {}
        self.consumed: set[str] = set()

    def get(self, path: str) -> Any:
        return _lookup(self.node, path)[1]

    def has(self, path: str) -> bool:
        return _lookup(self.node, path)[0]

    def usable(self, *paths: str) -> bool:
        return all(p not in self.raw_only for p in paths)

    def put(self, spec_path: str, value: Any, *platform: str) -> None:
        """Record `value` at `spec_path` (dotted: `task.recipe`), read from `platform` paths."""
        holder = self.out
        parts = spec_path.split(".")
        for part in parts[:-1]:
            holder = holder.setdefault(part, {})
        holder[parts[-1]] = value
        self.sources[spec_path] = platform
        self.consumed.update(platform)

    def take(self, spec_path: str, platform: str, convert: Callable[[Any], Any] | None = None) -> None:
        """Read `platform` into `spec_path` when present, usable and convertible (not None)."""
        if not self.has(platform) or not self.usable(platform):
            return
        value = self.get(platform)
        value = convert(value) if convert is not None else value
        if value is not None:
            self.put(spec_path, value, platform)

    def finish(self) -> dict[str, Any]:
        """The view: spec fields first, then every platform key nobody consumed, unchanged."""
        rest: dict[str, Any] = {}
        for field, value in self.node.items():
            if field in self.consumed:
                continue
            if isinstance(value, dict) and field in ("namespace", "metadata", "config"):
                left = {k: v for k, v in value.items() if f"{field}.{k}" not in self.consumed}
                if left:
                    rest[field] = left
            elif isinstance(value, dict) and field in ("inputs", "outputs"):
                # Ports keep their place; only a field read elsewhere (a task's actions) leaves.
                rest[field] = {name: {k: v for k, v in port.items() if f"{field}.{name}.{k}" not in self.consumed}
                               if isinstance(port, dict) else port for name, port in value.items()}
            elif field not in self.out:
                rest[field] = value
        return {**self.out, **rest}


def _int_choice(table: dict[int, str]) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        return table.get(value) if isinstance(value, int) and not isinstance(value, bool) else None
    return convert


def due_date_text(value: Any) -> str | None:
    """A task's dueDate (epoch ms) as the spec writes it; None when it is not one."""
    # compile writes a spec's dueDate as epoch milliseconds; show it as the date it means (a bare
    # date when it is midnight UTC, which is how compile reads one).
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        moment = datetime.fromtimestamp(value / 1000, tz=UTC)
        return moment.date().isoformat() if value % 86_400_000 == 0 else moment.isoformat()
    return None


def _nonempty_str(value: Any) -> Any:
    return value if isinstance(value, str) and value else None


def _workload(value: Any) -> Any:
    if isinstance(value, list) and all(isinstance(e, dict) and set(e) == {"assigneeId", "load"} for e in value):
        return [{"assignee": e["assigneeId"], "load": e["load"]} for e in value]
    return None


def _load_existing(value: Any) -> Any:
    if not isinstance(value, dict) or value.get("active") is not True or set(value) - {"active", "filter"}:
        return None
    flt = value.get("filter")
    if isinstance(flt, str):
        try:
            parsed = json.loads(flt)
        except ValueError:
            return None
        # Only the text compile writes reads back exactly; any other spelling stays raw, so a
        # change of spelling alone is still shown.
        if json.dumps(parsed, separators=(",", ":")) != flt:
            return None
        flt = parsed
    return {"filter": flt} if isinstance(flt, dict) and flt else True


def _named(view: _View, spec_path: str, kind: ResourceKind, id_path: str, title_path: str | None,
           names: NameLookup) -> None:
    """An id field (plus the title the platform keeps beside it) shown as the object's name."""
    if not view.has(id_path) or not view.usable(id_path):
        return
    ident = view.get(id_path)
    if not isinstance(ident, str) or not ident:
        return
    name = names(kind, ident)
    title = view.get(title_path) if title_path else None
    if name is None and isinstance(title, str) and title:
        name = title
    platform = [id_path]
    if title_path and view.has(title_path) and view.usable(title_path) and title == (name or ident):
        platform.append(title_path)
    view.put(spec_path, {"name": name, "id": ident} if name is not None else ident, *platform)


# The fixed namespace compile writes for nodes run by the platform's own pipeline-utils service:
# not a spec field, so it is left out of the view where it has exactly these values.
_UTILS = {"projectName": "DataloopTasks", "serviceName": "pipeline-utils"}
_UTILS_FUNCTION = {"task": "move_to_task", "updateVariable": "update_variable"}


def _typed(view: _View, ptype: str, names: NameLookup) -> None:
    ns: dict[str, Any] = view.node["namespace"] if isinstance(view.node.get("namespace"), dict) else {}
    if ptype in ("storage", "task", "updateVariable"):
        fixed = {**_UTILS, **({"functionName": _UTILS_FUNCTION[ptype]} if ptype in _UTILS_FUNCTION else {})}
        for field, value in fixed.items():
            if ns.get(field) == value and view.usable(f"namespace.{field}"):
                view.consumed.add(f"namespace.{field}")
    if ptype == "storage":
        _named(view, "dataset", ResourceKind.DATASET, "metadata.datasetId", None, names)
        view.take("folder", "metadata.dir", _nonempty_str)
        view.take("loadExisting", "metadata.triggerToPipeline", _load_existing)
        view.take("datasetVariable", "metadata.variableDataset", _nonempty_str)
        fn = ns.get("functionName")
        if fn == "clone_item" and view.usable("namespace.functionName", "namespace.moduleName",
                                              "namespace.packageName") \
                and ns.get("moduleName") == "default_module" and ns.get("packageName") == "pipeline-utils":
            view.put("operation", "clone", "namespace.functionName", "namespace.moduleName",
                     "namespace.packageName")
        elif fn == "dataset_handler" and view.usable("namespace.functionName") \
                and "moduleName" not in ns and "packageName" not in ns:
            view.put("operation", "handle", "namespace.functionName")
    elif ptype == "task":
        view.take("task.type", "metadata.taskType", _nonempty_str)
        _named(view, "task.dataset", ResourceKind.DATASET, "metadata.datasetId", None, names)
        _named(view, "task.recipe", ResourceKind.RECIPE, "metadata.recipeId", "metadata.recipeTitle", names)
        view.take("task.owner", "metadata.taskOwner", _nonempty_str)
        view.take("task.workload", "metadata.workload", _workload)
        view.take("task.priority", "metadata.priority", _int_choice(PRIORITY_NAMES))
        view.take("task.dueDate", "metadata.dueDate", due_date_text)
        view.take("task.batchSize", "metadata.batchSize")
        view.take("task.maxBatchWorkload", "metadata.maxBatchWorkload")
        view.take("task.consensus.type", "metadata.consensusTaskType")
        view.take("task.consensus.percentage", "metadata.consensusPercentage")
        view.take("task.consensus.assignees", "metadata.consensusAssignees")
        view.take("task.groups", "metadata.groups")
        # `task.actions` sets the actions of the task's output port (compile's node_ports).
        outputs: dict[str, Any] = view.node["outputs"] if isinstance(view.node.get("outputs"), dict) else {}
        acting = [name for name, port in outputs.items() if isinstance(port, dict) and "actions" in port]
        if len(acting) == 1 and view.usable(f"outputs.{acting[0]}.actions"):
            view.put("task.actions", outputs[acting[0]]["actions"], f"outputs.{acting[0]}.actions")
    elif ptype == "code":
        fn = ns.get("functionName")
        view.take("function", "namespace.functionName", _nonempty_str)
        package = (view.node.get("config") or {}).get("package")
        if isinstance(package, dict) and view.usable("config.package") \
                and set(package) <= {"code", "name", "type"} and package.get("type", "code") == "code" \
                and package.get("name", fn) == fn and isinstance(package.get("code"), str):
            view.put("code", package["code"], "config.package")
    elif ptype == "function":
        for spec_field, ns_field in (("service", "serviceName"), ("function", "functionName"),
                                     ("module", "moduleName"), ("package", "packageName"),
                                     ("project", "projectName")):
            view.take(spec_field, f"namespace.{ns_field}")
    elif ptype == "ml":
        fn = ns.get("functionName")
        derived = {"serviceName": f"{ML_PACKAGE}-{fn}", "moduleName": f"{ML_PACKAGE}-{fn}", "packageName": ML_PACKAGE}
        paths = ["namespace.functionName", *(f"namespace.{k}" for k in derived)]
        if isinstance(fn, str) and view.usable(*paths) and all(ns.get(k) == v for k, v in derived.items()):
            view.put("function", fn, *paths)
        _named(view, "model", ResourceKind.MODEL, "metadata.modelId", "metadata.modelName", names)
        view.take("modelVariable", "metadata.variableModel", _nonempty_str)
        view.take("mlType", "metadata.mlType")
        view.take("modelConfig", "metadata.modelConfig")
    elif ptype == "custom":
        view.take("app", "appName")
        if view.has("dpkName") and view.usable("dpkName"):
            dpk = view.get("dpkName")
            if dpk != view.get("appName"):
                view.put("dpk", dpk, "dpkName")
            else:
                view.consumed.add("dpkName")
        for spec_field, ns_field in (("function", "functionName"), ("service", "serviceName"),
                                     ("module", "moduleName"), ("package", "packageName")):
            view.take(spec_field, f"namespace.{ns_field}")
        view.take("nodeConfig", "metadata.customNodeConfig")
        if view.usable("metadata.pipelineNodeName") \
                and view.get("metadata.pipelineNodeName") == ns.get("functionName") is not None:
            view.consumed.add("metadata.pipelineNodeName")


def node_view(node: dict[str, Any], names: NameLookup = _no_names,
              raw_only: frozenset[str] = frozenset()) -> tuple[dict[str, Any], dict[str, tuple[str, ...]], set[str]]:
    """(spec view, spec path -> platform paths, platform paths consumed) of one node essence."""
    view = _View(node, raw_only)
    ptype = node.get("type")
    if isinstance(ptype, str):
        view.put("type", PLATFORM_TO_SPEC_TYPE.get(ptype, ptype), "type")
        _typed(view, ptype, names)
    return view.finish(), view.sources, view.consumed


def _paired_views(before: dict[str, Any], after: dict[str, Any], names: NameLookup
                  ) -> tuple[dict[str, Any], dict[str, Any], dict[str, tuple[str, ...]]]:
    vb, sb, cb = node_view(before, names)
    va, sa, ca = node_view(after, names)
    one_sided = {p for p in cb ^ ca if _present(before, p) and _present(after, p)}
    if one_sided:
        vb, sb, _ = node_view(before, names, frozenset(one_sided))
        va, sa, _ = node_view(after, names, frozenset(one_sided))
    _disambiguate(vb, va)
    return vb, va, {**sb, **sa}


def _present(node: dict[str, Any], path: str) -> bool:
    return _lookup(node, path)[0]


def _lookup(node: dict[str, Any], path: str) -> tuple[bool, Any]:
    """(present, value) at a dotted platform path of a node essence (`metadata.recipeId`,
    `outputs.item.actions`); the paths this module reads never contain dots in their keys."""
    holder: Any = node
    for part in path.split("."):
        if not isinstance(holder, dict) or part not in holder:
            return False, None
        holder = holder[part]
    return True, holder


def _disambiguate(before: Any, after: Any) -> None:
    """Collapse {name, id} pairs to the name, except where two different ids share a name."""
    if not (isinstance(before, dict) and isinstance(after, dict)):
        return
    for key in before.keys() | after.keys():
        b: Any = before.get(key)
        a: Any = after.get(key)
        if _is_named(b) or _is_named(a):
            same_name = _is_named(b) and _is_named(a) and b["name"] == a["name"] and b["id"] != a["id"]
            for holder, value in ((before, b), (after, a)):
                if isinstance(value, dict) and _is_named(value):
                    holder[key] = f"{value['name']} ({value['id']})" if same_name else value["name"]
        elif key not in ("metadata", "namespace", "config"):
            _disambiguate(b, a)


def _is_named(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"name", "id"}


def _collapse(view: Any) -> Any:
    """A lone view (a node added or removed): every {name, id} pair shown as its name."""
    if _is_named(view):
        return view["name"]
    if isinstance(view, dict):
        return {k: v if k in ("metadata", "namespace", "config") else _collapse(v) for k, v in view.items()}
    return view


def _platform_for(rel: str, sources: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """The platform paths (relative to the node) behind the spec path `rel`."""
    out: list[str] = []
    for spec_path, platform in sources.items():
        if rel == spec_path or rel.startswith(spec_path + ".") or spec_path.startswith(rel + "."):
            out.extend(platform)
    return tuple(out) or (rel,)


def _node_changes(key: str, raw: list[FieldChange], before: Any, after: Any,
                  names: NameLookup) -> list[FieldChange]:
    prefix = f"nodes.{key}"
    drift = any(c.drift for c in raw)
    if not isinstance(before, dict) or not isinstance(after, dict):
        # The whole node appears or disappears: its value is shown as its spec view.
        (change,) = raw
        value = change.after if change.op is ChangeOp.ADD else change.before
        view = _collapse(node_view(value, names)[0]) if isinstance(value, dict) else value
        return [change.model_copy(update={
            "before": view if change.op is ChangeOp.REMOVE else None,
            "after": view if change.op is ChangeOp.ADD else None,
            "platform": [PlatformChange.of(change)]})]
    vb, va, sources = _paired_views(before, after, names)
    if vb == va:
        # Nothing a spec can see differs (a reading that loses a distinction this module did not
        # foresee): show the document's own differences rather than an update with no lines.
        return raw
    out: list[FieldChange] = []
    for path, op, b, a in leaf_changes(prefix, vb, va):
        rel = path[len(prefix) + 1:]
        behind = [c for c in raw if any(c.path == f"{prefix}.{p}" or c.path.startswith(f"{prefix}.{p}.")
                                         or f"{prefix}.{p}".startswith(c.path + ".")
                                         for p in _platform_for(rel, sources))]
        same = len(behind) == 1 and behind[0].path == path and behind[0].before == b and behind[0].after == a
        out.append(FieldChange(path=path, op=op, before=b, after=a, drift=drift,
                               platform=None if same else [PlatformChange.of(c) for c in behind]))
    return out


def _trigger_view(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    spec = dict(value.get("spec") or {})
    out: dict[str, Any] = {}
    if value.get("type") == "Cron":
        out.update(spec)
    else:
        out["event"] = spec
    if value.get("name"):
        out["name"] = value["name"]
    return out


def _trigger_change(change: FieldChange) -> FieldChange:
    """`triggers.<key>[.spec.x]` -> `nodes.<key>.trigger[.event.x | .cron]`; a second trigger on
    one node (`<key>#2`, which a spec cannot write) keeps its platform path."""
    _, _, rest = change.path.partition(".")
    slot, _, sub = rest.partition(".")
    if "#" in slot:
        return change
    if not sub:
        path = f"nodes.{slot}.trigger"
        before, after = _trigger_view(change.before), _trigger_view(change.after)
    else:
        head, _, tail = sub.partition(".")
        if head == "spec":
            sub = f"cron{tail[4:]}" if tail.split(".", 1)[0] == "cron" else f"event.{tail}"
        path = f"nodes.{slot}.trigger.{sub}"
        before, after = change.before, change.after
    return change.model_copy(update={"path": path, "before": before, "after": after,
                                     "platform": [PlatformChange.of(change)]})


def spec_status(status: str | None) -> str | None:
    """A live pipeline status in the spec's words (`installed` / `paused`): a pipeline created and
    never installed does not run either, so it is `paused` as a spec saying `paused` creates it.
    Other states (a failed install) keep the platform's word, lowercased."""
    if status is None:
        return None
    if status in RUNNING_STATUSES:
        return "installed"
    if status in (STATUS_UNINSTALLED, STATUS_CREATED):
        return "paused"
    return status.lower()


def in_spec_terms(raw: list[FieldChange], live_nodes: dict[str, dict[str, Any]],
                  desired_nodes: dict[str, dict[str, Any]], names: NameLookup | None = None) -> list[FieldChange]:
    """`raw` (essence-level changes in display order, drift already marked) in spec terms.

    `live_nodes` / `desired_nodes` are the two essences' nodes (spec key -> node essence). Order is
    kept: each node's changes replace its raw ones where they stood.
    """
    lookup = names or _no_names
    out: list[FieldChange] = []
    i = 0
    while i < len(raw):
        change = raw[i]
        head, _, rest = change.path.partition(".")
        if head == "nodes" and rest:
            key = rest.split(".", 1)[0]
            group = [change]
            while i + 1 < len(raw) and raw[i + 1].path.startswith(f"nodes.{key}."):
                i += 1
                group.append(raw[i])
            out.extend(_node_changes(key, group, live_nodes.get(key), desired_nodes.get(key), lookup))
        elif head in ("name", "description") and not rest:
            out.append(change.model_copy(update={"path": f"metadata.{head}",
                                                 "platform": [PlatformChange.of(change)]}))
        elif head == "triggers" and rest:
            out.append(_trigger_change(change))
        elif change.path == "status":
            out.append(change.model_copy(update={"before": spec_status(change.before),
                                                 "after": spec_status(change.after),
                                                 "platform": [PlatformChange.of(change)]}))
        else:
            out.append(change)
        i += 1
    # A trigger now reads as a field of its node: show it with that node's changes.
    return sorted(out, key=display_rank)


_RANKS = {"metadata": 0, "nodes": 1, "connections": 2, "root": 3, "triggers": 4, "variables": 5, "settings": 6}


def display_rank(change: FieldChange) -> tuple[int, str]:
    """Where a change is listed: pipeline fields, then nodes (by key), connections, ... (stable)."""
    head, _, rest = change.path.partition(".")
    return (_RANKS.get(head, 7), rest.split(".", 1)[0] if head == "nodes" else "")
