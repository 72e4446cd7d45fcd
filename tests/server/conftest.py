"""Fixtures for API-level tests of the local control plane: a real server on a free loopback port."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import requests
from harness import DtlpySdk, point_dtlpy

from reconciler.server.testing import ServerHandle, serve_in_thread


NODE_IDS = {
    "videos": "0b7f2a5e-1111-4c3d-9a4e-000000000001",
    "cut": "0b7f2a5e-1111-4c3d-9a4e-000000000002",
    "label": "0b7f2a5e-1111-4c3d-9a4e-000000000003",
}


@dataclass
class Api:
    """A requests session bound to one server and one token; methods return the raw Response."""

    server: ServerHandle
    session: requests.Session
    token: str

    def call(self, method: str, path: str, *, token: str | None = None, **kw: Any) -> requests.Response:
        headers = kw.pop("headers", {})
        headers.setdefault("authorization", f"Bearer {token or self.token}")
        return self.session.request(method, self.server.base_url + path, headers=headers, timeout=30, **kw)

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.call("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> requests.Response:
        return self.call("POST", path, json=body, **kw)

    def patch(self, path: str, body: Any = None, **kw: Any) -> requests.Response:
        return self.call("PATCH", path, json=body, **kw)

    def delete(self, path: str, **kw: Any) -> requests.Response:
        return self.call("DELETE", path, **kw)

    def ok(self, response: requests.Response) -> Any:
        assert response.status_code == 200, (response.status_code, response.text)
        return response.json() if response.content else None

    @property
    def project_id(self) -> str:
        return self.ok(self.get("/projects/local/name"))[0]["id"]

    @property
    def node_ids(self) -> dict[str, str]:
        return NODE_IDS

    def sample(self, name: str) -> dict[str, Any]:
        """A valid three-node pipeline document for the default project (see sample_document)."""
        return sample_document(name, self.project_id)

    def dataset(self, name: str) -> dict[str, Any]:
        return self.ok(self.post("/datasets", {"name": name, "projects": [self.project_id]}))

    def upload(self, dataset_id: str, path: str, *, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
        """A file item (a byte) uploaded at `path` of the dataset, with user `metadata`."""
        fields = {"type": "file", "path": path, **({"metadata": json.dumps({"user": metadata})} if metadata else {})}
        return self.ok(self.call("POST", f"/datasets/{dataset_id}/items", files={"file": (path, b"x")}, data=fields))

    def cycle(self, pipeline_id: str, cycle_id: str) -> dict[str, Any]:
        """The cycle once the execution engine has nothing left to run."""
        self.server.control_plane.engine.drain()
        return self.ok(self.get(f"/pipelines/{pipeline_id}/executions/{cycle_id}"))

    def create_pipeline(self, name: str, **fields: Any) -> dict[str, Any]:
        body = {"name": name, "projectId": self.project_id, "nodes": [], "connections": [],
                "startNodes": [], "variables": [], **fields}
        return self.ok(self.post("/pipelines", body))


def _api(server: ServerHandle) -> Iterator[Api]:
    with requests.Session() as session:
        yield Api(server=server, session=session, token=server.token)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerHandle]:
    with serve_in_thread(tmp_path / "state.db") as handle:
        yield handle


@pytest.fixture
def api(server: ServerHandle) -> Iterator[Api]:
    yield from _api(server)


@pytest.fixture
def strict_api(tmp_path: Path) -> Iterator[Api]:
    with serve_in_thread(tmp_path / "strict.db", strict=True) as handle:
        yield from _api(handle)




def _port(port_id: str, **extra: Any) -> dict[str, Any]:
    return {"portId": port_id, "type": "Item", "name": "item", "displayName": "item", **extra}


def sample_document(name: str, project_id: str) -> dict[str, Any]:
    """A valid dataset -> code -> task pipeline, as dtlpy would send it (no positions on `cut`)."""
    videos, cut, label = NODE_IDS["videos"], NODE_IDS["cut"], NODE_IDS["label"]
    return {
        "name": name,
        "projectId": project_id,
        "nodes": [
            {"id": videos, "name": "videos", "type": "storage",
             "namespace": {"functionName": "dataset_handler", "projectName": "DataloopTasks",
                           "serviceName": "pipeline-utils"},
             "inputs": [_port("p-videos-in")], "outputs": [_port("p-videos-out")],
             "metadata": {"position": {"x": 100, "y": 87, "z": 0}, "datasetId": "d1"}},
            {"id": cut, "name": "cut", "type": "code",
             "namespace": {"functionName": "run", "projectName": "demo"},
             "inputs": [_port("p-cut-in")], "outputs": [_port("p-cut-out")], "metadata": {},
             "config": {"package": {"code": "pass", "name": "run", "type": "code"}}},
            {"id": label, "name": "label", "type": "task",
             "namespace": {"functionName": "move_to_task", "projectName": "DataloopTasks",
                           "serviceName": "pipeline-utils"},
             "inputs": [_port("p-label-in")],
             "outputs": [_port("p-label-out", actions=["complete", "discard"])],
             "metadata": {"position": {"x": 500, "y": 87, "z": 0}, "taskType": "annotation"}},
        ],
        "connections": [
            {"src": {"nodeId": videos, "portId": "p-videos-out"},
             "tgt": {"nodeId": cut, "portId": "p-cut-in"}},
            {"src": {"nodeId": cut, "portId": "p-cut-out"},
             "tgt": {"nodeId": label, "portId": "p-label-in"},
             "condition": "{\"metadata.system.mimetype\": \"image*\"}"},
        ],
        "startNodes": [{"nodeId": videos, "type": "root"}],
        "variables": [],
    }


# --- the official dtlpy SDK pointed at a server (shared by the dtlpy suites) ---------------------


@pytest.fixture(scope="module")
def dtlpy_sdk(dtlpy_module: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DtlpySdk]:
    """One server per test module, with dtlpy logged in to it."""
    with serve_in_thread(tmp_path_factory.mktemp("db") / "state.db") as server:
        yield point_dtlpy(dtlpy_module, server)
