"""Cycles (pipeline executions) and their node executions as documents, in the platform's shapes.

A cycle: `{id, pipelineId, projectId, creator, input, startNodeId, status, nodes, executions, ...}`.
`executions` maps each node id to its execution objects (`{_id, id, status, latestStatus, input,
output, pipeline: {id, nodeId, executionId}, ...}`; dtlpy reads `executions[node_id][0]['_id']`), one
per item that reached the node. `nodes` and the cycle's `status` are summaries of them: a node or
cycle is `in-progress` while an execution is created, running, waiting in a task or pending, else
`failed` when one failed, `terminated` when one was terminated (a resume that terminates existing
cycles), else `success`. Pure functions over documents.
"""

from __future__ import annotations

from typing import Any

from reconciler.server.ids import now_iso, object_id
from reconciler.server.store import NodeFacts

Doc = dict[str, Any]

SUCCESS, FAILED, IN_PROGRESS, CREATED, PENDING = "success", "failed", "in-progress", "created", "pending"
TERMINATED = "terminated"
OPEN = frozenset({IN_PROGRESS, CREATED, PENDING})


def new_cycle(pipeline: Doc, request: Doc, *, start_id: str, user: str) -> Doc:
    now = now_iso()
    return {
        "id": object_id(), "pipelineId": pipeline["id"], "pipelineVersion": pipeline.get("revision", 1),
        "projectId": pipeline["projectId"], "creator": user, "createdAt": now, "updatedAt": now,
        "maxAttempts": 3, "testMode": bool(request.get("testMode", False)),
        "input": request.get("input") or {}, "startNodeId": start_id, "status": CREATED,
        "nodes": [], "executions": {},
    }


def node_execution(cycle: Doc, node: Doc, inputs: Doc, *, attempts: int = 1) -> Doc:
    execution_id = object_id()
    namespace = node.get("namespace") or {}
    now = now_iso()
    return {
        "_id": execution_id, "id": execution_id, "status": CREATED, "latestStatus": {"status": CREATED},
        "statusLog": [{"status": CREATED, "timestamp": now}],
        "projectId": cycle.get("projectId"), "creator": cycle.get("creator"), "createdAt": now,
        "updatedAt": now, "attempts": attempts, "maxAttempts": cycle.get("maxAttempts", 3),
        "functionName": namespace.get("functionName"), "serviceName": namespace.get("serviceName"),
        "input": inputs, "output": None,
        "pipeline": {"id": cycle.get("pipelineId"), "nodeId": node["id"], "executionId": cycle.get("id")},
    }


def with_status(execution: Doc, status: str, *, message: str | None = None) -> Doc:
    now = now_iso()
    latest = {"status": status, "timestamp": now, **({"message": message} if message is not None else {})}
    return {**execution, "status": status, "latestStatus": latest, "updatedAt": now,
            "statusLog": [*execution.get("statusLog", []), latest]}


def add_execution(cycle: Doc, node: Doc, execution: Doc) -> Doc:
    executions = {**cycle.get("executions", {})}
    executions[node["id"]] = [*executions.get(node["id"], []), execution]
    return summarised({**cycle, "executions": executions}, {node["id"]: node})


def too_many_executions(limit: int) -> str:
    """The message of the node execution whose outputs would take its cycle past `limit`."""
    return (f"the cycle reached its limit of {limit} node executions: the executions this one's outputs "
            "would start were not started (a graph that fans out per layer, or a long list sent to a "
            "port that takes one item)")


def too_large(limit: int) -> str:
    return (f"the cycle reached its limit of {limit // 1024 ** 2} MB: this execution's outputs and log were "
            "not kept, and the executions they would start were not started")


def reruns_too_many(cycle_id: str, limit: int) -> str:
    return (f"cycle {cycle_id} was re-run {limit} times by pipelines' own executions already "
            "(code re-running its own cycle?); not re-run again")


def chain_too_deep(limit: int) -> str:
    return (f"not started: {limit} cycles deep in a chain of cycles started by what pipelines' own "
            "executions wrote or executed (an item written into the dataset whose trigger starts the "
            "pipeline again?); the chain stops here")


def chain_too_long(origin_id: str, limit: int) -> str:
    return (f"not started: the cycles that cycle {origin_id} led to through what their executions wrote "
            f"or executed reached the limit of {limit}; the chain stops here")


def summary_status(statuses: list[str]) -> str:
    if any(s in OPEN for s in statuses):
        return IN_PROGRESS
    for status in (FAILED, TERMINATED):
        if status in statuses:
            return status
    return SUCCESS


def summarised(cycle: Doc, known: dict[str, Doc]) -> Doc:
    """The cycle with `nodes` and `status` worked out from its executions (`known`: node documents
    not yet listed in `nodes`, for their name, type and namespace)."""
    before = {n["id"]: n for n in cycle.get("nodes", [])}
    nodes = []
    for node_id, listed in cycle.get("executions", {}).items():
        if not listed:
            continue
        base = before.get(node_id) or _new_node(node_id, known[node_id], listed[0]["createdAt"])
        nodes.append(_node_summary(base, [e["status"] for e in listed], [e.get("attempts") for e in listed],
                                   listed[-1]["updatedAt"]))
    return _with_status(cycle, nodes)


def with_nodes(cycle: Doc, facts: dict[str, list[NodeFacts]], known: dict[str, Doc]) -> Doc:
    """The cycle with the summaries of the nodes in `facts` worked out again from what their
    executions are (`reconciler.server.store.NodeFacts`, in order): the same summary as
    `summarised`, from one node's executions instead of the whole cycle's."""
    nodes = list(cycle.get("nodes", []))
    at = {n["id"]: i for i, n in enumerate(nodes)}
    for node_id, listed in facts.items():
        if not listed:
            continue
        # (a node not yet summarised is one `known` adds; {} keeps a step of a cycle stored
        # without its node's summary from failing the transaction that records it)
        base = nodes[at[node_id]] if node_id in at else _new_node(node_id, known.get(node_id, {}),
                                                                   listed[0].created_at)
        summary = _node_summary(base, [f.status for f in listed], [f.attempts for f in listed], listed[-1].updated_at)
        if node_id in at:
            nodes[at[node_id]] = summary
        else:
            at[node_id] = len(nodes)
            nodes.append(summary)
    return _with_status(cycle, nodes)


def _new_node(node_id: str, node: Doc, created_at: str | None) -> Doc:
    return {"id": node_id, "name": node.get("name"), "type": node.get("type"),
            "namespace": node.get("namespace", {}), "createdAt": created_at}


def _node_summary(base: Doc, statuses: list[str], attempts: list[int | None], updated_at: str | None) -> Doc:
    return {**base, "status": summary_status(statuses), "attempts": max(a or 1 for a in attempts),
            "updatedAt": updated_at}


def _with_status(cycle: Doc, nodes: list[Doc]) -> Doc:
    status = summary_status([n["status"] for n in nodes]) if nodes else cycle.get("status", CREATED)
    return {**cycle, "nodes": nodes, "status": status, "updatedAt": now_iso()}


def downstream(pipeline: Doc, starts: list[str]) -> set[str]:
    """The nodes reachable from `starts` (themselves included)."""
    successors: dict[str, list[str]] = {}
    for conn in pipeline.get("connections", []):
        successors.setdefault(conn["src"]["nodeId"], []).append(conn["tgt"]["nodeId"])
    seen, todo = set(starts), list(starts)
    while todo:
        for nxt in successors.get(todo.pop(), []):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen
