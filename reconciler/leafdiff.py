"""Leaf-level differences between two JSON values, shared by the document diff and the spec-terms view."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from reconciler.plan import ChangeKind, ChangeOp, FieldChange, kind_of, render_path


@dataclass(frozen=True)
class DiffItem:
    """One difference, at its address (kopf's `DiffItem`): `section` (`nodes`, `connections`, ...
    or a pipeline field), `key` within it, `field` within that (None: the whole entry)."""

    section: str
    key: str | None
    field: str | None
    op: ChangeOp
    before: Any
    after: Any
    kind: ChangeKind

    @classmethod
    def at(cls, section: str, key: str | None, field: str | None, op: ChangeOp, before: Any, after: Any,
           kind: ChangeKind | None = None) -> DiffItem:
        return cls(section, key, field, op, before, after, kind if kind is not None else kind_of(op))

    @property
    def path(self) -> str:
        return render_path(self.section, self.key, self.field)

    def change(self, *, drift: bool = False) -> FieldChange:
        """This difference as a plan change (before it is put in spec terms)."""
        return FieldChange.at(self.section, self.key, self.field, op=self.op, kind=self.kind,
                              before=self.before, after=self.after, drift=drift)


def leaf_changes(section: str, key: str | None, before: Any, after: Any,
                 field: str | None = None) -> Iterator[DiffItem]:
    """A DiffItem for each leaf under (section, key, field) that differs. Dicts recurse; anything
    else (lists included: a port's actions) is one value, shown whole before -> after. A DQL
    filter (a path ending in `.filter`) is one value to its author, and its keys contain dots: it
    is shown whole."""
    if before == after:
        return
    if isinstance(before, dict) and isinstance(after, dict) \
            and not render_path(section, key, field).endswith(".filter"):
        for name in sorted(before.keys() | after.keys()):
            sub = f"{field}.{name}" if field else name
            if name not in before:
                yield DiffItem.at(section, key, sub, ChangeOp.ADD, None, after[name])
            elif name not in after:
                yield DiffItem.at(section, key, sub, ChangeOp.REMOVE, before[name], None)
            else:
                yield from leaf_changes(section, key, before[name], after[name], sub)
        return
    yield DiffItem.at(section, key, field, ChangeOp.CHANGE, before, after)
