"""The triggers a pipeline's install deploys, one per start node that carries one, as dtlpy reads them.

The platform makes real triggers out of `startNodes[].trigger` when a pipeline is installed (the
pipeline document only describes them): an event trigger `{type: "Event", spec: {filter (an object,
where the document holds a JSON string), resource, executionMode, actions, input, operation}}` or
a cron trigger `{type: "Cron", spec: {cron, startAt, endAt, input, operation}}`, whose
`operation` is `{type: "pipeline", id: <pipelineId>, nodeId, startNodeId}`. dtlpy lists them with
`pipeline.triggers.list()`: `POST /query/faas` with resource `triggers` and the filter
`{projectId, spec.operation.id}`. A trigger keeps its id across installs (it is the start node's);
pausing deactivates it unless the pause keeps triggers active. Pure functions.
"""

from __future__ import annotations

from typing import Any

from reconciler.server.graph import event_filter
from reconciler.server.ids import now_iso, object_id

Doc = dict[str, Any]
KIND = "trigger"


def pipeline_triggers(pipeline: Doc, *, creator: str, existing: list[Doc]) -> list[Doc]:
    """The triggers of `pipeline`'s start nodes, keeping the ids (and creation times) of `existing`."""
    nodes = {n["id"]: n for n in pipeline.get("nodes", [])}
    known = {t["spec"]["operation"].get("startNodeId"): t for t in existing}
    now = now_iso()
    made = []
    for start in pipeline.get("startNodes", []):
        trigger = start.get("trigger")
        if not isinstance(trigger, dict) or start.get("nodeId") not in nodes:
            continue
        spec: Doc = trigger["spec"] if isinstance(trigger.get("spec"), dict) else {}
        operation = {"type": "pipeline", "id": pipeline["id"], "nodeId": start["nodeId"], "startNodeId": start.get("id")}
        kind = trigger.get("type") or "Event"
        if kind == "Cron":
            body = {"cron": spec.get("cron"), "startAt": spec.get("startAt"), "endAt": spec.get("endAt"),
                    "input": spec.get("input") or {}, "operation": operation}
        else:
            found = event_filter(spec.get("filter"))
            if found is None:  # install's graph checks refuse it: never deployed as "every item"
                continue
            body = {"filter": found, "resource": spec.get("resource", "Item"),
                    "executionMode": spec.get("executionMode", "Once"), "actions": spec.get("actions") or ["Created"],
                    "input": spec.get("input") or {}, "operation": operation}
        before = known.get(start.get("id"))
        made.append({
            "id": before["id"] if before else object_id(), "name": trigger.get("name")
            or f"{pipeline['name']}-{nodes[start['nodeId']].get('name')}", "type": kind, "active": True,
            "projectId": pipeline["projectId"], "creator": creator, "scope": "project", "global": False,
            "createdAt": before["createdAt"] if before else now, "updatedAt": now, "spec": body,
        })
    return made
