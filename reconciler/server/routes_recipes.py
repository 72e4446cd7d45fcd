"""Recipes and ontologies (labels), with dtlpy's routes and shapes (dtlpy 1.126.5 `recipes`,
`ontologies`, `Ontology.add_labels/update_labels/delete_labels`, `Dataset.add_labels`).

- `POST /ontologies {roots, projectIds, attributes, title?}` -> the ontology; `GET /ontologies/{id}`;
  `GET /ontologies?projects=P&ids=I&pageOffset=&pageSize=` (a page); `PUT /ontologies/{id}` (the
  whole ontology: roots, attributes, title, metadata); `PATCH /ontologies/{id}/labels
  {labelsNode, upsert}` and `PATCH /ontologies/{id}/addLabels {labelsNode}` -> the ontology with
  its `roots`; `DELETE /ontologies/{id}`.
- `POST /recipes {title, projectIds, ontologyIds, uiSettings}` -> the recipe (every ontology named
  must be visible); `PATCH /recipes/{id}` (title, ontologyIds, description, instructions,
  uiSettings, metadata, examples, customActions); `DELETE /recipes/{id}`. The reads stay in
  routes_resources.
A dataset's recipes are the ids in its `metadata.system.recipes`; dtlpy links a new recipe to a
dataset by updating that list (`PATCH /datasets/{id}?system=true`, routes_resources).
Objects are visible to members of their projects only (404 otherwise); 400 for malformed bodies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from reconciler.server import objects
from reconciler.server.http import HttpError, Request, Response, Router
from reconciler.server.ids import now_iso, object_id
from reconciler.server.objects import param_page, param_projects, param_values, with_url
from reconciler.server.ontologies import KIND as ONTOLOGY
from reconciler.server.ontologies import label_root, merge_labels, ontology_doc

if TYPE_CHECKING:
    from reconciler.server.app import ControlPlane

Doc = dict[str, Any]
_RECIPE_FIELDS = ("title", "ontologyIds", "description", "instructions", "uiSettings", "metadata", "examples",
                  "customActions")


def register(router: Router, plane: ControlPlane) -> None:
    store = plane.store

    def visible(request: Request, kind: str, resource_id: str) -> Doc:
        return objects.visible(plane, request, kind, resource_id)

    def project_ids(request: Request, body: Doc) -> list[str]:
        ids = body.get("projectIds")
        if not isinstance(ids, list) or not ids or not all(isinstance(p, str) for p in ids):
            raise HttpError(400, "'projectIds' must be a non-empty list of project ids")
        for project_id in ids:
            plane.visible_project(request, project_id)
        return ids

    def replace(kind: str, doc: Doc) -> Doc:
        store.update_resource(kind, doc["id"], lambda _: doc)
        return doc

    # --- ontologies -------------------------------------------------------------------------

    def create_ontology(request: Request) -> Doc:
        body = request.json_object()
        ids = project_ids(request, body)
        roots, attributes = body.get("roots") or [], body.get("attributes") or []
        if not isinstance(roots, list) or not isinstance(attributes, list):
            raise HttpError(400, "'roots' and 'attributes' must be lists")
        title = body.get("title")
        doc = ontology_doc(ontology_id=object_id(), project_ids=ids, creator=request.user or "", roots=roots,
                           title=title if isinstance(title, str) else None, attributes=attributes)
        store.put_resource(ONTOLOGY, doc, name=doc["title"], project_id=ids[0], scope=None)
        return with_url(request, "ontologies", doc)

    def get_ontology(request: Request, ontology_id: str) -> Doc:
        return with_url(request, "ontologies", visible(request, ONTOLOGY, ontology_id))

    def list_ontologies(request: Request) -> Doc:
        ids = param_values(request, "ids")
        docs = [d for d in store.resources(ONTOLOGY, project_ids=param_projects(plane, request))
                if not ids or d["id"] in ids]
        return param_page(request, [with_url(request, "ontologies", d) for d in docs])

    def put_ontology(request: Request, ontology_id: str) -> Doc:
        doc = visible(request, ONTOLOGY, ontology_id)
        body = request.json_object()
        roots = body.get("roots", doc["roots"])
        if not isinstance(roots, list):
            raise HttpError(400, "'roots' must be a list")
        changed = {**doc, "roots": [label_root(r, "roots") for r in roots], "updatedAt": now_iso()}
        for key in ("attributes", "metadata"):
            if key in body:
                changed[key] = body[key]
        if isinstance(body.get("title"), str):
            changed["title"] = body["title"]
        return with_url(request, "ontologies", replace(ONTOLOGY, changed))

    def patch_labels(request: Request, ontology_id: str, *, upsert: bool | None = None) -> Doc:
        doc = visible(request, ONTOLOGY, ontology_id)
        body = request.json_object()
        wanted = body.get("upsert", False) if upsert is None else upsert
        roots = merge_labels(doc["roots"], body.get("labelsNode"), upsert=wanted is True)
        return with_url(request, "ontologies", replace(ONTOLOGY, {**doc, "roots": roots, "updatedAt": now_iso()}))

    def add_labels(request: Request, ontology_id: str) -> Doc:
        return patch_labels(request, ontology_id, upsert=True)

    def delete_ontology(request: Request, ontology_id: str) -> Response:
        visible(request, ONTOLOGY, ontology_id)
        store.delete_resource(ONTOLOGY, ontology_id)
        return Response(200, None)

    # --- recipes ----------------------------------------------------------------------------

    def ontology_ids(request: Request, value: Any) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(i, str) for i in value):
            raise HttpError(400, "'ontologyIds' must be a list of ontology ids")
        for ontology_id in value:
            visible(request, ONTOLOGY, ontology_id)
        return value

    def create_recipe(request: Request) -> Doc:
        body = request.json_object()
        ids = project_ids(request, body)
        title = body.get("title")
        if not isinstance(title, str) or not title.strip():
            raise HttpError(400, "Recipe 'title' is required")
        now, user = now_iso(), request.user or ""
        doc: Doc = {
            "id": object_id(), "title": title, "projectIds": ids,
            "ontologyIds": ontology_ids(request, body.get("ontologyIds") or []), "creator": user,
            "createdAt": now, "updatedAt": now, "updatedBy": user, "description": "", "examples": [],
            "customActions": [], "instructions": None, "uiSettings": body.get("uiSettings") or {},
            "metadata": {"system": {"datasets": []}},
        }
        store.put_resource("recipe", doc, name=title, project_id=ids[0], scope=None)
        return with_url(request, "recipes", doc)

    def patch_recipe(request: Request, recipe_id: str) -> Doc:
        doc = visible(request, "recipe", recipe_id)
        body = request.json_object()
        changed = dict(doc)
        for key in _RECIPE_FIELDS:
            if key in body and body[key] is not None:
                changed[key] = body[key]
        if not isinstance(changed.get("title"), str) or not changed["title"].strip():
            raise HttpError(400, "Recipe 'title' must be a non-empty string")
        changed["ontologyIds"] = ontology_ids(request, changed.get("ontologyIds") or [])
        changed.update(updatedAt=now_iso(), updatedBy=request.user)
        return with_url(request, "recipes", replace("recipe", changed))

    def delete_recipe(request: Request, recipe_id: str) -> Response:
        visible(request, "recipe", recipe_id)
        store.delete_resource("recipe", recipe_id)
        return Response(200, None)

    router.add("POST", "/ontologies", create_ontology)
    router.add("GET", "/ontologies", list_ontologies)
    router.add("GET", "/ontologies/{ontology_id}", get_ontology)
    router.add("PUT", "/ontologies/{ontology_id}", put_ontology)
    router.add("PATCH", "/ontologies/{ontology_id}/labels", patch_labels)
    router.add("PATCH", "/ontologies/{ontology_id}/addLabels", add_labels)
    router.add("DELETE", "/ontologies/{ontology_id}", delete_ontology)
    router.add("POST", "/recipes", create_recipe)
    router.add("PATCH", "/recipes/{recipe_id}", patch_recipe)
    router.add("DELETE", "/recipes/{recipe_id}", delete_recipe)
