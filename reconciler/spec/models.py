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
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    field_validator,
    model_validator,
)
from pydantic.json_schema import WithJsonSchema

from reconciler.document import ALL_PORT_TYPES
from reconciler.spec.cron import cron_problem

API_VERSION = "loopform/v1"
KIND = "Pipeline"

NODE_KEY_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$"
# A port name is used in `node.port` endpoints, so it may not contain a dot either.
PORT_NAME_PATTERN = r"^[^.\s][^.]*$"

# Spec node types with a dedicated model; anything else is a GenericNode kept verbatim.
TYPED_NODE_TYPES = ("dataset", "code", "function", "task", "ml", "custom", "updateVariable")
# Platform names that have a spec spelling; used as a GenericNode type they would be ambiguous.
RESERVED_GENERIC_TYPES = (*TYPED_NODE_TYPES, "storage")

TASK_DEFAULT_ACTIONS = {"annotation": ["complete", "discard"], "qa": ["approve", "discard"]}
ML_FUNCTIONS = ("predict", "train", "evaluate", "embed")
TRIGGER_RESOURCES = ("Item", "Dataset", "Annotation", "ItemStatus", "Task", "Assignment")

NodeKey = Annotated[str, StringConstraints(pattern=NODE_KEY_PATTERN)]
PortType = Literal[ALL_PORT_TYPES]  # type: ignore[valid-type]
NonEmpty = Annotated[str, StringConstraints(min_length=1)]
DqlFilter = dict[str, Any]


class _SpecModel(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        populate_by_name=True,
        frozen=True,
        regex_engine="python-re",
    )


# --------------------------------------------------------------------------------------------------
# Ports, triggers, variables, settings


class PortSpec(_SpecModel):
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


class EventTrigger(_SpecModel):
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


class TriggerSpec(_SpecModel):
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


class VariableSpec(_SpecModel):
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


class SettingsSpec(_SpecModel):
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


class Position(_SpecModel):
    """Canvas position; omit it for an automatic layout."""

    x: float = Field(description="Horizontal position in pixels.", examples=[100])
    y: float = Field(description="Vertical position in pixels.", examples=[87])


# --------------------------------------------------------------------------------------------------
# Nodes


class _NodeBase(_SpecModel):
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


class LoadExistingSpec(_SpecModel):
    """Load items already in the dataset when the pipeline is installed, optionally filtered."""

    filter: DqlFilter | None = Field(
        default=None,
        description="DQL filter choosing which existing items are loaded.",
        examples=[{"dir": "/incoming"}],
    )


class DatasetNode(_NodeBase):
    """A dataset (platform `storage`) node: items enter or are stored here."""

    type: Literal["dataset"] = Field(description="Node type.", examples=["dataset"])
    dataset: NonEmpty | None = Field(
        default=None,
        description="Dataset name in the project (optional for templates using `datasetVariable`).",
        examples=["raw-videos"],
    )
    folder: Annotated[str, StringConstraints(pattern=r"^/")] | None = Field(
        default=None, description="Folder in the dataset (starts with `/`).", examples=["/incoming"]
    )
    loadExisting: bool | LoadExistingSpec | None = Field(
        default=None,
        description="Run the pipeline on items already in the dataset at install: true, or a filter.",
        examples=[True, {"filter": {"dir": "/incoming"}}],
    )
    operation: Literal["handle", "clone"] = Field(
        default="handle",
        description="handle: pass items on (dataset_handler); clone: copy items here (clone_item).",
        examples=["clone"],
    )
    datasetVariable: NonEmpty | None = Field(
        default=None,
        description="Pipeline variable (type Dataset) naming the dataset.",
        examples=["source-dataset"],
    )


class CodeNode(_NodeBase):
    """Python code run by the platform: inline `code` or a `source` file (exactly one)."""

    type: Literal["code"] = Field(description="Node type.", examples=["code"])
    function: Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] = Field(
        default="run", description="Entry-point function name.", examples=["run"]
    )
    code: NonEmpty | None = Field(
        default=None,
        description="Inline Python source.",
        examples=["import dtlpy as dl\n\nclass ServiceRunner(dl.BaseServiceRunner):\n    ..."],
    )
    source: NonEmpty | None = Field(
        default=None,
        description="Path of a Python file, relative to the spec file.",
        examples=["snippets/cut_frames.py"],
    )
    packageName: NonEmpty | None = Field(
        default=None, description="Package name the code is deployed as.", examples=["cut-frames"]
    )

    @model_validator(mode="after")
    def _code_xor_source(self) -> CodeNode:
        if (self.code is None) == (self.source is None):
            raise ValueError("a code node needs exactly one of `code` (inline) or `source` (a file)")
        return self


