"""Platform objects a spec names — datasets, recipes, models, services: shapes and creation.

The documents carry the fields dtlpy's entities read (`Dataset.from_json`, `Recipe.from_json`,
`Model.from_json`, `Service.from_json` in dtlpy 1.126.5), so the SDK can load them.
Used by the HTTP routes (`routes_resources`) and by `loopform local seed`.
"""

from __future__ import annotations

import copy
import re
import sqlite3
from collections.abc import Callable
from typing import Any

from reconciler.server.http import HttpError
from reconciler.server.ids import now_iso, object_id
from reconciler.server.ontologies import KIND as ONTOLOGY
from reconciler.server.ontologies import ontology_doc
from reconciler.server.store import Store

Doc = dict[str, Any]
KINDS = ("dataset", "recipe", "model", "service")
DEFAULT_RECIPE_TITLE = "Default Recipe"
BINARIES_DATASET = "Binaries"  # the system dataset of every project


def dataset_doc(*, dataset_id: str, name: str, project_id: str, creator: str) -> Doc:
    now = now_iso()
    return {
        "id": dataset_id, "name": name, "projects": [project_id], "creator": creator,
        "createdAt": now, "updatedAt": now, "updatedBy": creator, "itemsCount": 0,
        "annotated": 0, "readonly": False, "accessLevel": "owner", "readableType": "dataset",
        "metadata": {"system": {"recipes": []}},
        "driver": None,
    }


def recipe_doc(*, recipe_id: str, title: str, project_id: str, dataset_id: str | None, creator: str,
               ontology_id: str) -> Doc:
    now = now_iso()
    return {
        "id": recipe_id, "title": title, "projectIds": [project_id], "ontologyIds": [ontology_id],
        "creator": creator, "createdAt": now, "updatedAt": now, "updatedBy": creator,
        "description": "", "examples": [], "customActions": [], "instructions": None,
        "uiSettings": {}, "metadata": {"system": {"datasets": [dataset_id] if dataset_id else []}},
    }


def model_doc(*, model_id: str, name: str, project_id: str, creator: str) -> Doc:
    now = now_iso()
    return {
        "id": model_id, "name": name, "projectId": project_id, "creator": creator,
        "createdAt": now, "updatedAt": now, "updatedBy": creator, "status": "created",
        "scope": "project", "context": {"project": project_id}, "configuration": {},
        "labels": [], "tags": [], "metadata": {}, "artifacts": [], "inputType": "image",
        "outputType": "box", "description": "", "version": "1.0.0",
    }


def service_doc(*, service_id: str, name: str, project_id: str, creator: str) -> Doc:
    now = now_iso()
    return {
        "id": service_id, "name": name, "projectId": project_id, "creator": creator,
        "createdAt": now, "updatedAt": now, "updatedBy": creator, "moduleName": "default_module",
        "packageId": None, "packageRevision": "latest", "version": "1.0.0", "active": True,
        "runtime": {"podType": "regular-xs", "concurrency": 10, "runnerImage": None,
                    "autoscaler": None},
        "initParams": {}, "versions": {}, "config": {}, "mode": {"on_reset": "failed"},
        "maxAttempts": 3, "executionTimeout": 3600, "drainTime": 600, "onReset": "failed",
        "runExecutionAsProcess": False, "secrets": [], "integrations": [], "global": False,
        "useUserJwt": False, "type": "regular", "metadata": {},
    }


DEFAULT_MODULE = {
    "name": "default_module", "entryPoint": "main.py", "className": "ServiceRunner", "initInputs": [],
    # a function's ports are `input` / `output` (singular) on the platform, as dtlpy reads them
    "functions": [{"name": "run", "input": [{"name": "item", "type": "Item"}],
                   "output": [{"name": "item", "type": "Item"}], "displayName": "run"}],
}


def default_package(*, service_name: str, project_id: str, creator: str) -> Doc:
    """The package behind a provisioned or seeded service: one module, `run(item) -> item`."""
    package_id = object_id()
    slug = re.sub(r"[^a-z0-9]+", "-", service_name.lower()).strip("-")[:35].strip("-")
    name = slug if slug[:1].isalpha() else f"package-{package_id[-8:]}"
    now = now_iso()
    return {
        "id": package_id, "name": name, "projectId": project_id, "creator": creator, "createdAt": now,
        "updatedAt": now, "updatedBy": creator, "version": "1.0.0", "revisions": [], "slots": [],
        "requirements": [], "metadata": {}, "isGlobal": False, "type": "faas", "scope": "project",
        "codebase": None, "modules": [copy.deepcopy(DEFAULT_MODULE)],
    }


