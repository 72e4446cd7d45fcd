"""Pydantic validation errors turned into located, human messages.

Pydantic reports a location as a tuple of model field names, list indexes and, for unions, the
name of the union member that failed (`bool`, `LoadExistingSpec`, a node tag). Walking that tuple
over the data itself tells the three apart: a step that exists in the data is a JSON pointer step;
one that does not is a union member (dropped), or the missing field of a `missing` error. Errors of
several union members at the same place are merged into one "expected X or Y" message.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from reconciler.errors import SpecError
from reconciler.nodes import spec_type_of
from reconciler.spec import models
from reconciler.spec.source import SourceDocument
from reconciler.spec.values import describe, pointer_escape
from reconciler.spec.suggest import Hints

_TYPE_WORDS = {
    "string_type": "a string",
    "bool_type": "a boolean (true/false)",
    "int_type": "an integer",
    "float_type": "a number",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "list_type": "a list",
}

_NODE_TYPES_TEXT = ", ".join(models.TYPED_NODE_TYPES) + ", or a platform type such as merge"


def vocabulary(module: Any) -> list[str]:
    """The field names of every model in `module`: what an unknown field may have meant."""
    names: set[str] = set()
    for obj in vars(module).values():
        if isinstance(obj, type) and issubclass(obj, BaseModel) and obj is not BaseModel:
            names.update(info.alias or name for name, info in obj.model_fields.items())
    return sorted(names)


_VOCABULARY = vocabulary(models)


def _quote_hint(pointer: str, value: Any, doc: SourceDocument) -> str:
    plain = doc.plain.get(pointer)
    if plain is None:
        return ""
    if isinstance(value, bool):
        return f"; YAML 1.1 reads {plain} as a boolean: quote it, \"{plain}\""
    return f"; quote it, \"{plain}\""


def _pattern_message(pattern: str, value: Any) -> str:
    shown = describe(value)
    if pattern == models.NODE_KEY_PATTERN:
        return (
            f"invalid node key {shown}: use letters, digits, '_' and '-' (at most 64, "
            "not starting with '-'; no dots, since 'node.port' names a port)"
        )
    if pattern == models._GENERIC_TYPE_PATTERN:
        if isinstance(value, str) and spec_type_of(value) != value:
            return f"node type '{value}' is written '{spec_type_of(value)}' in a spec"
        return f"invalid node type {shown}: expected {_NODE_TYPES_TEXT}"
    if pattern == models._ENDPOINT:
        return f"invalid endpoint {shown}: expected a node key or 'node.port'"
    if pattern == models.PORT_NAME_PATTERN:
        return f"invalid port name {shown}: it may not contain dots or start with a space"
    if pattern == "^/":
        return f"folder must start with '/' (got {shown})"
    if "{4,5}" in pattern:
        return f"invalid cron expression {shown}: expected 5 or 6 space-separated fields"
    if pattern.startswith("^[A-Za-z_][A-Za-z0-9_]*$"):
        return f"invalid function name {shown}: expected a Python identifier"
    return f"{shown} does not match the pattern {pattern}"


def _message(
    error: ErrorDetails, pointer: str, field: str | None, doc: SourceDocument, hints: Hints, words: list[str]
) -> str:
    kind = error["type"]
    value = error.get("input")
    ctx = error.get("ctx") or {}
    if kind == "missing":
        if field == "type" and pointer.startswith("/spec/nodes/"):
            return f"missing required field 'type' ({_NODE_TYPES_TEXT})"
        return f"missing required field '{field}'"
    if kind == "extra_forbidden":
        name = pointer.rsplit("/", 1)[-1]
        return f"unknown field '{name}'{hints.hint(name, words)}"
    if kind in _TYPE_WORDS:
        wanted = _TYPE_WORDS[kind]
        if kind == "list_type" and pointer.endswith("/to"):
            wanted = "a node key or a list of them"
        return f"expected {wanted}, got {describe(value)}{_quote_hint(pointer, value, doc)}"
    if kind == "literal_error":
        options = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        hint = _quote_hint(pointer, value, doc)
        if len(options) <= 6:
            return f"expected one of {', '.join(options)}; got {describe(value)}{hint}"
        return f"{describe(value)} is not one of the {len(options)} allowed values{hints.hint(value, options)}{hint}"
    if kind == "string_pattern_mismatch":
        return _pattern_message(str(ctx.get("pattern", "")), value)
    if kind in ("too_short", "string_too_short"):
        minimum = ctx.get("min_length", 1)
        return "must not be empty" if minimum == 1 else f"needs at least {minimum} entries"
    if kind == "string_too_long":
        return f"is longer than {ctx.get('max_length')} characters"
    bounds = {
        "greater_than_equal": (">=", "ge"),
        "less_than_equal": ("<=", "le"),
        "greater_than": (">", "gt"),
        "less_than": ("<", "lt"),
    }
    if kind in bounds:
        symbol, key = bounds[kind]
        return f"must be {symbol} {ctx.get(key)} (got {describe(value)})"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    return str(error["msg"])


def _walk(loc: tuple[Any, ...], data: Any, kind: str) -> tuple[str, str | None, bool]:
    """(pointer, the missing field of a `missing` error, whether a union member was crossed).

    A mapping-key error (`[key]`) points at the key itself."""
    steps = list(loc)
    # The node union's tag always follows the node key; it can equal a field name ("task"), so
    # drop it by position rather than by looking it up in the data.
    if len(steps) >= 4 and steps[:2] == ["spec", "nodes"] and steps[3] in models.NODE_TAGS:
        del steps[3]
    parts: list[str] = []
    current = data
    union = False
    for i, step in enumerate(steps):
        last = i == len(steps) - 1
        if step == "[key]":
            return "/" + "/".join(parts), None, union
        if isinstance(current, dict) and isinstance(step, str) and step in current:
            parts.append(pointer_escape(step))
            current = current[step]
            continue
        if isinstance(current, list) and isinstance(step, int) and 0 <= step < len(current):
            parts.append(str(step))
            current = current[step]
            continue
        if last and kind == "missing":
            return "/" + "/".join(parts) + f"/{pointer_escape(str(step))}", str(step), union
        union = True
    return ("/" + "/".join(parts)) if parts else "", None, union


def _is_node_type(pointer: str) -> bool:
    parts = pointer.split("/")
    return len(parts) == 5 and parts[1:3] == ["spec", "nodes"] and parts[4] == "type"


def translate(exc: ValidationError, doc: SourceDocument, *, words: list[str] | None = None) -> list[SpecError]:
    """Every validation error of `exc` as a SpecError located in `doc` (`words`: the field names an
    unknown field is compared with; default those of the spec models)."""
    plain: list[tuple[str, str]] = []
    unions: dict[str, list[tuple[ErrorDetails, str]]] = {}
    hints = Hints()
    for error in exc.errors(include_url=False):
        pointer, field, union = _walk(tuple(error["loc"]), doc.data, error["type"])
        message = _message(error, pointer, field, doc, hints, _VOCABULARY if words is None else words)
        if union:
            unions.setdefault(pointer, []).append((error, message))
        else:
            plain.append((pointer, message))
    for pointer, group in unions.items():
        if any(other.startswith(pointer + "/") for other in unions):
            # A union member took the value and failed inside it: that the value is not what another
            # member wanted ("expected a list") only distracts from the problem inside.
            group = [(e, m) for e, m in group if e["type"] not in _TYPE_WORDS]
            if not group:
                continue
        if len(group) == 1:
            plain.append((pointer, group[0][1]))
            continue
        type_errors = [e for e, _ in group if e["type"] in _TYPE_WORDS]
        deeper = [m for e, m in group if e["type"] not in _TYPE_WORDS]
        if deeper:
            plain.extend((pointer, m) for m in dict.fromkeys(deeper))
        else:
            wanted = " or ".join(dict.fromkeys(_TYPE_WORDS[e["type"]] for e in type_errors))
            value = type_errors[0].get("input")
            plain.append(
                (pointer, f"expected {wanted}, got {describe(value)}{_quote_hint(pointer, value, doc)}")
            )
    # A node whose type is missing or wrong was checked against the generic model, whose unknown
    # field errors ("unknown field 'dataset'") would only distract from the real mistake.
    untyped = {p.rsplit("/", 1)[0] + "/" for p, _ in plain if _is_node_type(p)}
    plain = [
        (p, m)
        for p, m in plain
        if not (m.startswith("unknown field") and any(p.startswith(u) for u in untyped))
    ]
    errors = [SpecError(message, doc.locate(pointer)) for pointer, message in plain]
    return sorted(errors, key=lambda e: (e.location.line, e.location.col, e.message))
