"""Pipeline executions (cycles) and the statistics computed from them.

The local control plane runs no code, so an execution is a walk of the graph, recorded honestly:
- it starts at `nodeId` when given, else at the root start node;
- every reached node that is not a task is recorded `success` and its outgoing connections are
  followed (all of them: there are no items to evaluate connection conditions on, so every branch
  is taken; each node is visited once);
- a task node waits for people, so it is recorded `in-progress` and the walk stops there;
- the cycle is `success` when every reached node succeeded, else `in-progress`;
- `executions` maps each reached node id to a list of execution objects (`{_id, id, status, ...}`).
Statistics count the recorded executions created after the pipeline's last reset; nothing is canned.
"""

from __future__ import annotations

from collections import Counter, deque
from datetime import datetime
from typing import Any

from reconciler.server.http import HttpError
from reconciler.server.ids import now_iso, object_id

Doc = dict[str, Any]

SUCCESS = "success"
IN_PROGRESS = "in-progress"
WAITING_NODE_TYPES = frozenset({"task"})


def run_execution(pipeline: Doc, request: Doc, *, user: str) -> Doc:
    """A new execution document for `pipeline` (must be installed) from the `pipeline` part of an
    execute body: `{input?, nodeId?, testMode?}`."""
    start_id = request.get("nodeId")
    if start_id is None:
        root = next((s for s in pipeline.get("startNodes", []) if s.get("type") == "root"), None)
        if root is None:
            raise HttpError(400, "Pipeline has no root node to start an execution from")
        start_id = root["nodeId"]
    if start_id not in {node["id"] for node in pipeline.get("nodes", [])}:
        raise HttpError(400, f"Node {start_id!r} is not in the pipeline")
    now = now_iso()
    execution = {
        "id": object_id(),
        "pipelineId": pipeline["id"],
        "pipelineVersion": pipeline.get("revision", 1),
        "projectId": pipeline["projectId"],
        "creator": user,
        "createdAt": now,
        "updatedAt": now,
        "maxAttempts": 3,
        "testMode": bool(request.get("testMode", False)),
        "input": request.get("input") or {},
        "startNodeId": start_id,
    }
    execution.update(_walk(pipeline, [start_id], now=now, cycle=execution))
    return execution


RERUN_METHODS = frozenset({"startFromBeginning", "startFromNodes", "startFromFailedExecutions"})


def rerun_execution(pipeline: Doc, execution: Doc, *, method: str, start_node_ids: list[str]) -> Doc:
    """The execution re-run in place (`POST /pipelines/{id}/executions/rerun`): from its start node,
    from `start_node_ids`, or from the nodes that failed (none fail here, so that re-runs nothing)."""
    starts: list[str]
    if method == "startFromBeginning":
        starts = [str(execution.get("startNodeId"))]
    elif method == "startFromNodes":
        starts = list(start_node_ids)
    else:
        starts = [n["id"] for n in execution.get("nodes", []) if n.get("status") == "failed"]
    known = {node["id"] for node in pipeline.get("nodes", [])}
    starts = [s for s in starts if s in known]
    if not starts:
        return execution
    now = now_iso()
    attempts = {n["id"]: n.get("attempts", 1) for n in execution.get("nodes", [])}
    walked = _walk(pipeline, starts, now=now, cycle=execution)
    for node in walked["nodes"]:
        node["attempts"] = attempts.get(node["id"], 0) + 1
    return {**execution, **walked, "updatedAt": now, "pipelineVersion": pipeline.get("revision", 1)}


def _walk(pipeline: Doc, start_ids: list[str], *, now: str, cycle: Doc) -> Doc:
    nodes = {node["id"]: node for node in pipeline.get("nodes", [])}
    successors: dict[str, list[str]] = {}
    for conn in pipeline.get("connections", []):
        successors.setdefault(conn["src"]["nodeId"], []).append(conn["tgt"]["nodeId"])
    visited: list[str] = []
    seen = set(start_ids)
    queue = deque(start_ids)
    statuses: dict[str, str] = {}
    while queue:
        node_id = queue.popleft()
        visited.append(node_id)
        if nodes[node_id].get("type") in WAITING_NODE_TYPES:
            statuses[node_id] = IN_PROGRESS
            continue
        statuses[node_id] = SUCCESS
        for nxt in successors.get(node_id, []):
            if nxt in nodes and nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return {
        "status": SUCCESS if all(s == SUCCESS for s in statuses.values()) else IN_PROGRESS,
        "nodes": [
            {
                "id": node_id,
                "name": nodes[node_id].get("name"),
                "type": nodes[node_id].get("type"),
                "namespace": nodes[node_id].get("namespace", {}),
                "status": statuses[node_id],
                "attempts": 1,
                "createdAt": now,
                "updatedAt": now,
            }
            for node_id in visited
        ],
        # The platform maps each node to its execution objects (dtlpy's tests read
        # `cycle.executions[node_id][0]['_id']`), not to bare ids.
        "executions": {node_id: [_node_execution(nodes[node_id], statuses[node_id], now, cycle)]
                       for node_id in visited},
    }


def _node_execution(node: Doc, status: str, now: str, cycle: Doc) -> Doc:
    """One node's execution (the platform's FaaS execution of the node's function): the object a
    cycle lists under the node's id and `GET /executions/{id}` returns."""
    execution_id = object_id()
    namespace = node.get("namespace") or {}
    return {
        "_id": execution_id, "id": execution_id, "status": status, "latestStatus": {"status": status},
        "projectId": cycle.get("projectId"), "creator": cycle.get("creator"), "createdAt": now,
        "updatedAt": now, "attempts": 1, "maxAttempts": cycle.get("maxAttempts", 3),
        "functionName": namespace.get("functionName"), "serviceName": namespace.get("serviceName"),
        "input": cycle.get("input") or {},
        "pipeline": {"id": cycle.get("pipelineId"), "nodeId": node["id"], "executionId": cycle.get("id")},
    }


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
