"""How one changed value is shown in spec terms: short, deterministic, one line."""

from __future__ import annotations

import json
from typing import Any

from reconciler.plan import ChangeOp, FieldChange

MAX_VALUE_CHARS = 120
PLATFORM_TO_SPEC_TYPE = {"storage": "dataset"}


def short(value: Any, limit: int = MAX_VALUE_CHARS) -> str:
    """A value as compact JSON (strings quoted), cut at `limit` characters with an ellipsis."""
    if value is None:
        return "null"
    text = json.dumps(value, separators=(", ", ": "), sort_keys=True, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _node_summary(node: dict[str, Any]) -> str:
    kind = PLATFORM_TO_SPEC_TYPE.get(node.get("type", ""), node.get("type", "?"))
    name = node.get("name")
    return f"{kind} node" + (f" {name!r}" if name else "")


def _trigger_summary(trigger: dict[str, Any]) -> str:
    spec = trigger.get("spec", {})
    if trigger.get("type") == "Cron":
        return f"cron {spec.get('cron')!r}"
    actions = ",".join(spec.get("actions") or [])
    text = f"on {spec.get('resource', 'Item')} {actions}".rstrip()
    if spec.get("filter"):
        text += f" where {short(spec['filter'], 60)}"
    return text


def describe(change: FieldChange) -> str:
    """`path: before -> after`, or `path = value` for an added / removed entry, in spec words."""
    head = change.path.split(".", 1)[0]
    value = change.after if change.op is ChangeOp.ADD else change.before
    if change.op is not ChangeOp.CHANGE and isinstance(value, dict):
        if head == "nodes" and change.path.count(".") == 1:
            return f"{change.path}: {_node_summary(value)}"
        if head == "connections":
            flt = value.get("filter")
            return change.path + (f" where {short(flt, 80)}" if flt else "")
        if head == "triggers" and change.path.count(".") == 1:
            return f"{change.path}: {_trigger_summary(value)}"
        if head == "variables" and change.path.count(".") == 1:
            return f"{change.path}: {value.get('type', '')} = {short(value.get('value'))}"
    if head == "triggers" and change.path.count(".") == 1 and isinstance(change.before, dict) \
            and isinstance(change.after, dict):
        return f"{change.path}: {_trigger_summary(change.before)} -> {_trigger_summary(change.after)}"
    if head == "connections" and change.op is ChangeOp.CHANGE and isinstance(change.before, str) \
            and change.before.startswith("-> "):
        return f"{change.path}: {change.before[3:]} -> {change.after[3:]}"  # rewired
    if change.op is ChangeOp.ADD:
        return f"{change.path} = {short(change.after)}"
    if change.op is ChangeOp.REMOVE:
        return f"{change.path} (was {short(change.before)})"
    return f"{change.path}: {short(change.before)} -> {short(change.after)}"
