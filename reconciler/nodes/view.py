"""A node's spec view under construction: how a platform node is read as spec fields.

`spec_terms` builds one `SpecView` per changed node and lets the node's type module fill it
(`NodeType.spec_view`); the helpers here are the readings several types share.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reconciler.backend import ResourceKind

# id -> name of a platform object, or None when unknown. Injected: the planner backs it with what
# compile resolved plus the backend's reverse lookup; tests pass a dict's `get`.
NameLookup = Callable[[ResourceKind, str], "str | None"]


def lookup(node: dict[str, Any], path: str) -> tuple[bool, Any]:
    """(present, value) at a dotted platform path of a node essence (`metadata.recipeId`,
    `outputs.item.actions`); the paths this module reads never contain dots in their keys."""
    holder: Any = node
    for part in path.split("."):
        if not isinstance(holder, dict) or part not in holder:
            return False, None
        holder = holder[part]
    return True, holder


class SpecView:
    """A node's spec view under construction: `out` (spec terms), `sources` (spec path -> the
    platform paths it was read from), and the raw remainder still to be placed."""

    def __init__(self, node: dict[str, Any], raw_only: frozenset[str]) -> None:
        self.node = node
        self.raw_only = raw_only
        self.out: dict[str, Any] = {}
        self.sources: dict[str, tuple[str, ...]] = {}
        self.consumed: set[str] = set()

    @property
    def namespace(self) -> dict[str, Any]:
        ns = self.node.get("namespace")
        return ns if isinstance(ns, dict) else {}

    def get(self, path: str) -> Any:
        return lookup(self.node, path)[1]

    def has(self, path: str) -> bool:
        return lookup(self.node, path)[0]

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

    def drop_fixed(self, fixed: dict[str, Any]) -> None:
        """Leave out namespace fields that have exactly the values compile writes for the type
        (they are not spec fields)."""
        ns = self.namespace
        for name, value in fixed.items():
            if ns.get(name) == value and self.usable(f"namespace.{name}"):
                self.consumed.add(f"namespace.{name}")

    def named(self, spec_path: str, kind: ResourceKind, id_path: str, title_path: str | None,
              names: NameLookup) -> None:
        """An id field (plus the title the platform keeps beside it) shown as the object's name."""
        if not self.has(id_path) or not self.usable(id_path):
            return
        ident = self.get(id_path)
        if not isinstance(ident, str) or not ident:
            return
        name = names(kind, ident)
        title = self.get(title_path) if title_path else None
        if name is None and isinstance(title, str) and title:
            name = title
        platform = [id_path]
        if title_path and self.has(title_path) and self.usable(title_path) and title == (name or ident):
            platform.append(title_path)
        self.put(spec_path, {"name": name, "id": ident} if name is not None else ident, *platform)

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


def nonempty_str(value: Any) -> Any:
    return value if isinstance(value, str) and value else None
