"""`loopform serve` fires cron triggers as its clock reaches their minutes: the serving function runs
with a clock the test drives (no minute-long sleep), minute by minute."""

from __future__ import annotations

import argparse
import io
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from harness import applied_project

from reconciler.commands import serve
from reconciler.server.store import Store
from reconciler.terminal import Terminal

DEADLINE = 120.0  # seconds the serving thread may take to reach a wait, on a loaded machine

SPEC = """\
apiVersion: loopform/v1
kind: Pipeline
metadata: {name: ticking, project: local}
spec:
  status: installed
  nodes:
    tick:
      type: code
      inputs: []
      trigger: {cron: "30-59 9 * * *"}
      code: |
        def run():
            print("tick")
"""


class ManualClock:
    """A clock that moves only when the test says; it tells which time the cron loop waits for."""

    def __init__(self, now: datetime) -> None:
        self._now = now
        self._changed = threading.Condition()
        self.waiting_for: datetime | None = None

    def now(self) -> datetime:
        with self._changed:
            return self._now

    def wait_until(self, at: datetime, stop: threading.Event) -> bool:
        with self._changed:
            self.waiting_for = at
            self._changed.notify_all()
            while self._now < at and not stop.is_set():
                self._changed.wait(0.05)  # also sees `stop`, which the serving side sets
            self.waiting_for = None
            return stop.is_set()

    def advance(self, to: datetime) -> None:
        with self._changed:
            self._now = to
            self._changed.notify_all()

    def wait_for_sleep_until(self, at: datetime) -> None:
        """Until the cron loop waits for `at`: the minutes before it are done."""
        with self._changed:
            assert self._changed.wait_for(lambda: self.waiting_for == at, timeout=DEADLINE), self.waiting_for


def _wait_until(done: Callable[[], bool]) -> None:
    deadline = time.monotonic() + DEADLINE
    while not done():
        assert time.monotonic() < deadline, "never happened"
        time.sleep(0.05)


def _cycles(db: Path) -> list[dict]:
    store = Store(db)
    try:
        (pipeline,) = [p for p in store.pipelines_in({p["id"] for p in store.projects_named("local")})]
        return store.executions_of(pipeline["id"])
    finally:
        store.close()


def test_serve_fires_a_cron_trigger_when_its_clock_reaches_the_minute(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    db = applied_project(tmp_path, monkeypatch, {"ticking.yaml": SPEC})
    clock = ManualClock(datetime(2026, 11, 30, 9, 28, 40, tzinfo=UTC))
    stop = threading.Event()
    args = argparse.Namespace(host="127.0.0.1", port=0, db=db, project="local", strict=False, token_file=None,
                              dtlpy_login=None)
    term = Terminal(out=io.StringIO(), err=io.StringIO(), colour=False, unicode=True)
    served = threading.Thread(target=serve._run, args=(args, term, stop), kwargs={"clock": clock})
    served.start()
    try:
        clock.wait_for_sleep_until(datetime(2026, 11, 30, 9, 29, tzinfo=UTC))
        clock.advance(datetime(2026, 11, 30, 9, 29, 0, 300000, tzinfo=UTC))  # 9:29: not the trigger's minute
        clock.wait_for_sleep_until(datetime(2026, 11, 30, 9, 30, tzinfo=UTC))
        assert _cycles(db) == []
        clock.advance(datetime(2026, 11, 30, 9, 30, 1, tzinfo=UTC))  # 9:30, a second late
        clock.wait_for_sleep_until(datetime(2026, 11, 30, 9, 31, tzinfo=UTC))
        assert len(_cycles(db)) == 1
        # the machine slept through 9:31-9:44: the minute it wakes in fires, not a burst of the missed ones
        clock.advance(datetime(2026, 11, 30, 9, 45, 20, tzinfo=UTC))
        clock.wait_for_sleep_until(datetime(2026, 11, 30, 9, 46, tzinfo=UTC))
        _wait_until(lambda: {c["status"] for c in _cycles(db)} == {"success"})  # a stop would end the runs
    finally:
        stop.set()
        served.join()
    cycles = _cycles(db)
    assert [c["status"] for c in cycles] == ["success", "success"]
    assert [e["log"] for c in cycles for listed in c["executions"].values() for e in listed] == ["tick\n", "tick\n"]
    assert "Stopped." in term.out.getvalue()  # type: ignore[attr-defined]
