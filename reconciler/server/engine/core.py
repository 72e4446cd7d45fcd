"""`Engine`: carries items through installed pipelines, off the request path.

Routes hand the engine work and answer at once: `start` (execute, a batch, a trigger) records a
cycle and queues its first node execution; `rerun`, `item_status` (an item's status with an action
in a task node's task) and `item_event` (item created/updated: the event triggers) queue more. A
bounded pool of worker threads runs node executions: each asks the node's type module to `run`
(reconciler.nodes), records the outcome in the cycle, and queues the next node executions along
the connections whose source port got a value (and whose action and DQL condition fit). Code runs
in separate processes (`runner`), which reach this control plane over HTTP on a loopback port the
engine opens on first need, with a token of a user that belongs to the pipeline's project only.

Cycle documents change under one lock (read-modify-write), so parallel node executions of one
cycle never lose each other's results. `drain()` waits until no work is queued or running.
"""

from __future__ import annotations

import json
import os
import posixpath
import socket
import threading
import traceback
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from reconciler import nodes
from reconciler.nodes.base import CodeResult, RunOutcome
from reconciler.nodes.task import action_of
from reconciler.server import dql
from reconciler.server.engine import cron, cycles
from reconciler.server.engine.runner import ADAPTER, Adapter, Limits, Package, run_code
from reconciler.server.graph import MAX_CRON_CHARS
from reconciler.server.http import HttpError
from reconciler.server.items import KIND as ITEM
from reconciler.server.items import clone_item, read_binary
from reconciler.server.routes_tasks import add_items
from reconciler.server.serving import HttpServer
from reconciler.server.tasks import KIND as TASK
from reconciler.server.triggers import KIND as TRIGGER

if TYPE_CHECKING:
    from reconciler.server.app import ControlPlane

Doc = dict[str, Any]
INSTALLED = "Installed"


# The engines open in this process (their ids): an execution recorded as run by one of them is
# in hand; one of a closed engine of this process, or of a process that is gone, is not.
_OPEN_ENGINES: set[str] = set()

# An execution whose process the control plane's stop ended (or a restart found ended).
STOPPED_WHILE_RUNNING = "the control plane stopped while this execution ran"


def _held(runner: Any) -> bool:
    """Whether the engine that recorded itself as `runner` of an execution may still run it."""
    if not isinstance(runner, dict):
        return False
    if runner.get("id") in _OPEN_ENGINES:
        return True
    if runner.get("host") != socket.gethostname():
        return True  # another machine's process: not ours to judge
    pid = runner.get("pid")
    if not isinstance(pid, int) or pid == os.getpid():
        return False  # this process, and that engine is closed
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


@dataclass
class Recovered:
    """What `Engine.recover` did: executions queued again, and executions failed (their process
    stopped while they ran)."""

    queued: int = 0
    failed: int = 0


class NodeRunError(Exception):
    """A node cannot do its work with what it was given; its execution fails with this message."""


def _port_named(ports: Any, port_id: Any) -> Doc | None:
    return next((p for p in ports or [] if p.get("portId") == port_id), None)


def _in_window(spec: Doc, at: datetime) -> bool:
    for key, inside in (("startAt", lambda t: t <= at), ("endAt", lambda t: at <= t)):
        text = spec.get(key)
        if isinstance(text, str) and text:
            try:
                stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                continue
            if not inside(stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)):
                return False
    return True


def _filter_of(value: Any) -> Any:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise NodeRunError(f"the filter {value!r} is not JSON") from None
    if isinstance(value, dict) and isinstance(value.get("filter"), dict):
        return value["filter"]
    return value or None


