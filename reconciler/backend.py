"""What the rest of Loopform needs from a live Dataloop: the Backend protocol and its value types.

Implemented once, by the REST client in `reconciler.client` — for the real Dataloop API and for the
local control plane alike (the embedded default is the same client over an in-process transport).
The pure core never sees a Backend: the plan command reads live state through one and hands compile
plain values (live `Pipeline` documents and a `Resolver`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from enum import Enum
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

from reconciler.document import Pipeline


class ResourceKind(str, Enum):
    """Platform objects a spec names and compile turns into ids."""

    PROJECT = "project"
    DATASET = "dataset"
    RECIPE = "recipe"
    MODEL = "model"
    SERVICE = "service"
    USER = "user"


class Project(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str
    name: str


class Resolved(BaseModel):
    """A name resolved to the platform's id.

    `provision` is True only on the local control plane (not --strict): the object does not exist
    yet and apply will create it with exactly this id, so the plan can show the final document.
    """

    model_config = ConfigDict(frozen=True)

    kind: ResourceKind
    name: str
    id: str
    provision: bool = False
    extra: dict[str, Any] = {}


class Resolver(Protocol):
    """Name lookups injected into compile. Raises `reconciler.errors.NotFound` for unknown names."""

    def resolve(self, kind: ResourceKind, name: str, *, scope: str | None = None) -> Resolved:
        """`scope` narrows the lookup, e.g. a recipe by title within a dataset id."""
        ...

    def name_of(self, kind: ResourceKind, ident: str) -> str | None:
        """The reverse lookup: the name of the dataset, recipe (its title), model or service with
        id `ident`, or None when there is none (users are addressed by email: returned as is).
        Used to show and export ids as the names a spec writes."""
        ...


class BatchResolver(Resolver, Protocol):
    """A Resolver that can look many names up at once (a backend's, for planning)."""

    def prefetch(self, names: Mapping[ResourceKind, Collection[str]]) -> None:
        """Look these names up in few requests (one query per kind, run concurrently), so that
        `resolve` answers them without another request. Names not found are remembered as such."""
        ...


class Backend(Protocol):
    """A live Dataloop (real or local). Every method may raise `reconciler.errors.ApiError`."""

    @property
    def description(self) -> str:
        """Which backend this is, for the user ("local control plane at .loopform/", a URL...)."""
        ...

    def project(self, name: str) -> Project: ...

    def list_pipelines(self, project_id: str) -> list[Pipeline]: ...

    def get_pipeline(self, pipeline_id: str) -> Pipeline: ...

    def find_pipeline(self, project_id: str, name: str) -> Pipeline | None: ...

    def create_pipeline(self, doc: Pipeline) -> Pipeline: ...

    def update_pipeline(self, doc: Pipeline) -> Pipeline: ...

    def delete_pipeline(self, pipeline_id: str) -> None: ...

    def install(self, pipeline_id: str, *, resume_option: str | None = None) -> Pipeline: ...

    def uninstall(self, pipeline_id: str, *, keep_triggers_active: bool | None = None) -> None: ...

    def reset(self, pipeline_id: str) -> None: ...

    def resolver(self, project_id: str) -> BatchResolver: ...

    def read_ahead(self, project_name: str) -> None:
        """Start fetching the project and its pipeline list in the background (while specs load),
        for `project` and the next `list_pipelines`; a backend may ignore it. Never writes."""
        ...

    def drop_read_ahead(self) -> None:
        """Forget what was read ahead and not used: called once the plan it was for is made or failed."""
        ...

    def provision(self, project_id: str, resolved: Resolved) -> None: ...
