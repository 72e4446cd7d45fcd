"""Spec string interpolation: `${var.NAME}` (the selected environment's variables, from
loopform.yaml) and `${env.NAME}` (the process environment), with `$${` for a literal `${`.

Pure: the variables and the environment mapping are passed in (`Context`); nothing here reads
`os.environ`. Only mapping *values* and list items are interpolated, never mapping keys (a node
key is the node's identity; it must not depend on where the spec is applied).

A string that is exactly one reference (`dataset: ${var.frames}`) takes the variable's value with
its YAML type (so `threshold: ${var.threshold}` can be a number); a reference inside a longer
string is replaced by the value's text.

Without a context (offline: `loopform validate` knows no environment) references are only checked
for syntax and left in place (`$${` still becomes `${`).

Every `${env.NAME}` value is sensitive: a spec is written by whoever opens a pull request, and the
CI that plans it has secrets in its environment, so a value read from there is never shown (the
CLI redacts it, saved plans store `(sensitive:env.NAME)`). `Context.read_env` is the one way such a
value is read: it records it and tells `on_sensitive`, so redaction is in place before anything
that could quote the value is printed. A value shorter than `secret_paths.MIN_SECRET` cannot be redacted
without blanking unrelated text, so it is refused (located). Values that are not secret belong in
loopform.yaml `variables:` (`{env: NAME, secret: false}`).
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.errors import Location, SpecError
from reconciler.sensitive import ENV_PREFIX, MIN_SECRET

Scalar = str | int | float | bool
_REFERENCE = re.compile(r"\$\$\{|\$\{([^}]*)\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
NAMESPACES = ("var", "env")


@dataclass(frozen=True)
class Variable:
    """One `${var.NAME}` value. `value` is None when its source is missing (`missing` says why);
    using such a variable is a located error, defining it is not."""

    name: str
    value: Scalar | None
    secret: bool = False
    missing: str | None = None




@dataclass(frozen=True)
class Context:
    """What `${...}` can refer to. `environment` names the selected environment for messages.

    `on_sensitive` is called with each `${env.*}` value the first time it is read (the CLI installs
    its redaction there).
    """

    variables: Mapping[str, Variable] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    environment: str | None = None
    on_sensitive: Callable[[str], None] | None = field(default=None, compare=False, repr=False)
    # The projects the selected environment's specs may name (empty: any; see config.EnvironmentDecl).
    projects: frozenset[str] = frozenset()
    # NAME -> value of every environment variable read through `read_env` so far.
    _read: dict[str, str] = field(default_factory=dict, init=False, compare=False, repr=False)

    def read_env(self, name: str) -> str | None:
        """The environment variable `name` (None when unset), from now on among `secrets()`."""
        value = self.env.get(name)
        # A shorter value is refused by its user (interpolate, planfile.restore), never shown.
        if value is not None and len(value) >= MIN_SECRET and name not in self._read:
            self._read[name] = value
            if self.on_sensitive is not None:
                self.on_sensitive(value)
        return value

    def hide(self, value: str) -> None:
        """Keep `value` out of the output although no reference gives it: a rotated secret's old
        value, found in a live pipeline where the marker says a secret sits (`secret_paths`)."""
        if len(value) >= MIN_SECRET and self.on_sensitive is not None:
            self.on_sensitive(value)

    def secrets(self) -> dict[str, str]:
        """name -> text of every value that must not be shown: each secret variable that has a
        value, and each environment variable read so far (named `env.NAME`)."""
        out = {n: str(v.value) for n, v in self.variables.items() if v.secret and v.value is not None}
        out.update({f"{ENV_PREFIX}{n}": v for n, v in self._read.items()})
        return out

    def secret(self, name: str) -> str | None:
        """The value a saved plan's `(sensitive:NAME)` stands for (None when there is none):
        a secret variable, or for `env.X` the environment variable X (read through `read_env`)."""
        if name.startswith(ENV_PREFIX):
            return self.read_env(name[len(ENV_PREFIX):])
        variable = self.variables.get(name)
        if variable is None or not variable.secret or variable.value is None:
            return None
        return str(variable.value)


@dataclass
class Result:
    """Interpolated data plus every problem found and a digest of the values used.

    `digest` covers each reference and its value (empty when none was used): mixed into the spec
    digest, it makes a saved plan stale when a variable it was made with changes.
    """

    data: Any
    errors: list[SpecError]
    digest: str = ""


def interpolate(data: Any, context: Context | None, locate: Callable[[str], Location]) -> Result:
    """Replace references in every string value of `data` (JSON-like; not mutated).

    `locate` maps a JSON pointer to a file location for errors.
    """
    errors: list[SpecError] = []
    used: dict[str, str] = {}

    def string(text: str, pointer: str) -> Any:
        if "${" not in text:
            return text
        whole = _REFERENCE.fullmatch(text)
        if whole and whole.group(0) != "$${":
            value = _lookup(whole.group(1), pointer)
            return text if value is _UNRESOLVED else value

        def replace(match: re.Match[str]) -> str:
            if match.group(0) == "$${":
                return "${"
            value = _lookup(match.group(1), pointer)
            return match.group(0) if value is _UNRESOLVED else _text(value)

        return _REFERENCE.sub(replace, text)

    def _lookup(body: str, pointer: str) -> Any:
        namespace, _, name = body.strip().partition(".")
        if namespace not in NAMESPACES or not _NAME.fullmatch(name):
            errors.append(SpecError(
                f"'${{{body}}}' is not a reference: use ${{var.NAME}} or ${{env.NAME}} "
                "(write $${ for a literal ${)", locate(pointer)))
            return _UNRESOLVED
        if context is None:
            return _UNRESOLVED
        where = f" in environment '{context.environment}'" if context.environment else ""
        if namespace == "env":
            found = context.read_env(name)
            if found is None:
                errors.append(SpecError(f"environment variable {name} is not set (used as ${{env.{name}}})",
                                        locate(pointer)))
                return _UNRESOLVED
            if len(found) < MIN_SECRET:
                errors.append(SpecError(
                    f"environment variable {name} is too short for ${{env.{name}}}: values from the "
                    f"environment are secret, shown as (sensitive), and redacting needs at least {MIN_SECRET} "
                    "characters. A value that is not secret belongs in loopform.yaml `variables:` as "
                    f"{{env: {name}, secret: false}}, used as ${{var.NAME}}", locate(pointer)))
                return _UNRESOLVED
            value: Scalar = found
        else:
            variable = context.variables.get(name)
            if variable is None:
                known = ", ".join(sorted(context.variables)) or "none"
                errors.append(SpecError(f"variable '{name}' is not defined{where} (defined: {known}); "
                                        "add it under `variables:` in loopform.yaml", locate(pointer)))
                return _UNRESOLVED
            if variable.value is None:
                errors.append(SpecError(f"variable '{name}'{where} has no value: {variable.missing}",
                                        locate(pointer)))
                return _UNRESOLVED
            value = variable.value
        used[f"{namespace}.{name}"] = _text(value)
        return value

    def walk(node: Any, pointer: str) -> Any:
        if isinstance(node, str):
            return string(node, pointer)
        # A leaf without `${` is most of a spec: kept as is, without making its pointer.
        if isinstance(node, dict):
            return {k: v if _plain(v) else walk(v, f"{pointer}/{_escape(k)}") for k, v in node.items()}
        if isinstance(node, list):
            return [v if _plain(v) else walk(v, f"{pointer}/{i}") for i, v in enumerate(node)]
        return node

    out = walk(data, "")
    digest = ""
    if used:
        h = hashlib.sha256()
        for key in sorted(used):
            h.update(f"{key}\0{used[key]}\0".encode())
        digest = h.hexdigest()
    return Result(data=out, errors=errors, digest=digest)


class ExpansionTooLarge(Exception):
    """A `ValueBudget` ran out: what `substitute` was making would exceed it."""


class ValueBudget:
    """How many values (keys, items and containers, as the spec reader counts them) the copies that
    `substitute` makes of one file may hold together: for-each entries and module uses multiply a
    small file (a module used 100 times in a module used 100 times), and every copy is loaded,
    checked and compiled. Shared by all the substitutions of one file; raises ExpansionTooLarge."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def charge(self, count: int) -> None:
        self.used += count
        if self.used > self.limit:
            raise ExpansionTooLarge


