"""`ApiResolver`: names in specs -> platform ids, over the lookup routes dtlpy itself uses.

    dataset   POST /datasets/query   {filter: {$and: [{name}]}, resource: datasets, context: {projects: [P]}}
    recipe    GET /datasets/{id} -> metadata.system.recipes, then GET /recipes/{rid}; match by title
    model     POST /ml/models/query  {filter: {$and: [{name}, {projectId}]}, resource: models}
    service   POST /query/faas       {filter: {$and: [{name}, {projectId}]}, resource: services}
    user      GET /projects/{P}/members; match by email
    project   GET /projects/{name}/name

and back (`name_of`, id -> name, for showing and exporting ids as names): GET /datasets/{id},
/recipes/{id} (its title), /ml/models/{id}, /services/{id}, /projects/{id}.

One resolver per project and plan run; every answer (found or not) is cached, so a name used by
fifty nodes costs one request. On a sandbox local control plane an unknown dataset, recipe, model or
service resolves to `Resolved(provision=True)` with a deterministic id, so re-planning gives the same
document and apply can create the object with exactly that id.
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any

from reconciler.backend import Project, Resolved, ResourceKind
from reconciler.client.transport import ApiSession, quote_segment
from reconciler.errors import ClientError, NotFound

# id -> name routes (dtlpy's own `get(..._id=)` routes) and the field holding the name.
_BY_ID = {ResourceKind.DATASET: ("/datasets/", "name"), ResourceKind.RECIPE: ("/recipes/", "title"),
          ResourceKind.MODEL: ("/ml/models/", "name"), ResourceKind.SERVICE: ("/services/", "name"),
          ResourceKind.PROJECT: ("/projects/", "name")}
_PROVISIONABLE = frozenset({ResourceKind.DATASET, ResourceKind.RECIPE, ResourceKind.MODEL, ResourceKind.SERVICE})


def provision_id(project_id: str, kind: ResourceKind, name: str, scope: str | None = None) -> str:
    """A stable 24-hex id (ObjectId-shaped) for an object the local control plane will create."""
    key = "/".join((project_id, kind.value, scope or "", name))
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:24]


class ApiResolver:
    """The `reconciler.backend.Resolver` for one project. Thread-safe."""

    def __init__(self, session: ApiSession, project_id: str, *, sandbox: bool = False) -> None:
        self._session = session
        self.project_id = project_id
        self.sandbox = sandbox
        self._cache: dict[tuple[ResourceKind, str, str | None], Resolved | NotFound] = {}
        self._names: dict[tuple[ResourceKind, str], str | None] = {}
        self._lock = threading.Lock()

    def resolve(self, kind: ResourceKind, name: str, *, scope: str | None = None) -> Resolved:
        key = (kind, name, scope)
        with self._lock:
            cached = self._cache.get(key)
        if cached is None:
            try:
                found = self._lookup(kind, name, scope)
            except NotFound as exc:
                # A 404 from a lookup route itself is not "no such name": the server lacks the
                # route. Callers treat NotFound as an unknown name, so it must not pass as one.
                raise ClientError(f"cannot look up {kind.value} {name!r}: {exc.server_message}",
                                  status=exc.status, method=exc.method, path=exc.path) from exc
            cached = found if found is not None else self._unknown(kind, name, scope)
            with self._lock:
                self._cache[key] = cached
        if isinstance(cached, NotFound):
            raise cached
        return cached

    def name_of(self, kind: ResourceKind, ident: str) -> str | None:
        """The name of the object with id `ident` (None: no such object visible). Cached."""
        if kind is ResourceKind.USER:
            return ident  # Dataloop addresses users by email: the id is the name
        key = (kind, ident)
        with self._lock:
            if key in self._names:
                return self._names[key]
        route, field = _BY_ID[kind]
        name: str | None = None
        try:
            doc = self._session.call("GET", route + quote_segment(ident))
        except ClientError as exc:
            # Not found, not visible, or not an id the server accepts (400): no name to show.
            if exc.status not in (400, 403, 404):
                raise
        else:
            value = doc.get(field) if isinstance(doc, dict) else None
            name = value if isinstance(value, str) and value else None
        with self._lock:
            self._names[key] = name
        return name

    def _lookup(self, kind: ResourceKind, name: str, scope: str | None) -> Resolved | None:
        found: Resolved | None
        if kind is ResourceKind.DATASET:
            found = self._one(kind, name, "/datasets/query",
                              {"filter": {"$and": [{"name": name}]}, "resource": "datasets",
                               "context": {"projects": [self.project_id]}})
        elif kind is ResourceKind.MODEL:
            found = self._one(kind, name, "/ml/models/query",
                              {"filter": {"$and": [{"name": name}, {"projectId": self.project_id}]},
                               "resource": "models"})
        elif kind is ResourceKind.SERVICE:
            found = self._one(kind, name, "/query/faas",
                              {"filter": {"$and": [{"name": name}, {"projectId": self.project_id}]},
                               "resource": "services"})
        elif kind is ResourceKind.RECIPE:
            found = self._recipe(name, scope)
        elif kind is ResourceKind.USER:
            found = self._user(name)
        elif kind is ResourceKind.PROJECT:
            found = self._project(name)
        else:  # pragma: no cover - the enum is closed
            raise ClientError(f"cannot resolve a {kind.value}")
        return found

    def _unknown(self, kind: ResourceKind, name: str, scope: str | None) -> Resolved | NotFound:
        """What an unknown name resolves to: a planned provision (sandbox) or NotFound."""
        if self.sandbox and kind in _PROVISIONABLE:
            extra: dict[str, Any] = {"scope": scope} if scope else {}
            return Resolved(kind=kind, name=name, id=provision_id(self.project_id, kind, name, scope),
                            provision=True, extra=extra)
        if self.sandbox and kind is ResourceKind.USER:
            # Dataloop addresses users by email; the sandbox has no member list to check against.
            return Resolved(kind=kind, name=name, id=name, extra={"email": name})
        where = f" in dataset {scope}" if scope else ""
        return NotFound(f"{kind.value} {name!r} not found{where}", status=404)

    def _one(self, kind: ResourceKind, name: str, path: str, query: dict[str, Any]) -> Resolved | None:
        items = [i for i in self._session.pages(path, query) if isinstance(i, dict) and i.get("name") == name]
        if len(items) > 1:
            raise ClientError(f"more than one {kind.value} is named {name!r}", method="POST", path=path)
        if not items:
            return None
        return Resolved(kind=kind, name=name, id=str(items[0]["id"]))

    def _recipe(self, title: str, dataset_id: str | None) -> Resolved | None:
        if not dataset_id:
            raise ClientError(f"recipe {title!r}: a recipe is looked up within a dataset")
        try:
            dataset = self._session.call("GET", f"/datasets/{quote_segment(dataset_id)}")
        except NotFound:
            return None  # a dataset still to be provisioned has no recipes yet
        recipe_ids = ((dataset or {}).get("metadata") or {}).get("system", {}).get("recipes") or []
        for recipe_id in recipe_ids:
            recipe = self._session.call("GET", f"/recipes/{quote_segment(str(recipe_id))}")
            if isinstance(recipe, dict) and recipe.get("title") == title:
                return Resolved(kind=ResourceKind.RECIPE, name=title, id=str(recipe["id"]),
                                extra={"scope": dataset_id})
        return None

    def _user(self, email: str) -> Resolved | None:
        members = self._session.call("GET", f"/projects/{quote_segment(self.project_id)}/members")
        for member in members if isinstance(members, list) else []:
            if isinstance(member, dict) and str(member.get("email", "")).lower() == email.lower():
                return Resolved(kind=ResourceKind.USER, name=email, id=str(member.get("id") or member["email"]),
                                extra={"email": member["email"]})
        return None

    def _project(self, name: str) -> Resolved | None:
        try:
            items = self._session.call("GET", f"/projects/{quote_segment(name)}/name")
        except NotFound:
            return None
        if not isinstance(items, list) or not items:
            return None
        project = Project.model_validate(items[0])
        return Resolved(kind=ResourceKind.PROJECT, name=name, id=project.id)
