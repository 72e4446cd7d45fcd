"""Planning against hostile live pipelines: what one project member can make every plan pay.

    python bench/live_bench.py [--nodes 8000]

A live pipeline is written by anyone with access to the project (the UI, dtlpy, REST), so its shape
is input like a spec file is. For each shape below, the time to compare it with a spec (validate the
document as the client does, normalise it, diff it against a small desired pipeline: what a plan
does per pipeline), next to the same for a plain pipeline of as many nodes. The promise: time linear
in the document (the ratio stays near 1 whatever the shape). Prints; never asserts.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from reconciler import collector
from reconciler.diff import diff_pipeline
from reconciler.document import Pipeline


def _pipeline(count: int, *, name: Callable[[int], str] = lambda i: f"node {i}",
              triggers_on_first: int = 0) -> dict[str, Any]:
    nodes = [{"id": f"id{i}", "name": name(i), "type": "storage", "namespace": {"functionName": "clone_item"},
              "inputs": [{"portId": f"i{i}", "name": "item", "type": "Item"}],
              "outputs": [{"portId": f"o{i}", "name": "item", "type": "Item"}]} for i in range(count)]
    connections = [{"src": {"nodeId": f"id{i}", "portId": f"o{i}"}, "tgt": {"nodeId": f"id{i + 1}", "portId": f"i{i + 1}"}}
                   for i in range(count - 1)]
    starts = [{"nodeId": "id0", "type": "root"}] + [
        {"nodeId": "id0", "type": "trigger", "trigger": {"type": "Cron", "spec": {"cron": f"{i % 60} * * * *"}}}
        for i in range(triggers_on_first)]
    return {"name": "p", "projectId": "proj", "nodes": nodes, "connections": connections, "startNodes": starts}


def _compare(live: dict[str, Any], desired: Pipeline) -> float:
    start = time.perf_counter()
    with collector.paused():  # as plan runs it
        diff_pipeline(desired, Pipeline.model_validate(live))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--nodes", type=int, default=8000)
    count = parser.parse_args().nodes
    desired = Pipeline.model_validate(_pipeline(3))
    shapes = {
        f"{count} nodes of one display name": _pipeline(count, name=lambda i: "dataset"),
        f"{count} nodes, names colliding with suffixes": _pipeline(count, name=lambda i: "d" if i % 2 else f"d-{i}"),
        f"{count} nodes, {count} triggers on one": _pipeline(count, triggers_on_first=count),
    }
    baseline = min(_compare(_pipeline(count), desired) for _ in range(3))
    print(f"baseline: {count} plainly named nodes compared in {baseline * 1000:.0f} ms")
    print(f"{'live pipeline':44} {'ms':>8} {'x base':>7}")
    for label, live in shapes.items():
        seconds = min(_compare(live, desired) for _ in range(3))
        print(f"{label:44} {seconds * 1000:8.0f} {seconds / baseline:7.1f}")


if __name__ == "__main__":
    main()
