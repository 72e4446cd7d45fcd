"""Hostile work for the local control plane's engine and query routes, over real HTTP: what one
member's pipeline, upload or query costs the server (seconds, executions, memory), printed.

    python bench/engine_bench.py [--items 1000]

Cases: a graph of 2-node layers each connected to both nodes of the next (2^layers executions
from one item without a limit; stops at `Limits.cycle_executions`), and another member's small
cycle started while it runs; a pipeline whose code writes
an item into the dataset whose trigger starts it (stops at `Limits.caused_depth`); uploads into a
trigger pipeline of 2 MB code while both workers are busy (the queue's memory); uploads into a
project of 20 pipelines of 2 MB code without triggers; one DQL update of
every item of a dataset under an Updated/Once trigger; DQL `$in` of 998 operands; 200 and 800 items
of a task completed one request each. The benches print; they never assert.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from reconciler.server import dql
from reconciler.server.testing import ServerHandle, code_node, connection, serve_in_thread, storage_node


def _rss_mb() -> int:
    status = Path("/proc/self/status")
    return int(status.read_text().split("VmRSS:")[1].split()[0]) // 1024 if status.is_file() else -1


class Client:
    def __init__(self, server: ServerHandle) -> None:
        self.server = server
        self.session = requests.Session()
        self.session.headers["authorization"] = f"Bearer {server.token}"
        self.base = server.base_url
        self.project_id = self.call("GET", "/projects/local/name")[0]["id"]

    def call(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        response = self.session.request(method, self.base + path, json=body, timeout=600, **kw)
        response.raise_for_status()
        return response.json() if response.content else None

    def dataset(self, name: str) -> str:
        return str(self.call("POST", "/datasets", {"name": name, "projects": [self.project_id]})["id"])

    def upload(self, dataset_id: str, name: str) -> str:
        return str(self.call("POST", f"/datasets/{dataset_id}/items", files={"file": (name, b"x")},
                             data={"type": "file", "path": f"/{name}"})["id"])

    def installed(self, name: str, nodes: list[dict[str, Any]], links: list[dict[str, Any]],
                  trigger: list[str] | None = None) -> str:
        start: dict[str, Any] = {"nodeId": nodes[0]["id"], "type": "root"}
        if trigger:
            start["trigger"] = {"type": "Event", "spec": {"resource": "Item", "actions": trigger,
                                                          "executionMode": "Once"}}
        doc = {"name": name, "projectId": self.project_id, "nodes": nodes, "connections": links,
               "startNodes": [start], "variables": []}
        pipeline_id = str(self.call("POST", "/pipelines", doc)["id"])
        self.call("POST", f"/pipelines/{pipeline_id}/install", {})
        return pipeline_id

    def cycles(self, pipeline_id: str) -> list[dict[str, Any]]:
        self.server.control_plane.engine.drain()
        found: list[dict[str, Any]] = self.call("POST", "/pipelines/query", {
            "filter": {"pipelineId": pipeline_id}, "resource": "pipelineState"})["items"]
        return found


def ladder(api: Client, layers: int) -> None:
    dataset = api.dataset("ladder")
    item = api.upload(dataset, "a.jpg")
    names = [["root"]] + [[f"l{k}a", f"l{k}b"] for k in range(1, layers + 1)]
    links = [connection(s, t) for before, after in zip(names, names[1:], strict=False) for s in before for t in after]
    pipeline = api.installed("ladder", [storage_node(n, dataset) for layer in names for n in layer], links)
    start = time.perf_counter()
    api.call("POST", f"/pipelines/{pipeline}/execute", {"pipeline": {"input": {"item": item}}})
    other = api.dataset("other")
    other_item = api.upload(other, "b.jpg")
    small = api.installed("small", [storage_node("x", other), storage_node("y", other)], [connection("x", "y")])
    while sum(len(v) for v in api.call("POST", "/pipelines/query", {"filter": {"pipelineId": pipeline},
              "resource": "pipelineState"})["items"][0]["executions"].values()) < 100:
        pass  # until the ladder has a wide layer queued
    waited = time.perf_counter()
    cycle_id = api.call("POST", f"/pipelines/{small}/execute", {"pipeline": {"input": {"item": other_item}}})["id"]
    while api.call("GET", f"/pipelines/{small}/executions/{cycle_id}")["status"] != "success":
        pass
    print(f"another member's 2-node cycle while the ladder runs: {time.perf_counter() - waited:.2f} s")
    (cycle,) = api.cycles(pipeline)
    ran = sum(len(listed) for listed in cycle["executions"].values())
    size = len(api.session.get(f"{api.base}/pipelines/{pipeline}/executions/{cycle['id']}", timeout=60).content)
    print(f"ladder of {layers} layers (2^{layers + 1}-1 executions unbounded): {ran} executions, cycle "
          f"{cycle['status']}, {size / 1e6:.1f} MB, in {time.perf_counter() - start:.1f} s")


def trigger_loop(api: Client) -> None:
    dataset = api.dataset("loop")
    code = ("import io, uuid\n\ndef run(item):\n"
            "    item.dataset.items.upload(local_path=io.BytesIO(b'x'), remote_path='/',\n"
            "                              remote_name=uuid.uuid4().hex + '.jpg')\n    return item\n")
    pipeline = api.installed("loop", [storage_node("in", dataset), code_node("write", code)], [connection("in", "write")],
                             trigger=["Created"])
    start = time.perf_counter()
    api.upload(dataset, "first.jpg")
    found = api.cycles(pipeline)
    statuses = sorted(c["status"] for c in found)
    print(f"pipeline writing into its own trigger's dataset (endless unbounded): {len(found)} cycles "
          f"({statuses.count('success')} ran, {statuses.count('failed')} refused) in {time.perf_counter() - start:.1f} s")


def queued_uploads(api: Client, count: int) -> None:
    dataset = api.dataset("queue")
    code = "import time\ndef run(item):\n    time.sleep(600)\n    return item\n" + "#" * 2_000_000 + "\n"
    api.installed("queue", [storage_node("in", dataset), code_node("slow", code)], [connection("in", "slow")], trigger=["Created"])
    before = _rss_mb()
    start = time.perf_counter()
    for k in range(count):
        api.upload(dataset, f"{k}.jpg")
    print(f"{count} uploads queued behind busy workers, pipeline of 2 MB code: RSS {before} -> {_rss_mb()} MB "
          f"in {time.perf_counter() - start:.1f} s")


def update_under_once_trigger(api: Client, count: int) -> None:
    dataset = api.dataset("once")
    pipeline = api.installed("once", [storage_node("in", dataset)], [], trigger=["Created", "Updated"])
    for k in range(count):
        api.upload(dataset, f"{k}.jpg")
    api.cycles(pipeline)
    start = time.perf_counter()
    api.call("POST", f"/datasets/{dataset}/query", {"filter": {}, "update": {"metadata": {"user": {"x": 1}}},
                                                    "pageSize": 1})
    print(f"one DQL update of {count} items, each with a cycle, Updated/Once trigger: "
          f"{time.perf_counter() - start:.2f} s")


def uploads_among_big_pipelines(api: Client, pipelines: int) -> None:
    dataset = api.dataset("among")
    big = "def run(item):\n    return item\n" + "#" * 2_000_000 + "\n"
    for k in range(pipelines):
        doc = {"name": f"big{k}", "projectId": api.project_id, "nodes": [storage_node("in", dataset), code_node("c", big)],
               "connections": [connection("in", "c")], "startNodes": [{"nodeId": "in", "type": "root"}], "variables": []}
        api.call("POST", "/pipelines", doc)
    start = time.perf_counter()
    for k in range(20):
        api.upload(dataset, f"{k}.jpg")
    print(f"upload into a project of {pipelines} pipelines of 2 MB code without triggers: "
          f"{(time.perf_counter() - start) / 20 * 1000:.0f} ms each")


LABELING = """\
apiVersion: loopform/v1
kind: Pipeline
metadata: {name: labeling, project: local}
spec:
  status: installed
  nodes:
    inbox:
      type: dataset
      dataset: photos
      trigger: {event: {resource: Item, actions: [Created]}}
    team: {type: task, task: {dataset: photos, recipe: default, assignees: [a@example.com]}}
    done: {type: dataset, dataset: photos, folder: /done}
  connections:
    - {from: inbox, to: team}
    - {from: team, to: done, action: complete}
