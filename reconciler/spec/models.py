"""The Loopform spec (apiVersion `loopform/v1`, kind `Pipeline`) as typed pydantic models.

These models are the single source of the spec's shape: `reconciler.spec.schema.schema()` derives the
published JSON Schema from them (plus a few cross-field rules the schema cannot infer), and a test
proves that the two accept exactly the same documents on a corpus.

Conventions, chosen so that the schema and the models agree:
- every model forbids unknown fields (a typo is an error, not a silently ignored key); the escape
  hatches that keep every platform field expressible are the explicit raw `namespace`, `metadata`,
  `config` and `raw` mappings on nodes;
- validation is strict (no "yes" -> True or 1 -> "1" coercion): the YAML loader already produced
  typed JSON-like data, and lax coercion would make the models accept what the schema rejects;
- timestamps stay strings (the loader never builds date objects), so `resetToken: 2026-11-20` works
  unquoted and `dueDate` is an ISO date or date-time string.

Field names are the spec's (camelCase, as in the Dataloop API); the one Python keyword, `from`, is
`ConnectionSpec.from_` with alias `from`.

The building blocks are in `reconciler.spec.fields`, each node type's model in its module of
`reconciler.nodes`; this module assembles them (the node union, connections, the pipeline) and
re-exports them, so `reconciler.spec.models` stays the one name to import the spec's shape from.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Discriminator, Field, StringConstraints, Tag, field_validator
from pydantic.json_schema import WithJsonSchema

from reconciler.nodes.code import CodeNode
from reconciler.nodes.custom import CustomNode
from reconciler.nodes.dataset import DatasetNode, LoadExistingSpec
from reconciler.nodes.function import FunctionNode
from reconciler.nodes.generic import _GENERIC_TYPE_PATTERN, GenericNode
from reconciler.nodes.ml import ML_FUNCTIONS, MlNode
from reconciler.nodes.task import (
    DUE_DATE_PATTERN,
    TASK_DEFAULT_ACTIONS,
    ConsensusSpec,
    TaskNode,
    TaskSpec,
    WorkloadEntry,
)
from reconciler.nodes.update_variable import UpdateVariableNode
from reconciler.spec.fields import (
    API_VERSION,
    KIND,
    NODE_KEY_PATTERN,
    PORT_NAME_PATTERN,
    RESERVED_GENERIC_TYPES,
    TRIGGER_RESOURCES,
    TYPED_NODE_TYPES,
    DqlFilter,
    EventTrigger,
    NodeKey,
    NodeSpecBase,
    NonEmpty,
    PortSpec,
    PortType,
    Position,
    SettingsSpec,
    SpecModel,
    TriggerSpec,
    VariableSpec,
)


def _node_tag(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return kind if kind in TYPED_NODE_TYPES else "generic"


NodeSpec = Annotated[
    Union[
        Annotated[DatasetNode, Tag("dataset")],
        Annotated[CodeNode, Tag("code")],
        Annotated[FunctionNode, Tag("function")],
        Annotated[TaskNode, Tag("task")],
        Annotated[MlNode, Tag("ml")],
        Annotated[CustomNode, Tag("custom")],
        Annotated[UpdateVariableNode, Tag("updateVariable")],
        Annotated[GenericNode, Tag("generic")],
    ],
    Discriminator(_node_tag),
]
NODE_TAGS = (*TYPED_NODE_TYPES, "generic")

# --------------------------------------------------------------------------------------------------
# Connections and the pipeline

_ENDPOINT = r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}(/[A-Za-z0-9_][A-Za-z0-9_-]{0,63})*(\.[^.\s][^.]*)?$"
Endpoint = Annotated[str, StringConstraints(pattern=_ENDPOINT)]
_ENDPOINT_SCHEMA = {"type": "string", "pattern": _ENDPOINT}


class ConnectionSpec(SpecModel):
    """An edge: `from` a node (or `node.port`) `to` one or several nodes (or ports)."""

    from_: Endpoint = Field(
        alias="from",
        description="Source: a node key (its only output port) or `node.port`.",
        examples=["review.item"],
    )
    to: Annotated[
        list[Endpoint],
        WithJsonSchema(
            {
                "oneOf": [
                    _ENDPOINT_SCHEMA,
                    {"type": "array", "items": _ENDPOINT_SCHEMA, "minItems": 1},
                ]
            }
        ),
    ] = Field(
        description="Target(s): a node key (its only input port) or `node.port`, or a list (fan-out).",
        examples=["label-a", ["label-a", "label-b"]],
    )
    action: NonEmpty | None = Field(
        default=None,
        description="Route only items leaving with this action (one the source port offers).",
        examples=["complete"],
    )
    filter: DqlFilter | None = Field(
        default=None,
        description="DQL filter an item must match to pass.",
        examples=[{"metadata.user.rejected": True}],
    )

    @field_validator("to", mode="before")
    @classmethod
    def _one_target_is_a_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("to")
    @classmethod
    def _at_least_one(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("`to` needs at least one target")
        return value


class PipelineBody(SpecModel):
    """The desired pipeline."""

    status: Literal["installed", "paused"] = Field(
        default="installed",
        description="Desired state: installed (running) or paused.",
        examples=["installed"],
    )
    resetToken: NonEmpty | None = Field(
        default=None,
        description="Each new value resets the pipeline once (e.g. a date).",
        examples=["2026-11-20"],
    )
    settings: SettingsSpec | None = Field(
        default=None,
        description="Pipeline settings.",
        examples=[{"defaultResumeOption": "resumeExistingCycles"}],
    )
    variables: list[VariableSpec] = Field(
        default_factory=list,
        description="Pipeline variables.",
        examples=[[{"name": "threshold", "type": "Float", "value": 0.5}]],
    )
    root: NodeKey | None = Field(
        default=None,
        description="Key of the node a manual execute starts at; default: the only node with "
        "no incoming connection.",
        examples=["videos"],
    )
    nodes: dict[NodeKey, NodeSpec] = Field(
        min_length=1,
        description="The nodes, by key (the node's identity in the spec; no dots).",
        examples=[{"videos": {"type": "dataset", "dataset": "raw-videos"}}],
    )
    connections: list[ConnectionSpec] = Field(
        default_factory=list,
        description="Edges between node ports.",
        examples=[[{"from": "videos", "to": "cut-frames"}]],
    )


class SpecMetadata(SpecModel):
    """Which pipeline this is."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=256)] = Field(
        description="Pipeline name, unique in its project.", examples=["video-frames"]
    )
    project: NonEmpty | None = Field(
        default=None,
        description="Project name; default: the configured default project.",
        examples=["local"],
    )
    description: str | None = Field(
        default=None,
        description="Pipeline description.",
        examples=["Cut videos into frames, label them in parallel, review"],
    )


