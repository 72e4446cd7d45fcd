"""Pipeline documents as the control plane stores and returns them (reference sections 3-5).

Contract (pure functions over wire dicts; no I/O):
- `new_document(body, project, user)` turns a create body into the stored document.
- `patched_document(current, body, user)` applies a PATCH: the body is the whole new value of each
  writable field it carries (nodes, connections, startNodes, variables, settings, name, description,
  preview); fields it omits keep their value; read-only fields (id, projectId, status, creator,
  createdAt, compositionId, url, orgId, revision...) are ignored, because dtlpy's `update()` sends
  the whole entity back, stale server fields included (reference 5.1).
- Every stored document passes through `_canonical`: validated by `reconciler.document.Pipeline`
  (so `condition` is a JSON string defaulting to "{}"), client node/port ids kept exactly,
  `metadata.position` filled where missing (dtlpy indexes it: reference 3.2), server ids given to
  start nodes (UUIDs) and variables (ObjectIds) that lack one, unknown top-level keys dropped (the
  platform's APIPipeline has additionalProperties: false), `revision` bumped and `updatedAt` set.
- `compositionId` is given at create, as the platform does. `revision` is the server's own count of
  changes (stored, used as an execution's `pipelineVersion`); `for_response` leaves it out.
Invalid input raises `HttpError(400)` with a message naming the offending field.
"""

from __future__ import annotations

import copy
from collections import deque
from typing import Any

from pydantic import ValidationError

from reconciler.document import STATUS_CREATED, Pipeline
from reconciler.server.http import HttpError
from reconciler.server.ids import new_uuid, now_iso, object_id

Doc = dict[str, Any]

WRITABLE_FIELDS = (
    "name", "description", "preview", "nodes", "connections", "startNodes", "variables", "settings",
)
# Server-owned fields kept from the stored document whatever the body says.
SERVER_FIELDS = (
    "id", "projectId", "orgId", "creator", "createdAt", "updatedAt", "updatedBy", "status",
    "compositionId", "revision", "resetTimestamp", "template", "versionNumber",
)
_KNOWN_FIELDS = frozenset((*WRITABLE_FIELDS, *SERVER_FIELDS))


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = "/".join(str(p) for p in err["loc"])
        parts.append(f"{where}: {err['msg']}")
    more = f" (and {exc.error_count() - 5} more)" if exc.error_count() > 5 else ""
    return "Invalid pipeline document: " + "; ".join(parts) + more


def parse(doc: Doc) -> Pipeline:
    """The document as the shared model; 400 on a shape error."""
    try:
        return Pipeline.model_validate(doc)
    except ValidationError as exc:
        raise HttpError(400, _validation_message(exc)) from None


def _canonical(doc: Doc, *, user: str, pipeline_id: str) -> Doc:
    model = parse(doc)
    if not model.name.strip():
        raise HttpError(400, "Pipeline name must not be empty")
    wire = model.wire()
    for key in list(wire):
        if key not in _KNOWN_FIELDS:
            del wire[key]
    for index, node in enumerate(wire.get("nodes", [])):
        metadata = node.setdefault("metadata", {})
        position = metadata.get("position")
        if not isinstance(position, dict):
            position = metadata["position"] = {}
        # Lay nodes without a position out on a row so a canvas shows them apart.
        position.setdefault("x", 100 + 340 * index)
        position.setdefault("y", 87)
        position.setdefault("z", 0)
    for start in wire.get("startNodes", []):
        if not start.get("id"):
            # UUIDs, as in the platform's own exports (every startNodes[].id in the fixtures).
            start["id"] = new_uuid()
    now = now_iso()
    for variable in wire.get("variables", []):
        variable.setdefault("id", object_id())
        variable["reference"] = pipeline_id
        variable.setdefault("creator", user)
        variable.setdefault("createdAt", now)
        variable["updatedAt"] = now
    for key in ("nodes", "connections", "startNodes", "variables"):
        wire.setdefault(key, [])
    wire.setdefault("description", "")
    wire.setdefault("settings", {})
    return wire


def new_document(body: Doc, *, project: Doc, user: str) -> Doc:
    if not isinstance(body.get("name"), str):
        raise HttpError(400, "Pipeline 'name' is required")
    pipeline_id = object_id()
    candidate = {k: copy.deepcopy(v) for k, v in body.items() if k in WRITABLE_FIELDS}
    candidate["name"] = body["name"]
    doc = _canonical(candidate, user=user, pipeline_id=pipeline_id)
    now = now_iso()
    doc.update(
        id=pipeline_id,
        projectId=project["id"],
        orgId=project.get("orgId") or project.get("org", {}).get("id"),
        creator=user,
        createdAt=now,
        updatedAt=now,
        updatedBy=user,
        status=STATUS_CREATED,
        # The platform names the composition at create (its create answer carries the id).
        compositionId=object_id(),
        revision=1,
    )
    if doc["orgId"] is None:
        del doc["orgId"]
    return doc


