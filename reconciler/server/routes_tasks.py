"""Task and assignment routes, as dtlpy 1.126.5's `tasks` and `assignments` repositories call them.

- `POST /annotationtasks` (dtlpy `tasks.create`): the task, its assignments, and the dataset items
  its `query` (a JSON string of an item DQL body) matches queued in it; answers a finished command
  (`spec.createTaskPayload`, `spec.createdTaskId`) that dtlpy waits on, then `GET`s the task.
- `GET|PATCH|DELETE /annotationtasks/{id}`; `POST /annotationtasks/query` (DQL over the caller's
  tasks; dtlpy `tasks.get(task_name=)` / `list()`); `POST /annotationtasks/{id}/addToTask {query}`.
- `GET /assignments/{id}`; `GET /assignments?projects=&taskId=&annotator=&status=&name=` (a page).
- Item status with an action: `POST /assignments/items/tasks/{taskId}/status {itemIds,
  statusPayload: {operation, status}}` (dtlpy `item.update_status(task_id=)`; answers
  `{itemId: {...}}` for each item updated) and `POST /assignments/{id}/items/{itemId}/status
  {operation, status}` (with `assignment_id=`).
- `create_node_tasks`: install creates the task of each task node that names a dataset of the
  project (named as the node, found again on a later install through `metadata.system.nodeId`);
  an item status set here is handed to the execution engine (a cycle waiting for the item in a task
  node's task goes on along that action's connections).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from reconciler.nodes import for_platform
from reconciler.server import dql, objects
from reconciler.server.http import HttpError, Request, Response, Router, parse_json
from reconciler.server.ids import now_iso
from reconciler.server.items import KIND as ITEM
from reconciler.server.objects import dql_page, finished_command, param_page, param_projects, with_url
from reconciler.server.resources import projects_of
from reconciler.server.store import Store
from reconciler.server.tasks import ASSIGNMENT, KIND, assignment_docs, deal, queue_item, set_status, task_doc

if TYPE_CHECKING:
    from reconciler.server.app import ControlPlane

Doc = dict[str, Any]
_TASK_FIELDS = ("name", "status", "dueDate", "priority", "description", "taskOwner", "availableActions")


def _item_query(query: Any) -> Any:
    """The item filter of a task's `query` (a JSON string, or the body as an object)."""
    if query is None:
        return {"$and": [{"hidden": False}, {"type": "file"}]}
    if isinstance(query, str):
        try:
            query = parse_json(query)
        except ValueError as exc:
            raise HttpError(400, f"Task 'query' must be a JSON DQL body ({exc})") from None
    if not isinstance(query, dict):
        raise HttpError(400, "Task 'query' must be a JSON DQL body")
    return query.get("filter")


def _count_items(added: int) -> Any:
    def change(doc: Doc) -> Doc:
        return {**doc, "totalItems": doc.get("totalItems", 0) + added}

    return change


def add_items(store: Store, task: Doc, query: Any, *, limit: Any = None) -> int:
    """Queue the task's dataset items that `query` matches (and are not queued yet); how many."""
    try:
        matches = dql.compile_filter(_item_query(query))
    except dql.DqlError as exc:
        raise HttpError(400, f"Task 'query': {exc}") from None
    fresh = [i for i in store.resources(ITEM, scope=task["datasetId"]) if matches(i)
             and not any(r.get("id") == task["id"] for r in i["metadata"]["system"].get("refs", []))]
    if isinstance(limit, int) and not isinstance(limit, bool) and limit >= 0:
        fresh = fresh[:limit]
    assignments = [a for a in (store.resource(ASSIGNMENT, aid) for aid in task["assignmentIds"]) if a]
    counts: dict[str, int] = {}
    for item, assignment in zip(fresh, deal(assignments, len(fresh)), strict=True):
        # Changed in place, not written back from the read above: the engine's workers put one
        # item into several tasks at once (a node's outputs to two task nodes), and a write-back
        # would drop the other task's ref.
        store.update_resource(ITEM, item["id"], _queued(task, assignment))
        counts[assignment["id"]] = counts.get(assignment["id"], 0) + 1
    for assignment in assignments:
        store.update_resource(ASSIGNMENT, assignment["id"], _count_items(counts.get(assignment["id"], 0)))
    store.update_resource(KIND, task["id"], _count_items(len(fresh)))
    return len(fresh)


def _queued(task: Doc, assignment: Doc) -> Callable[[Doc], Doc]:
    return lambda doc: queue_item(doc, task, assignment)


