"""API shapes the client returns besides pipelines: executions (cycles), statistics, server info.

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