class PipelineSpec(SpecModel):
    """One Dataloop pipeline, as kept in git."""

    apiVersion: Literal["loopform/v1"] = Field(
        description="Spec format version.", examples=[API_VERSION]
    )
    kind: Literal["Pipeline"] = Field(description="Document kind.", examples=[KIND])
    metadata: SpecMetadata = Field(
        description="Name, project, description.",
        examples=[{"name": "video-frames", "project": "local"}],
    )
    spec: PipelineBody = Field(
        description="The desired pipeline: status, variables, nodes and their connections.",
        examples=[{"nodes": {"videos": {"type": "dataset", "dataset": "raw-videos"}}}],
    )


NODE_MODELS: dict[str, type[NodeSpecBase]] = {
    "dataset": DatasetNode,
    "code": CodeNode,
    "function": FunctionNode,
    "task": TaskNode,
    "ml": MlNode,
    "custom": CustomNode,
    "updateVariable": UpdateVariableNode,
    "generic": GenericNode,
}
AnyNode = Union[
    DatasetNode, CodeNode, FunctionNode, TaskNode, MlNode, CustomNode, UpdateVariableNode, GenericNode
]


__all__ = [
    "API_VERSION", "DUE_DATE_PATTERN", "KIND", "ML_FUNCTIONS", "NODE_KEY_PATTERN", "NODE_MODELS", "NODE_TAGS",
    "PORT_NAME_PATTERN", "RESERVED_GENERIC_TYPES", "TASK_DEFAULT_ACTIONS", "TRIGGER_RESOURCES", "TYPED_NODE_TYPES",
    "AnyNode", "CodeNode", "ConnectionSpec", "ConsensusSpec", "CustomNode", "DatasetNode", "DqlFilter",
    "EventTrigger", "FunctionNode", "GenericNode", "LoadExistingSpec", "MlNode", "NodeKey", "NodeSpec",
    "NodeSpecBase", "NonEmpty", "PipelineBody", "PipelineSpec", "PortSpec", "PortType", "Position",
    "SettingsSpec", "SpecMetadata", "SpecModel", "TaskNode", "TaskSpec", "TriggerSpec", "UpdateVariableNode",
    "VariableSpec", "WorkloadEntry", "_GENERIC_TYPE_PATTERN",
]