def _set_status_in_place(store: Store, item_id: str, refs: set[str], *, status: Any, operation: Any, user: str,
                         dataset_id: str | None = None) -> Doc | None:
    """Set an item's status in these task/assignment refs within one write (the engine may be
    putting the item into another task meanwhile); the item as changed, or None when it is not in
    them (or not in `dataset_id`)."""
    changed: list[Doc] = []

    def change(doc: Doc) -> Doc:
        if dataset_id is not None and doc.get("datasetId") != dataset_id:
            return doc
        new = set_status(doc, refs, status=status, operation=operation, user=user)
        if new is None:
            return doc
        changed.append(new)
        return new

    store.update_resource(ITEM, item_id, change)
    return changed[-1] if changed else None


def create_task(store: Store, payload: Doc, *, project_id: str, creator: str, query: Any = None) -> Doc:
    task = task_doc(payload, project_id=project_id, creator=creator)
    assignments = assignment_docs(task, payload.get("workload"))
    task["assignmentIds"] = [a["id"] for a in assignments]
    store.put_resource(KIND, task, name=task["name"], project_id=project_id, scope=task["datasetId"])
    for assignment in assignments:
        store.put_resource(ASSIGNMENT, assignment, name=assignment["name"], project_id=project_id, scope=task["id"])
    add_items(store, task, payload.get("query") if query is None else query, limit=payload.get("limit"))
    return store.resource(KIND, task["id"]) or task


def create_node_tasks(store: Store, pipeline: Doc, *, creator: str) -> None:
    """At install: the task of each task node whose dataset is in the pipeline's project, once.
    Items reach it through the pipeline, not a query: it starts empty."""
    for node in pipeline.get("nodes", []):
        meta = node.get("metadata") or {}
        # A node where items wait for people (NodeType.waits) is one that holds a task.
        if not for_platform(node.get("type")).waits or not isinstance(meta.get("datasetId"), str):
            continue
        dataset = store.resource("dataset", meta["datasetId"])
        if dataset is None or pipeline["projectId"] not in dataset.get("projects", []):
            continue
        made = [t for t in store.resources(KIND, project_ids={pipeline["projectId"]}, scope=dataset["id"])
                if t["metadata"].get("system", {}).get("nodeId") == node["id"]]
        if made:
            continue
        system = {k: meta[k] for k in ("batchSize", "maxBatchWorkload") if meta.get(k) is not None}
        system.update(nodeId=node["id"], pipelineId=pipeline["id"])
        payload = {
            "name": node.get("name"), "datasetId": dataset["id"],
            "recipeId": meta.get("recipeId") or (dataset["metadata"]["system"].get("recipes") or [""])[0],
            "taskOwner": meta.get("taskOwner"), "workload": meta.get("workload"),
            "spec": {"type": meta.get("taskType") or "annotation"}, "priority": meta.get("priority", 2),
            "dueDate": meta.get("dueDate"), "metadata": {"system": system},
        }
        create_task(store, payload, project_id=pipeline["projectId"], creator=creator,
                    query={"filter": {"id": {"$in": []}}})


