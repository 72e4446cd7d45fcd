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

from typing import Any

from reconciler.backend import ResourceKind
from reconciler.document import RUNNING_STATUSES, STATUS_CREATED, STATUS_UNINSTALLED
from reconciler.leafdiff import leaf_changes
from reconciler.nodes import for_platform, spec_type_of
from reconciler.nodes.view import NameLookup, SpecView, lookup
from reconciler.plan import ChangeOp, FieldChange, PlatformChange, render_path

def _no_names(kind: ResourceKind, ident: str) -> str | None:
    return None


def node_view(node: dict[str, Any], names: NameLookup = _no_names,
              raw_only: frozenset[str] = frozenset()) -> tuple[dict[str, Any], dict[str, tuple[str, ...]], set[str]]:
    """(spec view, spec path -> platform paths, platform paths consumed) of one node essence."""
    view = SpecView(node, raw_only)
    ptype = node.get("type")
    if isinstance(ptype, str):
        view.put("type", spec_type_of(ptype), "type")
        for_platform(ptype).spec_view(view, names)
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
    return lookup(node, path)[0]


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


def _under(field: str | None, platform: str) -> bool:
    """Whether a change at node field `field` (None: the whole node) touches platform path `platform`."""
    return field is None or field == platform or field.startswith(platform + ".") \
        or platform.startswith(field + ".")


def _node_changes(key: str, raw: list[FieldChange], before: Any, after: Any,
                  names: NameLookup) -> list[FieldChange]:
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
    for item in leaf_changes("nodes", key, vb, va):
        rel = item.field or ""
        behind = [c for c in raw if any(_under(c.field, p) for p in _platform_for(rel, sources))]
        same = len(behind) == 1 and behind[0].path == item.path and behind[0].before == item.before \
            and behind[0].after == item.after
        out.append(item.change(drift=drift).model_copy(
            update={"platform": None if same else [PlatformChange.of(c) for c in behind]}))
    return out


def _moved(change: FieldChange, section: str, key: str | None, field: str | None, **update: Any) -> FieldChange:
    """`change` shown at another address (in spec terms), the platform change it stands for kept."""
    return change.model_copy(update={"path": render_path(section, key, field), "section": section, "key": key,
                                     "field": field, "platform": [PlatformChange.of(change)], **update})


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
    slot, sub = change.key or "", change.field
    if "#" in slot:
        return change
    if not sub:
        return _moved(change, "nodes", slot, "trigger", before=_trigger_view(change.before),
                      after=_trigger_view(change.after))
    head, _, tail = sub.partition(".")
    if head == "spec":
        sub = f"cron{tail[4:]}" if tail.split(".", 1)[0] == "cron" else f"event.{tail}"
    return _moved(change, "nodes", slot, f"trigger.{sub}")


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
        if change.section == "nodes" and change.key is not None:
            key = change.key
            group = [change]
            while i + 1 < len(raw) and raw[i + 1].section == "nodes" and raw[i + 1].key == key \
                    and raw[i + 1].field is not None:
                i += 1
                group.append(raw[i])
            out.extend(_node_changes(key, group, live_nodes.get(key), desired_nodes.get(key), lookup))
        elif change.section in ("name", "description") and change.key is None:
            out.append(_moved(change, "metadata", change.section, None))
        elif change.section == "triggers" and change.key is not None:
            out.append(_trigger_change(change))
        elif change.section == "status" and change.key is None:
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
    return (_RANKS.get(change.section, 7), (change.key or "") if change.section == "nodes" else "")
