"""What the routes of platform objects share: who may see one, its URL, pages, finished commands.

- `visible(plane, request, kind, id)`: the stored object if the caller belongs to one of its
  projects (`resources.projects_of`), else 404 — no hint that it exists.
- `with_url(request, path, doc)`: the document with its own `url`, as the platform returns them.
- `dql_page(body, docs)`: a DQL query body (`filter`, `sort`, `page`, `pageSize`) over documents,
  one page in the paged shape; 400 for a filter, sort or page the control plane cannot evaluate.
- `param_page(request, docs, default_size=)`: one page by the `pageOffset` / `pageSize` query
  parameters (dtlpy's GET listings); `param_values(request, key)`: a comma-separated parameter;
  `param_projects(plane, request)`: the caller's projects, narrowed by a `projects` parameter.
- `finished_command(store, request, kind, spec)`: a command that has already succeeded (nothing
  here runs in the background), stored so that dtlpy's `command.wait()` finds it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from reconciler.server import dql
from reconciler.server.http import HttpError, Request
from reconciler.server.ids import now_iso, object_id
from reconciler.server.resources import projects_of
from reconciler.server.store import Store

if TYPE_CHECKING:
    from reconciler.server.app import ControlPlane

Doc = dict[str, Any]


def visible(plane: ControlPlane, request: Request, kind: str, object_id_: str) -> Doc:
    doc = plane.store.resource(kind, object_id_)
    if doc is None or not (projects_of(kind, doc) & plane.visible_project_ids(request)):
        raise HttpError(404, f"{kind.capitalize()} not found: {object_id_}")
    return doc


def with_url(request: Request, path: str, doc: Doc) -> Doc:
    return {**doc, "url": f"{request.base_url}/{path}/{doc['id']}"}


def dql_page(body: Doc, docs: list[Doc]) -> Doc:
    try:
        matches = dql.compile_filter(body.get("filter"))
        found = dql.sort_documents([d for d in docs if matches(d)], body.get("sort"))
        # page and pageSize as sent: paginate refuses anything but integers
        return dql.paginate(found, body.get("page", 0), body.get("pageSize", dql.MAX_PAGE_SIZE))
    except (TypeError, ValueError) as exc:  # DqlError is a ValueError
        raise HttpError(400, str(exc)) from None


def param_values(request: Request, key: str) -> set[str]:
    return {value for given in request.query.get(key, []) for value in given.split(",") if value}


def param_projects(plane: ControlPlane, request: Request) -> set[str]:
    """The caller's projects, narrowed to the `projects` parameter when it is given."""
    mine = plane.visible_project_ids(request)
    wanted = param_values(request, "projects")
    return mine & wanted if wanted else mine


def param_page(request: Request, docs: list[Doc], *, default_size: int = dql.MAX_PAGE_SIZE) -> Doc:
    try:
        page = int((request.query.get("pageOffset") or ["0"])[0])
        size = int((request.query.get("pageSize") or [str(default_size)])[0])
        return dql.paginate(docs, page, size)
    except ValueError as exc:  # DqlError is a ValueError
        raise HttpError(400, str(exc)) from None


def finished_command(store: Store, request: Request, kind: str, spec: Doc, *, result: Doc | None = None) -> Doc:
    now, command_id = now_iso(), object_id()
    command = {"id": command_id, "url": f"{request.base_url}/commands/{command_id}", "status": "success",
               "type": kind, "progress": 100, "createdAt": now, "updatedAt": now, "creator": request.user,
               "spec": spec, "error": None}
    if result is not None:
        command["result"] = result
    store.put_command(command)
    return command
