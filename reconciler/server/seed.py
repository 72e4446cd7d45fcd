"""`loopform local seed FILE`: load projects, members, datasets, recipes, models and services.

The file format is `SEED_FORMAT` (shown by `loopform local seed --help` and in the README).

Seeding is idempotent: a project, member or object that already exists (same name in the same
project, or the same id) is left as it is and counted as kept. The default user owns every project
it creates. Errors are `ConfigError`s that name the file and the entry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from reconciler.errors import ConfigError
from reconciler.server.app import ControlPlane
from reconciler.server.engine.runner import ADAPTER
from reconciler.server.http import HttpError
from reconciler.server.ids import object_id
from reconciler.server.resources import DEFAULT_RECIPE_TITLE, create_resource
from reconciler.server.routes_projects import MEMBER_ROLES
from reconciler.settings_file import load_settings_file

MAX_SEED_BYTES = 4 * 1024 * 1024

SEED_FORMAT = """\
A seed file (YAML or JSON) lists projects and what they hold; every key but `name` is optional:

  projects:
    - name: demo
      id: 0f5e1a2b-0000-4000-8000-000000000001  # optional: keep the platform's id
      members: [{email: ann@example.com, role: annotator}, bob@example.com]
      datasets:
        - name: frames
          recipes: [default]          # titles; a dataset without `recipes` gets "Default Recipe"
        - {name: raw-videos, id: 5f00000000000000000000aa}
      models: [yolo]                  # a name, or {name, id}
      services: [{name: cutter}]

A member is an email or {email, role}; roles: annotationManager, annotator, engineer (the default),
owner. Seeding again keeps what exists (same name in the project, or same id) and adds the rest.
A model may name a local adapter that runs its ml nodes here, `{name: tagger, adapter:
adapters/tagger.py:Tagger}` (FILE:CLASS, FILE relative to the seed file; seeding again replaces it)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Named(_Strict):
    name: str = Field(min_length=1)
    id: str | None = None


class RecipeSeed(_Strict):
    title: str = Field(min_length=1)
    id: str | None = None


def _expand_bare(value: Any, key: str) -> Any:
    """A list's bare strings become `{key: string}`: `datasets: [frames]` means `[{name: frames}]`."""
    if isinstance(value, list):
        return [{key: v} if isinstance(v, str) else v for v in value]
    return value


class DatasetSeed(Named):
    recipes: list[RecipeSeed] | None = None

    @field_validator("recipes", mode="before")
    @classmethod
    def _titles(cls, value: Any) -> Any:
        return _expand_bare(value, "title")


class MemberSeed(_Strict):
    email: str = Field(min_length=3)
    role: str = "engineer"

    @field_validator("role")
    @classmethod
    def _known_role(cls, value: str) -> str:
        if value not in MEMBER_ROLES:
            raise ValueError(f"unknown role {value!r}; one of: {', '.join(sorted(MEMBER_ROLES))}")
        return value


class ModelSeed(Named):
    adapter: str | None = Field(default=None, pattern=r"^[^:]+\.py:[A-Za-z_][A-Za-z0-9_]*$")


class ProjectSeed(Named):
    members: list[MemberSeed] = []
    datasets: list[DatasetSeed] = []
    models: list[ModelSeed] = []
    services: list[Named] = []

    @field_validator("members", mode="before")
    @classmethod
    def _emails(cls, value: Any) -> Any:
        return _expand_bare(value, "email")

    @field_validator("datasets", "models", "services", mode="before")
    @classmethod
    def _bare_names(cls, value: Any) -> Any:
        return _expand_bare(value, "name")


class SeedFile(_Strict):
    projects: list[ProjectSeed] = []


class SeedResult(BaseModel):
    created: dict[str, int] = {}
    kept: dict[str, int] = {}

    def count(self, kind: str, *, created: bool) -> None:
        bucket = self.created if created else self.kept
        bucket[kind] = bucket.get(kind, 0) + 1


