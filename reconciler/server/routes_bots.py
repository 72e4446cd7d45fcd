"""Bots: the service users that run a project's services, enough for pipelines and services that
name one (dtlpy `project.bots`; 1.121.5 creates them with `POST /projects/{id}/bots`, 1.126.5's
`bots.create` is a deprecated no-op).

- `POST /projects/{id}/bots {name}` -> the bot (a user of type "bot", member of the project as
  engineer); `GET /projects/{id}/bots` -> a bare array; `GET|DELETE /projects/{id}/bots/{botId}`.
Bots carry no credentials here: nothing logs in as one.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from reconciler.server.http import HttpError, Request, Response, Router
from reconciler.server.ids import now_iso, object_id

if TYPE_CHECKING:
    from reconciler.server.app import ControlPlane

Doc = dict[str, Any]
KIND = "bot"


def register(router: Router, plane: ControlPlane) -> None:
    store = plane.store

    def with_role(doc: Doc) -> Doc:
        return {**doc, "role": "engineer"}

    def create(request: Request, project_id: str) -> Doc:
        project = plane.visible_project(request, project_id)
        name = request.json_object().get("name")
        if not isinstance(name, str) or not name.strip():
            raise HttpError(400, "Bot 'name' is required")
        bot_id = object_id()
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "bot"
        now = now_iso()
        doc = {"id": bot_id, "email": f"bot-{slug}-{bot_id[-8:]}@bots.loopform.local", "username": slug,
               "firstName": name, "lastName": "", "type": "bot", "projectId": project["id"],
               "org": project.get("org"), "createdAt": now, "updatedAt": now, "creator": request.user}
        store.put_resource(KIND, doc, name=name, project_id=project["id"], scope=None)
        store.add_member(project["id"], doc["email"], "engineer")
        return with_role(doc)

    def listed(request: Request, project_id: str) -> list[Doc]:
        plane.visible_project(request, project_id)
        return [with_role(d) for d in store.resources(KIND, project_ids={project_id})]

    def visible(request: Request, project_id: str, bot_id: str) -> Doc:
        plane.visible_project(request, project_id)
        doc = store.resource(KIND, bot_id)
        if doc is None or doc.get("projectId") != project_id:
            raise HttpError(404, f"Bot not found: {bot_id}")
        return doc

    def get(request: Request, project_id: str, bot_id: str) -> Doc:
        return with_role(visible(request, project_id, bot_id))

    def delete(request: Request, project_id: str, bot_id: str) -> Response:
        visible(request, project_id, bot_id)
        store.delete_resource(KIND, bot_id)
        return Response(200, None)

    router.add("POST", "/projects/{project_id}/bots", create)
    router.add("GET", "/projects/{project_id}/bots", listed)
    router.add("GET", "/projects/{project_id}/bots/{bot_id}", get)
    router.add("DELETE", "/projects/{project_id}/bots/{bot_id}", delete)
