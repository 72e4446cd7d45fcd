"""`serve_in_thread`: a real local control plane over real HTTP on 127.0.0.1, for tests and benches;
and builders of the platform's node and connection documents they send (`storage_node`, `code_node`,
`connection`: each node with one Item input `<id>-in` and one Item output `<id>-out`).

    with serve_in_thread(tmp_path / "state.db") as server:
        requests.get(f"{server.base_url}/users/me", headers={"authorization": f"Bearer {server.token}"})

`wrap` puts a WSGI middleware in front of the app (fault injection over real HTTP). The port is
chosen by the OS (port 0). Leaving the block stops the server and closes the database.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.server.app import API_PREFIX, ControlPlane
from reconciler.server.serving import HttpServer

WsgiApp = Callable[..., Any]


@dataclass(frozen=True)
class ServerHandle:
    base_url: str  # http://127.0.0.1:PORT/api/v1
    token: str  # a token of the default user
    control_plane: ControlPlane
    port: int

    @property
    def root_url(self) -> str:
        """http://127.0.0.1:PORT (dtlpy's gate_url)."""
        return self.base_url[: -len(API_PREFIX)]


@contextmanager
def serve_in_thread(
    db_path: Path,
    *,
    strict: bool = False,
    wrap: Callable[[WsgiApp], WsgiApp] | None = None,
    project: str = "local",
) -> Iterator[ServerHandle]:
    plane = ControlPlane(Path(db_path), strict=strict, default_project=project)
    app = wrap(plane.wsgi_app) if wrap else plane.wsgi_app
    server = HttpServer(app, host="127.0.0.1", port=0)
    thread = threading.Thread(target=server.run, name=f"loopform-serve-{server.port}", daemon=True)
    thread.start()
    try:
        yield ServerHandle(
            base_url=f"http://127.0.0.1:{server.port}{API_PREFIX}",
            token=plane.mint_token(),
            control_plane=plane,
            port=server.port,
        )
    finally:
        server.stop()
        thread.join(timeout=10)
        plane.close(finish_work=False)  # as `loopform serve` stops


def item_port(port_id: str) -> dict[str, Any]:
    return {"portId": port_id, "type": "Item", "name": "item", "displayName": "item"}


def storage_node(node_id: str, dataset_id: str) -> dict[str, Any]:
    """A dataset node (platform type `storage`) of the dataset `dataset_id`."""
    return {"id": node_id, "name": node_id, "type": "storage",
            "namespace": {"functionName": "dataset_handler", "projectName": "DataloopTasks",
                          "serviceName": "pipeline-utils"},
            "inputs": [item_port(f"{node_id}-in")], "outputs": [item_port(f"{node_id}-out")],
            "metadata": {"position": {"x": 0, "y": 0, "z": 0}, "datasetId": dataset_id}}


def code_node(node_id: str, code: str) -> dict[str, Any]:
    """A code node running `code`'s `run(item)`."""
    return {"id": node_id, "name": node_id, "type": "code", "namespace": {"functionName": "run", "projectName": "b"},
            "inputs": [item_port(f"{node_id}-in")], "outputs": [item_port(f"{node_id}-out")], "metadata": {},
            "config": {"package": {"code": code, "name": "run", "type": "code"}}}


def connection(src: str, tgt: str) -> dict[str, Any]:
    """From node `src`'s output to node `tgt`'s input (builders above)."""
    return {"src": {"nodeId": src, "portId": f"{src}-out"}, "tgt": {"nodeId": tgt, "portId": f"{tgt}-in"}}