class Engine:
    def __init__(self, plane: ControlPlane, *, api_prefix: str, workers: int = 2, limits: Limits | None = None) -> None:
        self.plane = plane
        self._api_prefix = api_prefix
        self.store = plane.store
        self.limits = limits or Limits()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="loopform-engine")
        self._lock = threading.RLock()
        self._idle = threading.Condition()
        self._busy = 0
        # Node executions waiting, by cycle; the workers take the cycles in turn (round robin), so
        # a cycle that fans out to hundreds of executions shares the workers with the others
        # instead of holding them until it is done (another member's 2-node cycle waited a minute).
        self._waiting: OrderedDict[str, deque[Callable[[], None]]] = OrderedDict()
        self._waiting_lock = threading.Lock()
        self._closed = False
        self._stopping = threading.Event()
        self._abandoning = threading.Event()  # a stop without finishing: running user code is ended
        self._loopback: HttpServer | None = None
        self._api_url: str | None = None
        # Recorded on the executions this engine queues and runs (`runner`): after a restart,
        # `recover` tells those a dead process left behind from those another one still runs.
        runner_id = uuid.uuid4().hex
        self.runner: dict[str, Any] = {"id": runner_id, "host": socket.gethostname(), "pid": os.getpid()}
        _OPEN_ENGINES.add(runner_id)

    # --- what routes call ------------------------------------------------------------------------

    def start(self, pipeline: Doc, request: Doc, *, user: str, cause: str | None = None) -> Doc:
        """A new cycle of installed `pipeline` from an execute body's `pipeline` part `{input?,
        nodeId?, testMode?}`; its first node execution is queued. 400 for an unknown start.
        `cause`: the cycle whose node execution's code asked for it (an execute, or an item it
        wrote that fired a trigger); past the limits on such chains the cycle is recorded failed,
        its start node's execution saying why, and runs nothing."""
        start_id = request.get("nodeId")
        if start_id is None:
            root = next((s for s in pipeline.get("startNodes", []) if s.get("type") == "root"), None)
            if root is None:
                raise HttpError(400, "Pipeline has no root node to start an execution from")
            start_id = root["nodeId"]
        node = self._node(pipeline, start_id)
        if node is None:
            raise HttpError(400, f"Node {start_id!r} is not in the pipeline")
        cycle = cycles.new_cycle(pipeline, request, start_id=start_id, user=user)
        with self._lock:
            refused = self._caused_by(cycle, cause)
            if refused is not None:
                execution = cycles.with_status(cycles.node_execution(cycle, node, dict(cycle["input"])),
                                               cycles.FAILED, message=refused)
                cycle = cycles.add_execution(cycle, node, execution)
                self.store.put_execution(cycle)
                return cycle
            self.store.put_execution(cycle)
            self._enqueue(cycle["id"], pipeline, [(node, dict(cycle["input"]), 1)])
            return self.store.execution(cycle["id"]) or cycle

    def _caused_by(self, cycle: Doc, cause: str | None) -> str | None:
        """Record on `cycle` the chain it belongs to when cycle `cause` started it (a trigger
        loop through data: a pipeline writing items into the dataset whose trigger starts it
        again, or code executing its own pipeline), and count it on the chain's first cycle. Why
        it may not start, when the chain is `Limits.caused_depth` cycles deep already or its
        first cycle has caused `Limits.caused_cycles`."""
        parent = self.store.execution(cause) if cause else None
        if parent is None:
            return None
        chain = parent.get("causedBy") or {}
        origin_id = str(chain.get("originId") or parent["id"])
        depth = int(chain.get("depth") or 0) + 1
        cycle["causedBy"] = {"cycleId": parent["id"], "originId": origin_id, "depth": depth}
        if depth > self.limits.caused_depth:
            return cycles.chain_too_deep(self.limits.caused_depth)
        origin = parent if origin_id == parent["id"] else self.store.execution(origin_id)
        if origin is not None:
            if int(origin.get("causedCycles") or 0) >= self.limits.caused_cycles:
                return cycles.chain_too_long(origin_id, self.limits.caused_cycles)
            self.store.change_cycle(origin_id, lambda c: {**c, "causedCycles": int(c.get("causedCycles") or 0) + 1})
        return None

    def rerun(self, pipeline: Doc, cycle: Doc, *, method: str, start_node_ids: list[str],
              cause: str | None = None) -> None:
        """Run (part of) `cycle` again: from its start, from `start_node_ids` (with the inputs they
        had), or its failed executions; the executions replaced are those of the nodes re-run and
        of every node after them. `cause`: the cycle whose node execution's code asked for it; a
        cycle re-run that way more than `Limits.caused_depth` times is refused (400): code
        re-running its own cycle would run forever."""
        with self._lock:
            cycle = self.store.execution(cycle["id"]) or cycle
            if cause is not None and self.store.execution(cause) is not None:
                reruns = int(cycle.get("causedReruns") or 0) + 1
                if reruns > self.limits.caused_depth:
                    raise HttpError(400, cycles.reruns_too_many(cycle["id"], self.limits.caused_depth))
                cycle = {**cycle, "causedReruns": reruns}
            recorded = cycle.get("executions", {})
            attempts = {nid: max((e.get("attempts", 1) for e in listed), default=0) for nid, listed in recorded.items()}
            runs: list[tuple[str, Doc]]
            if method == "startFromBeginning":
                runs = [(str(cycle.get("startNodeId")), dict(cycle.get("input") or {}))]
            elif method == "startFromNodes":
                # each node once, and only the pipeline's: a list of the same id 100,000 times
                # (16 MB of body) ran the node 100,000 times in one cycle
                in_graph = {n.get("id") for n in pipeline.get("nodes", [])}
                chosen = [nid for nid in dict.fromkeys(start_node_ids) if nid in in_graph]
                runs = [(nid, e["input"]) for nid in chosen for e in recorded.get(nid, [])[-1:]]
                runs += [(nid, dict(cycle.get("input") or {})) for nid in chosen if nid not in recorded]
            else:
                runs = [(nid, e["input"]) for nid, listed in recorded.items() for e in listed
                        if e["status"] == cycles.FAILED]
            placed = [(node, given) for nid, given in runs if (node := self._node(pipeline, nid)) is not None]
            if not placed:
                return
            gone = cycles.downstream(pipeline, [node["id"] for node, _ in placed])
            kept = {nid: listed for nid, listed in recorded.items() if nid not in gone}
            cycle = cycles.summarised({**cycle, "executions": kept,
                                       "nodes": [n for n in cycle.get("nodes", []) if n["id"] not in gone],
                                       "pipelineVersion": pipeline.get("revision", 1)}, {})
            self.store.put_execution(cycle)
            self._enqueue(cycle["id"], pipeline,
                          [(node, dict(given), attempts.get(node["id"], 0) + 1) for node, given in placed])

    def resume(self, pipeline: Doc, option: str) -> None:
        """At install: the cycles still open go on (`resumeExistingCycles`: the executions that
        waited while the pipeline was paused run now) or end (`terminateExistingCycles`: every
        open execution, a task's waiting items too, is `terminated`)."""
        with self._lock:
            for cycle in self.store.executions_of(pipeline["id"]):
                if cycle.get("status") != cycles.IN_PROGRESS:
                    continue
                for node_id, listed in cycle.get("executions", {}).items():
                    node = self._node(pipeline, node_id)
                    for execution in listed:
                        if option == "terminateExistingCycles" and execution["status"] in cycles.OPEN:
                            self._change(cycle["id"], execution["id"],
                                         lambda e: cycles.with_status(e, cycles.TERMINATED))
                        elif execution["status"] == cycles.CREATED and node is not None:
                            self._submit(cycle["id"], pipeline["id"], node["id"], execution["id"])

    def recover(self) -> Recovered:
        """After a restart (`loopform serve` calls it when it starts): the open cycles that no
        living engine holds go on. Executions left `created` run now; one left `in-progress` at a
        node that does not wait ran in a process that is gone, and ends as Dataloop ends the
        executions of a service that resets: `failed`, or run again when the node's service says
        `onReset: rerun` and attempts remain. Items waiting in tasks keep waiting: a status with an
        action routes them as before. A paused pipeline's executions wait for its install."""
        recovered = Recovered()
        with self._lock:
            for cycle in self.store.open_cycles():
                pipeline = self.store.pipeline(str(cycle.get("pipelineId")))
                for node_id, listed in cycle.get("executions", {}).items():
                    node = self._node(pipeline, node_id)
                    for execution in listed:
                        if pipeline is None or node is None or pipeline.get("status") != INSTALLED \
                                or execution["status"] not in (cycles.CREATED, cycles.IN_PROGRESS) \
                                or _held(execution.get("runner")):
                            continue
                        if execution["status"] == cycles.IN_PROGRESS:
                            if nodes.for_platform(node.get("type")).waits:
                                continue
                            if self._on_reset(pipeline, node) != "rerun" \
                                    or execution.get("attempts", 1) >= execution.get("maxAttempts", 3):
                                self._change(cycle["id"], execution["id"], lambda e: cycles.with_status(
                                    e, cycles.FAILED, message=STOPPED_WHILE_RUNNING))
                                recovered.failed += 1
                                continue
                        self._change(cycle["id"], execution["id"], lambda e: {
                            **cycles.with_status(e, cycles.CREATED), "runner": self.runner,
                            "attempts": e.get("attempts", 1) + (e["status"] == cycles.IN_PROGRESS)})
                        self._submit(cycle["id"], pipeline["id"], node["id"], execution["id"])
                        recovered.queued += 1
        return recovered

    def _on_reset(self, pipeline: Doc, node: Doc) -> str:
        """What happens to the node's execution when its service resets (dtlpy's OnResetAction:
        `failed`, the default, or `rerun`), from the service a function node names."""
        name = (node.get("namespace") or {}).get("serviceName")
        found = self.store.resources("service", project_ids={pipeline["projectId"]}, name=str(name)) if name else []
        return str(found[0].get("onReset") or "failed") if found else "failed"

    def item_status(self, task: Doc, item_ids: list[str], status: str) -> None:
        """Items' status in a task node's task was set: the cycles waiting there for them go on
        along the connections of that action (recorded now, run by the workers). The executions
        waiting at the node are found by index, once for all the items: a status set on 1000 items
        at once read the pipeline's cycles 1000 times, and one item at a time read them all each
        time."""
        system = (task.get("metadata") or {}).get("system") or {}
        pipeline = self.store.pipeline(str(system.get("pipelineId")))
        node = self._node(pipeline, system.get("nodeId")) if pipeline else None
        if pipeline is None or node is None:
            return
        ports = node.get("outputs") or []
        offered = [a for p in ports for a in p.get("actions") or []]
        action = action_of(status, offered) or status
        wanted = set(item_ids)
        with self._lock:
            for cycle_id, execution_id, item_id in self.store.running_at(pipeline["id"], node["id"]):
                if item_id in wanted:
                    outcome = RunOutcome(status="success", outputs={p.get("name"): item_id for p in ports},
                                         action=action)
                    self._finish(cycle_id, pipeline, node, execution_id, outcome)

    def item_event(self, item: Doc, action: str, *, cause: str | None = None) -> None:
        """Item `action` (Created, Updated) happened: each active item trigger of an installed
        pipeline of the item's project whose filter matches starts a cycle with the item (`cause`:
        the cycle whose node execution's code wrote the item, see `start`)."""
        # The project's triggers first (small documents), then only the pipelines they start:
        # reading every pipeline of the project (code and all) for every item written made each
        # upload cost 6 ms per 2 MB pipeline, installed or not, and a DQL update of n items n times.
        pipelines: dict[str, Doc | None] = {}
        for trigger in self.store.resources(TRIGGER, project_ids={item["projectId"]}):
            spec = trigger.get("spec") or {}
            if not trigger.get("active") or trigger.get("type") == "Cron" or spec.get("resource", "Item") != "Item":
                continue
            if action not in (spec.get("actions") or ["Created"]):
                continue
            operation = spec.get("operation") or {}
            pipeline_id = str(operation.get("id"))
            if pipeline_id not in pipelines:
                pipelines[pipeline_id] = self.store.pipeline(pipeline_id)
            pipeline = pipelines[pipeline_id]
            if pipeline is None or pipeline.get("status") != INSTALLED or pipeline.get("projectId") != item["projectId"]:
                continue
            start_id = operation.get("nodeId")
            start = self._node(pipeline, start_id)
            if start is None or not self._triggered_by(start, spec, item):
                continue
            if action != "Created" and spec.get("executionMode", "Once") == "Once" \
                    and self.store.started_with_item(pipeline["id"], item["id"]):
                continue
            self.start(pipeline, {"input": {"item": item["id"]}, "nodeId": start_id},
                       user=trigger.get("creator") or "", cause=cause)

    def load_existing(self, pipeline: Doc, *, user: str) -> int:
        """At install: each dataset node with `loadExistingData` (`metadata.triggerToPipeline`
        active) starts a cycle per item of its dataset that its filter matches, once per item (a
        later install starts none for items that already had theirs); how many started."""
        started = 0
        for node in pipeline.get("nodes", []):
            load = (node.get("metadata") or {}).get("triggerToPipeline")
            dataset_id = nodes.for_platform(node.get("type")).items_dataset(node)
            if dataset_id is None or not isinstance(load, dict) or not load.get("active"):
                continue
            try:
                matches = dql.compile_filter(_filter_of(load.get("filter")))
            except (dql.DqlError, NodeRunError):
                continue
            done = {(c.get("input") or {}).get("item") for c in self.store.cycle_heads_of(pipeline["id"])
                    if c.get("startNodeId") == node["id"]}
            for item in self.store.resources(ITEM, scope=dataset_id):
                if item["type"] == "file" and item["id"] not in done and matches(item):
                    self.start(pipeline, {"input": {"item": item["id"]}, "nodeId": node["id"]}, user=user)
                    started += 1
        return started

    def cron_tick(self, at: datetime) -> int:
        """Fire the active cron triggers of installed pipelines whose expression names the minute
        `at` (UTC) and whose startAt/endAt window holds it; how many cycles started."""
        started = 0
        minute = at.astimezone(UTC).replace(second=0, microsecond=0)
        for trigger in self.store.resources(TRIGGER):
            spec = trigger.get("spec") or {}
            if not trigger.get("active") or trigger.get("type") != "Cron" or not _in_window(spec, minute):
                continue
            expression = str(spec.get("cron"))
            if len(expression) > MAX_CRON_CHARS:  # refused at install since; one stored before waits
                continue
            try:
                due = cron.matches(expression, minute)
            except ValueError:
                continue
            operation = spec.get("operation") or {}
            pipeline = self.store.pipeline(str(operation.get("id"))) if due else None
            if pipeline is None or pipeline.get("status") != INSTALLED:
                continue
            if self._node(pipeline, operation.get("nodeId")) is not None:
                self.start(pipeline, {"input": dict(spec.get("input") or {}), "nodeId": operation.get("nodeId")},
                           user=trigger.get("creator") or "")
                started += 1
        return started

    def run_cron(self, clock: cron.Clock | None = None) -> None:
        """Fire cron triggers at the start of every minute until `close()` (for `loopform serve`),
        by `clock` (default the system's)."""
        clock = clock or cron.SystemClock()

        def loop() -> None:
            minute = clock.now().replace(second=0, microsecond=0)
            while True:
                minute += timedelta(minutes=1)
                if clock.wait_until(minute, self._stopping):
                    return
                # the minute reached, even when the wait ended late; minutes missed while the
                # machine slept are skipped, as cron skips them
                minute = max(minute, clock.now().replace(second=0, microsecond=0))
                self.cron_tick(minute)

        threading.Thread(target=loop, name="loopform-engine-cron", daemon=True).start()

    def in_child(self, code: str | Package | Adapter, function: str, inputs: list[dict[str, Any]],
                 outputs: list[dict[str, Any]], project_id: str, cycle_id: str) -> CodeResult:
        """Run user code of a node execution of cycle `cycle_id` in its own process
        (runner.run_code) with a token of `project_id`; a stop without finishing ends it (the
        execution fails, as on Dataloop when a service resets)."""
        return run_code(code, function, inputs, outputs, api_url=self.api_url(),
                        token=self.project_token(project_id, cycle_id=cycle_id), limits=self.limits,
                        stop=self._abandoning,
                        stopped=STOPPED_WHILE_RUNNING)

    def drain(self) -> None:
        """Wait until no node execution is queued or running."""
        with self._idle:
            self._idle.wait_for(lambda: self._busy == 0)

    def close(self, *, finish: bool = True) -> None:
        """Stop. With `finish` (an embedded command such as `loopform execute`: nothing would run
        its cycles later) the work in hand is carried as far as it goes first. Without (a served
        control plane stopping) the executions running end, and the ones not started stay
        `created` in the database for `recover()` at the next start: a stop is not held up by
        every queued run of user code."""
        self._stopping.set()
        if finish:
            self.drain()
        else:
            self._abandoning.set()
        self._closed = True  # from here, an execution recorded is queued for the next start
        self._pool.shutdown(wait=True, cancel_futures=not finish)
        _OPEN_ENGINES.discard(self.runner["id"])
        if self._loopback is not None:
            self._loopback.stop()

    # --- running ---------------------------------------------------------------------------------

    @staticmethod
    def _node(pipeline: Doc | None, node_id: Any) -> Doc | None:
        return next((n for n in (pipeline or {}).get("nodes", []) if n.get("id") == node_id), None)

    def _triggered_by(self, start: Doc, spec: Doc, item: Doc) -> bool:
        dataset_id = nodes.for_platform(start.get("type")).items_dataset(start)
        if dataset_id is not None and item["datasetId"] != dataset_id:
            return False
        try:
            return dql.compile_filter(_filter_of(spec.get("filter")))(item)
        except (dql.DqlError, NodeRunError):
            return False

    def _submit(self, cycle_id: str, pipeline_id: str, node_id: str, execution_id: str) -> None:
        """Queue a run of the execution, in its cycle's turn."""
        if self._closed:
            return
        with self._idle:
            self._busy += 1

        def job() -> None:
            try:
                self._run(cycle_id, pipeline_id, node_id, execution_id)
            finally:
                with self._idle:
                    self._busy -= 1
                    self._idle.notify_all()

        with self._waiting_lock:
            self._waiting.setdefault(cycle_id, deque()).append(job)
        self._pool.submit(self._next_turn)  # one turn per job queued, so every job gets one

    def _next_turn(self) -> None:
        with self._waiting_lock:
            cycle_id, jobs = next(iter(self._waiting.items()))
            job = jobs.popleft()
            if jobs:
                self._waiting.move_to_end(cycle_id)
            else:
                del self._waiting[cycle_id]
        job()

    def _enqueue(self, cycle_id: str, pipeline: Doc, runs: list[tuple[Doc, Doc, int]]) -> None:
        """Record a `created` execution of each (node, inputs, attempts) of `runs` (ports not
        given take their variable's value or default) in the cycle and queue them."""
        # the variables as they are now: an updateVariable node earlier in this cycle may have set them
        current = self.store.pipeline(pipeline["id"]) or pipeline
        variables = {v.get("name"): v.get("value") for v in current.get("variables") or []}
        for node, inputs, _ in runs:
            for port in node.get("inputs") or []:
                name = port.get("name")
                if inputs.get(name) is None:
                    if port.get("variableName") in variables:
                        inputs[name] = variables[port["variableName"]]
                    elif port.get("defaultValue") is not None:
                        inputs[name] = port["defaultValue"]
        with self._lock:
            cycle = self.store.cycle_head(cycle_id)
            if cycle is None:
                return
            added = [{**cycles.node_execution(cycle, node, inputs, attempts=attempts), "runner": self.runner}
                     for node, inputs, attempts in runs]
            known = {node["id"]: node for node, _, _ in runs}
            self.store.record_node_executions(cycle_id, added, lambda c, facts: cycles.with_nodes(c, facts, known))
        for execution in added:
            self._submit(cycle_id, pipeline["id"], execution["pipeline"]["nodeId"], execution["id"])

    def _change(self, cycle_id: str, execution_id: str, change: Callable[[Doc], Doc]) -> None:
        """Change one execution of the cycle."""
        with self._lock:
            execution = self.store.node_execution(cycle_id, execution_id)
            if execution is None:  # the cycle was deleted or re-run meanwhile
                return
            self.store.record_node_executions(cycle_id, [change(execution)],
                                              lambda c, facts: cycles.with_nodes(c, facts, {}))

    def _run(self, cycle_id: str, pipeline_id: str, node_id: str, execution_id: str) -> None:
        # A queued run holds ids only, the documents are read when it runs: a queue of runs
        # (uploads firing a trigger while the workers are busy) never holds a copy of the pipeline
        # each, which for a pipeline of large code made memory grow with every item written.
        with self._lock:
            # Only a `created` execution of an installed pipeline starts (once: a resume may queue
            # it again); a paused pipeline's stay created until it is resumed.
            pipeline = self.store.pipeline(pipeline_id)
            execution = self.store.node_execution(cycle_id, execution_id)
            if execution is None or execution["status"] != cycles.CREATED \
                    or pipeline is None or pipeline.get("status") != INSTALLED:
                return
            node = self._node(pipeline, node_id)
            if node is None:
                self._change(cycle_id, execution_id, lambda e: cycles.with_status(
                    e, cycles.FAILED, message=f"node {node_id!r} is no longer in the pipeline"))
                return
            self._change(cycle_id, execution_id,
                         lambda e: {**cycles.with_status(e, cycles.IN_PROGRESS), "runner": self.runner})
        try:
            outcome = nodes.for_platform(node.get("type")).run(node, dict(execution.get("input") or {}),
                                                               _Context(self, pipeline, cycle_id))
        except NodeRunError as exc:
            outcome = RunOutcome(status="failed", message=str(exc))
        except Exception:  # noqa: BLE001 - a fault here fails this execution, never the worker
            outcome = RunOutcome(status="failed", message=traceback.format_exc())
        self._finish(cycle_id, pipeline, node, execution_id, outcome)

    def _finish(self, cycle_id: str, pipeline: Doc, node: Doc, execution_id: str, outcome: RunOutcome) -> None:
        def change(execution: Doc) -> Doc:
            done = cycles.with_status(execution, outcome.status, message=outcome.message)
            done["output"] = outcome.outputs or None
            if outcome.log:
                done["log"] = outcome.log
            if outcome.action is not None:
                done["action"] = outcome.action
            return done

        with self._lock:
            nexts: list[tuple[Doc, Doc]] = []
            running = self.store.node_execution(cycle_id, execution_id)
            if running is None or running["status"] != cycles.IN_PROGRESS:
                return  # the cycle was deleted, re-run or terminated meanwhile: these outputs go nowhere
            if outcome.status == cycles.SUCCESS:
                room = self.limits.cycle_executions - self.store.node_execution_count(cycle_id)
                nexts = self._route(pipeline, node, outcome, room)
                if len(nexts) > room:
                    outcome = replace(outcome, status=cycles.FAILED,
                                      message=cycles.too_many_executions(self.limits.cycle_executions))
                    nexts = []
            # What this execution adds to the cycle's documents: its outputs, as many times again
            # as they become inputs, and its log. A list passed along a chain of list ports
            # (4 MB a result) grew the cycle, which every listing reads whole, without end.
            added = len(json.dumps(outcome.outputs)) * (1 + len(nexts)) + len(outcome.log)
            if self.store.execution_bytes(cycle_id) + added > self.limits.cycle_bytes:
                outcome = RunOutcome(status=cycles.FAILED, message=cycles.too_large(self.limits.cycle_bytes))
                nexts = []
            self._change(cycle_id, execution_id, change)
            if nexts:
                self._enqueue(cycle_id, pipeline, [(target, inputs, 1) for target, inputs in nexts])

    def _route(self, pipeline: Doc, node: Doc, outcome: RunOutcome, room: int) -> list[tuple[Doc, Doc]]:
        """The node executions `outcome` starts (target node, inputs): one per connection whose
        source port got a value, and per item of a list sent to a port that takes one item. It
        stops at one more than `room`: a cycle holds `Limits.cycle_executions` at most, however
        wide a graph fans out or however long a list a node returns."""
        nexts: list[tuple[Doc, Doc]] = []
        for conn in pipeline.get("connections", []):
            if conn["src"]["nodeId"] != node["id"]:
                continue
            port = _port_named(node.get("outputs"), conn["src"].get("portId"))
            value = outcome.outputs.get(str(port.get("name"))) if port else None
            if value is None or (outcome.action is not None and conn.get("action") not in (None, outcome.action)):
                continue
            target = self._node(pipeline, conn["tgt"]["nodeId"])
            target_port = _port_named(target.get("inputs"), conn["tgt"].get("portId")) if target else None
            if target is None or target_port is None:
                continue
            many = str(target_port.get("type", "")).endswith("[]")
            for one in value if isinstance(value, list) and not many else [value]:
                if self._passes(conn.get("condition"), one):
                    nexts.append((target, {target_port["name"]: one}))
                    if len(nexts) > room:
                        return nexts
        return nexts

    def _passes(self, condition: Any, value: Any) -> bool:
        flt = _filter_of(condition) if condition not in (None, "", "{}") else None
        if not flt:
            return True
        item = self.store.resource(ITEM, value) if isinstance(value, str) else None
        if item is None:
            return False
        try:
            return dql.compile_filter(flt)(item)
        except dql.DqlError:
            return False

    # --- what code in a node's process is given -----------------------------------------------------

    def api_url(self) -> str:
        """Where code run by the engine reaches this control plane: a loopback port of its own."""
        with self._lock:
            if self._api_url is None:
                server = HttpServer(self.plane.wsgi_app, host="127.0.0.1", port=0, threads=4)
                threading.Thread(target=server.run, name="loopform-engine-api", daemon=True).start()
                self._loopback = server
                self._api_url = f"http://127.0.0.1:{server.port}{self._api_prefix}"
            return self._api_url

    def project_token(self, project_id: str, *, cycle_id: str | None = None) -> str:
        """A token of the project's pipeline user, a member of that project only, valid long enough
        for one execution (dtlpy refuses tokens that expire within 60 s); the cycles its requests
        start are caused by cycle `cycle_id`."""
        email = f"pipelines@{project_id}.loopform.local"
        self.plane.ensure_user(email)
        if not self.store.is_member(project_id, email):
            self.store.add_member(project_id, email, "engineer")
        return self.plane.mint_token(email, ttl_seconds=int(self.limits.timeout_seconds) + 300, cycle=cycle_id)


