"""Annotation tasks and their assignments, as dtlpy creates and reads them, and how items enter them.

A task (`POST /annotationtasks`, or a pipeline's task node at install) covers items of one dataset:
the ones its DQL `query` matches at creation, then any added later. Each item queued in a task
carries two refs in `metadata.system.refs`: `{type: "task", id}` and `{type: "assignment", id}` for
the assignment (one per workload entry, `annotator` = the assignee) it was dealt to, round robin
weighted by `load`. An item's status in the task is kept on those refs
(`refs[].metadata.status`, as dtlpy's `item.status(task_id=)` reads it) and set with an action
(`completed`, `approved`, `discard`, ... or whatever the task's node offers). dtlpy expects task
creation to answer a finished command whose `spec` has `createTaskPayload` and `createdTaskId`.
Pure functions over documents.
"""

from __future__ import annotations

import copy
from typing import Any

from reconciler.nodes.task import pulling_problem
from reconciler.server.http import HttpError
from reconciler.server.ids import now_iso, object_id

Doc = dict[str, Any]
KIND = "task"
ASSIGNMENT = "assignment"
TASK_TYPES = frozenset({"annotation", "qa"})


def task_doc(payload: Doc, *, project_id: str, creator: str) -> Doc:
    """A new task from a create body (dtlpy `tasks.create` / a task node's settings); 400 if malformed."""
    name = payload.get("name")
    if not isinstance(name, str) or not name.strip():
        raise HttpError(400, "Task 'name' is required")
    for key in ("datasetId", "recipeId"):
        if not isinstance(payload.get(key), str):
            raise HttpError(400, f"Task '{key}' is required")
    spec = payload.get("spec") or {"type": "annotation"}
    if not isinstance(spec, dict) or spec.get("type") not in TASK_TYPES:
        raise HttpError(400, f"Task 'spec.type' must be one of: {', '.join(sorted(TASK_TYPES))}")
    metadata = payload.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise HttpError(400, "Task 'metadata' must be an object")
    problem = pulling_problem(metadata.get("system") or {})
    if problem is not None:
        raise HttpError(400, f"Failed to create a task: {problem}")
    now = now_iso()
    return {
        "id": object_id(), "name": name, "projectId": project_id, "datasetId": payload["datasetId"],
        "recipeId": payload["recipeId"], "creator": creator, "taskOwner": payload.get("taskOwner") or creator,
        "spec": spec, "status": "open", "priority": payload.get("priority", 2),
        "dueDate": payload.get("dueDate"), "query": payload.get("query"), "metadata": copy.deepcopy(metadata),
        "assignmentIds": [], "availableActions": payload.get("availableActions") or [],
        "description": payload.get("description"), "totalItems": 0, "progress": 0, "forReview": 0,
        "issues": 0, "annotationStatus": [], "itemStatus": {}, "createdAt": now, "updatedAt": now,
    }


def assignment_docs(task: Doc, workload: Any) -> list[Doc]:
    """One assignment per workload entry `{assigneeId, load}`; the task owner's if there is none."""
    if workload is None or workload == []:
        workload = [{"assigneeId": task["taskOwner"], "load": 100}]
    if not isinstance(workload, list) or not all(
            isinstance(w, dict) and isinstance(w.get("assigneeId"), str) for w in workload):
        raise HttpError(400, "Task 'workload' must be a list of {assigneeId, load}")
    now = now_iso()
    return [{
        "id": object_id(), "name": f"{task['name']}-{index + 1}", "annotator": entry["assigneeId"],
        "load": entry.get("load", 100), "status": "open", "projectId": task["projectId"],
        "metadata": {"system": {"taskId": task["id"], "datasetId": task["datasetId"]}},
        "totalItems": 0, "createdAt": now, "updatedAt": now,
    } for index, entry in enumerate(workload)]


def deal(assignments: list[Doc], count: int) -> list[Doc]:
    """Which assignment each of `count` new items goes to: round robin weighted by load."""
    if not assignments:
        return []
    weights = [max(float(a.get("load") or 0), 0.0) for a in assignments]
    if not any(weights):
        weights = [1.0] * len(assignments)
    given = [float(a.get("totalItems") or 0) for a in assignments]
    chosen = []
    for _ in range(count):
        # the assignment furthest below its share gets the next item
        index = min(range(len(assignments)), key=lambda i: (given[i] / weights[i] if weights[i] else float("inf"), i))
        given[index] += 1
        chosen.append(assignments[index])
    return chosen


def queue_item(item: Doc, task: Doc, assignment: Doc) -> Doc:
    """The item with its task and assignment refs (kept if already there)."""
    new = copy.deepcopy(item)
    refs = new.setdefault("metadata", {}).setdefault("system", {}).setdefault("refs", [])
    for kind, ref_id in (("task", task["id"]), ("assignment", assignment["id"])):
        if not any(r.get("id") == ref_id for r in refs):
            refs.append({"type": kind, "id": ref_id, "metadata": {"status": None}})
    return new


def set_status(item: Doc, ref_ids: set[str], *, status: Any, operation: Any, user: str) -> Doc | None:
    """The item with its status in these task/assignment refs set (operation create) or cleared
    (delete); None when the item is not in them."""
    if operation not in ("create", "created", "delete"):
        raise HttpError(400, "'operation' must be 'create' or 'delete'")
    if not isinstance(status, str) or not status:
        raise HttpError(400, "'status' must be a non-empty string")
    new = copy.deepcopy(item)
    refs = new.get("metadata", {}).get("system", {}).get("refs", [])
    touched = False
    for ref in refs:
        if ref.get("id") in ref_ids:
            touched = True
            ref["metadata"] = {"status": None if operation == "delete" else status,
                               "timestamp": now_iso(), "creator": user}
    return new if touched else None
