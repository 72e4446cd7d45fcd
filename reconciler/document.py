"""The Dataloop pipeline document: the JSON the REST API takes and returns, as typed models.

This is the shared vocabulary of compile (which produces it), the client and the local control plane
(which move and store it) and normalize/diff (which compare it). Field names are the API's own
(camelCase), so `model_dump(by_alias=True, exclude_none=True)` is the wire form.

Every model keeps unknown fields (`extra="allow"`): the platform adds fields over time and exported
templates carry UI-only ones (`io`, port `nodeId`); dropping them would lose data on a round trip.
Shapes follow ../shared/reference/dataloop-api.md sections 3 and 4.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator



def compact_json(value: Any) -> str:
    """JSON as compile writes a filter into the document: no spaces, key order kept."""
    return json.dumps(value, separators=(",", ":"), sort_keys=False)


def parse_json_text(value: Any) -> Any:
    """Filters travel as JSON strings (connection `condition`, event trigger `filter` from the
    SDK) or as objects (templates). Parse strings so key order and whitespace never show as a
    change; a malformed string stays a string and is compared as text."""
    if isinstance(value, str):
        if value == "{}":  # no filter: nearly every connection and trigger, not worth a decode
            return {}
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


class _ApiModel(BaseModel):
    # Validators are built on first use: `validate` imports this module (for its constants, through
    # the spec models) but never reads a live document, and building them took about 10 ms.
    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)

    def wire(self) -> dict[str, Any]:
        """The JSON-ready dict, as sent to or received from the API."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class Position(_ApiModel):
    x: float = 0.0
    y: float = 0.0
    z: float = 0.0


class Port(_ApiModel):
    """A node input or output (`PortIO`). `portId` is client-owned and must be kept exactly."""

    portId: str
    type: str = "Item"
    name: str = "item"
    displayName: str | None = None
    color: str | None = None
    actions: list[str] | None = None
    actionIcon: str | None = None
    defaultValue: Any = None
    variableName: str | None = None
    portPercentage: float | None = None
    description: str | None = None


class Namespace(_ApiModel):
    """Which service function runs the node (`NodeNamespace`)."""

    functionName: str | None = None
    serviceName: str | None = None
    moduleName: str | None = None
    projectName: str | None = None
    packageName: str | None = None


class Node(_ApiModel):
    """A pipeline node (`PipelineNodeDescriptor`). `id` is a client-generated UUID."""

    id: str
    name: str
    type: str
    namespace: Namespace = Field(default_factory=Namespace)
    inputs: list[Port] = Field(default_factory=list)
    outputs: list[Port] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    config: dict[str, Any] | None = None
    projectId: str | None = None
    appName: str | None = None
    dpkName: str | None = None
    app: dict[str, Any] | None = None
    description: str | None = None

    def port(self, port_id: str) -> Port | None:
        for port in (*self.inputs, *self.outputs):
            if port.portId == port_id:
                return port
        return None


class PortRef(_ApiModel):
    nodeId: str
    portId: str


class Connection(_ApiModel):
    """An edge (`PipelineConnection`). `condition` is a DQL filter as a JSON *string*."""

    src: PortRef
    tgt: PortRef
    condition: str = "{}"
    action: str | None = None

    @field_validator("condition", mode="before")
    @classmethod
    def _condition_is_a_json_string(cls, value: Any) -> str:
        # The SDK omits condition when there is no filter; templates sometimes hold an object.
        if value is None:
            return "{}"
        if isinstance(value, str):
            return value
        return json.dumps(value, separators=(",", ":"), sort_keys=True)

    def condition_filter(self) -> Any:
        """The condition parsed; a malformed string is returned unparsed so it is compared as text."""
        try:
            return json.loads(self.condition)
        except ValueError:
            return self.condition


class Trigger(_ApiModel):
    """`{type: Event|Cron, spec: {...}}`; an event spec's `filter` is a JSON string or an object."""

    type: str = "Event"
    spec: dict[str, Any] = Field(default_factory=dict)
    name: str | None = None


class StartNode(_ApiModel):
    """`IStartNode`: the root (manual execute starts here) or a trigger entry. `id` is server-assigned."""

    id: str | None = None
    nodeId: str
    type: str = "root"
    trigger: Trigger | None = None


class Variable(_ApiModel):
    name: str
    type: str = "String"
    value: Any = None
    description: str | None = None
    id: str | None = None
    reference: str | None = None
    creator: str | None = None
    createdAt: str | None = None
    updatedAt: str | None = None


class Pipeline(_ApiModel):
    """A whole pipeline (`APIPipeline`). Server-owned fields are optional so a create body fits too."""

    name: str
    projectId: str | None = None
    id: str | None = None
    description: str | None = None
    nodes: list[Node] = Field(default_factory=list)
    connections: list[Connection] = Field(default_factory=list)
    startNodes: list[StartNode] = Field(default_factory=list)
    variables: list[Variable] = Field(default_factory=list)
    # Values are Any on purpose: the SDK's PipelineSettings.to_json copies a resume-option string
    # into keepTriggersActive (reference 5.3); rejecting that would break dtlpy updates.
    settings: dict[str, Any] | None = None
    status: str | None = None
    creator: str | None = None
    orgId: str | None = None
    url: str | None = None
    createdAt: str | None = None
    updatedAt: str | None = None
    updatedBy: str | None = None
    compositionId: str | None = None
    preview: str | None = None
    revisions: Any = None

    def node(self, node_id: str) -> Node | None:
        for node in self.nodes:
            if node.id == node_id:
                return node
        return None

    def root(self) -> StartNode | None:
        for start in self.startNodes:
            if start.type == "root":
                return start
        return None


# Statuses of a pipeline (`CompositionStatus`); "Uninstalled" is what the UI calls paused.
STATUS_CREATED = "Created"
STATUS_INSTALLED = "Installed"
STATUS_UNINSTALLED = "Uninstalled"
STATUS_FAILURE = "Failure"
RUNNING_STATUSES = frozenset({"Installed", "Activated", "Initializing", "Updating", "Reconfiguring"})

# Port types (`PackageResourceType`); each also has an array form "X[]".
PORT_TYPES = (
    "Dataset", "Item", "Annotation", "Execution", "Task", "Assignment", "Service", "Package",
    "Project", "Json", "String", "Number", "Integer", "Float", "Boolean", "Model", "Recipe",
)
ALL_PORT_TYPES = (*PORT_TYPES, *(f"{t}[]" for t in PORT_TYPES), "Vector[]")

NODE_TYPES = ("code", "function", "task", "merge", "split", "ml", "storage", "api", "custom",
              "updateVariable")

# The managed marker: a pipeline variable Loopform owns. Variables are a real stored field of the
# API (unlike unknown top-level keys, which APIPipeline's additionalProperties:false may drop), so
# the marker survives on the platform itself and CI needs no local state file.
MARKER_VARIABLE = "loopform"
