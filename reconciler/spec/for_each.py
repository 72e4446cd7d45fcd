"""For-each: one spec file that stamps out one pipeline per entry of its `forEach:` map or list.

    forEach:
      cars: {dataset: cars-raw, recipe: boxes}
      bikes: {dataset: bikes-raw, recipe: polygons}
    metadata:
      name: label-${each.key}

Each entry gives a copy of the document without `forEach:`, with `${each.key}` and `${each.value}`
/ `${each.value.X}` replaced (a list of strings: key and value are the string), before `${var.*}`
and modules, so they are usable everywhere `${var.*}` is. Each copy is a pipeline of its own: its
own marker, its own plan entry; prune treats each as a member of the spec set (see spec_set).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from reconciler.errors import Location, SpecError
from reconciler.interpolate import ExpansionTooLarge, ValueBudget, substitute
from reconciler.spec.source import SourceDocument
from reconciler.spec.values import describe

FOR_EACH = "forEach"


@dataclass(frozen=True)
class Entry:
    """One entry: its document (a copy of the file's, `${each.*}` replaced) and a digest of it."""

    key: str
    doc: SourceDocument
    digest: str


def _lookup(key: str, value: Any, name: str) -> Any:
    if name == "key":
        return key
    head, _, rest = name.partition(".")
    if head != "value":
        raise KeyError(name)
    found = value
    for part in rest.split(".") if rest else ():
        if not isinstance(found, dict) or part not in found:
            raise KeyError(name)
        found = found[part]
    return found


def _entries(declared: Any, doc: SourceDocument) -> tuple[list[tuple[str, Any]], list[SpecError]]:
    def where() -> Location:  # only for a message: locating reads the file's line marks
        return doc.locate(f"/{FOR_EACH}")

    if isinstance(declared, dict) and declared:
        bad = [k for k in declared if not isinstance(k, str) or not k]
        if bad:
            return [], [SpecError(f"forEach keys must be non-empty strings, got {describe(bad[0])}", where())]
        return list(declared.items()), []
    if isinstance(declared, list) and declared:
        for index, item in enumerate(declared):
            if not isinstance(item, str) or not item:
                return [], [SpecError(f"a forEach list holds strings (each is its entry's key and value), got "
                                      f"{describe(item)}; use a mapping for entries with fields",
                                      doc.locate(f"/{FOR_EACH}/{index}"))]
        seen: set[str] = set()
        for item in declared:
            if item in seen:
                return [], [SpecError(f"forEach lists '{item}' twice", where())]
            seen.add(item)
        return [(item, item) for item in declared], []
    if declared in ({}, []):
        return [], [SpecError("forEach is empty: give at least one entry", where())]
    return [], [SpecError(f"forEach must be a mapping or a list of strings, got {describe(declared)}", where())]


def expand(doc: SourceDocument, budget: ValueBudget) -> tuple[list[Entry] | None, list[SpecError]]:
    """The entries of `doc` (None when it has no `forEach:`: the document is one pipeline); their
    copies are charged to `budget` (running out is a located error, and no entry)."""
    if not isinstance(doc.data, dict) or FOR_EACH not in doc.data:
        return None, []
    pairs, errors = _entries(doc.data[FOR_EACH], doc)
    template = {k: v for k, v in doc.data.items() if k != FOR_EACH}
    out: list[Entry] = []
    missing: dict[tuple[str, str], list[str]] = {}  # (reference, pointer) -> the entries without it
    for index, (key, value) in enumerate(pairs):
        try:
            data, problems = substitute(
                template, "each", lambda name, key=key, value=value: _lookup(key, value, name),  # type: ignore[misc]
                lambda reference, pointer, key=key: SpecError(reference, Location("", pointer=pointer)),  # type: ignore[misc]
                budget)
        except ExpansionTooLarge:
            return [], [SpecError(f"the forEach entries make more than {budget.limit} values of pipelines ({index} "
                                  f"of {len(pairs)} entries fit); split the file", doc.locate(f"/{FOR_EACH}"))]
        for problem in problems:
            missing.setdefault((problem.message, problem.location.pointer), []).append(key)
        entry = json.dumps([key, value], sort_keys=True, default=str)
        out.append(Entry(key, dataclasses.replace(doc, data=data, errors=[], grafts={}), entry))
    for (reference, pointer), keys in missing.items():
        which = "any forEach entry" if len(keys) == len(pairs) else \
            "forEach " + ("entry " if len(keys) == 1 else "entries ") + ", ".join(f"'{k}'" for k in keys)
        errors.append(SpecError(f"'{reference}' is not in {which} (use ${{each.key}}, ${{each.value}} or "
                                "${each.value.FIELD})", doc.locate(pointer)))
    if errors:  # a pipeline with a hole would only report the hole again
        return [], errors
    return out, []


def unique(errors: list[SpecError]) -> list[SpecError]:
    """Each problem once: a mistake in the shared template is found again in every entry."""
    seen: set[tuple[str, str]] = set()
    kept = []
    for error in errors:
        if (str(error.location), error.message) not in seen:
            seen.add((str(error.location), error.message))
            kept.append(error)
    return kept