def register(router: Router, plane: ControlPlane) -> None:
    store = plane.store

    def visible(request: Request, kind: str, resource_id: str) -> Doc:
        return objects.visible(plane, request, kind, resource_id)

    def create(request: Request) -> Doc:
        body = request.json_object()
        project_id = plane.body_project(request, body, "Task")["id"]
        dataset = store.resource("dataset", str(body.get("datasetId")))
        if dataset is None or project_id not in projects_of("dataset", dataset):
            raise HttpError(404, f"Dataset not found: {body.get('datasetId')}")
        recipe = store.resource("recipe", str(body.get("recipeId")))
        if recipe is None or not projects_of("recipe", recipe) & plane.visible_project_ids(request):
            raise HttpError(404, f"Recipe not found: {body.get('recipeId')}")
        task = create_task(store, body, project_id=project_id, creator=request.user or "")
        return finished_command(store, request, "annotation_task_create",
                                {"createTaskPayload": body, "createdTaskId": task["id"]})

    def get(request: Request, task_id: str) -> Doc:
        return with_url(request, "annotationtasks", visible(request, KIND, task_id))

    def query(request: Request) -> Doc:
        body = request.json_object()
        mine = plane.visible_project_ids(request)
        context = body.get("context")
        wanted = context.get("projectIds") if isinstance(context, dict) else None
        if isinstance(wanted, list):
            mine &= {p for p in wanted if isinstance(p, str)}
        return dql_page(body, [with_url(request, "annotationtasks", d) for d in store.resources(KIND, project_ids=mine)])

    def patch(request: Request, task_id: str) -> Doc:
        doc = visible(request, KIND, task_id)
        body = request.json_object()
        changed = {**doc, **{k: body[k] for k in _TASK_FIELDS if body.get(k) is not None}}
        if not isinstance(changed["name"], str) or not changed["name"].strip():
            raise HttpError(400, "Task 'name' must be a non-empty string")
        changed["updatedAt"] = now_iso()
        store.rename_resource(KIND, task_id, name=changed["name"], doc=changed)
        return with_url(request, "annotationtasks", changed)

    def delete(request: Request, task_id: str) -> Response:
        task = visible(request, KIND, task_id)
        gone = {task_id, *task["assignmentIds"]}
        def without_task(doc: Doc) -> Doc:
            refs = doc["metadata"]["system"].get("refs", [])
            doc["metadata"]["system"]["refs"] = [r for r in refs if r.get("id") not in gone]
            return doc

        for item in store.resources(ITEM, scope=task["datasetId"]):
            if any(r.get("id") in gone for r in item["metadata"]["system"].get("refs", [])):
                store.update_resource(ITEM, item["id"], without_task)
        for assignment_id in task["assignmentIds"]:
            store.delete_resource(ASSIGNMENT, assignment_id)
        store.delete_resource(KIND, task_id)
        return Response(200, None)

    def add_to_task(request: Request, task_id: str) -> Doc:
        task = visible(request, KIND, task_id)
        body = request.json_object()
        added = add_items(store, task, body.get("query"), limit=body.get("limit"))
        return finished_command(store, request, "BulkAddToTask", {"taskId": task_id, "itemsCount": added})

    def get_assignment(request: Request, assignment_id: str) -> Doc:
        return with_url(request, "assignments", visible(request, ASSIGNMENT, assignment_id))

    def list_assignments(request: Request) -> Doc:
        docs = store.resources(ASSIGNMENT, project_ids=param_projects(plane, request))
        checks = {"taskId": lambda a, v: a["metadata"]["system"].get("taskId") == v,
                  "annotator": lambda a, v: a.get("annotator") == v,
                  "status": lambda a, v: a.get("status") == v, "name": lambda a, v: a.get("name") == v}
        for key, check in checks.items():
            for value in request.query.get(key, []):
                docs = [a for a in docs if check(a, value)]
        return param_page(request, [with_url(request, "assignments", d) for d in docs], default_size=500)

    def status_in_task(request: Request, task_id: str) -> Doc:
        task = visible(request, KIND, task_id)
        body = request.json_object()
        item_ids, status = body.get("itemIds"), body.get("statusPayload")
        if not isinstance(item_ids, list) or not all(isinstance(i, str) for i in item_ids):
            raise HttpError(400, "'itemIds' must be a list of item ids")
        if not isinstance(status, dict):
            raise HttpError(400, "'statusPayload' must be an object")
        refs = {task_id, *task["assignmentIds"]}
        updated: Doc = {}
        for item_id in dict.fromkeys(item_ids):  # each item once, however often it is named
            changed = _set_status_in_place(store, item_id, refs, status=status.get("status"),
                                           operation=status.get("operation"), user=request.user or "",
                                           dataset_id=task["datasetId"])
            if changed is not None:
                updated[item_id] = {"status": status.get("status"), "operation": status.get("operation")}
        if updated and status.get("operation") != "delete":
            plane.engine.item_status(task, list(updated), str(status.get("status")))
        return updated

    def status_in_assignment(request: Request, assignment_id: str, item_id: str) -> Doc:
        assignment = visible(request, ASSIGNMENT, assignment_id)
        body = request.json_object()
        task_id = assignment["metadata"]["system"].get("taskId")
        changed = _set_status_in_place(store, item_id, {assignment_id, task_id}, status=body.get("status"),
                                       operation=body.get("operation"), user=request.user or "")
        if changed is None:
            raise HttpError(404, f"Item {item_id} is not in assignment {assignment_id}")
        task = store.resource(KIND, str(task_id))
        if task is not None and body.get("operation") != "delete":
            plane.engine.item_status(task, [item_id], str(body.get("status")))
        return {"itemId": item_id, "status": body.get("status")}

    router.add("POST", "/annotationtasks", create)
    router.add("POST", "/annotationtasks/query", query)
    router.add("GET", "/annotationtasks/{task_id}", get)
    router.add("PATCH", "/annotationtasks/{task_id}", patch)
    router.add("DELETE", "/annotationtasks/{task_id}", delete)
    router.add("POST", "/annotationtasks/{task_id}/addToTask", add_to_task)
    router.add("GET", "/assignments", list_assignments)
    router.add("POST", "/assignments/items/tasks/{task_id}/status", status_in_task)
    router.add("GET", "/assignments/{assignment_id}", get_assignment)
    router.add("POST", "/assignments/{assignment_id}/items/{item_id}/status", status_in_assignment)
