"""API shapes the client returns besides pipelines: executions (cycles), statistics, server info,
tasks and items (for `loopform local task`).

Unknown fields are kept (`extra="allow"`) for the same reason as in `reconciler.document`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _ApiModel(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class PipelineExecution(_ApiModel):
    """A pipeline execution (cycle, `APIPipelineState`)."""

    id: str
    pipelineId: str | None = None
    status: str | None = None
    createdAt: str | None = None
    updatedAt: str | None = None
    testMode: bool | None = None
    nodes: list[dict[str, Any]] = Field(default_factory=list)


class Counter(_ApiModel):
    status: str
    count: int


class NodeCounters(_ApiModel):
    nodeId: str
    statusCount: list[Counter] = Field(default_factory=list)


class PipelineStats(_ApiModel):
    """`GET /pipelines/{id}/statistics`; every part may be absent (`{}` is a valid answer)."""

    pipelineExecutionCounters: list[Counter] = Field(default_factory=list)
    nodeExecutionsCounters: list[NodeCounters] = Field(default_factory=list)
    pipelineExecutionStatistics: dict[str, Any] | None = None


class ServerInfo(_ApiModel):
    """`GET /loopform/info`: present only on a Loopform local control plane."""

    server: str
    version: str | None = None
    strict: bool = False


class Task(_ApiModel):
    """An annotation task (`/annotationtasks`); a task node's task names its pipeline and node in
    `metadata.system`."""

    id: str
    name: str
    datasetId: str | None = None
    spec: dict[str, Any] = Field(default_factory=dict)
    availableActions: list[Any] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @property
    def system(self) -> dict[str, Any]:
        system = self.metadata.get("system")
        return system if isinstance(system, dict) else {}

    def own_actions(self) -> list[str]:
        """The actions the task itself lists (`availableActions`: dtlpy's ItemAction objects or names)."""
        found = [a.get("action") if isinstance(a, dict) else a for a in self.availableActions]
        return [a for a in found if isinstance(a, str) and a]


class Item(_ApiModel):
    id: str
    name: str | None = None
    datasetId: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    def in_task(self, task_id: str) -> bool:
        """Whether the item is queued in the task (it holds a ref to it, as dtlpy reads them)."""
        refs = (self.metadata.get("system") or {}).get("refs") or []
        return any(isinstance(r, dict) and r.get("id") == task_id for r in refs)
