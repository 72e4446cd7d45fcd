"""Compositions: what a pipeline deploys (its services, triggers and tasks), and why a deploy failed.

The platform names a pipeline's composition from the start (`compositionId` is in the create
answer) and records the outcome of each install on it: its `status` follows the pipeline's, and a
failed install leaves `errorText: {message, type, nodeId}`, which is where dtlpy's tests read why
(`GET /compositions/{id}`, or `POST /pipelines/query` with resource `composition`). Stored as
platform objects of kind "composition" (one per pipeline, in the pipeline's project).
"""

from __future__ import annotations

from typing import Any

from reconciler.server.ids import now_iso
from reconciler.server.store import Store

Doc = dict[str, Any]
KIND = "composition"


def create(store: Store, pipeline: Doc) -> Doc:
    """The pipeline's composition, created if it does not exist yet (a pipeline stored by an older
    loopform has none)."""
    now = now_iso()
    doc = {
        "id": pipeline["compositionId"], "name": pipeline["name"], "projectId": pipeline["projectId"],
        "pipelineId": pipeline["id"], "creator": pipeline.get("creator"), "status": pipeline.get("status"),
        "errorText": None, "createdAt": now, "updatedAt": now,
    }
    store.put_resource(KIND, doc, name=pipeline["id"], project_id=pipeline["projectId"], scope=None)
    return store.resource(KIND, doc["id"]) or doc


def record(store: Store, pipeline: Doc, *, error: Doc | None = None) -> None:
    """The composition follows the pipeline's status; `error` is the failed install's errorText
    (None clears it: a later install succeeded)."""
    create(store, pipeline)

    def change(doc: Doc) -> Doc:
        return {**doc, "name": pipeline["name"], "status": pipeline.get("status"), "errorText": error,
                "updatedAt": now_iso()}

    store.update_resource(KIND, pipeline["compositionId"], change)
