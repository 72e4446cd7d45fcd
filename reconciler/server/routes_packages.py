"""Package and service routes, as dtlpy 1.126.5's `packages` and `services` repositories call them.

- `GET /piper-misc/naming/packages/{name}`: 200 for a name the platform accepts, 400 with its
  message otherwise (dtlpy `packages._name_validation`, called by `push`).
- `POST /packages` (dtlpy `packages.push` after uploading the code to `Binaries`), `GET|PATCH|DELETE
  /packages/{id}`, `GET /packages/{id}/revisions`. Listing is `POST /query/faas` (routes_resources).
- `POST /services` (dtlpy `services.deploy`), `PATCH|DELETE /services/{id}`, `GET
  /services/{id}/status`. A package with services cannot be deleted (409).
- `POST /executions/{serviceId}` (dtlpy `service.execute`): 400, the local control plane runs no
  code yet.
Names are unique per project and kind (409). Visible to members of the project only (404).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from reconciler.server import objects
from reconciler.server.http import HttpError, Request, Response, Router
from reconciler.server.objects import with_url
from reconciler.server.ids import now_iso
from reconciler.server.packages import KIND, deployed_service, name_problem, package_doc, updated_package

if TYPE_CHECKING:
    from reconciler.server.app import ControlPlane

Doc = dict[str, Any]


def register(router: Router, plane: ControlPlane) -> None:
    store = plane.store

    def visible(request: Request, kind: str, resource_id: str) -> Doc:
        return objects.visible(plane, request, kind, resource_id)

    def unique(kind: str, project_id: str, name: str) -> None:
        if store.resources(kind, project_ids={project_id}, name=name):
            raise HttpError(409, f"A {kind} named {name!r} already exists in the project")

    def validate_name(request: Request, name: str) -> Doc:
        problem = name_problem(name)
        if problem is not None:
            raise HttpError(400, problem)
        return {"name": name, "valid": True}

    def create_package(request: Request) -> Doc:
        body = request.json_object()
        project_id = plane.body_project(request, body, "Package")["id"]
        doc = package_doc(body, project_id=project_id, creator=request.user or "")
        unique(KIND, project_id, doc["name"])
        store.put_resource(KIND, doc, name=doc["name"], project_id=project_id, scope=None)
        return with_url(request, "packages", doc)

    def get_package(request: Request, package_id: str) -> Doc:
        return with_url(request, "packages", visible(request, KIND, package_id))

    def patch_package(request: Request, package_id: str) -> Doc:
        doc = updated_package(visible(request, KIND, package_id), request.json_object())
        store.update_resource(KIND, package_id, lambda _: doc)
        return with_url(request, "packages", doc)

    def revisions(request: Request, package_id: str) -> list[Any]:
        return list(visible(request, KIND, package_id).get("revisions", []))

    def delete_package(request: Request, package_id: str) -> Response:
        doc = visible(request, KIND, package_id)
        if any(s.get("packageId") == package_id for s in store.resources("service", project_ids={doc["projectId"]})):
            raise HttpError(409, f"Package {doc['name']!r} has services; delete them first")
        store.delete_resource(KIND, package_id)
        return Response(200, None)

    def deploy(request: Request) -> Doc:
        body = request.json_object()
        package = visible(request, KIND, str(body.get("packageId")))
        doc = deployed_service(body, package=package, creator=request.user or "")
        unique("service", package["projectId"], doc["name"])
        store.put_resource("service", doc, name=doc["name"], project_id=package["projectId"], scope=None)
        return with_url(request, "services", doc)

    def patch_service(request: Request, service_id: str) -> Doc:
        doc = visible(request, "service", service_id)
        body = request.json_object()
        package = store.resource(KIND, str(doc.get("packageId"))) or {"id": doc.get("packageId"), "name": "",
                                                                      "projectId": doc["projectId"], "modules": []}
        merged = deployed_service({**doc, **body, "name": doc["name"]}, package=package, creator=doc["creator"])
        merged.update(id=doc["id"], createdAt=doc["createdAt"], updatedAt=now_iso(), updatedBy=request.user)
        store.update_resource("service", service_id, lambda _: merged)
        return with_url(request, "services", merged)

    def delete_service(request: Request, service_id: str) -> Response:
        visible(request, "service", service_id)
        store.delete_resource("service", service_id)
        return Response(200, None)

    def service_status(request: Request, service_id: str) -> Doc:
        doc = visible(request, "service", service_id)
        return {"status": "running" if doc.get("active") else "stopped", "runtimeStatus": []}

    def execute(request: Request, service_id: str) -> Doc:
        # dtlpy `service.execute(...)`: running user code is the execution engine's job, which the
        # local control plane does not have yet; say so instead of a bare 404/405.
        visible(request, "service", service_id)
        raise HttpError(400, "The local control plane runs no code yet: service executions are not supported")

    router.add("GET", "/piper-misc/naming/packages/{name}", validate_name)
    router.add("POST", "/executions/{service_id}", execute)
    router.add("POST", "/packages", create_package)
    router.add("GET", "/packages/{package_id}", get_package)
    router.add("PATCH", "/packages/{package_id}", patch_package)
    router.add("DELETE", "/packages/{package_id}", delete_package)
    router.add("GET", "/packages/{package_id}/revisions", revisions)
    router.add("POST", "/services", deploy)
    router.add("PATCH", "/services/{service_id}", patch_service)
    router.add("DELETE", "/services/{service_id}", delete_service)
    router.add("GET", "/services/{service_id}/status", service_status)
