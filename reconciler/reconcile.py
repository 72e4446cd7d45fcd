"""The drift-healing loop behind `loopform reconcile`: plan, decide what is safe, apply, wait.

One cycle:
1. make a plan (the caller's `make_plan`: load the specs afresh, so a `git pull` is picked up);
2. hold back pipelines edited outside Loopform within `cooldown` (drifted from what Loopform
   applied, or never managed by it, and live `updatedAt` that recent: a person may still be
   working on it);
3. count the remaining changes; more than `max_changes` -> report and apply nothing (a large drift
   is more likely a mistake, e.g. specs for the wrong project, than something to overwrite);
4. apply the rest with `apply_plan`.
Deletes never happen unless `prune` (the caller plans with `prune=options.prune`; `select` also
drops any delete as a second line of defence).

Each cycle ends in a `CycleReport` handed to `log` (the command prints it as one JSON line). When
planning or applying fails, the wait before the next cycle doubles (up to `max_backoff`) until a
cycle succeeds. `stop` (set by SIGTERM) ends the loop during the wait, or during an apply once the
pipelines in progress have finished (the others are reported not attempted, hence `failed`).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from reconciler.apply import Outcome, apply_plan
from reconciler.backend import Backend
from reconciler.errors import ConfigError, LoopformError, NotFound, SpecErrors
from reconciler.plan import Action, ChangeOp, PipelineChange, Plan

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def parse_duration(text: str, *, flag: str) -> float:
    """Seconds in `text`: `250ms`, `30s`, `5m`, `1h`, `1d`, or a plain number of seconds."""
    match = _DURATION.match(text)
    if not match:
        raise ConfigError(f"{flag} {text!r}: expected a duration like 30s, 5m, 1h or 250ms")
    return float(match.group(1)) * _UNIT[match.group(2)]


@dataclass(frozen=True)
class ReconcileOptions:
    interval: float  # seconds between the start of one cycle and the next
    max_changes: int | None = None  # None: no limit
    prune: bool = False
    cooldown: float = 0.0  # seconds
    max_backoff: float = 300.0
    max_cycles: int | None = None  # None: until stopped; `--once` is 1


Result = Literal["in-sync", "applied", "refused", "held", "failed"]


class CycleReport(BaseModel):
    """What one cycle saw and did (the JSON log line's fields are a public format: add, never rename)."""

    model_config = ConfigDict(frozen=True)

    event: Literal["cycle"] = "cycle"
    cycle: int
    started_at: str
    result: Result
    changes: int = 0  # changes planned after holding back pipelines in cooldown
    max_changes: int | None = None
    applied: list[str] = Field(default_factory=list)  # project/name
    failed: list[str] = Field(default_factory=list)
    held: list[str] = Field(default_factory=list)  # in cooldown
    skipped_deletes: list[str] = Field(default_factory=list)  # planned deletes dropped (no --prune)
    error: str | None = None
    duration_s: float = 0.0
    next_in_s: float | None = None  # None: the loop ends


@dataclass(frozen=True)
class Selection:
    """`select`'s decision for one plan."""

    plan: Plan  # what may be applied (empty when refused)
    changes: int
    held: list[str]
    skipped_deletes: list[str]
    refused: bool


def change_count(change: PipelineChange) -> int:
    """How many changes a pipeline contributes to the --max-changes budget: one per field change
    the plan shows (a status move with no field change counts one)."""
    if not change.has_changes:
        return 0
    return max(1, len(change.changes))


def edited_outside(change: PipelineChange) -> bool:
    """Whether live was last shaped outside Loopform: it drifted from what Loopform applied, or
    Loopform never managed it (a pipeline someone built under a name a spec claims)."""
    return any(c.drift or (c.path == "managedBy" and c.op is ChangeOp.ADD) for c in change.changes)


def _who(change: PipelineChange) -> str:
    return f"{change.project}/{change.name}"


def select(plan: Plan, *, updated_at: Mapping[str, datetime], now: datetime,
           options: ReconcileOptions) -> Selection:
    """Pure: which of `plan`'s pipelines this cycle may apply.

    `updated_at` maps pipeline ids to their live `updatedAt` (needed only for drifted pipelines).
    """
    keep: list[PipelineChange] = []
    held: list[str] = []
    skipped: list[str] = []
    for change in plan.pipelines:
        if not change.has_changes:
            continue
        if Action.DELETE in change.actions and not options.prune:
            skipped.append(_who(change))
            continue
        edited = updated_at.get(change.pipeline_id or "")
        if (options.cooldown > 0 and edited is not None and edited_outside(change)
                and (now - edited).total_seconds() < options.cooldown):
            held.append(_who(change))
            continue
        keep.append(change)
    total = sum(change_count(c) for c in keep)
    refused = options.max_changes is not None and total > options.max_changes
    chosen = [] if refused else keep
    # Everything else the plan says (its spec set, which apply re-checks deletes against) is kept.
    kept = plan.model_copy(update={"pipelines": chosen})
    return Selection(plan=kept, changes=total, held=held, skipped_deletes=skipped, refused=refused)


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def live_updated_at(plan: Plan, backend: Backend) -> dict[str, datetime]:
    """`updatedAt` of each live pipeline the plan would change that was edited outside Loopform
    (one GET each; in sync and Loopform-made changes need none)."""
    found: dict[str, datetime] = {}
    for change in plan.pipelines:
        if change.pipeline_id and change.has_changes and edited_outside(change):
            try:
                live = backend.get_pipeline(change.pipeline_id)
            except NotFound:
                continue
            when = _parse_time(live.updatedAt)
            if when is not None:
                found[change.pipeline_id] = when
    return found


class Reconciler:
    """Runs cycles until `stop` is set or `options.max_cycles` cycles have run.

    Give `backend`, or `connect` to make it on the first cycle that gets that far: an API that is
    down when the loop starts is then a failed cycle (retried with backoff), not the end of it.
    """

    def __init__(self, *, make_plan: Callable[[], Plan], options: ReconcileOptions,
                 log: Callable[[CycleReport], None], backend: Backend | None = None,
                 connect: Callable[[], Backend] | None = None, stop: threading.Event | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        if (backend is None) == (connect is None):
            raise ValueError("give exactly one of backend and connect")
        self.make_plan = make_plan
        self.backend = backend
        self.connect = connect
        self.options = options
        self.log = log
        self.stop = stop or threading.Event()
        self.clock = clock
        self.failures = 0  # consecutive failed cycles (drives the backoff)

    def cycle(self, number: int) -> CycleReport:
        """One plan-select-apply pass. Never raises a LoopformError: failures are in the report."""
        started = self.clock()
        fields: dict[str, object] = {"cycle": number, "started_at": started.isoformat(timespec="milliseconds"),
                                     "max_changes": self.options.max_changes}
        try:
            if self.backend is None:
                assert self.connect is not None
                self.backend = self.connect()
            plan = self.make_plan()
            chosen = select(plan, updated_at=live_updated_at(plan, self.backend), now=self.clock(),
                            options=self.options)
            fields.update(changes=chosen.changes, held=chosen.held, skipped_deletes=chosen.skipped_deletes)
            if chosen.refused:
                fields.update(result="refused", error=f"{chosen.changes} changes planned, more than "
                                                      f"--max-changes {self.options.max_changes}; nothing applied")
            elif not chosen.plan.has_changes:
                fields.update(result="held" if chosen.held else "in-sync")
            else:
                outcome = apply_plan(chosen.plan, self.backend, stop=self.stop)
                applied = [f"{r.project}/{r.name}" for r in outcome.results if r.outcome is Outcome.DONE]
                failed = [f"{r.project}/{r.name}" for r in outcome.results
                          if r.outcome in (Outcome.FAILED, Outcome.NOT_ATTEMPTED)]
                errors = [f"{r.project}/{r.name}: {r.error}" for r in outcome.results if r.error]
                fields.update(applied=applied, failed=failed,
                              result="applied" if outcome.ok else "failed",
                              error="; ".join(errors) or None)
        except SpecErrors as exc:
            fields.update(result="failed", error="; ".join(str(e) for e in exc.errors))
        except LoopformError as exc:
            fields.update(result="failed", error=str(exc))
        fields["duration_s"] = round((self.clock() - started).total_seconds(), 3)
        return CycleReport.model_validate(fields)

    def wait_after(self, report: CycleReport) -> float:
        """Seconds to wait before the next cycle: the interval, doubled per consecutive failure."""
        if report.result == "failed":
            self.failures += 1
            return min(self.options.interval * (2 ** self.failures), max(self.options.max_backoff,
                                                                          self.options.interval))
        self.failures = 0
        return self.options.interval

    def run(self) -> list[CycleReport]:
        """Cycle until stopped; returns every report (also passed to `log` as it happens)."""
        reports: list[CycleReport] = []
        number = 0
        while not self.stop.is_set():
            number += 1
            tick = time.monotonic()
            report = self.cycle(number)
            last = self.options.max_cycles is not None and number >= self.options.max_cycles
            wait = None if last else max(0.0, self.wait_after(report) - (time.monotonic() - tick))
            report = report.model_copy(update={"next_in_s": None if wait is None else round(wait, 3)})
            reports.append(report)
            self.log(report)
            if wait is None or self.stop.wait(wait):
                break
        return reports