class FunctionNode(_NodeBase):
    """A function of a deployed FaaS service."""

    type: Literal["function"] = Field(description="Node type.", examples=["function"])
    service: NonEmpty = Field(description="Service name.", examples=["frame-extractor"])
    function: NonEmpty = Field(description="Function name.", examples=["extract"])
    module: NonEmpty | None = Field(
        default=None, description="Module name.", examples=["default_module"]
    )
    package: NonEmpty | None = Field(
        default=None, description="Package name.", examples=["frame-extractor"]
    )
    project: NonEmpty | None = Field(
        default=None, description="Project that owns the service.", examples=["demo"]
    )


class WorkloadEntry(_SpecModel):
    """One assignee's share of a task's items."""

    assignee: NonEmpty = Field(description="Assignee email.", examples=["ann@example.com"])
    load: float = Field(ge=0, le=100, description="Share of items, percent.", examples=[50])


class ConsensusSpec(_SpecModel):
    """Items labeled by several assignees, to measure their agreement."""

    type: NonEmpty = Field(
        default="consensus", description="Consensus task type.", examples=["consensus"]
    )
    percentage: float | None = Field(
        default=None, ge=0, le=100, description="Share of items labeled by several people.", examples=[100]
    )
    assignees: int | None = Field(
        default=None, ge=2, description="How many people label each consensus item.", examples=[2]
    )


DUE_DATE_PATTERN = (
    r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?)?$"
)


def _iso_date_or_datetime(value: str) -> str:
    if not re.match(DUE_DATE_PATTERN, value):
        raise ValueError("dueDate must be an ISO date (2026-12-31) or date-time")
    try:
        date.fromisoformat(value)
    except ValueError:
        try:
            datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("dueDate must be an ISO date (2026-12-31) or date-time") from None
    return value


class TaskSpec(_SpecModel):
    """An annotation or QA task items are sent to."""

    type: Literal["annotation", "qa"] = Field(
        default="annotation", description="Task type.", examples=["qa"]
    )
    dataset: NonEmpty | None = Field(
        default=None, description="Dataset the task lives in.", examples=["frames"]
    )
    recipe: NonEmpty | None = Field(
        default=None, description="Recipe title within the dataset.", examples=["default"]
    )
    assignees: list[NonEmpty] | None = Field(
        default=None,
        description="Assignee emails, sharing the load equally.",
        examples=[["ann@example.com", "bob@example.com"]],
    )
    workload: list[WorkloadEntry] | None = Field(
        default=None,
        description="Explicit load per assignee (instead of `assignees`).",
        examples=[[{"assignee": "ann@example.com", "load": 50}]],
    )
    owner: NonEmpty | None = Field(
        default=None, description="Task owner email.", examples=["lead@example.com"]
    )
    priority: Literal["low", "medium", "high"] | None = Field(
        default=None, description="Task priority.", examples=["medium"]
    )
    dueDate: str | None = Field(
        default=None,
        description="Due date, ISO date or date-time.",
        examples=["2026-12-31", "2026-12-31T18:00:00Z"],
    )
    batchSize: int | None = Field(
        default=None,
        ge=3,
        le=100,
        description="Pulling task: items an assignee pulls at a time (3 to 100).",
        examples=[10],
    )
    maxBatchWorkload: int | None = Field(
        default=None,
        ge=5,
        le=200,
        description="Pulling task: most items in one assignee's assignment, from batchSize + 2 "
        "to 2 x batchSize.",
        examples=[15],
    )
    consensus: ConsensusSpec | None = Field(
        default=None,
        description="Consensus settings.",
        examples=[{"type": "consensus", "percentage": 100, "assignees": 2}],
    )
    groups: list[NonEmpty] | None = Field(
        default=None, description="Assignee groups.", examples=[["labelers"]]
    )
    actions: list[NonEmpty] | None = Field(
        default=None,
        min_length=1,
        description="Overrides the output port's actions (default complete/discard or approve/discard).",
        examples=[["complete", "discard", "escalate"]],
    )

    @field_validator("dueDate")
    @classmethod
    def _due_is_iso(cls, value: str | None) -> str | None:
        return None if value is None else _iso_date_or_datetime(value)

    @model_validator(mode="after")
    def _assignees_xor_workload(self) -> TaskSpec:
        if self.assignees is not None and self.workload is not None:
            raise ValueError("give either `assignees` or `workload`, not both")
        return self

    def default_actions(self) -> list[str]:
        return list(self.actions) if self.actions else list(TASK_DEFAULT_ACTIONS[self.type])


