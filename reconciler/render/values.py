"""How one changed value is shown in spec terms: short, deterministic, one line."""

from __future__ import annotations

import difflib
import json
from typing import Any

from reconciler.nodes import for_spec_type, spec_type_of
from reconciler.plan import ChangeKind, ChangeOp, FieldChange

MAX_VALUE_CHARS = 120


def short(value: Any, limit: int = MAX_VALUE_CHARS) -> str:
    """A value as compact JSON (strings quoted), cut at `limit` characters with an ellipsis."""
    if value is None:
        return "null"
    text = json.dumps(value, separators=(", ", ": "), sort_keys=True, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _node_summary(node: dict[str, Any]) -> str:
    # `node` is the node's spec view (spec_terms.node_view): its type is already the spec's word.
    ptype = node.get("type")
    kind = spec_type_of(ptype) if isinstance(ptype, str) else "?"
    name = node.get("name")
    text = f"{kind} node" + (f" {name!r}" if name else "")
    # The fields that say what a new or removed node is about, shown next to its type.
    what = [f"{field} {short(value, 40)}" for field, value in for_spec_type(kind).summary(node)]
    return text + (f" ({', '.join(what)})" if what else "")


def _trigger_summary(trigger: dict[str, Any]) -> str:
    """A trigger in spec form (`{cron}` or `{event: {...}}`) or platform form (`{type, spec}`)."""
    if "spec" in trigger and "type" in trigger:
        spec = trigger.get("spec") or {}
        if trigger.get("type") == "Cron":
            return f"cron {spec.get('cron')!r}"
    elif "cron" in trigger:
        return f"cron {trigger['cron']!r}"
    else:
        spec = trigger.get("event") or {}
    actions = ",".join(spec.get("actions") or [])
    text = f"on {spec.get('resource', 'Item')} {actions}".rstrip()
    if spec.get("filter"):
        text += f" where {short(spec['filter'], 60)}"
    return text


def _is_trigger(change: FieldChange) -> bool:
    """A whole trigger: a platform one (`triggers.<slot>`) or a node's (`nodes.<key>.trigger`)."""
    return (change.section == "triggers" and change.key is not None and change.field is None) or (
        change.section == "nodes" and change.field == "trigger")


def _target(value: Any) -> str:
    return value.removeprefix("-> ") if isinstance(value, str) else short(value)


MAX_TEXT_DIFF_LINES = 40


def text_diff(change: FieldChange) -> list[str] | None:
    """A changed multi-line text (a code node's code) as unified-diff lines (`+ `, `- `, `  `),
    at most MAX_TEXT_DIFF_LINES of them plus a note; None for any other change."""
    before, after = change.before, change.after
    if change.op is not ChangeOp.CHANGE or not (isinstance(before, str) and isinstance(after, str)) \
            or ("\n" not in before.rstrip("\n") and "\n" not in after.rstrip("\n")):
        return None
    lines = [line for line in difflib.unified_diff(before.splitlines(), after.splitlines(), n=1, lineterm="")
             if not line.startswith(("---", "+++"))]
    out = [line if line.startswith("@@") else f"{line[:1] or ' '} {line[1:]}" for line in lines]
    if len(out) > MAX_TEXT_DIFF_LINES:
        out = out[:MAX_TEXT_DIFF_LINES] + [f"... {len(out) - MAX_TEXT_DIFF_LINES} more diff lines"]
    return out


def describe(change: FieldChange) -> str:
    """`path: before -> after`, or `path = value` for an added / removed entry, in spec words."""
    if text_diff(change) is not None:
        return f"{change.path}: text changed ({_line_count(change.before)} -> {_line_count(change.after)} lines)"
    if change.op is ChangeOp.RENAME:
        return f"{change.before} -> {change.after} (id kept)"
    section, whole = change.section, change.key is not None and change.field is None
    value = change.after if change.op is ChangeOp.ADD else change.before
    if change.op is not ChangeOp.CHANGE and isinstance(value, dict):
        if section == "nodes" and whole:
            return f"{change.path}: {_node_summary(value)}"
        if section == "connections":
            flt = value.get("filter")
            return change.path + (f" where {short(flt, 80)}" if flt else "")
        if _is_trigger(change):
            return f"{change.path}: {_trigger_summary(value)}"
        if section == "variables" and whole:
            return f"{change.path}: {value.get('type', '')} = {short(value.get('value'))}"
    if _is_trigger(change) and isinstance(change.before, dict) and isinstance(change.after, dict):
        return f"{change.path}: {_trigger_summary(change.before)} -> {_trigger_summary(change.after)}"
    if change.kind is ChangeKind.REWIRE:
        # The values are the targets, written `-> <node>.<port>` in the JSON plan.
        return f"{change.path}: {_target(change.before)} -> {_target(change.after)}"
    if change.op is ChangeOp.ADD:
        return f"{change.path} = {short(change.after)}"
    if change.op is ChangeOp.REMOVE:
        return f"{change.path} (was {short(change.before)})"
    return f"{change.path}: {short(change.before)} -> {short(change.after)}"


def _line_count(text: str) -> int:
    return len(text.splitlines())
