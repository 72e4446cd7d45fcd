"""Leaf-level differences between two JSON values, shared by the document diff and the spec-terms view."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from reconciler.plan import ChangeOp


def leaf_changes(path: str, before: Any, after: Any) -> Iterator[tuple[str, ChangeOp, Any, Any]]:
    """(path, op, before, after) for each leaf that differs. Dicts recurse; anything else (lists
    included: a port's actions) is one value, shown whole before -> after. A DQL filter (a path
    ending in `.filter`) is one value to its author, and its keys contain dots: it is shown whole."""
    if before == after:
        return
    if isinstance(before, dict) and isinstance(after, dict) and not path.endswith(".filter"):
        for key in sorted(before.keys() | after.keys()):
            sub = f"{path}.{key}"
            if key not in before:
                yield sub, ChangeOp.ADD, None, after[key]
            elif key not in after:
                yield sub, ChangeOp.REMOVE, before[key], None
            else:
                yield from leaf_changes(sub, before[key], after[key])
        return
    yield path, ChangeOp.CHANGE, before, after
