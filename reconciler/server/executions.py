"""Statistics of pipeline executions (cycles), and their node executions as dtlpy lists them.

The cycles themselves are the execution engine's (reconciler.server.engine): statistics count
the cycles created after the pipeline's last reset, by the statuses the engine recorded; nothing
is canned.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

Doc = dict[str, Any]

RERUN_METHODS = frozenset({"startFromBeginning", "startFromNodes", "startFromFailedExecutions"})


def node_executions(cycles: list[Doc]) -> list[Doc]:
    """The node executions of these cycles, the newest attempt of each node (as the cycles hold them)."""
    return [e for cycle in cycles for listed in (cycle.get("executions") or {}).values()
            for e in listed if isinstance(e, dict)]


def _after(created: str | None, since: str | None) -> bool:
    return since is None or (created is not None and created >= since)


def statistics(pipeline: Doc, executions: list[Doc]) -> Doc:
    """`GET /pipelines/{id}/statistics`: counters are exactly `{status, count}` (dtlpy builds
    `PipelineCounter(**c)` from them and crashes on any other key)."""
    since = pipeline.get("resetTimestamp")
    counted = [e for e in executions if _after(e.get("createdAt"), since)]
    cycle_counts = Counter(e.get("status") for e in counted)
    per_node: dict[str, Counter[str]] = {}
    for execution in counted:
        for node in execution.get("nodes", []):
            per_node.setdefault(node["id"], Counter())[node.get("status")] += 1
    days = _span_days(counted)
    return {
        "pipelineExecutionCounters": [
            {"status": status, "count": count} for status, count in sorted(cycle_counts.items())
        ],
        "nodeExecutionsCounters": [
            {
                "nodeId": node_id,
                "statusCount": [{"status": s, "count": c} for s, c in sorted(counts.items())],
            }
            for node_id, counts in per_node.items()
        ],
        "pipelineExecutionStatistics": {
            # Executions complete synchronously here, so the time per execution is zero.
            "avgTimePerExecution": 0,
            "avgExecutionsPerDay": round(len(counted) / days, 3) if counted else 0,
        },
        "nodeExecutionStatistics": [
            {"nodeId": node_id, "executionStatistics": {"avgTimePerExecution": 0}}
            for node_id in per_node
        ],
    }


def _span_days(executions: list[Doc]) -> float:
    stamps = []
    for execution in executions:
        try:
            stamps.append(datetime.fromisoformat(str(execution["createdAt"]).replace("Z", "+00:00")))
        except (KeyError, ValueError):
            continue
    if len(stamps) < 2:
        return 1.0
    return max(1.0, (max(stamps) - min(stamps)).total_seconds() / 86400)
