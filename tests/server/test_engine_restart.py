"""Open cycles go on after the control plane restarts: a process running cycles is killed (SIGKILL,
with the code it was running), and `loopform serve` over the same SQLite file carries on. What
was queued runs; what was running ends `failed`, as Dataloop ends the executions of a service that
resets (its default `onReset`), or runs again when the service says `onReset: rerun` and attempts
remain; items waiting in a task still route when completed (see
test_local_task_cli's embedded case, which completes an item in a new process)."""

from __future__ import annotations

import argparse
import inspect
import io
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from harness import applied_project

from reconciler.commands import serve
from reconciler.connection import open_embedded
from reconciler.server.engine import cycles
from reconciler.server.engine.core import Recovered
from reconciler.terminal import Terminal

DEADLINE = 120.0  # seconds to wait for the killed process's code to start, on a loaded machine

SPEC = """\
apiVersion: loopform/v1
kind: Pipeline
metadata: {{name: held, project: local}}
spec:
  status: installed
  nodes:
    inbox: {{type: dataset, dataset: photos}}
    hold:
      type: code
      code: |
        import os, pathlib, time
        def run(item):
            pathlib.Path({marks!r}, item.name).write_text(str(os.getpid()))
            while pathlib.Path({hold!r}).exists():
                time.sleep(0.05)
            return item
    done: {{type: dataset, dataset: photos, folder: /done}}
  connections:
    - {{from: inbox, to: hold}}
    - {{from: hold, to: done}}
"""


def start_held_cycles(plane: Any) -> dict[str, Any]:
    """Three cycles of `held` (items a.jpg, b.jpg, c.jpg) started through the API; the pipeline.
    Self-contained: FIRST runs its source in another process."""
    import requests

    (dataset,) = [d for d in plane.store.resources("dataset") if d["name"] == "photos"]
    (pipeline,) = [p for p in plane.store.pipelines_in({dataset["projects"][0]}) if p["name"] == "held"]
    with requests.Session() as session:
        session.headers["authorization"] = "Bearer " + plane.mint_token()
        api = plane.engine.api_url()
        for name in ("a.jpg", "b.jpg", "c.jpg"):
            item = session.post(f"{api}/datasets/{dataset['id']}/items", files={"file": (name, b"x")},
                                data={"type": "file", "path": "/" + name}).json()
            session.post(f"{api}/pipelines/{pipeline['id']}/execute",
                         json={"pipeline": {"input": {"item": item["id"]}}}).raise_for_status()
    return pipeline


# The first control plane: three cycles of `held` on two workers, so two run `hold` (and wait on
# the hold file) and the third stays queued; then it waits to be killed.
FIRST = "from typing import Any\n" + textwrap.dedent(inspect.getsource(start_held_cycles)) + textwrap.dedent("""
    import json, sys, threading
    from pathlib import Path
    from reconciler.connection import open_embedded

    backend = open_embedded(Path(sys.argv[1]))
    pipeline = start_held_cycles(backend.control_plane)
    print(json.dumps({"pipeline": pipeline["id"]}), flush=True)
    threading.Event().wait()
""")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "marks").mkdir()
    (tmp_path / "hold").write_text("")
    applied_project(tmp_path, monkeypatch,
                    {"held.yaml": SPEC.format(marks=str(tmp_path / "marks"), hold=str(tmp_path / "hold"))})
    return tmp_path


def _wait_for_marks(folder: Path, count: int) -> list[Path]:
    """The code's marks, once `count` executions have started (each writes one as it starts)."""
    deadline = time.monotonic() + DEADLINE
    while len(list(folder.iterdir())) < count:
        assert time.monotonic() < deadline, "the code never started"
        time.sleep(0.05)
    return sorted(folder.iterdir())


def _wait_until_no_open_cycle(db: Path) -> None:
    from reconciler.server.store import Store

    deadline = time.monotonic() + DEADLINE
    while True:
        store = Store(db)
        try:
            if not store.open_cycles():
                return
        finally:
            store.close()
        assert time.monotonic() < deadline, "the cycles never finished"
        time.sleep(0.05)


def _kill(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)  # the code runs in its own session: its group is its pid
    except ProcessLookupError:
        pass


