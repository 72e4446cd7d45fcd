"""Routes for the caller, projects and project members, with dtlpy's paths and shapes.

- `GET /users/me` -> the user (dtlpy's `login_token` only checks the status).
- `GET /projects` -> the caller's projects (dtlpy `projects.list`).
- `GET /projects/{name}/name` -> an *array* of the caller's projects with that name; 404 if none.
- `GET /projects/{id}` -> the project; 404 unless the caller is a member.
- `POST /projects` -> create (dtlpy sends a *form-encoded* `name=...`, JSON is accepted too); the
  caller becomes its owner, and the project gets its system dataset `Binaries`. 409 when the caller
  already has a project of that name.
- `DELETE /projects/{id}` -> delete it with everything in it (owners only; dtlpy `projects.delete`).
- `GET /projects/{id}/members` -> `[user json with role]` (dtlpy `project.list_members()`).
- `POST|PATCH /projects/{id}/members/{email}` `{role}` -> add / change a member (owners only).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from reconciler.server.http import HttpError, Request, Response, Router, one_of

if TYPE_CHECKING:
    from reconciler.server.app import ControlPlane

MEMBER_ROLES = frozenset({"owner", "engineer", "annotator", "annotationManager"})


def register(router: Router, plane: ControlPlane) -> None:
    def me(request: Request) -> dict[str, Any]:
        return plane.ensure_user(request.user or "")

    def list_projects(request: Request) -> list[dict[str, Any]]:
        return plane.store.projects_of(request.user or "")

    def named(request: Request, name: str) -> list[dict[str, Any]]:
        mine = plane.visible_project_ids(request)
        return [p for p in plane.store.projects_named(name) if p["id"] in mine]

    def by_name(request: Request, name: str) -> list[dict[str, Any]]:
        # The gate errors on an unknown name (dtlpy turns any failure into "Project not found").
        found = named(request, name)
        if not found:
            raise HttpError(404, f"Project not found: {name}")
        return found

    def by_id(request: Request, project_id: str) -> dict[str, Any]:
        return plane.visible_project(request, project_id)

    def create(request: Request) -> dict[str, Any]:
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            form = parse_qs(request.body.decode("utf-8", "replace"))
            body: dict[str, Any] = {k: v[0] for k, v in form.items()}
        else:
            body = request.json_object()
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise HttpError(400, "Project 'name' is required")
        if named(request, name):
            raise HttpError(409, f"Project named {name!r} already exists")
        return plane.create_project(name, owner=request.user or "")

    def delete(request: Request, project_id: str) -> Response:
        plane.visible_project(request, project_id)
        if (request.user or "", "owner") not in plane.store.members(project_id):
            raise HttpError(403, "Only project owners can delete a project")
        plane.store.delete_project(project_id)
        return Response(200, None)

    def members(request: Request, project_id: str) -> list[dict[str, Any]]:
        plane.visible_project(request, project_id)
        result = []
        for email, role in plane.store.members(project_id):
            result.append({**plane.ensure_user(email), "role": role})
        return result

    def put_member(request: Request, project_id: str, email: str) -> dict[str, Any]:
        plane.visible_project(request, project_id)
        if ("" if request.user is None else request.user, "owner") not in plane.store.members(project_id):
            raise HttpError(403, "Only project owners can change members")
        role = one_of(request.json_object(), "role", MEMBER_ROLES, default="engineer")
        plane.store.add_member(project_id, email, role)
        return {**plane.ensure_user(email), "role": role}

    router.add("GET", "/users/me", me)
    router.add("GET", "/projects", list_projects)
    router.add("POST", "/projects", create)
    router.add("GET", "/projects/{name}/name", by_name)
    router.add("GET", "/projects/{project_id}", by_id)
    router.add("DELETE", "/projects/{project_id}", delete)
    router.add("GET", "/projects/{project_id}/members", members)
    router.add("POST", "/projects/{project_id}/members/{email}", put_member)
    router.add("PATCH", "/projects/{project_id}/members/{email}", put_member)
