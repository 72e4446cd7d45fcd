"""Code packages and the services deployed from them, in the shapes dtlpy reads.

- Package names follow the platform's rule (dtlpy's packages_name_validation test): lowercase
  letters, digits and dashes, starting with a letter, not ending with a dash, at most 35
  characters; the platform answers "Invalid package name: ..." or "Name must be at most 35
  characters" (400).
- dtlpy's `packages.push` zips the code into the project's `Binaries` dataset (an item) and posts
  `{name, projectId, codebase: {type: "item", itemId}, modules, slots, requirements, ...}` to
  `POST /packages`; the package keeps what it was given and a `revisions` list.
- `services.deploy` posts `{name, projectId, packageId, moduleName, runtime, initParams, ...}` to
  `POST /services`. A service names its package; nothing runs here (the engine comes later), so a
  deployed service is `active` with nothing behind it.
Pure functions over documents.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from reconciler.server.http import HttpError
from reconciler.server.ids import now_iso, object_id
from reconciler.server.resources import service_doc

Doc = dict[str, Any]
KIND = "package"
MAX_NAME = 35
_NAME = re.compile(r"^[a-z](?:[a-z0-9-]*[a-z0-9])?$")
_PACKAGE_FIELDS = ("codebase", "modules", "slots", "requirements", "serviceConfig", "metadata", "ui_hooks",
                   "isGlobal", "type", "scope", "description", "version", "dpkName", "context")
_SERVICE_FIELDS = ("moduleName", "runtime", "initParams", "versions", "config", "maxAttempts", "executionTimeout",
                   "drainTime", "onReset", "runExecutionAsProcess", "secrets", "integrations", "mode", "metadata",
                   "useUserJwt", "packageRevision", "botUserName", "driverId", "verify", "sdkVersion")


def name_problem(name: Any) -> str | None:
    """The platform's message for a package name it refuses, or None."""
    if not isinstance(name, str):
        return "Invalid package name: a name is required"
    if len(name) > MAX_NAME:
        return f"Name must be at most {MAX_NAME} characters"
    if not _NAME.match(name):
        return (f"Invalid package name: {name!r}. Use lowercase letters, digits and dashes, start with a letter "
                "and do not end with a dash")
    return None


def package_doc(body: Doc, *, project_id: str, creator: str) -> Doc:
    problem = name_problem(body.get("name"))
    if problem is not None:
        raise HttpError(400, problem)
    now = now_iso()
    doc = {
        "id": object_id(), "name": body["name"], "projectId": project_id, "creator": creator, "createdAt": now,
        "updatedAt": now, "updatedBy": creator, "version": "1.0.0", "revisions": [], "modules": [], "slots": [],
        "requirements": [], "metadata": {}, "isGlobal": False, "type": "faas", "scope": "project",
    }
    doc.update({k: copy.deepcopy(body[k]) for k in _PACKAGE_FIELDS if body.get(k) is not None})
    if not isinstance(doc["modules"], list):
        raise HttpError(400, "Package 'modules' must be a list")
    doc["revisions"] = [{"version": doc["version"], "codebase": doc.get("codebase"), "createdAt": now}]
    return doc


def updated_package(doc: Doc, body: Doc) -> Doc:
    changed = {**doc, **{k: copy.deepcopy(body[k]) for k in _PACKAGE_FIELDS if body.get(k) is not None}}
    changed["updatedAt"] = now_iso()
    if changed.get("codebase") != doc.get("codebase") or changed.get("modules") != doc.get("modules"):
        changed["revisions"] = [*doc.get("revisions", []), {"version": changed.get("version"),
                                                            "codebase": changed.get("codebase"),
                                                            "createdAt": changed["updatedAt"]}]
    return changed


def deployed_service(body: Doc, *, package: Doc, creator: str) -> Doc:
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise HttpError(400, "Service 'name' is required")
    doc = service_doc(service_id=object_id(), name=name, project_id=package["projectId"], creator=creator)
    doc.update({k: copy.deepcopy(body[k]) for k in _SERVICE_FIELDS if body.get(k) is not None})
    modules = [m.get("name") for m in package.get("modules", []) if isinstance(m, dict)]
    if modules and doc["moduleName"] not in modules:
        raise HttpError(400, f"Module {doc['moduleName']!r} is not in package {package['name']!r}: "
                             f"{', '.join(str(m) for m in modules)}")
    doc.update(packageId=package["id"], packageName=package["name"], packageRevision=doc.get("packageRevision")
               or package.get("version", "latest"))
    return doc
