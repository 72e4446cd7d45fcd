"""How spec values are named in messages and recognised: JSON pointer tokens, a value's
description, `${var.X}` / `${env.X}` references left unresolved offline (pure, no I/O)."""

from __future__ import annotations

import re
from typing import Any

_WHOLE_REFERENCE = re.compile(r"\$\{\s*(?:var|env)\.[A-Za-z_][A-Za-z0-9_.-]*\s*\}")


def pointer_escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def describe(value: Any) -> str:
    """A value for a message, named by its JSON type (long strings shortened)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean " + ("true" if value else "false")
    if isinstance(value, (int, float)):
        return f"number {value}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = str(value)
    return f"'{text[:60]}...'" if len(text) > 60 else f"'{text}'"


def is_reference(value: Any) -> bool:
    """Whether `value` is exactly one `${var.X}`/`${env.X}` reference (left unresolved offline)."""
    return isinstance(value, str) and _WHOLE_REFERENCE.fullmatch(value) is not None
