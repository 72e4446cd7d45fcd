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
fifty nodes costs one request. Planning first calls `prefetch` with every name its specs use: one
query per kind with all the names (`{name: {$in: [...]}}`), the project's recipes (dtlpy's
`project.recipes.list()`, `GET /recipes?projects=P`) and members once, all at the same time; a
remote Dataloop then costs one round trip for the lookups of a whole plan, not one per name. On a sandbox local control plane an unknown dataset, recipe, model or
service resolves to `Resolved(provision=True)` with a deterministic id, so re-planning gives the same
document and apply can create the object with exactly that id.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlencode

from reconciler.backend import Project, Resolved, ResourceKind
from reconciler.client.transport import ApiSession, quote_segment
from reconciler.errors import ClientError, NotFound

# id -> name routes (dtlpy's own `get(..._id=)` routes) and the field holding the name.
_BY_ID = {ResourceKind.DATASET: ("/datasets/", "name"), ResourceKind.RECIPE: ("/recipes/", "title"),
          ResourceKind.MODEL: ("/ml/models/", "name"), ResourceKind.SERVICE: ("/services/", "name"),
          ResourceKind.PROJECT: ("/projects/", "name")}
_PROVISIONABLE = frozenset({ResourceKind.DATASET, ResourceKind.RECIPE, ResourceKind.MODEL, ResourceKind.SERVICE})
_BATCH = 100  # names per `$in` query: a bounded request body; the chunks run concurrently


def provision_id(project_id: str, kind: ResourceKind, name: str, scope: str | None = None) -> str:
    """A stable 24-hex id (ObjectId-shaped) for an object the local control plane will create."""
    key = "/".join((project_id, kind.value, scope or "", name))
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:24]


def _best_effort(job: Callable[[], object]) -> None:
    """Run one batch lookup. A server that refuses it (400: `$in` or the query's size; 404: no such
    route) leaves its names to `resolve`, which asks name by name and reports a real problem."""
    try:
        job()
    except ClientError as exc:
        if exc.status not in (400, 404):
            raise