def test_a_restarted_control_plane_fails_what_was_running_and_runs_what_was_queued(project: Path) -> None:
    db = project / ".loopform" / "state.db"
    first = subprocess.Popen([sys.executable, "-c", FIRST, str(db)], stdout=subprocess.PIPE, text=True,
                             cwd=project, start_new_session=True)
    try:
        assert first.stdout is not None
        pipeline_id = json.loads(first.stdout.readline())["pipeline"]
        running = _wait_for_marks(project / "marks", 2)
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    for mark in running:
        _kill(int(mark.read_text()))
    (project / "hold").unlink()  # what runs from now on goes straight through

    # `loopform serve` is the restart: it carries on the open cycles as it starts; it is stopped once
    # the queued cycle has gone through (a stop would end its run)
    stop = threading.Event()
    term = Terminal(out=io.StringIO(), err=io.StringIO(), colour=False, unicode=True)
    args = argparse.Namespace(host="127.0.0.1", port=0, db=db, project="local", strict=False, token_file=None,
                              dtlpy_login=None)
    served = threading.Thread(target=lambda: serve._run(args, term, stop))
    served.start()
    try:
        _wait_for_marks(project / "marks", 3)  # the queued one has started...
        _wait_until_no_open_cycle(db)  # ...and finished
    finally:
        stop.set()
        served.join()
    assert "Open cycles carried on: 1 execution(s) queued again, 2 failed" in term.out.getvalue()  # type: ignore[attr-defined]

    backend = open_embedded(db)
    try:
        engine = backend.control_plane.engine
        store = backend.control_plane.store
        names = {i["id"]: i["name"] for i in store.resources("item")}
        outcome: dict[str, Any] = {}
        for cycle in store.executions_of(pipeline_id):
            failures = [e["latestStatus"].get("message") for listed in cycle["executions"].values() for e in listed
                        if e["status"] == "failed"]
            outcome[names[cycle["input"]["item"]]] = (cycle["status"], [n["name"] for n in cycle["nodes"]], failures)
        stopped = "the control plane stopped while this execution ran"
        was_running = {mark.name for mark in running}
        (queued,) = {"a.jpg", "b.jpg", "c.jpg"} - was_running
        assert outcome == {**{name: ("failed", ["inbox", "hold"], [stopped]) for name in was_running},
                           queued: ("success", ["inbox", "hold", "done"], [])}
        assert engine.recover() == Recovered()  # nothing is left over to recover twice
    finally:
        backend.close()


FUNCTION_SPEC = """\
apiVersion: loopform/v1
kind: Pipeline
metadata: {name: served, project: local}
spec:
  status: installed
  nodes:
    cut: {type: function, service: cutter, function: run}
"""


def _dead_pid() -> int:
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    return done.pid


def test_a_function_nodes_service_with_on_reset_rerun_runs_it_again_while_attempts_remain(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    backend = open_embedded(applied_project(tmp_path, monkeypatch, {"served.yaml": FUNCTION_SPEC}))
    try:
        plane = backend.control_plane
        (service,) = plane.store.resources("service", name="cutter")
        plane.store.update_resource("service", service["id"], lambda doc: {**doc, "onReset": "rerun"})
        (pipeline,) = [p for p in plane.store.pipelines_in({service["projectId"]}) if p["name"] == "served"]
        (node,) = pipeline["nodes"]
        # two cycles whose `cut` was running in a process that is gone: on its first attempt, and on its last
        gone = {"id": "gone", "host": socket.gethostname(), "pid": _dead_pid()}
        ids = []
        for attempts in (1, 3):
            cycle = cycles.new_cycle(pipeline, {"input": {"item": "i"}}, start_id=node["id"], user="u")
            running = {**cycles.with_status(cycles.node_execution(cycle, node, {"item": "i"}, attempts=attempts),
                                            cycles.IN_PROGRESS), "runner": gone}
            plane.store.put_execution(cycles.add_execution(cycle, node, running))
            ids.append(cycle["id"])
        assert plane.engine.recover() == Recovered(queued=1, failed=1)
        plane.engine.drain()
        again, last = ([e for listed in plane.store.execution(i)["executions"].values() for e in listed] for i in ids)
        # run again as its second attempt (it fails now for a reason of its own: no code was pushed)
        assert [(e["attempts"], e["status"]) for e in again] == [(2, "failed")]
        assert "no pushed code package" in again[0]["latestStatus"]["message"]
        assert [(e["attempts"], e["latestStatus"]["message"]) for e in last] == [
            (3, "the control plane stopped while this execution ran")]
    finally:
        backend.close()


def test_a_stop_without_finishing_ends_the_running_code_and_leaves_the_queued_for_the_next_start(
        project: Path) -> None:
    """`loopform serve` stopping: the code still running is ended (its executions fail, as a reset
    service's do) instead of holding the stop until its timeout; what was queued waits for the next
    start."""
    from reconciler.server.app import ControlPlane

    db = project / ".loopform" / "state.db"
    plane = ControlPlane(db)
    try:
        pipeline = start_held_cycles(plane)
        running = {mark.name for mark in _wait_for_marks(project / "marks", 2)}
    finally:
        plane.close(finish_work=False)  # the hold file stays: the code would run until its timeout
    plane = ControlPlane(db)
    try:
        names = {i["id"]: i["name"] for i in plane.store.resources("item")}
        node_names = {n["id"]: n["name"] for n in pipeline["nodes"]}
        statuses = {names[c["input"]["item"]]: sorted((node_names[node], e["status"], e["latestStatus"].get("message"))
                                                      for node, listed in c["executions"].items() for e in listed)
                    for c in plane.store.executions_of(pipeline["id"])}
    finally:
        plane.close()
    (queued,) = {"a.jpg", "b.jpg", "c.jpg"} - running
    stopped = ("hold", "failed", "the control plane stopped while this execution ran")
    assert statuses == {**{name: [stopped, ("inbox", "success", None)] for name in running},
                        queued: [("inbox", "created", None)]}
