"""The managed marker: the pipeline variable through which a pipeline remembers Loopform.

A pipeline Loopform manages carries a variable named `MARKER_VARIABLE` ("loopform"), type `Json`:

    {"managedBy": "loopform",
     "nodes": {spec key: node id},          # identity that survives display-name edits and repeats
     "resetToken": "<last applied token>" | null,
     "specDigest": "<essence digest of the document as applied, marker excluded>",
     "sections": {"nodes.<key>" | "connections" | ...: short digest},   # to tell drift per change
     "owned": [cosmetic paths the applied spec set],   # the digests' terms, with `nodes`
     "status": "installed" | "paused",                 # the status applied
     "specSet": "<identity of the spec set>",          # who may prune it (see `spec_set`)
     "specPath": "<spec file, relative to the spec set's root>",
     "pipelineId": "<id of the pipeline it was written for>",   # a copy carries another's
     "secrets": {"/nodes/<key>/metadata/...": "Bearer ${env.TOKEN}"},   # where secrets sit
     "modules": {"<module file, relative to the spec's directory>": "<sha256 of the file>"}}

Stored on the pipeline itself so CI needs no state file; only marked pipelines are ever pruned,
and only by the spec set that wrote the marker for that very pipeline (`owned_by`).
Drift is decided against what the marker records of the last apply (its keys, owned paths,
digests and status), never against the spec as it is now: a spec edit is not drift.
Fields after `sections` were added later; a marker without them reads as None (unknown).
`secrets` holds paths and references, never values (see `reconciler.secret_paths`): after a secret
is rotated, the old value still in live is found there and kept out of every output.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from reconciler.document import MARKER_VARIABLE, Pipeline, Variable

MANAGED_BY = "loopform"


class Marker(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    managedBy: Literal["loopform"] = "loopform"
    nodes: dict[str, str] = Field(default_factory=dict)
    resetToken: str | None = None
    specDigest: str | None = None
    sections: dict[str, str] = Field(default_factory=dict)
    owned: list[str] | None = None
    status: Literal["installed", "paused"] | None = None
    specSet: str | None = None
    specPath: str | None = None
    pipelineId: str | None = None
    # essence JSON pointer -> the string there with each secret as its ${...} reference
    secrets: dict[str, str] = Field(default_factory=dict)
    # the module files the spec was built from, as applied (None: none, or an older marker)
    modules: dict[str, str] | None = None

    def node_key_by_id(self) -> dict[str, str]:
        return {node_id: key for key, node_id in self.nodes.items()}


def read_marker(doc: Pipeline | None) -> Marker | None:
    """The marker of `doc`, or None when the pipeline is not managed (or the variable was mangled:
    a pipeline whose marker is unreadable is treated as unmanaged, so it is never pruned)."""
    if doc is None:
        return None
    for var in doc.variables:
        if var.name == MARKER_VARIABLE:
            try:
                return Marker.model_validate(var.value)
            except ValidationError:
                return None
    return None


def owned_by(live: Pipeline, marker: Marker | None, spec_set: str | None) -> bool:
    """Whether `spec_set` may prune `live`: its marker was written by that spec set for this very
    pipeline. A pipeline applied from another repository carries another `specSet`; a copy made
    through REST or dtlpy carries the `pipelineId` of the pipeline it was copied from; a marker
    from before these fields existed has neither, and is never pruned."""
    return (marker is not None and marker.pipelineId is not None and marker.pipelineId == live.id
            and marker.specSet == spec_set)


def marker_value(marker: Marker) -> dict[str, Any]:
    # `modules` came later and is written only by specs built from modules: other markers stay as they were
    return marker.model_dump(mode="json", exclude={"modules"} if marker.modules is None else None)


def with_marker(doc: Pipeline, marker: Marker, *, live: Pipeline | None = None) -> Pipeline:
    """A copy of `doc` whose variables end with the marker (replacing any earlier one).

    The live marker variable's server-owned fields (id, reference, creator...) are kept so that an
    update edits the same variable instead of deleting and re-creating it.
    """
    base: dict[str, Any] = {}
    if live is not None:
        for var in live.variables:
            if var.name == MARKER_VARIABLE:
                base = var.model_dump(exclude={"name", "type", "value", "description"}, exclude_none=True)
    variable = Variable(name=MARKER_VARIABLE, type="Json", value=marker_value(marker),
                        description="Managed by Loopform; do not edit.", **base)
    others = [v for v in doc.variables if v.name != MARKER_VARIABLE]
    return doc.model_copy(update={"variables": [*others, variable]})


def with_marker_fields(live: Pipeline, fields: dict[str, Any], *, fallback: Pipeline | None = None) -> Pipeline:
    """`live` with `fields` written into its marker, changing nothing else; the marker of
    `fallback` (the desired document) is added when `live` has none."""
    variables = []
    recorded = False
    for var in live.variables:
        if var.name == MARKER_VARIABLE and isinstance(var.value, dict):
            var = var.model_copy(update={"value": {**var.value, **fields}})
            recorded = True
        variables.append(var)
    if not recorded and fallback is not None:
        variables += [v for v in fallback.variables if v.name == MARKER_VARIABLE]
    return live.model_copy(update={"variables": variables})