def patched_document(current: Doc, body: Doc, *, user: str) -> Doc:
    candidate = {k: copy.deepcopy(v) for k, v in current.items() if k in WRITABLE_FIELDS}
    previous_vars = {v.get("name"): v for v in current.get("variables", []) if isinstance(v, dict)}
    for key in WRITABLE_FIELDS:
        if key in body:
            candidate[key] = copy.deepcopy(body[key])
    if "variables" in body and isinstance(body["variables"], list):
        candidate["variables"] = _keep_variable_ids(body["variables"], previous_vars)
    if isinstance(candidate.get("nodes"), list):
        _keep_positions(candidate["nodes"], current.get("nodes", []))
    if isinstance(candidate.get("startNodes"), list):
        _keep_start_node_ids(candidate["startNodes"], current.get("startNodes", []))
    return stamped(_canonical(candidate, user=user, pipeline_id=current["id"]), current, user=user)


def _keep_positions(nodes: list[Any], previous: list[Any]) -> None:
    # A client that does not own the canvas (Loopform, for nodes whose spec sets no position)
    # sends nodes without `metadata.position`; keep where the node was rather than re-laying it out.
    known = {
        n["id"]: n["metadata"]["position"]
        for n in previous
        if isinstance(n, dict) and isinstance(n.get("metadata"), dict)
        and isinstance(n["metadata"].get("position"), dict)
    }
    for node in nodes:
        # Shapes are validated after these carry-overs: skip anything malformed, it gets its 400.
        if not isinstance(node, dict) or not isinstance(node.get("id"), str) or node["id"] not in known:
            continue
        metadata = node.get("metadata")
        if metadata is None:
            metadata = node["metadata"] = {}
        if isinstance(metadata, dict) and not isinstance(metadata.get("position"), dict):
            metadata["position"] = copy.deepcopy(known[node["id"]])


def _keep_start_node_ids(starts: list[Any], previous: list[Any]) -> None:
    # Start-node ids are server-assigned; a client that does not round-trip them (it sends
    # {nodeId, type, trigger}) must not get fresh ids on every update, or the ids churn forever.
    # Unused ids by (nodeId, type), oldest first: a lookup per start node, not a scan (which made
    # an update with thousands of start nodes quadratic, inside the database's write lock).
    taken = {s["id"] for s in starts if isinstance(s, dict) and isinstance(s.get("id"), str)}
    unused: dict[tuple[Any, Any], deque[str]] = {}
    for old in previous:  # the stored, validated document: string ids, node ids and types
        if isinstance(old, dict) and old.get("id") and old["id"] not in taken:
            unused.setdefault((old.get("nodeId"), old.get("type", "root")), deque()).append(old["id"])
    for start in starts:
        if not isinstance(start, dict) or start.get("id"):
            continue
        key = (start.get("nodeId"), start.get("type", "root"))
        if not all(isinstance(part, (str, type(None))) for part in key):
            continue  # malformed: it gets its 400 when the shapes are validated
        ids = unused.get(key)
        if ids:
            start["id"] = ids.popleft()


def _keep_variable_ids(variables: list[Any], previous: dict[Any, Doc]) -> list[Any]:
    # dtlpy sends variables without ids ({name, value, type, reference}); keep the stored id and
    # creation time of a variable of the same name so its identity survives an update.
    kept = []
    for var in variables:
        if isinstance(var, dict) and not var.get("id") and isinstance(var.get("name"), str) \
                and var["name"] in previous:
            old = previous[var["name"]]
            var = {**var, "id": old.get("id"), "createdAt": old.get("createdAt"),
                   "creator": old.get("creator")}
            var = {k: v for k, v in var.items() if v is not None}
        kept.append(var)
    return kept


def stamped(new: Doc, current: Doc, *, user: str, **changes: Any) -> Doc:
    """`new` with the server fields of `current`, `changes` applied, revision and updatedAt bumped."""
    for key in SERVER_FIELDS:
        if key in current:
            new[key] = current[key]
    new.update(changes)
    new["revision"] = int(current.get("revision", 0)) + 1
    new["updatedAt"] = now_iso()
    new["updatedBy"] = user
    return new


# Kept with the stored document for the server's own use, never shown: the platform's pipeline has
# no such key, and dtlpy's tests compare `pipeline.to_json()` with what the server returns.
BOOKKEEPING_FIELDS = ("revision",)


def for_response(doc: Doc, *, base_url: str) -> Doc:
    """The document as returned to clients: the platform's keys only, with its `url`."""
    shown = {k: v for k, v in doc.items() if k not in BOOKKEEPING_FIELDS}
    return {**shown, "url": f"{base_url}/pipelines/{doc['id']}"}
