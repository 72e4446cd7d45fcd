"""Platform objects a spec names — datasets, recipes, models, services — with dtlpy's own routes.

Routes (copied from dtlpy 1.126.5's repositories, so the SDK and Loopform's client work alike):
- datasets: `POST /datasets/query` (DQL body; `context.projects` narrows to projects; dtlpy's
  `project.datasets.get(dataset_name=)` / `list()`), `GET /datasets/{id}`, `POST /datasets`
  `{name, projects: [pid], createDefaultRecipe}` (dtlpy `datasets.create`; makes a "Default Recipe").
- recipes: `GET /recipes/{id}` (dtlpy `dataset.recipes.list()` reads the ids in the dataset's
  `metadata.system.recipes` and GETs each), `GET /recipes?projects=PID&title=T&pageOffset=&pageSize=`
  (dtlpy `project.recipes.list()`, a page).
- models: `POST /ml/models/query` (DQL; dtlpy `project.models.get(model_name=)` / `list()`),
  `GET /ml/models/{id}`, `PATCH /ml/models/{id}` (dtlpy `model.update()`: configuration, description,
  labels, tags, status, input and output types).
- services, packages, triggers and executions: `POST /query/faas` (DQL; the body's `resource` says
  which: `services`, `packages`, `triggers`, `executions`), `GET /services/{id}`, `GET
  /triggers/{id}`, `GET /executions/{id}` (the node executions of the pipeline cycles,
  `executions.node_executions`).
- Loopform only: `POST /loopform/provision {kind, name, id, projectId, scope?}` creates the object
  with exactly that id (idempotent on the id); `scope` is the dataset id of a recipe. Refused (400)
  in strict mode, where the control plane answers like the real platform.
Objects are visible only to members of their project; others get 404 (or an empty page), provision
included: an id taken in a project the caller cannot see is a 404, never that object.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from reconciler.server import objects
from reconciler.server.executions import node_executions
from reconciler.server.http import HttpError, Request, Router, one_of, typed_field
from reconciler.server.ids import now_iso, object_id
from reconciler.server.items import KIND as ITEM
from reconciler.server.objects import dql_page, param_page, param_projects, with_url
from reconciler.server.resources import DEFAULT_RECIPE_TITLE, create_resource

if TYPE_CHECKING:
    from reconciler.server.app import ControlPlane

Doc = dict[str, Any]
# `POST /query/faas` resource -> kind
FAAS_KINDS = {"services": "service", "packages": "package", "triggers": "trigger"}


_MODEL_FIELDS = ("configuration", "description", "labels", "tags", "status", "inputType", "outputType")


def register(router: Router, plane: ControlPlane) -> None:
    store = plane.store

    def visible(request: Request, kind: str, resource_id: str) -> Doc:
        return objects.visible(plane, request, kind, resource_id)

    def projects_asked(request: Request, body: Doc) -> set[str]:
        mine = plane.visible_project_ids(request)
        context = body.get("context") or {}
        wanted = context.get("projects") if isinstance(context, dict) else None
        if isinstance(wanted, list):
            mine &= {p for p in wanted if isinstance(p, str)}
        return mine

    def shown(request: Request, kind: str, path: str, doc: Doc) -> Doc:
        if kind == "dataset":  # counted when read: items come and go through their own routes
            doc = {**doc, "itemsCount": store.count_resources(ITEM, scope=doc["id"])}
        return with_url(request, path, doc)

    def paged_query(request: Request, kind: str, path: str) -> Doc:
        body = request.json_object()
        docs = [shown(request, kind, path, d) for d in store.resources(kind, project_ids=projects_asked(request, body))]
        return dql_page(body, docs)

    # --- datasets ---------------------------------------------------------------------------

    def query_datasets(request: Request) -> Doc:
        return paged_query(request, "dataset", "datasets")

    def get_dataset(request: Request, dataset_id: str) -> Doc:
        return shown(request, "dataset", "datasets", visible(request, "dataset", dataset_id))

    def create_dataset(request: Request) -> Doc:
        body = request.json_object()
        name = body.get("name")
        projects = body.get("projects")
        if not isinstance(name, str) or not name.strip():
            raise HttpError(400, "Dataset 'name' is required")
        if not isinstance(projects, list) or len(projects) != 1 or not isinstance(projects[0], str):
            raise HttpError(400, "Dataset 'projects' must be a list of one project id")
        project = plane.visible_project(request, projects[0])
        if store.resources("dataset", project_ids={project["id"]}, name=name):
            raise HttpError(409, f"Dataset named {name!r} already exists in the project")
        user = request.user or ""
        doc = create_resource(store, "dataset", name=name, project_id=project["id"],
                              resource_id=object_id(), creator=user)
        if typed_field(body, "createDefaultRecipe", bool, default=True):
            create_resource(store, "recipe", name=DEFAULT_RECIPE_TITLE, project_id=project["id"],
                            resource_id=object_id(), scope=doc["id"], creator=user)
            doc = store.resource("dataset", doc["id"]) or doc
        return shown(request, "dataset", "datasets", doc)

    def update_dataset(request: Request, dataset_id: str) -> Doc:
        # dtlpy `datasets.update(dataset, system_metadata=)` PATCHes the whole entity; the name,
        # description and user metadata change, and with `?system=true` the system metadata too
        # (that is how dtlpy links a dataset to another recipe: metadata.system.recipes).
        doc = visible(request, "dataset", dataset_id)
        body = request.json_object()
        changed = dict(doc)
        name = body.get("name", doc["name"])
        if not isinstance(name, str) or not name.strip():
            raise HttpError(400, "Dataset 'name' must be a non-empty string")
        if name != doc["name"] and store.resources("dataset", project_ids=set(doc["projects"]), name=name):
            raise HttpError(409, f"Dataset named {name!r} already exists in the project")
        changed["name"] = name
        if isinstance(body.get("description"), str):
            changed["description"] = body["description"]
        metadata = body.get("metadata")
        if metadata is not None:
            if not isinstance(metadata, dict):
                raise HttpError(400, "'metadata' must be an object")
            system = metadata.get("system") if "true" in request.query.get("system", []) else None
            recipes = system.get("recipes") if isinstance(system, dict) else None
            if recipes is not None:
                if not isinstance(recipes, list) or not all(isinstance(r, str) for r in recipes):
                    raise HttpError(400, "'metadata.system.recipes' must be a list of recipe ids")
                for recipe_id in recipes:
                    visible(request, "recipe", recipe_id)
            kept_system = system if isinstance(system, dict) else doc.get("metadata", {}).get("system", {})
            changed["metadata"] = {**metadata, "system": kept_system}
        changed.update(updatedAt=now_iso(), updatedBy=request.user)
        store.rename_resource("dataset", dataset_id, name=name, doc=changed)
        return shown(request, "dataset", "datasets", changed)

    # --- recipes ----------------------------------------------------------------------------

    def get_recipe(request: Request, recipe_id: str) -> Doc:
        return with_url(request, "recipes", visible(request, "recipe", recipe_id))

    def list_recipes(request: Request) -> Doc:
        docs = store.resources("recipe", project_ids=param_projects(plane, request))
        titles = request.query.get("title")
        if titles:
            docs = [d for d in docs if d.get("title") == titles[0]]
        return param_page(request, [with_url(request, "recipes", d) for d in docs])

    # --- models and services ----------------------------------------------------------------

    def query_models(request: Request) -> Doc:
        return paged_query(request, "model", "ml/models")

    def get_model(request: Request, model_id: str) -> Doc:
        return with_url(request, "ml/models", visible(request, "model", model_id))

    def patch_model(request: Request, model_id: str) -> Doc:
        # dtlpy's `model.update()`, which a model adapter calls as it takes the model (it writes
        # its default configuration back): the fields a user may change, nothing of the server's.
        doc = visible(request, "model", model_id)
        body = request.json_object()
        changed = {**doc, **{k: body[k] for k in _MODEL_FIELDS if k in body}, "updatedAt": now_iso()}
        store.update_resource("model", model_id, lambda _: changed)
        return with_url(request, "ml/models", changed)

    def query_faas(request: Request) -> Doc:
        # One route for three resources, told apart by the body's `resource` (dtlpy's packages,
        # services and executions repositories all post here).
        body = request.json_object()
        resource = one_of(body, "resource", {*FAAS_KINDS, "executions"}, default="services")
        if resource == "executions":
            cycles = store.executions_in(projects_asked(request, body))
            return dql_page(body, [with_url(request, "executions", e) for e in node_executions(cycles)])
        return paged_query(request, FAAS_KINDS[resource], resource)

    def get_execution(request: Request, execution_id: str) -> Doc:
        found = store.node_execution_by_id(execution_id)
        if found is None or found[1] not in plane.visible_project_ids(request):  # another tenant's: as missing
            raise HttpError(404, f"Execution not found: {execution_id}")
        return with_url(request, "executions", found[0])

    def get_service(request: Request, service_id: str) -> Doc:
        return with_url(request, "services", visible(request, "service", service_id))

    def get_trigger(request: Request, trigger_id: str) -> Doc:
        return with_url(request, "triggers", visible(request, "trigger", trigger_id))

    # --- provisioning -----------------------------------------------------------------------

    def provision(request: Request) -> Doc:
        if plane.strict:
            raise HttpError(400, "Provisioning is disabled: the control plane runs in strict mode")
        body = request.json_object()
        fields: dict[str, str] = {}
        for key in ("kind", "name", "id", "projectId"):
            value = body.get(key)
            if not isinstance(value, str) or not value:
                raise HttpError(400, f"'{key}' is required (a non-empty string)")
            fields[key] = value
        scope = body.get("scope")
        if scope is not None and not isinstance(scope, str):
            raise HttpError(400, "'scope' must be a string")
        if fields["kind"] != "recipe":
            scope = None  # only recipes are scoped (to a dataset)
        project = plane.visible_project(request, fields["projectId"])
        return create_resource(store, fields["kind"], name=fields["name"], project_id=project["id"],
                               resource_id=fields["id"], scope=scope, creator=request.user or "",
                               visible=plane.visible_project_ids(request))

    router.add("POST", "/datasets/query", query_datasets)
    router.add("POST", "/datasets", create_dataset)
    router.add("GET", "/datasets/{dataset_id}", get_dataset)
    router.add("PATCH", "/datasets/{dataset_id}", update_dataset)
    router.add("GET", "/recipes", list_recipes)
    router.add("GET", "/recipes/{recipe_id}", get_recipe)
    router.add("POST", "/ml/models/query", query_models)
    router.add("GET", "/ml/models/{model_id}", get_model)
    router.add("PATCH", "/ml/models/{model_id}", patch_model)
    router.add("POST", "/query/faas", query_faas)
    router.add("GET", "/executions/{execution_id}", get_execution)
    router.add("GET", "/services/{service_id}", get_service)
    router.add("GET", "/triggers/{trigger_id}", get_trigger)
    router.add("POST", "/loopform/provision", provision)


