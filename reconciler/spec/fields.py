"""The building blocks of the spec models (`reconciler.spec.models`): strict base model, ports,
triggers, variables, settings, and the fields every node has (`NodeSpecBase`). Each node type's
own model is in its module of `reconciler.nodes`; `spec.models` assembles them into the pipeline.

(The conventions in `reconciler.spec.models`' docstring apply here.)
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from reconciler.document import ALL_PORT_TYPES
from reconciler.spec.cron import cron_problem

API_VERSION = "loopform/v1"
KIND = "Pipeline"

# `<instance>/<node>` keys are the nodes of module instances (reconciler.spec.modules), written so
# by export too.
NODE_KEY_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}(/[A-Za-z0-9_][A-Za-z0-9_-]{0,63})*$"
# A port name is used in `node.port` endpoints, so it may not contain a dot either.
PORT_NAME_PATTERN = r"^[^.\s][^.]*$"

# Spec node types with a dedicated model; anything else is a GenericNode kept verbatim.
TYPED_NODE_TYPES = ("dataset", "code", "function", "task", "ml", "custom", "updateVariable")
# Platform names that have a spec spelling; used as a GenericNode type they would be ambiguous.
# `module` is a module use, expanded before the models see the spec (reconciler.spec.modules).
RESERVED_GENERIC_TYPES = (*TYPED_NODE_TYPES, "storage", "module")

TRIGGER_RESOURCES = ("Item", "Dataset", "Annotation", "ItemStatus", "Task", "Assignment")

NodeKey = Annotated[str, StringConstraints(pattern=NODE_KEY_PATTERN)]
PortType = Literal[ALL_PORT_TYPES]  # type: ignore[valid-type]
NonEmpty = Annotated[str, StringConstraints(min_length=1)]
DqlFilter = dict[str, Any]


class SpecModel(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        populate_by_name=True,
        frozen=True,
        regex_engine="python-re",
    )


# --------------------------------------------------------------------------------------------------
# Ports, triggers, variables, settings


class PortSpec(SpecModel):
    """A node input or output. Listing ports on a node replaces that type's default ports."""

    name: Annotated[str, StringConstraints(pattern=PORT_NAME_PATTERN)] = Field(
        description="Port name, unique among the node's inputs (or outputs); used as `node.port`.",
        examples=["item"],
    )
    type: PortType = Field(
        default="Item",
        description="Port data type (Dataloop PackageResourceType, or its array form `X[]`).",
        examples=["Item", "Annotation[]"],
    )
    id: str | None = Field(
        default=None,
        description="The live port id (UUID); written by export to keep an adopted pipeline's ids.",
        examples=["75602147-feda-4387-b8f2-c2b669f6e6e8"],
    )
    displayName: str | None = Field(
        default=None, description="Label shown on the canvas.", examples=["Complete"]
    )
    actions: list[NonEmpty] | None = Field(
        default=None,
        description="Actions this output port offers (task ports: what a worker can do); "
        "connections route on them with `action:`.",
        examples=[["complete", "discard"]],
    )
    actionIcon: str | None = Field(default=None, description="Canvas icon.", examples=["icon-dl-approve"])
    defaultValue: Any = Field(
        default=None, description="Value used when nothing is connected.", examples=[0.5]
    )
    variableName: str | None = Field(
        default=None,
        description="Pipeline variable whose value feeds this port.",
        examples=["threshold"],
    )
    portPercentage: float | None = Field(
        default=None, description="Share of items routed to this port (sampling).", examples=[50]
    )
    description: str | None = Field(default=None, description="Free text.", examples=["Frames to label"])
    color: str | None = Field(default=None, description="Canvas colour.", examples=["#a8dccb"])


class EventTrigger(SpecModel):
    """Start the node when platform resources change."""

    resource: Literal[TRIGGER_RESOURCES] = Field(  # type: ignore[valid-type]
        default="Item", description="Which resource's events start the pipeline.", examples=["Item"]
    )
    actions: list[NonEmpty] = Field(
        default_factory=lambda: ["Created"],
        min_length=1,
        description="Event actions: Created, Updated, Deleted, statusChanged, Clone...",
        examples=[["Created"]],
    )
    filter: DqlFilter | None = Field(
        default=None,
        description="DQL filter object the resource must match.",
        examples=[{"metadata.system.mimetype": "video*"}],
    )
    executionMode: Literal["Once", "Always"] = Field(
        default="Once",
        description="Once: each resource starts the pipeline once; Always: on every event.",
        examples=["Once"],
    )


