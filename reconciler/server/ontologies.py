"""Ontologies (a recipe's labels) in the platform's shape, and the label edits dtlpy makes.

The platform keeps labels as a tree of `roots`: `{"value": {"tag", "displayLabel", "color",
"attributes", "displayData"}, "children": [...]}`; a child's tag is its full dotted path
("animal.cat"). dtlpy sends new labels in that form on create (`POST /ontologies {roots,
projectIds, attributes, title?}`) and as a flat `labelsNode` list of dotted tags on
`PATCH /ontologies/{id}/labels` (`upsert`) and `PATCH /ontologies/{id}/addLabels`; it reads the
whole ontology back. Pure functions; a malformed label raises HttpError(400).
"""

from __future__ import annotations

import copy
from typing import Any

from reconciler.server.http import HttpError
from reconciler.server.ids import now_iso

Doc = dict[str, Any]
KIND = "ontology"
_VALUE_KEYS = ("tag", "displayLabel", "color", "attributes", "displayData")


def ontology_doc(*, ontology_id: str, project_ids: list[str], creator: str, roots: list[Any] | None = None,
                 title: str | None = None, attributes: list[Any] | None = None) -> Doc:
    now = now_iso()
    return {
        "id": ontology_id, "title": title or ontology_id, "projectIds": project_ids, "creator": creator,
        "createdAt": now, "updatedAt": now, "roots": [label_root(r, "roots") for r in roots or []],
        "attributes": list(attributes or []), "metadata": {"system": {}, "attributes": []},
    }


def _value(value: Any, where: str) -> Doc:
    if not isinstance(value, dict) or not isinstance(value.get("tag"), str) or not value["tag"].strip():
        raise HttpError(400, f"{where}: each label needs a non-empty 'tag'")
    kept = {key: copy.deepcopy(value[key]) for key in _VALUE_KEYS if value.get(key) is not None}
    kept.setdefault("displayLabel", value["tag"].rsplit(".", 1)[-1])
    return kept


def label_root(root: Any, where: str) -> Doc:
    """A root as the platform stores it, from the forms dtlpy sends (`{value, children}`)."""
    if not isinstance(root, dict):
        raise HttpError(400, f"{where}: a label must be an object")
    value = _value(root.get("value", root), where)
    children = root.get("children") or []
    if not isinstance(children, list):
        raise HttpError(400, f"{where}: 'children' must be a list")
    return {"value": value, "children": [label_root(c, f"{where}/children") for c in children]}


def merge_labels(roots: list[Doc], labels_node: Any, *, upsert: bool) -> list[Doc]:
    """`roots` with the flat `labelsNode` labels added or updated (a dotted tag is a child of the
    label its prefix names, created if missing). Without `upsert` an unknown tag is a 400."""
    if not isinstance(labels_node, list):
        raise HttpError(400, "'labelsNode' must be a list of labels")
    merged = copy.deepcopy(roots)
    for label in labels_node:
        value = _value(label, "labelsNode")
        level = merged
        path = value["tag"].split(".")
        for depth in range(1, len(path) + 1):
            tag = ".".join(path[:depth])
            found = next((r for r in level if r["value"].get("tag") == tag), None)
            if found is None:
                if depth == len(path) and not upsert:
                    raise HttpError(404, f"Label not found: {tag}")
                found = {"value": {"tag": tag, "displayLabel": path[depth - 1]}, "children": []}
                level.append(found)
            if depth == len(path):
                found["value"].update(value)
            level = found["children"]
    return merged