def load_seed(path: Path) -> SeedFile:
    """Parse and validate a seed file; ConfigError (with the file, the line and the key path) otherwise."""
    return load_settings_file(path, SeedFile, what="seed file", max_bytes=MAX_SEED_BYTES)


def apply_seed(plane: ControlPlane, seed: SeedFile, *, base_dir: Path | None = None) -> SeedResult:
    """Seed the plane; adapter files are read relative to `base_dir` (the seed file's folder)."""
    result = SeedResult()
    store = plane.store
    owner = plane.default_user
    # Every adapter file is read before anything is written: a missing one leaves the plane as it was.
    adapters = {(p.name, m.name): _read_adapter(m.name, (base_dir or Path.cwd()) / m.adapter.rpartition(":")[0])
                for p in seed.projects for m in p.models if m.adapter is not None}
    for project_seed in seed.projects:
        existing = [p for p in store.projects_named(project_seed.name)
                    if project_seed.id is None or p["id"] == project_seed.id]
        if existing:
            project = existing[0]
            result.count("project", created=False)
        else:
            if project_seed.id is not None and store.project(project_seed.id) is not None:
                raise ConfigError(f"project id {project_seed.id} is taken by another project")
            project = plane.create_project(project_seed.name, owner=owner, project_id=project_seed.id)
            result.count("project", created=True)
        pid = project["id"]
        members = dict(store.members(pid))
        for member in project_seed.members:
            plane.ensure_user(member.email)
            if members.get(member.email) == member.role:
                result.count("member", created=False)
            else:
                store.add_member(pid, member.email, member.role)
                result.count("member", created=True)
        try:
            for dataset in project_seed.datasets:
                doc = _ensure(plane, result, "dataset", dataset, pid)
                recipes = dataset.recipes if dataset.recipes is not None else [
                    RecipeSeed(title=DEFAULT_RECIPE_TITLE)]
                for recipe in recipes:
                    _ensure(plane, result, "recipe", Named(name=recipe.title, id=recipe.id), pid,
                            scope=doc["id"])
            for model in project_seed.models:
                doc = _ensure(plane, result, "model", Named(name=model.name, id=model.id), pid)
                if model.adapter is not None:
                    file, _, class_name = model.adapter.rpartition(":")
                    register_adapter(plane, doc, Path(file).name, adapters[project_seed.name, model.name],
                                     class_name)
                    result.count("model adapter", created=True)
            for service in project_seed.services:
                _ensure(plane, result, "service", service, pid)
        except HttpError as exc:
            raise ConfigError(f"project {project_seed.name!r}: {exc.message}") from exc
    return result


def _read_adapter(model_name: str, path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"model {model_name!r}: cannot read the adapter {path}: {exc}") from None


def register_adapter(plane: ControlPlane, model: dict[str, Any], file_name: str, code: str, class_name: str) -> None:
    """Run `model`'s ml nodes here with the model adapter class `class_name` of `code` (the text of
    the Python file `file_name`, kept in the database; registering again replaces it)."""
    doc = {"id": model["id"], "modelId": model["id"], "code": code, "className": class_name, "file": file_name}
    store = plane.store
    if not store.put_resource(ADAPTER, doc, name=model["name"], project_id=None, scope=model["id"]):
        store.update_resource(ADAPTER, model["id"], lambda _: doc)


def _ensure(plane: ControlPlane, result: SeedResult, kind: str, seed: Named, project_id: str,
            *, scope: str | None = None) -> dict[str, Any]:
    found = plane.store.resources(kind, project_ids={project_id}, name=seed.name,
                                  scope=scope if kind == "recipe" else None)
    found = [d for d in found if seed.id is None or d["id"] == seed.id]
    if found:
        result.count(kind, created=False)
        return found[0]
    doc = create_resource(plane.store, kind, name=seed.name, project_id=project_id,
                          resource_id=seed.id or object_id(), creator=plane.default_user, scope=scope)
    result.count(kind, created=True)
    return doc