class _Context:
    """`RunContext` for one node execution of `pipeline`."""

    def __init__(self, engine: Engine, pipeline: Doc, cycle_id: str) -> None:
        self._engine = engine
        self.store = engine.store
        self._pipeline = pipeline
        self._cycle_id = cycle_id

    def _item(self, item_id: str) -> Doc:
        item = self.store.resource(ITEM, item_id)
        if item is None:
            raise NodeRunError(f"item {item_id!r} does not exist")
        return item

    def place_item(self, item_id: str, *, dataset_id: str, folder: str | None, clone: bool) -> str:
        item = self._item(item_id)
        dataset = self.store.resource("dataset", dataset_id)
        if dataset is None or self._pipeline["projectId"] not in dataset.get("projects", []):
            raise NodeRunError(f"dataset {dataset_id!r} is not in the pipeline's project")
        where = posixpath.join(folder or item["dir"], item["name"]) if folder else item["filename"]
        if clone or item["datasetId"] != dataset_id:
            copied = clone_item(self.store, self._engine.plane.binaries_dir, item, dataset, filename=where,
                                creator=self._pipeline.get("creator") or "",
                                metadata={k: v for k, v in item["metadata"].items() if k != "system"})
            return str(copied["id"])
        if where != item["filename"]:
            # within one write: another worker may be putting the item into a task meanwhile
            self.store.update_resource(ITEM, item_id, lambda doc: {**doc, "filename": where,
                                                                   "dir": posixpath.dirname(where)}, name=where)
        return item_id

    def enter_task(self, node_id: str, item_id: str) -> bool:
        item = self._item(item_id)
        for task in self.store.resources(TASK, project_ids={self._pipeline["projectId"]}):
            system = (task.get("metadata") or {}).get("system") or {}
            if system.get("pipelineId") == self._pipeline["id"] and system.get("nodeId") == node_id:
                if task["datasetId"] != item["datasetId"]:
                    raise NodeRunError(f"item {item_id!r} is not in the dataset of task {task['name']!r}")
                add_items(self.store, task, {"filter": {"id": item_id}})
                return True
        return False

    def run_code(self, code: str, function: str, inputs: list[dict[str, Any]],
                 outputs: list[dict[str, Any]]) -> CodeResult:
        return self._engine.in_child(code, function, inputs, outputs, self._pipeline["projectId"], self._cycle_id)

    def variables(self) -> dict[str, Any]:
        current = self.store.pipeline(self._pipeline["id"]) or self._pipeline
        return {str(v.get("name")): v.get("value") for v in current.get("variables") or [] if isinstance(v, dict)}

    def run_model(self, model_id: str, function: str, inputs: list[dict[str, Any]],
                  outputs: list[dict[str, Any]]) -> CodeResult | None:
        registered = self.store.resource(ADAPTER, model_id)
        if registered is None:
            return None
        adapter = Adapter(code=str(registered.get("code") or ""), class_name=str(registered.get("className")),
                          model_id=model_id)
        return self._engine.in_child(adapter, function, inputs, outputs, self._pipeline["projectId"], self._cycle_id)

    def set_variables(self, values: dict[str, Any]) -> None:
        def change(doc: Doc) -> Doc:
            listed = [{**v, "value": values[v["name"]]} if isinstance(v, dict) and v.get("name") in values else v
                      for v in doc.get("variables") or []]
            return {**doc, "variables": listed}

        self.store.update_pipeline(self._pipeline["id"], change)

    def run_service(self, namespace: dict[str, Any], inputs: list[dict[str, Any]],
                    outputs: list[dict[str, Any]]) -> CodeResult:
        name = namespace.get("serviceName")
        project_id = self._pipeline["projectId"]
        services = self.store.resources("service", project_ids={project_id}, name=str(name))
        if not services:
            raise NodeRunError(f"service {name!r} is not deployed in the pipeline's project")
        service = services[0]
        package = self.store.resource("package", str(service.get("packageId")))
        codebase = (package or {}).get("codebase") or {}
        if package is None or codebase.get("type") != "item" or not isinstance(codebase.get("itemId"), str):
            raise NodeRunError(f"service {name!r} has no pushed code package to run")
        module_name = namespace.get("moduleName") or service.get("moduleName") or "default_module"
        module = next((m for m in package.get("modules") or [] if m.get("name") == module_name), None)
        if module is None:
            raise NodeRunError(f"package {package.get('name')!r} has no module {module_name!r}")
        zipped = read_binary(self._engine.plane.binaries_dir, codebase["itemId"])
        if not zipped:
            raise NodeRunError(f"the code of package {package.get('name')!r} is gone")
        code = Package(zipped=zipped, entry_point=str(module.get("entryPoint") or "main.py"),
                       class_name=module.get("className"), init_params=dict(service.get("initParams") or {}))
        return self._engine.in_child(code, str(namespace.get("functionName") or "run"), inputs, outputs, project_id,
                                     self._cycle_id)
