"""Integrations (an organization's secrets and storage credentials), enough for pipelines and
services that name one (dtlpy `project.integrations`, org-scoped: `/orgs/{orgId}/integrations`).

- `POST /orgs/{orgId}/integrations {type, name, options, metadata?}` -> the integration;
  `GET /orgs/{orgId}/integrations` -> a bare array; `GET|DELETE /orgs/{orgId}/integrations/{id}`;
  `PATCH /orgs/{orgId}/integrations {integrationId, name?}` renames.
- The secret values in `options` are never stored nor returned: the local control plane runs no
  code that could use them, and an answer or the state file must not leak them. Only which option
  keys were given is kept (`metadata` entry `options`).
The local control plane has one organization (every project's `org`); its members are the members
of any of its projects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from reconciler.server.http import HttpError, Request, Response, Router
from reconciler.server.ids import now_iso, object_id

if TYPE_CHECKING:
    from reconciler.server.app import ControlPlane

Doc = dict[str, Any]
KIND = "integration"


def register(router: Router, plane: ControlPlane) -> None:
    store = plane.store

    def org(request: Request, org_id: str) -> str:
        if org_id != store.meta("org_id") or not plane.visible_project_ids(request):
            raise HttpError(404, f"Organization not found: {org_id}")
        return org_id

    def with_url(request: Request, doc: Doc) -> Doc:
        return {**doc, "url": f"{request.base_url}/orgs/{doc['org']}/integrations/{doc['id']}"}

    def create(request: Request, org_id: str) -> Doc:
        org(request, org_id)
        body = request.json_object()
        name, kind, options = body.get("name"), body.get("type"), body.get("options") or {}
        if not isinstance(name, str) or not name.strip():
            raise HttpError(400, "Integration 'name' is required")
        if not isinstance(kind, str) or not kind.strip():
            raise HttpError(400, "Integration 'type' is required")
        if not isinstance(options, dict):
            raise HttpError(400, "Integration 'options' must be an object")
        metadata = body.get("metadata")
        now = now_iso()
        doc = {"id": object_id(), "name": name, "type": kind, "org": org_id, "creator": request.user,
               "createdAt": now, "updatedAt": now,
               "metadata": [*(metadata if isinstance(metadata, list) else []),
                            {"name": "options", "value": sorted(str(k) for k in options)},
                            {"name": "status", "value": "success"}]}
        store.put_resource(KIND, doc, name=name, project_id=None, scope=org_id)
        return with_url(request, doc)

    def listed(request: Request, org_id: str) -> list[Doc]:
        org(request, org_id)
        return [with_url(request, d) for d in store.resources(KIND, scope=org_id)]

    def visible(request: Request, org_id: str, integration_id: str) -> Doc:
        org(request, org_id)
        doc = store.resource(KIND, integration_id)
        if doc is None or doc.get("org") != org_id:
            raise HttpError(404, f"Integration not found: {integration_id}")
        return doc

    def get(request: Request, org_id: str, integration_id: str) -> Doc:
        return with_url(request, visible(request, org_id, integration_id))

    def rename(request: Request, org_id: str) -> Doc:
        body = request.json_object()
        doc = visible(request, org_id, str(body.get("integrationId")))
        name = body.get("name", doc["name"])
        if not isinstance(name, str) or not name.strip():
            raise HttpError(400, "Integration 'name' must be a non-empty string")
        changed = {**doc, "name": name, "updatedAt": now_iso()}
        store.rename_resource(KIND, doc["id"], name=name, doc=changed)
        return with_url(request, changed)

    def delete(request: Request, org_id: str, integration_id: str) -> Response:
        visible(request, org_id, integration_id)
        store.delete_resource(KIND, integration_id)
        return Response(200, None)

    router.add("POST", "/orgs/{org_id}/integrations", create)
    router.add("GET", "/orgs/{org_id}/integrations", listed)
    router.add("PATCH", "/orgs/{org_id}/integrations", rename)
    router.add("GET", "/orgs/{org_id}/integrations/{integration_id}", get)
    router.add("DELETE", "/orgs/{org_id}/integrations/{integration_id}", delete)
