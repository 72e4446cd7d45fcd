"""An item routed to two task nodes and a folder at once enters both tasks and moves: the engine's
two workers change it concurrently, and each change must survive the others' writes."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from harness import applied_project

from reconciler.server.app import ControlPlane

SPEC = """\
apiVersion: loopform/v1
kind: Pipeline
metadata: {name: twice, project: local}
spec:
  status: installed
  nodes:
    inbox:
      type: dataset
      dataset: photos
      trigger: {event: {resource: Item, actions: [Created]}}
    team-a: {type: task, task: {dataset: photos, recipe: default, assignees: [a@example.com]}}
    team-b: {type: task, task: {dataset: photos, recipe: default, assignees: [b@example.com]}}
    sorted: {type: dataset, dataset: photos, folder: /sorted}
  connections:
    - {from: inbox, to: [team-a, team-b, sorted]}
"""


def test_an_item_sent_to_two_task_nodes_and_a_folder_is_in_both_tasks_and_moved(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plane = ControlPlane(applied_project(tmp_path, monkeypatch, {"twice.yaml": SPEC}))
    try:
        (dataset,) = [d for d in plane.store.resources("dataset") if d["name"] == "photos"]
        with requests.Session() as session:
            session.headers["authorization"] = "Bearer " + plane.mint_token()
            for n in range(40):  # many chances for the two workers' writes to meet
                session.post(f"{plane.engine.api_url()}/datasets/{dataset['id']}/items",
                             files={"file": (f"{n}.jpg", b"x")}, data={"type": "file", "path": f"/{n}.jpg"}
                             ).raise_for_status()
        plane.engine.drain()
        tasks = {t["id"] for t in plane.store.resources("task")}
        assert len(tasks) == 2
        in_tasks = {item["filename"]: {r["id"] for r in item["metadata"]["system"].get("refs", [])} & tasks
                    for item in plane.store.resources("item")}
    finally:
        plane.close()
    assert in_tasks == {f"/sorted/{n}.jpg": tasks for n in range(40)}