class ApiResolver:
    """The `reconciler.backend.Resolver` for one project. Thread-safe."""

    def __init__(self, session: ApiSession, project_id: str, *, sandbox: bool = False) -> None:
        self._session = session
        self.project_id = project_id
        self.sandbox = sandbox
        self._cache: dict[tuple[ResourceKind, str, str | None], Resolved | NotFound] = {}
        self._names: dict[tuple[ResourceKind, str], str | None] = {}
        # Documents fetched by `prefetch`, read by the recipe and member lookups instead of a GET.
        self._datasets: dict[str, dict[str, Any]] = {}
        self._recipes: dict[str, dict[str, Any]] | None = None
        self._members: list[Any] | None = None
        self._planned: set[str] = set()  # ids of datasets this plan provisions (no recipes yet)
        self._lock = threading.Lock()

    def prefetch(self, names: Mapping[ResourceKind, Collection[str]]) -> None:
        jobs: list[Callable[[], object]] = []
        for kind, path, query in ((ResourceKind.DATASET, "/datasets/query", self._dataset_query),
                                  (ResourceKind.MODEL, "/ml/models/query", self._model_query),
                                  (ResourceKind.SERVICE, "/query/faas", self._service_query)):
            wanted = sorted(n for n in names.get(kind, ()) if (kind, n, None) not in self._cache)
            for start in range(0, len(wanted), _BATCH):
                chunk = wanted[start:start + _BATCH]
                jobs.append(lambda kind=kind, path=path, chunk=chunk, query=query:  # type: ignore[misc]
                            self._fetch_many(kind, path, query({"$in": chunk}), chunk))
        if names.get(ResourceKind.RECIPE) and self._recipes is None:
            jobs.append(self._fetch_recipes)
        if names.get(ResourceKind.USER) and self._members is None:
            jobs.append(self._fetch_members)
        if len(jobs) <= 1:
            for job in jobs:
                _best_effort(job)
            return
        with ThreadPoolExecutor(max_workers=len(jobs), thread_name_prefix="loopform-lookup") as pool:
            for future in [pool.submit(_best_effort, job) for job in jobs]:
                future.result()

    def _dataset_query(self, name: Any) -> dict[str, Any]:
        return {"filter": {"$and": [{"name": name}]}, "resource": "datasets",
                "context": {"projects": [self.project_id]}}

    def _model_query(self, name: Any) -> dict[str, Any]:
        return {"filter": {"$and": [{"name": name}, {"projectId": self.project_id}]}, "resource": "models"}

    def _service_query(self, name: Any) -> dict[str, Any]:
        return {"filter": {"$and": [{"name": name}, {"projectId": self.project_id}]}, "resource": "services"}

    def _fetch_many(self, kind: ResourceKind, path: str, query: dict[str, Any], names: list[str]) -> None:
        by_name: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
        for item in self._session.pages(path, query):
            # Exact names only: the server may read `*` in a name as a wildcard.
            if isinstance(item, dict) and item.get("name") in by_name:
                by_name[item["name"]].append(item)
        with self._lock:
            for name, items in by_name.items():
                if len(items) > 1:
                    continue  # ambiguous: `resolve` asks again and reports it
                if items:
                    self._cache[(kind, name, None)] = Resolved(kind=kind, name=name, id=str(items[0]["id"]))
                    if kind is ResourceKind.DATASET:
                        self._datasets[str(items[0]["id"])] = items[0]
                else:
                    self._cache[(kind, name, None)] = self._unknown(kind, name, None)

    def _fetch_recipes(self) -> None:
        recipes: dict[str, dict[str, Any]] = {}
        page = 0
        while True:
            query = urlencode({"projects": self.project_id, "pageOffset": page, "pageSize": 1000})
            result = self._session.call("GET", f"/recipes?{query}")
            items = result.get("items") if isinstance(result, dict) else None
            for item in items or []:
                if isinstance(item, dict) and "id" in item:
                    recipes[str(item["id"])] = item
            if not items or result.get("hasNextPage") is not True:
                break
            page += 1
        with self._lock:
            self._recipes = recipes

    def _fetch_members(self) -> list[Any]:
        members = self._session.call("GET", f"/projects/{quote_segment(self.project_id)}/members")
        found = members if isinstance(members, list) else []
        with self._lock:
            self._members = found
        return found

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
            found = self._one(kind, name, "/datasets/query", self._dataset_query(name))
        elif kind is ResourceKind.MODEL:
            found = self._one(kind, name, "/ml/models/query", self._model_query(name))
        elif kind is ResourceKind.SERVICE:
            found = self._one(kind, name, "/query/faas", self._service_query(name))
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
            ident = provision_id(self.project_id, kind, name, scope)
            self._planned.add(ident)
            return Resolved(kind=kind, name=name, id=ident, provision=True, extra=extra)
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
        if kind is ResourceKind.DATASET:
            with self._lock:
                self._datasets[str(items[0]["id"])] = items[0]
        return Resolved(kind=kind, name=name, id=str(items[0]["id"]))

    def _recipe(self, title: str, dataset_id: str | None) -> Resolved | None:
        if not dataset_id:
            raise ClientError(f"recipe {title!r}: a recipe is looked up within a dataset")
        if dataset_id in self._planned:
            return None  # a dataset still to be provisioned has no recipes yet
        dataset = self._datasets.get(dataset_id)
        if dataset is None:
            try:
                dataset = self._session.call("GET", f"/datasets/{quote_segment(dataset_id)}")
            except NotFound:
                return None  # a dataset still to be provisioned has no recipes yet
        recipe_ids = ((dataset or {}).get("metadata") or {}).get("system", {}).get("recipes") or []
        for recipe_id in recipe_ids:
            # From the project's recipes when prefetched; a recipe shared from another project is
            # not among them and is read by id.
            recipe = (self._recipes or {}).get(str(recipe_id))
            if recipe is None:
                recipe = self._session.call("GET", f"/recipes/{quote_segment(str(recipe_id))}")
            if isinstance(recipe, dict) and recipe.get("title") == title:
                return Resolved(kind=ResourceKind.RECIPE, name=title, id=str(recipe["id"]),
                                extra={"scope": dataset_id})
        return None

    def _user(self, email: str) -> Resolved | None:
        members = self._members if self._members is not None else self._fetch_members()
        for member in members:
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
