"""Pure-core test helpers: a spec source without a file and a Resolver over a dict.

Both are the real injected interfaces of compile (`SpecSource`, `Resolver`), not mocks of
Loopform's boundaries: compile is pure and takes them as arguments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from reconciler.backend import Resolved, ResourceKind
from reconciler.compile import CompiledPipeline, compile_spec
from reconciler.document import Pipeline
from reconciler.errors import Location, NotFound
from reconciler.marker import read_marker, with_marker_fields
from reconciler.spec.models import PipelineSpec


@dataclass
class InlineSpec:
    spec: PipelineSpec
    code: dict[str, str] = field(default_factory=dict)

    def locate(self, pointer: str) -> Location:
        return Location("inline.yaml", 1, 1, pointer)


class DictResolver:
    """Names known up front; `provision=True` names behave like the local sandbox's."""

    def __init__(self, known: dict[tuple[ResourceKind, str], str] | None = None, *, provision: bool = False) -> None:
        self.known = known or {}
        self.provision = provision
        self.calls: list[tuple[ResourceKind, str, str | None]] = []

    def resolve(self, kind: ResourceKind, name: str, *, scope: str | None = None) -> Resolved:
        self.calls.append((kind, name, scope))
        if (kind, name) in self.known:
            return Resolved(kind=kind, name=name, id=self.known[(kind, name)])
        if self.provision:
            return Resolved(kind=kind, name=name, id=f"new-{kind.value}-{name}", provision=True)
        raise NotFound(f"{kind.value} {name} not found", status=404)


def spec_from(text_or_data: str | dict[str, Any]) -> PipelineSpec:
    data = yaml.safe_load(text_or_data) if isinstance(text_or_data, str) else text_or_data
    return PipelineSpec.model_validate(data)


def pipeline_spec(nodes: dict[str, Any], connections: list[dict[str, Any]] | None = None, **body: Any) -> PipelineSpec:
    return spec_from({"apiVersion": "loopform/v1", "kind": "Pipeline",
                      "metadata": {"name": body.pop("name", "demo"), "project": "local"},
                      "spec": {"nodes": nodes, "connections": connections or [], **body}})


def build(spec: PipelineSpec, live: Pipeline | None = None, *, resolver: Any = None,
          code: dict[str, str] | None = None) -> CompiledPipeline:
    return compile_spec(InlineSpec(spec, code or {}), project_id="proj-1",
                        resolver=resolver or DictResolver(provision=True), live=live, project_name="local")


def applied(compiled: CompiledPipeline, *, status: str = "Installed") -> Pipeline:
    """What a server returns after creating `compiled.desired` (ids kept, server fields added)."""
    data = compiled.desired.wire()
    data.update(id=data.get("id") or "0123456789abcdef01234567", status=status, creator="a@b.c",
                createdAt="2026-01-01T00:00:00Z", updatedAt="2026-01-01T00:00:00Z", orgId="org", url="u")
    for i, start in enumerate(data["startNodes"]):
        start.setdefault("id", f"start-{i}")
    live = Pipeline.model_validate(data)
    # Apply records the id the server gave in the marker, right after creating (apply._create).
    return with_marker_fields(live, {"pipelineId": live.id}) if read_marker(live) else live
