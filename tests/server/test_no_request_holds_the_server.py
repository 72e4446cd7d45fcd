"""No single request can hold the local control plane up: slow work runs outside the database
lock, and the per-document work is linear in the document.

Deadlines bound the waits so that a regression fails instead of hanging; nothing asserts a duration.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

from reconciler.document import Pipeline
from reconciler.server.graph import check_graph
from reconciler.server.store import Store

DEADLINE_S = 60


def _pipeline(store: Store, pid: str, name: str) -> None:
    store.insert_pipeline({"id": pid, "projectId": "p", "name": name, "revision": 1, "tags": []})


def test_a_slow_update_holds_no_lock_while_it_works(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    _pipeline(store, "a", "slow")
    _pipeline(store, "b", "other")
    working, finish = threading.Event(), threading.Event()

    def slow(doc: dict[str, Any]) -> dict[str, Any]:
        working.set()
        assert finish.wait(DEADLINE_S)  # validating a large document, as long as it takes
        return {**doc, "revision": doc["revision"] + 1}

    updater = threading.Thread(target=store.update_pipeline, args=("a", slow))
    updater.start()
    try:
        assert working.wait(DEADLINE_S)
        others = threading.Thread(target=lambda: (
            store.pipeline("a"), store.update_pipeline("b", lambda d: {**d, "revision": 2})))
        others.start()
        others.join(DEADLINE_S)
        assert not others.is_alive(), "a read and another pipeline's update waited for the slow update"
    finally:
        finish.set()
        updater.join(DEADLINE_S)
    assert (store.pipeline("a") or {})["revision"] == 2 and (store.pipeline("b") or {})["revision"] == 2
    store.close()


def test_an_update_that_lost_a_race_runs_again_on_the_newer_document(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    _pipeline(store, "a", "raced")
    working, finish = threading.Event(), threading.Event()
    seen: list[list[str]] = []

    def tag_slowly(doc: dict[str, Any]) -> dict[str, Any]:
        seen.append(list(doc["tags"]))
        if len(seen) == 1:
            working.set()
            assert finish.wait(DEADLINE_S)
        return {**doc, "tags": [*doc["tags"], "slow"]}

    updater = threading.Thread(target=store.update_pipeline, args=("a", tag_slowly))
    updater.start()
    assert working.wait(DEADLINE_S)
    store.update_pipeline("a", lambda doc: {**doc, "tags": [*doc["tags"], "fast"]})
    finish.set()
    updater.join(DEADLINE_S)
    # The slow change ran again on the document the fast one wrote: neither is lost.
    assert seen == [[], ["fast"]]
    assert (store.pipeline("a") or {})["tags"] == ["fast", "slow"]
    store.close()


BIG_DOCUMENT = textwrap.dedent(
    """
    from reconciler.document import Pipeline
    from reconciler.server.graph import check_graph
    from reconciler.server.pipelines import new_document, patched_document
    from reconciler.server.refusals import save_refusal

    n = 30_000
    port = lambda pid, kind: {"portId": pid, "type": kind, "name": "item", "actions": ["go"]}
    nodes = [
        {"id": "a", "name": "a", "type": "code", "inputs": [], "outputs": [port(f"o{i}", "Item") for i in range(n)]},
        {"id": "b", "name": "b", "type": "code", "outputs": [],
         "inputs": [port(f"i{i}", "Dataset") for i in range(n)]},
    ]
    connections = [{"src": {"nodeId": "a", "portId": f"o{i}"}, "tgt": {"nodeId": "b", "portId": f"i{n - 1 - i}"},
                    "action": "stop"} for i in range(n)]
    starts = [{"nodeId": "b", "type": "trigger", "trigger": {"type": "Event", "spec": {"resource": "Item"}}}
              for _ in range(n)]
    doc = {"name": "big", "nodes": nodes, "connections": connections, "startNodes": starts}
    model = Pipeline.model_validate(doc)
    problems = check_graph(model)
    for node_input in doc["nodes"][1]["inputs"]:
        node_input["type"] = "Item"  # every connection sound: save_refusal looks at all of them
    for connection in doc["connections"]:
        connection["action"] = "go"
    refused = save_refusal(Pipeline.model_validate(doc), step="update")
    stored = new_document(doc, project={"id": "p"}, user="u")
    again = patched_document(stored, {"startNodes": starts}, user="u")
    kept = [s["id"] for s in again["startNodes"]] == [s["id"] for s in stored["startNodes"]]
    print(len(problems), kept, refused)
    """
)


def test_a_large_crafted_document_is_checked_in_linear_time(tmp_path: Path) -> None:
    # One node with 30,000 outputs wired to another's 30,000 inputs, 30,000 start nodes on it:
    # checking ports, actions and triggers by scanning lists took time quadratic in that (and
    # install runs the checks while it holds the pipeline), as did keeping start-node ids on update
    # and the platform's save refusals (here the connections' ports, all found, then no loop).
    # Seconds when linear, even on a busy machine; quadratic, each check alone takes minutes.
    run = subprocess.run([sys.executable, "-c", BIG_DOCUMENT], capture_output=True, text=True,
                         timeout=2 * DEADLINE_S, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    # Per connection a type mismatch and an action the port lacks; per start node a trigger
    # without a matching input; one "no root" problem; and every start node kept its id.
    assert run.stdout.split() == [str(3 * 30_000 + 1), "True", "None"]


def test_a_problem_lists_at_most_ten_ports_or_actions() -> None:
    # One problem per connection or start node: each naming every port of a huge node would add
    # up to gigabytes in one answer.
    many = [{"portId": f"i{i}", "type": "Dataset", "name": f"in{i}"} for i in range(25)]
    doc = Pipeline.model_validate({"name": "p", "nodes": [
        {"id": "a", "name": "a", "type": "code", "inputs": [],
         "outputs": [{"portId": "o", "type": "Item", "name": "out", "actions": [f"x{i}" for i in range(25)]}]},
        {"id": "b", "name": "b", "type": "code", "inputs": many, "outputs": []},
    ], "connections": [{"src": {"nodeId": "a", "portId": "o"}, "tgt": {"nodeId": "b", "portId": "i0"},
                        "action": "stop"}],
        "startNodes": [{"nodeId": "b", "type": "root",
                        "trigger": {"type": "Event", "spec": {"resource": "Item"}}}]})
    messages = [p.message for p in check_graph(doc) if "offered" in p.message or "has:" in p.message]
    assert len(messages) == 2
    assert all(m.endswith("and 15 more") or m.endswith("and 15 more)") for m in messages), messages
    assert "x9" in messages[0] and "x10" not in messages[0]