class TaskNode(_NodeBase):
    """An annotation or QA task."""

    type: Literal["task"] = Field(description="Node type.", examples=["task"])
    task: TaskSpec = Field(
        default_factory=TaskSpec,
        description="The task's settings.",
        examples=[{"type": "annotation", "dataset": "frames", "recipe": "default"}],
    )


class MlNode(_NodeBase):
    """A model function (predict, train, evaluate, embed)."""

    type: Literal["ml"] = Field(description="Node type.", examples=["ml"])
    model: NonEmpty | None = Field(
        default=None, description="Model name in the project.", examples=["yolov8"]
    )
    modelVariable: NonEmpty | None = Field(
        default=None, description="Pipeline variable (type Model) naming the model.", examples=["model"]
    )
    function: Literal[ML_FUNCTIONS] = Field(  # type: ignore[valid-type]
        default="predict", description="Model function to run.", examples=["predict"]
    )
    mlType: NonEmpty | None = Field(
        default=None, description="Model kind, e.g. genAi or embeddings.", examples=["genAi"]
    )
    modelConfig: dict[str, Any] | None = Field(
        default=None, description="Model configuration overrides.", examples=[{"conf_thresh": 0.4}]
    )

    @model_validator(mode="after")
    def _model_xor_variable(self) -> MlNode:
        if self.model is not None and self.modelVariable is not None:
            raise ValueError("give either `model` or `modelVariable`, not both")
        return self


class CustomNode(_NodeBase):
    """A node provided by an installed app (DPK)."""

    type: Literal["custom"] = Field(description="Node type.", examples=["custom"])
    app: NonEmpty = Field(description="App name.", examples=["scoring-and-metrics"])
    dpk: NonEmpty | None = Field(
        default=None, description="DPK name (default: the app name).", examples=["scoring-and-metrics"]
    )
    function: NonEmpty | None = Field(
        default=None, description="Function the node runs.", examples=["consensus_agreement"]
    )
    service: NonEmpty | None = Field(
        default=None, description="Service name.", examples=["scoring-and-metrics"]
    )
    module: NonEmpty | None = Field(default=None, description="Module name.", examples=["dlm_module"])
    package: NonEmpty | None = Field(
        default=None, description="Package name.", examples=["scoring-and-metrics"]
    )
    nodeConfig: dict[str, Any] | None = Field(
        default=None,
        description="The app's node configuration form (metadata.customNodeConfig).",
        examples=[{"agreement_threshold": 0.75}],
    )


class UpdateVariableNode(_NodeBase):
    """Sets pipeline variables while a cycle runs (configure it through raw `metadata`)."""

    type: Literal["updateVariable"] = Field(description="Node type.", examples=["updateVariable"])


_GENERIC_TYPE_PATTERN = (
    r"^(?!(?:" + "|".join(map(re.escape, RESERVED_GENERIC_TYPES)) + r")$)[A-Za-z][A-Za-z0-9_-]*$"
)


class GenericNode(_NodeBase):
    """Any other platform node type (merge, split, api, and types added later), kept verbatim."""

    type: Annotated[str, StringConstraints(pattern=_GENERIC_TYPE_PATTERN)] = Field(
        description="Platform node type (not one of the typed spec types, and `storage` is `dataset`).",
        examples=["merge"],
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

_ENDPOINT = r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}(\.[^.\s][^.]*)?$"
Endpoint = Annotated[str, StringConstraints(pattern=_ENDPOINT)]
_ENDPOINT_SCHEMA = {"type": "string", "pattern": _ENDPOINT}


class ConnectionSpec(_SpecModel):
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


class PipelineBody(_SpecModel):
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


class SpecMetadata(_SpecModel):
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


class PipelineSpec(_SpecModel):
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


NODE_MODELS: dict[str, type[_NodeBase]] = {
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