"""


def labeled_one_at_a_time(server: ServerHandle, tmp: Path, count: int) -> None:
    """Items waiting in a task node, completed one request each (a person, or a script calling
    dtlpy's `item.update_status` per item): each request finds the cycles waiting at the node."""
    from benchkit import apply_once

    specs = tmp / f"labeling-{count}"
    specs.mkdir()
    (specs / "labeling.yaml").write_text(LABELING)
    apply_once(specs, server.base_url, server.token, tmp)
    api = Client(server)
    store = server.control_plane.store
    dataset = next(d["id"] for d in store.resources("dataset") if d["name"] == "photos")
    items = [api.upload(dataset, f"{n}.jpg") for n in range(count)]
    server.control_plane.engine.drain()
    (task,) = store.resources("task")
    start = time.perf_counter()
    for item in items:
        api.call("POST", f"/assignments/items/tasks/{task['id']}/status",
                 {"itemIds": [item], "statusPayload": {"operation": "create", "status": "completed"}})
    server.control_plane.engine.drain()
    took = time.perf_counter() - start
    print(f"{count} items of a task completed one request each: {took:.2f} s ({took / count * 1000:.1f} ms each)")


def dql_in(count: int) -> None:
    docs = [{"id": f"{i:024x}", "metadata": {"user": {"tags": [f"t{j}" for j in range(1000)]}}} for i in range(count)]
    for label, flt, scanned in (
            (f"$in of 998 ids over {count} items", {"id": {"$in": [f"{i:024x}x" for i in range(998)]}}, docs),
            ("$in of 998 tags over 100 items of 1000 tags", {"metadata.user.tags": {"$in": [f"x{i}" for i in range(998)]}},
             docs[:100])):
        matches = dql.compile_filter(flt)
        start = time.perf_counter()
        sum(map(matches, scanned))
        print(f"DQL {label}: {time.perf_counter() - start:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--layers", type=int, default=20)
    args = parser.parse_args()
    dql_in(args.items)
    with tempfile.TemporaryDirectory() as tmp:
        with serve_in_thread(Path(tmp) / "a.db") as server:
            api = Client(server)
            update_under_once_trigger(api, args.items)
            trigger_loop(api)
            ladder(api, args.layers)
        with serve_in_thread(Path(tmp) / "b.db") as server:
            queued_uploads(Client(server), 300)
        with serve_in_thread(Path(tmp) / "c.db") as server:
            uploads_among_big_pipelines(Client(server), 20)
        for count in (200, 800):
            with serve_in_thread(Path(tmp) / f"d{count}.db") as server:
                labeled_one_at_a_time(server, Path(tmp), count)


if __name__ == "__main__":
    main()