def value_count(data: Any) -> int:
    """The values in `data`: each container, key and item (a scalar is one)."""
    count = 1
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            count += 2 * len(node)
            stack.extend(v for v in node.values() if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            count += len(node)
            stack.extend(v for v in node if isinstance(v, (dict, list)))
    return count


def substitute(data: Any, namespace: str, lookup: Callable[[str], Any],
               unknown: Callable[[str, str], SpecError], budget: ValueBudget) -> tuple[Any, list[SpecError]]:
    """Replace `${<namespace>.NAME}` in every string value of `data` (not mutated) by `lookup(NAME)`,
    before `interpolate` (which knows only `var` and `env`) runs: a module's `${input.*}`, a
    for-each's `${each.*}`. As in `interpolate`, a value that is one whole reference takes the value
    with its type, and `$${` is left for `interpolate` to unescape. `lookup` raises KeyError for a
    name it does not know; `unknown(reference, pointer)` makes that error. The copy is charged to
    `budget` as it is made (ExpansionTooLarge, before the value that would exceed it is copied)."""
    pattern = re.compile(r"\$\$\{|\$\{\s*" + re.escape(namespace) + r"\.([A-Za-z_][A-Za-z0-9_.-]*)\s*\}")
    errors: list[SpecError] = []
    missing = object()
    # id of a value references take whole -> (the value, held so its id stays its own; its values)
    sizes: dict[int, tuple[Any, int]] = {}

    def value(match: re.Match[str], pointer: str) -> Any:
        try:
            return lookup(match.group(1))
        except KeyError:
            errors.append(unknown(match.group(0), pointer))
            return missing

    def string(text: str, pointer: str) -> Any:
        whole = pattern.fullmatch(text)
        if whole and whole.group(1) is not None:
            found = value(whole, pointer)
            if found is missing:
                return text
            if isinstance(found, (dict, list)):
                if id(found) not in sizes:
                    sizes[id(found)] = (found, value_count(found))
                budget.charge(sizes[id(found)][1] - 1)  # the reference itself was counted
            return copy.deepcopy(found)

        def replace(match: re.Match[str]) -> str:
            if match.group(1) is None:
                return match.group(0)
            found = value(match, pointer)
            return match.group(0) if found is missing else _text(found)

        return pattern.sub(replace, text)

    def walk(node: Any, pointer: str) -> Any:
        if isinstance(node, str):
            return string(node, pointer) if "${" in node else node
        if isinstance(node, dict):
            budget.charge(2 * len(node))
            return {k: v if _plain(v) else walk(v, f"{pointer}/{_escape(str(k))}") for k, v in node.items()}
        if isinstance(node, list):
            budget.charge(len(node))
            return [v if _plain(v) else walk(v, f"{pointer}/{i}") for i, v in enumerate(node)]
        return node

    budget.charge(1)
    return walk(data, ""), errors


def _plain(value: Any) -> bool:
    """A value no reference can be in: a scalar other than a string, or a string without `${`."""
    if isinstance(value, str):
        return "${" not in value
    return not isinstance(value, (dict, list))


class _Unresolved:
    pass


_UNRESOLVED: Any = _Unresolved()


def _text(value: Any) -> str:
    if isinstance(value, bool):  # YAML spelling, not Python's
        return "true" if value else "false"
    return str(value)


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def escape_references(value: Any) -> Any:
    """`${` in strings written as `$${` (what `interpolate` reads back as a literal `${`): for live
    values written into specs (export, a template used as a module), where an `${HOME}` must not be
    read back as a reference. Values only: keys are never interpolated."""
    if isinstance(value, str):
        return value.replace("${", "$${")
    if isinstance(value, dict):
        return {k: escape_references(v) for k, v in value.items()}
    if isinstance(value, list):
        return [escape_references(v) for v in value]
    return value
