"""`loopform local task NAME --item ID --action ACTION`: a person's action on an item waiting in a task
node's task, from the command line, routes the cycle as dtlpy's `item.update_status` does: over a
served control plane (`--url`, as while `loopform serve` runs) and over the embedded one; unknown
tasks, items and actions are clear errors."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from faultkit import FaultInjector
from harness import cli, isolate, serve_for_cli

from reconciler.server.testing import serve_in_thread
from reconciler.connection import open_embedded

FIXTURE = Path(__file__).parents[1] / "fixtures" / "pipeline_tests" / "tagging.yaml"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "pipelines").mkdir()
    shutil.copy(FIXTURE, tmp_path / "pipelines" / "tagging.yaml")
    (tmp_path / ".git").mkdir()  # the project root: the embedded control plane lives in its .loopform/
    return isolate(tmp_path, monkeypatch)


class _Plane:
    """The HTTP API of a control plane, as a user's script reaches it."""

    def __init__(self, base_url: str, token: str, plane: Any) -> None:
        self.base, self.plane = base_url, plane
        self.session = requests.Session()
        self.session.headers["authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, **kw: Any) -> Any:
        response = self.session.request(method, self.base + path, timeout=60, **kw)
        assert response.status_code == 200, response.text
        return response.json()

    def upload(self, name: str, kind: str) -> str:
        (dataset,) = [d for d in self.plane.store.resources("dataset") if d["name"] == "photos"]
        made = self.call("POST", f"/datasets/{dataset['id']}/items", files={"file": (name, b"x")},
                         data={"type": "file", "path": f"/{name}", "metadata": json.dumps({"user": {"kind": kind}})})
        self.plane.engine.drain()  # the trigger's cycle: tagged, then waiting in the task
        return str(made["id"])

    def item(self, item_id: str) -> dict[str, Any]:
        self.plane.engine.drain()
        return dict(self.call("GET", f"/items/{item_id}"))

    def cycle_of(self, item_id: str) -> dict[str, Any]:
        self.plane.engine.drain()
        cycles = self.call("POST", "/pipelines/query", json={"filter": {}, "resource": "pipelineState"})["items"]
        (cycle,) = [c for c in cycles if (c.get("input") or {}).get("item") == item_id]
        return dict(cycle)


@pytest.fixture
def served(project: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[_Plane]:
    with serve_for_cli(project / "served.db", monkeypatch) as server:
        assert cli("apply", "--auto-approve", "--project", "local").code == 0
        yield _Plane(server.base_url, server.token, server.control_plane)


def test_completing_an_item_in_a_served_task_routes_its_cycle(served: _Plane) -> None:
    cat = served.upload("cat.jpg", "cat")
    assert served.cycle_of(cat)["status"] == "in-progress"
    r = cli("local", "task", "label", "--item", cat, "--action", "complete")
    assert r.code == 0, r.err
    assert r.out == "Item cat.jpg in task 'label': completed (complete)\n"
    assert served.item(cat)["dir"] == "/kept"
    assert served.cycle_of(cat)["status"] == "success"


def test_the_status_an_action_sets_is_taken_too_and_discard_takes_the_discard_route(served: _Plane) -> None:
    cat = served.upload("cat.jpg", "cat")
    assert cli("local", "task", "label", "--item", cat, "--action", "discard").code == 0
    cycle = served.cycle_of(cat)
    assert cycle["status"] == "success" and [n["name"] for n in cycle["nodes"]] == ["inbox", "tag", "label", "dropped"]
    other = served.upload("cat2.jpg", "cat")
    assert cli("local", "task", "label", "--item", other, "--action", "completed").code == 0
    assert served.item(other)["dir"] == "/kept"


def test_unknown_tasks_items_and_actions_are_clear_errors(served: _Plane) -> None:
    cat = served.upload("cat.jpg", "cat")
    dog = served.upload("dog.jpg", "dog")  # no cycle: never in the task
    cases = [
        (["nothing", "--item", cat, "--action", "complete"], "Error: no task named 'nothing' in project 'local'"),
        (["label", "--item", "5f0000000000000000000000", "--action", "complete"],
         "Error: no item '5f0000000000000000000000' in project 'local'"),
        (["label", "--item", dog, "--action", "complete"], f"Error: item {dog!r} is not in task 'label'"),
        (["label", "--item", cat, "--action", "approve"],
         "Error: task 'label' offers no action 'approve'; its actions: complete, discard"),
        (["label", "--item", cat, "--action", "complete", "--pipeline", "other"],
         "Error: no task named 'label' of pipeline 'other' in project 'local'"),
    ]
    for argv, message in cases:
        r = cli("local", "task", *argv)
        assert (r.code, r.err.splitlines()[-1]) == (1, message), argv
    assert served.cycle_of(cat)["status"] == "in-progress"  # nothing was decided


def test_a_dataloop_api_is_refused_before_anything_is_decided(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A server without Loopform's /loopform/info route is Dataloop: people decide there, not this command.
    faults = FaultInjector()
    faults.add("GET", r"/loopform/info$", "status", status=404, times=10)
    with serve_in_thread(project / "state.db", wrap=faults) as server:
        monkeypatch.setenv("LOOPFORM_API_URL", server.base_url)
        monkeypatch.setenv("LOOPFORM_TOKEN", server.token)
        r = cli("local", "task", "label", "--item", "i", "--action", "complete", "--project", "local")
        assert r.code == 1 and "acts on a local control plane" in r.err and "is Dataloop" in r.err, r.err
        assert not any("/status" in path for _, path in faults.seen)


def test_db_is_not_how_local_task_reaches_a_control_plane(project: Path) -> None:
    r = cli("local", "--db", "x.db", "task", "label", "--item", "i", "--action", "complete")
    assert r.code == 1 and "--url" in r.err and not (project / "x.db").exists()


def test_completing_an_item_in_the_embedded_control_plane_routes_its_cycle(project: Path) -> None:
    assert cli("apply", "--auto-approve", "--project", "local").code == 0
    db = project / ".loopform" / "state.db"
    backend = open_embedded(db)
    try:
        plane = backend.control_plane
        cat = _Plane(plane.engine.api_url(), plane.mint_token(), plane).upload("cat.jpg", "cat")
    finally:
        backend.close()
    r = cli("local", "task", "label", "--item", cat, "--action", "complete", "--project", "local")
    assert r.code == 0, r.err
    backend = open_embedded(db)  # the command carried the cycle as far as it goes before it ended
    try:
        plane = backend.control_plane
        api = _Plane(plane.engine.api_url(), plane.mint_token(), plane)
        assert api.item(cat)["dir"] == "/kept" and api.cycle_of(cat)["status"] == "success"
    finally:
        backend.close()