class TriggerSpec(SpecModel):
    """What starts a node besides a manual execute: an event trigger or a cron schedule (one of)."""

    name: str | None = Field(default=None, description="Trigger name.", examples=["new-videos"])
    event: EventTrigger | None = Field(
        default=None,
        description="Start on platform events.",
        examples=[{"resource": "Item", "actions": ["Created"]}],
    )
    cron: Annotated[str, StringConstraints(pattern=r"^\S+(\s+\S+){4,5}$")] | None = Field(
        default=None,
        description="Start on a cron schedule (5 or 6 fields).",
        examples=["0 */6 * * *"],
    )

    @field_validator("cron")
    @classmethod
    def _cron_fields(cls, value: str | None) -> str | None:
        problem = cron_problem(value) if value is not None else None
        if problem:
            raise ValueError(f"invalid cron expression {value!r}: {problem}")
        return value

    @model_validator(mode="after")
    def _exactly_one_kind(self) -> TriggerSpec:
        if (self.event is None) == (self.cron is None):
            raise ValueError("a trigger needs exactly one of `event` or `cron`")
        return self


class VariableSpec(SpecModel):
    """A pipeline variable; nodes and ports refer to it by name."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=128)] = Field(
        description="Variable name, unique in the pipeline.", examples=["threshold"]
    )
    type: PortType = Field(
        default="String", description="Value type (a port type).", examples=["Float"]
    )
    value: Any = Field(default=None, description="Current value.", examples=[0.5])
    description: str | None = Field(
        default=None, description="Free text.", examples=["Minimum confidence to keep"]
    )
    id: str | None = Field(
        default=None, description="The live variable id (export).", examples=["6571f0c1a3c2a0d1e5f1b2c3"]
    )


class SettingsSpec(SpecModel):
    """Pipeline settings (API `IPipelineSettings`)."""

    defaultResumeOption: Literal["resumeExistingCycles", "terminateExistingCycles"] | None = Field(
        default=None,
        description="What happens to running cycles when the pipeline is resumed.",
        examples=["resumeExistingCycles"],
    )
    keepTriggersActive: bool | None = Field(
        default=None,
        description="Keep triggers firing (queueing cycles) while the pipeline is paused.",
        examples=[False],
    )


class Position(SpecModel):
    """Canvas position; omit it for an automatic layout."""

    x: float = Field(description="Horizontal position in pixels.", examples=[100])
    y: float = Field(description="Vertical position in pixels.", examples=[87])


# --------------------------------------------------------------------------------------------------
# Nodes


# What every node type's spec model has (each type adds its `type` and its own fields).
class NodeSpecBase(SpecModel):
    name: NonEmpty | None = Field(
        default=None,
        description="Display name; defaults to the node key and may repeat across nodes.",
        examples=["Cut frames"],
    )
    id: str | None = Field(
        default=None,
        description="The live node id (UUID); export writes it when adopting a UI-built pipeline.",
        examples=["8086b6b3-f10a-4c33-b8a6-a01e1107e315"],
    )
    description: str | None = Field(
        default=None, description="Free text.", examples=["Cuts each video into frames"]
    )
    position: Position | None = Field(
        default=None, description="Canvas position.", examples=[{"x": 100, "y": 87}]
    )
    inputs: list[PortSpec] | None = Field(
        default=None,
        description="Input ports; replaces the node type's defaults (one `item: Item`).",
        examples=[[{"name": "item", "type": "Item"}]],
    )
    outputs: list[PortSpec] | None = Field(
        default=None,
        description="Output ports; replaces the node type's defaults.",
        examples=[[{"name": "item", "type": "Item"}]],
    )
    trigger: TriggerSpec | None = Field(
        default=None,
        description="Event or cron trigger that starts the pipeline at this node.",
        examples=[{"cron": "0 */6 * * *"}],
    )
    namespace: dict[str, Any] | None = Field(
        default=None,
        description="Raw node namespace fields, deep-merged over what Loopform generates.",
        examples=[{"serviceName": "pipeline-utils"}],
    )
    metadata: dict[str, Any] | None = Field(
        default=None,
        description="Raw node metadata fields, deep-merged over what Loopform generates.",
        examples=[{"componentGroupName": "data"}],
    )
    config: dict[str, Any] | None = Field(
        default=None,
        description="Raw node config, deep-merged over what Loopform generates.",
        examples=[{"package": {"type": "code"}}],
    )
    raw: dict[str, Any] | None = Field(
        default=None,
        description="Any other top-level fields of the platform node (e.g. `projectId`, `app`), "
        "merged last.",
        examples=[{"projectId": "f3c1a6d2-1111-2222-3333-444455556666"}],
    )

    def display_name(self, key: str) -> str:
        return self.name if self.name is not None else key
