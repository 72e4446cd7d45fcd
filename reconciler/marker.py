"""The managed marker: the pipeline variable through which a pipeline remembers Loopform.

A pipeline Loopform manages carries a variable named `MARKER_VARIABLE` ("loopform"), type `Json`:

    {"managedBy": "loopform",
     "nodes": {spec key: node id},          # identity that survives display-name edits and repeats
     "resetToken": "<last applied token>" | null,
     "specDigest": "<essence digest of the document as applied, marker excluded>",
     "sections": {"nodes.<key>" | "connections" | ...: short digest},   # to tell drift per change
     "secrets": {"/nodes/<key>/metadata/...": "Bearer ${env.TOKEN}"}}   # where secrets sit

Stored on the pipeline itself so CI needs no state file; only marked pipelines are ever pruned.
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
    # essence JSON pointer -> the string there with each secret as its ${...} reference
    secrets: dict[str, str] = Field(default_factory=dict)

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


def marker_value(marker: Marker) -> dict[str, Any]:
    return marker.model_dump(mode="json")


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