def create_resource(store: Store, kind: str, *, name: str, project_id: str, resource_id: str,
                    creator: str, scope: str | None = None, visible: set[str] | None = None) -> Doc:
    """Create an object with exactly this id, or return the existing one with this id.

    `visible` are the projects the caller may see (None: all, for the database's owner). Ids are
    global, so the id may be taken in a project the caller cannot see: that answers 404, like any
    object the caller cannot see, never the object nor a 409 confirming it exists.
    HttpError: 400 unknown kind, 404 a recipe's dataset (`scope`) not in the project, 409 the id is
    taken in another (visible) project or by an object of another name. A recipe is linked into its
    dataset's `metadata.system.recipes` in the same transaction (dtlpy's `dataset.recipes.list()`
    reads it).
    """
    user = creator
    on_created: Callable[[sqlite3.Connection], None] | None = None
    if kind == "dataset":
        doc = dataset_doc(dataset_id=resource_id, name=name, project_id=project_id, creator=user)
    elif kind == "recipe":
        if scope is not None:
            dataset = store.resource("dataset", scope)
            if dataset is None or project_id not in dataset.get("projects", []):
                raise HttpError(404, f"Dataset not found: {scope}")
        existing = store.resource("recipe", resource_id)
        ontology_id = existing["ontologyIds"][0] if existing and existing.get("ontologyIds") else object_id()
        if existing is None:  # a recipe's labels live in its ontology, which must exist
            store.put_resource(ONTOLOGY, ontology_doc(ontology_id=ontology_id, project_ids=[project_id],
                                                      creator=user), name=ontology_id,
                               project_id=project_id, scope=None)
        doc = recipe_doc(recipe_id=resource_id, title=name, project_id=project_id,
                         dataset_id=scope, creator=user, ontology_id=ontology_id)
        if scope is not None:
            dataset_id = scope

            def link(db: sqlite3.Connection) -> None:
                store.change_resource_in(db, "dataset", dataset_id, lambda d: _link_recipe(d, resource_id))

            on_created = link
    elif kind == "model":
        doc = model_doc(model_id=resource_id, name=name, project_id=project_id, creator=user)
    elif kind == "service":
        doc = service_doc(service_id=resource_id, name=name, project_id=project_id, creator=user)
        existing = store.resource("service", resource_id)
        if existing is None:  # dtlpy reads a service's package (FunctionNode builds its ports from it)
            package = default_package(service_name=name, project_id=project_id, creator=user)
            store.put_resource("package", package, name=package["name"], project_id=project_id, scope=None)
            doc.update(packageId=package["id"], packageName=package["name"])
    else:
        raise HttpError(400, f"Unknown kind {kind!r}; one of: {', '.join(KINDS)}")
    store.put_resource(kind, doc, name=name, project_id=project_id, scope=scope, on_created=on_created)
    stored = store.resource(kind, resource_id)
    owners = projects_of(kind, stored) if stored is not None else set()
    if stored is None or (visible is not None and not owners & visible):
        raise HttpError(404, f"{kind.capitalize()} not found: {resource_id}")
    if project_id not in owners:
        raise HttpError(409, f"A {kind} with id {resource_id} exists in another project")
    if stored.get("name", stored.get("title")) != name:
        raise HttpError(409, f"A {kind} with id {resource_id} exists with another name")
    return stored


def projects_of(kind: str, doc: Doc) -> set[str]:
    if kind == "dataset":
        return set(doc.get("projects", []))
    if kind in ("recipe", ONTOLOGY):
        return set(doc.get("projectIds", []))
    return {doc["projectId"]} if doc.get("projectId") else set()


def _link_recipe(dataset: Doc, recipe_id: str) -> Doc:
    system = dataset.setdefault("metadata", {}).setdefault("system", {})
    recipes = system.setdefault("recipes", [])
    if recipe_id not in recipes:
        recipes.append(recipe_id)
    return dataset
