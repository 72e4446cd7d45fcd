"""Apply: execute a `Plan` against a `Backend`, pipeline by pipeline, and report what happened.

Apply follows the plan; it never re-decides what to change. For each `PipelineChange`:

1. provisions the plan relies on (local sandbox only; idempotent by id on the server);
2. `actions` in the plan's order — create (the desired document, marker included) / update (the
   whole document) / resume (install) / pause (uninstall) / reset / delete;
3. the outcome: `done`, `failed` (with the API's message; later steps of that pipeline are then
   `not attempted`), or `not attempted` (never started, e.g. after the credentials were refused).

Safety rules that live here because they are about *how* to do a step, not *what* to do:
- Create is sent once. An ambiguous failure is resolved by a name lookup inside the client. A 409
  (a concurrent apply created it first) adopts the pipeline only if it carries Loopform's marker,
  then sends the desired document as an update — two applies of the same specs converge.
- Delete of a pipeline that is already gone counts as done (a lost answer to a successful DELETE).
- Reset exactly once per new token: the marker records the last applied `resetToken`. The pipeline
  is reset first and the marker (carrying the new token) written after, by the update that follows
  the reset in the plan or, when the plan has none, by a marker-only write here. Crash window: after
  the reset and before the marker write, a re-run resets once more (at least once, never zero). If a
  plan orders the update before the reset, the marker is written first and a crash in between loses
  that reset; `diff.diff_pipeline` orders reset first for this reason.

Independent pipelines run in parallel (bounded by `parallelism`); steps of one pipeline run in order.
Events go to `on_event` (serialised: never two calls at once), for the CLI to render.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from enum import Enum
from functools import partial
from typing import Annotated, Literal, assert_never

from pydantic import BaseModel, ConfigDict, Field

from reconciler.backend import Backend
from reconciler.document import Pipeline
from reconciler.errors import Conflict, LoopformError, NotFound, Unauthorized
from reconciler.marker import owned_by, read_marker, with_marker_fields
from reconciler.plan import Action, Plan, PipelineChange


class Outcome(str, Enum):
    DONE = "done"
    FAILED = "failed"
    NOT_ATTEMPTED = "not-attempted"
    UNCHANGED = "unchanged"  # the plan had nothing to do for this pipeline


class Step(str, Enum):
    PROVISION = "provision"
    CREATE = "create"
    UPDATE = "update"
    RESUME = "resume"
    PAUSE = "pause"
    RESET = "reset"
    MARKER = "marker"  # the marker-only write after a reset with no update following it
    DELETE = "delete"


_STEP_FOR = {Action.CREATE: Step.CREATE, Action.UPDATE: Step.UPDATE, Action.RESUME: Step.RESUME,
             Action.PAUSE: Step.PAUSE, Action.RESET: Step.RESET, Action.DELETE: Step.DELETE}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class PipelineResult(_Frozen):
    project: str
    name: str
    outcome: Outcome
    pipeline_id: str | None = None
    done: list[Step] = Field(default_factory=list)  # steps that completed, in order
    failed_step: Step | None = None  # the step that failed
    pending: list[Step] = Field(default_factory=list)  # steps not attempted (after the failed one)
    error: str | None = None  # the API's message when failed


class StartEvent(_Frozen):
    event: Literal["start"] = "start"
    project: str
    name: str
    actions: list[Action]


class StepEvent(_Frozen):
    event: Literal["step"] = "step"
    project: str
    name: str
    step: Step
    detail: str = ""  # e.g. "dataset 'frames'" for a provision


class ResultEvent(_Frozen):
    event: Literal["result"] = "result"
    result: PipelineResult


Event = Annotated[StartEvent | StepEvent | ResultEvent, Field(discriminator="event")]


class ApplyResult(_Frozen):
    results: list[PipelineResult]  # in plan order

    @property
    def ok(self) -> bool:
        return all(r.outcome in (Outcome.DONE, Outcome.UNCHANGED) for r in self.results)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for r in self.results if r.outcome is outcome)


class _StepFailed(Exception):
    def __init__(self, step: Step, error: LoopformError) -> None:
        super().__init__(str(error))
        self.step = step
        self.error = error


# Pipelines applied at the same time unless told otherwise: terraform's default. Against a remote
# API each pipeline's steps are a few round trips, so the apply's time is mostly waiting on them.
DEFAULT_PARALLELISM = 10


def apply_plan(plan: Plan, backend: Backend, *, parallelism: int = DEFAULT_PARALLELISM,
               on_event: Callable[[StartEvent | StepEvent | ResultEvent], None] | None = None,
               stop: threading.Event | None = None) -> ApplyResult:
    """Execute `plan` on `backend`. A pipeline's failure is in the result, never raised.

    Once the backend refuses the credentials (401/403), pipelines not yet started are left
    `not attempted` rather than each failing the same way. So are they once `stop` is set (the
    CLI sets it on Ctrl-C or SIGTERM): pipelines in progress finish all their steps, so none is
    left half-changed (created but not installed, reset but its token not recorded), and a re-run
    does the rest. If `on_event` raises (say, the output
    pipe closed), no more events are sent and the first such error is raised once every pipeline
    is done: showing progress must never cut an apply short between two steps of a pipeline.
    """
    lock = threading.Lock()
    refused = threading.Event()
    once = _Once()
    display_errors: list[Exception] = []

    def emit(event: StartEvent | StepEvent | ResultEvent) -> None:
        if on_event is not None:
            with lock:
                if display_errors:
                    return
                try:
                    on_event(event)
                except Exception as exc:  # noqa: BLE001 - whatever the view raised, re-raised below
                    display_errors.append(exc)

    def run(change: PipelineChange) -> PipelineResult:
        if refused.is_set() or (stop is not None and stop.is_set()):
            result = PipelineResult(project=change.project, name=change.name, outcome=Outcome.NOT_ATTEMPTED,
                                    pipeline_id=change.pipeline_id, pending=_steps(change))
        else:
            result, error = _apply_one(change, backend, emit, once, plan.spec_set)
            if isinstance(error, Unauthorized):
                refused.set()
        emit(ResultEvent(result=result))
        return result

    with ThreadPoolExecutor(max_workers=max(1, parallelism), thread_name_prefix="loopform-apply") as pool:
        futures = [pool.submit(run, change) for change in plan.pipelines]
        results = [f.result() for f in futures]
    if display_errors:
        raise display_errors[0]
    return ApplyResult(results=results)


def _steps(change: PipelineChange) -> list[Step]:
    steps = [Step.PROVISION for r in change.provisions if r.provision]
    steps += [_STEP_FOR[a] for a in change.actions if a in _STEP_FOR]
    return steps


class _Once:
    """Runs each keyed action at most once successfully, even from several threads at a time.

    Pipelines of one project often rely on the same provisioned dataset; provisioning it once
    per apply (not once per pipeline) saves writes and avoids workers contending on one row.
    A failed attempt is not remembered: the next pipeline that needs it tries again.
    """

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[tuple[str, ...], threading.Lock] = {}
        self._done: set[tuple[str, ...]] = set()

    def run(self, key: tuple[str, ...], fn: Callable[[], None]) -> None:
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._done:
                fn()
                self._done.add(key)


def _apply_one(change: PipelineChange, backend: Backend,
               emit: Callable[[StartEvent | StepEvent | ResultEvent], None],
               once: _Once, spec_set: str | None) -> tuple[PipelineResult, LoopformError | None]:
    planned = _steps(change)
    if not planned:
        return PipelineResult(project=change.project, name=change.name, outcome=Outcome.UNCHANGED,
                              pipeline_id=change.pipeline_id), None
    emit(StartEvent(project=change.project, name=change.name, actions=list(change.actions)))
    runner = _PipelineRun(change, backend, emit, once, spec_set)
    try:
        runner.run()
    except _StepFailed as failed:
        # `done` is a prefix of `planned` (MARKER, the last step, is not planned): what follows the
        # failed step was never tried.
        pending = planned[len(runner.done) + 1:]
        return PipelineResult(project=change.project, name=change.name, outcome=Outcome.FAILED,
                              pipeline_id=runner.pipeline_id, done=runner.done, failed_step=failed.step,
                              pending=pending,
                              error=f"{failed.step.value}: {failed.error}"), failed.error
    return PipelineResult(project=change.project, name=change.name, outcome=Outcome.DONE,
                          pipeline_id=runner.pipeline_id, done=runner.done), None


class _PipelineRun:
    """The steps of one PipelineChange, in order; raises _StepFailed at the first failure."""

    def __init__(self, change: PipelineChange, backend: Backend,
                 emit: Callable[[StartEvent | StepEvent | ResultEvent], None], once: _Once,
                 spec_set: str | None = None) -> None:
        self.once = once
        self.spec_set = spec_set
        self.change = change
        self.backend = backend
        self.emit = emit
        self.pipeline_id = change.pipeline_id
        self.done: list[Step] = []
        # A reset, pause or resume happened and no create or update of this plan writes the marker
        # that records it (the token, the status).
        self.marker_pending = False

    def _step(self, step: Step, fn: Callable[[], None], detail: str = "") -> None:
        try:
            fn()
        except LoopformError as exc:
            raise _StepFailed(step, exc) from exc
        self.done.append(step)
        self.emit(StepEvent(project=self.change.project, name=self.change.name, step=step, detail=detail))

    def run(self) -> None:
        change = self.change
        for resolved in change.provisions:
            if resolved.provision:
                key = (change.project_id, resolved.kind.value, resolved.id)
                provision = partial(self.backend.provision, change.project_id, resolved)
                self._step(Step.PROVISION, partial(self.once.run, key, provision),
                           f"{resolved.kind.value} {resolved.name!r}")
        writes_marker = Action.CREATE in change.actions or Action.UPDATE in change.actions
        for action in change.actions:
            match action:
                case Action.CREATE:
                    self._step(Step.CREATE, self._create)
                    self.marker_pending = False  # the created document carries the marker
                case Action.UPDATE:
                    self._step(Step.UPDATE, self._update)
                    self.marker_pending = False
                case Action.RESUME:
                    self._step(Step.RESUME, lambda: self._install())
                    self.marker_pending = not writes_marker
                case Action.PAUSE:
                    self._step(Step.PAUSE, lambda: self.backend.uninstall(self._id()))
                    self.marker_pending = not writes_marker
                case Action.RESET:
                    self._step(Step.RESET, lambda: self.backend.reset(self._id()))
                    self.marker_pending = True
                case Action.DELETE:
                    self._step(Step.DELETE, self._delete)
                case Action.NO_OP:
                    pass
                case _:  # a new Action must be handled here: mypy checks this is unreachable
                    assert_never(action)
        if self.marker_pending:
            self._write_marker()

    def _id(self) -> str:
        if not self.pipeline_id:
            raise NotFound(f"pipeline {self.change.name!r} has no id (the plan has no create for it)")
        return self.pipeline_id

    def _desired(self) -> Pipeline:
        if self.change.desired is None:
            raise LoopformError(f"the plan has no desired document for {self.change.name!r}")
        return self.change.desired.model_copy(update={"projectId": self.change.project_id})

    def _create(self) -> None:
        desired = self._desired().model_copy(update={"id": None})
        try:
            created = self.backend.create_pipeline(desired)
        except Conflict:
            # Someone created it since the plan was made: adopt it only if Loopform manages it
            # (a concurrent apply of the same specs), and make it equal the desired document.
            existing = self.backend.find_pipeline(self.change.project_id, desired.name)
            if existing is None or read_marker(existing) is None:
                raise
            created = self.backend.update_pipeline(desired.model_copy(update={"id": existing.id}))
        self.pipeline_id = created.id
        marker = read_marker(created)
        if marker is not None and marker.pipelineId != created.id:
            # The id is the server's, known only now: recorded so that a copy of this pipeline
            # (which carries this marker) is never taken for it. Until then (a crash here) the
            # pipeline is never pruned, and the next plan writes it.
            self.backend.update_pipeline(with_marker_fields(created, {"pipelineId": created.id}))

    def _update(self) -> None:
        # The marker names the pipeline it is written to (a copy carrying it is then told apart).
        desired = with_marker_fields(self._desired(), {"pipelineId": self._id()})
        self.backend.update_pipeline(desired.model_copy(update={"id": self._id()}))

    def _install(self) -> None:
        settings = (self.change.desired.settings if self.change.desired is not None else None) or {}
        option = settings.get("defaultResumeOption")
        self.backend.install(self._id(), resume_option=option if isinstance(option, str) else None)

    def _delete(self) -> None:
        try:
            live = self.backend.get_pipeline(self._id())
        except NotFound:
            return  # already gone (e.g. the answer to an earlier DELETE was lost): the goal holds
        if not owned_by(live, read_marker(live), self.spec_set):
            # The plan only deletes what this spec set applied; re-checked here because deleting is
            # final and the pipeline may have changed hands since the plan was made.
            raise Conflict(f"pipeline {live.name!r} is not managed by loopform for this spec set; refusing to delete it")
        try:
            self.backend.delete_pipeline(live.id or self._id())
        except NotFound:
            pass

    def _write_marker(self) -> None:
        """Record the applied resetToken and status in the live marker, changing nothing else; a
        MARKER step only when one of them is not recorded yet (healing a pause made elsewhere
        changes nothing Loopform recorded)."""
        try:
            live = self.backend.get_pipeline(self._id())
        except LoopformError as exc:
            raise _StepFailed(Step.MARKER, exc) from exc
        fields: dict[str, object] = {}
        if Step.RESET in self.done:
            fields["resetToken"] = self.change.reset_token
        desired = read_marker(self.change.desired)
        if desired is not None and desired.status is not None:
            fields["status"] = desired.status
        recorded = read_marker(live)
        if recorded is not None and all(getattr(recorded, k) == v for k, v in fields.items()):
            return
        def write() -> None:
            self.backend.update_pipeline(with_marker_fields(live, fields, fallback=self.change.desired))

        self._step(Step.MARKER, write)
