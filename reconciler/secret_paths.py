"""Where secrets sit in a pipeline, so that a rotated secret's old value stays secret.

Redaction (`reconciler.redact`) knows the *current* secret values. After a secret changes, the live
pipeline still holds the old one, and a plan shows it as the `before` of the change, in clear. So
compile records in the marker (`Marker.secrets`) where secrets sit: for each string of the
document's essence that holds a secret value, its path (a JSON pointer into the essence, which is
keyed by spec key and so survives node ids and list order) and its *template*: the string with
each secret replaced by its reference (`"Bearer ${env.HOOK_TOKEN}"`). Names, never values.

Reading a live pipeline (`recorded_secrets`), each recorded path's live value is matched against
its template: what stands where a reference stands is a secret value, whatever it is now; a value
that no longer fits the template (edited by hand) is secret as a whole. The CLI redacts those
values like current ones, and `export` writes the reference back in their place.

Pure: no I/O. Matching never backtracks (literal parts are found left to right with `str.find`):
live values are hostile, and a backtracking pattern could be made to run for minutes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.document import Pipeline
from reconciler.marker import read_marker
from reconciler.normalize import Essence, essence, node_keys
from reconciler.sensitive import ENV_PREFIX, MIN_SECRET


_TEMPLATE_PART = re.compile(r"\$\$\{|\$\{([^}]*)\}")
_COSMETIC_PORT_FIELDS = ("displayName", "color")


@dataclass(frozen=True)
class Hidden:
    """A secret value found in a live pipeline, and the spec text that stands for it there
    (`${env.NAME}`, `${var.NAME}`, or a whole template when the value no longer fits it)."""

    value: str
    reference: str


def reference(name: str) -> str:
    """The spec reference of a secret named as `interpolate.Context.secrets()` names it."""
    if name.startswith(ENV_PREFIX):
        return f"${{env.{name[len(ENV_PREFIX):]}}}"
    return f"${{var.{name}}}"


def _pointer(parts: tuple[str, ...]) -> str:
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


def _parts(pointer: str) -> list[str]:
    return [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]


def _leaves(ess: Essence) -> Iterator[tuple[tuple[str, ...], Any]]:
    """(path, value) of every scalar of the essence (the root node's key is identity, not text)."""
    def walk(path: tuple[str, ...], value: Any) -> Iterator[tuple[tuple[str, ...], Any]]:
        if isinstance(value, dict):
            for key, item in value.items():
                yield from walk((*path, str(key)), item)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                yield from walk((*path, str(index)), item)
        else:
            yield path, value

    for section in ("fields", "nodes", "connections", "triggers", "variables", "settings"):
        yield from walk((section,), getattr(ess, section))


def secret_templates(ess: Essence, secrets: Mapping[str, str]) -> dict[str, str]:
    """pointer -> template of each essence string holding one of `secrets` (name -> value).

    A number that is exactly a secret's value (`${var.port}`) is recorded too; a `${` of the live
    text itself is written `$${`, as in a spec.
    """
    by_value: dict[str, str] = {}
    for name in sorted(secrets):
        value = secrets[name]
        if len(value) >= MIN_SECRET:
            by_value.setdefault(value, name)
    if not by_value:
        return {}
    # Longest first, so that a secret containing another is replaced whole.
    pattern = re.compile("|".join(re.escape(v) for v in sorted(by_value, key=len, reverse=True)))
    out: dict[str, str] = {}
    for path, value in _leaves(ess):
        if isinstance(value, (int, float)) and not isinstance(value, bool) and str(value) in by_value:
            out[_pointer(path)] = reference(by_value[str(value)])
        elif isinstance(value, str) and pattern.search(value):
            pieces: list[str] = []
            done = 0
            for match in pattern.finditer(value):
                pieces.append(value[done:match.start()].replace("${", "$${"))
                pieces.append(reference(by_value[match.group()]))
                done = match.end()
            pieces.append(value[done:].replace("${", "$${"))
            out[_pointer(path)] = "".join(pieces)
    return out


def _split(template: str) -> tuple[list[str], list[str]]:
    """A template's literal parts (one more than its references) and its references."""
    literals, references = [""], []
    done = 0
    for match in _TEMPLATE_PART.finditer(template):
        literals[-1] += template[done:match.start()]
        if match.group(0) == "$${":
            literals[-1] += "${"
        else:
            references.append(match.group(0))
            literals.append("")
        done = match.end()
    literals[-1] += template[done:]
    return literals, references


def _match(template: str, value: str) -> list[Hidden] | None:
    """What stands in `value` where each reference of `template` stands (None: it does not fit).
    Literal parts are taken leftmost, so the result is one of the possible readings: each piece
    of the value that is not literal text is returned, which is what redaction needs."""
    literals, references = _split(template)
    if not value.startswith(literals[0]) or len(value) < sum(map(len, literals)):
        return None
    if len(literals) > 1 and not value.endswith(literals[-1]):
        return None
    at = len(literals[0])
    end = len(value) - len(literals[-1]) if len(literals) > 1 else len(value)
    found: list[Hidden] = []
    for ref, literal in zip(references, literals[1:-1]):
        stop = value.find(literal, at, end) if literal else at
        if stop == -1:
            return None
        found.append(Hidden(value[at:stop], ref))
        at = stop + len(literal)
    if references:
        found.append(Hidden(value[at:end], references[-1]))
    elif at != end:
        return None
    return found


def _owned(pointers: Iterator[str]) -> frozenset[str]:
    """The cosmetic paths (node names, port display names) the essence must keep for `pointers`."""
    owned = set()
    for pointer in pointers:
        parts = _parts(pointer)
        if len(parts) == 3 and parts[0] == "nodes" and parts[2] == "name":
            owned.add(f"nodes.{parts[1]}.name")
        elif len(parts) == 5 and parts[0] == "nodes" and parts[4] in _COSMETIC_PORT_FIELDS:
            owned.add(".".join(parts))
    return frozenset(owned)


def _at(ess: Essence, pointer: str) -> Any:
    parts = _parts(pointer)
    if not parts or parts[0] not in Essence.model_fields or parts[0] == "root":
        return None
    value: Any = getattr(ess, parts[0])
    for part in parts[1:]:
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield str(value)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)


def recorded_secrets(live: Pipeline, also: Mapping[str, str] | None = None) -> list[Hidden]:
    """The secret values in `live` at the paths its marker records (and at the paths of `also`,
    more templates: where the specs put secrets now), each with the reference it stands for.

    A value at a recorded path that does not fit its template is returned whole, standing for the
    whole template; so is every text under a path where a mapping or list now stands.
    """
    marker = read_marker(live)
    templates = {**(also or {}), **(marker.secrets if marker is not None else {})}
    if not templates:
        return []
    keys = node_keys(live, marker.node_key_by_id() if marker is not None else {})
    ess = essence(live, keys=keys, owned=_owned(iter(templates)))
    found: list[Hidden] = []
    for pointer, template in sorted(templates.items()):
        value = _at(ess, pointer)
        if value is None:
            continue
        matched = _match(template, value) if isinstance(value, str) else None
        if matched is None:
            matched = [Hidden(text, template) for text in _texts(value)]
        found.extend(h for h in matched if len(h.value) >= MIN_SECRET)
    return found
