"""Cron expressions of cron triggers: five fields (minute hour day-of-month month day-of-week), each
`*`, a number, a range `a-b`, a step `*/n` or `a-b/n`, or a comma list of those; day-of-week 0-7
with 0 and 7 Sunday. As in cron, when both day fields are restricted either may match. Pure, but
for `Clock`, the time the cron loop of `loopform serve` keeps (a test gives it one it drives)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The time now, in UTC."""
        ...

    def wait_until(self, at: datetime, stop: threading.Event) -> bool:
        """Block until `at`, or until `stop` is set; True when stopped."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def wait_until(self, at: datetime, stop: threading.Event) -> bool:
        while (left := (at - self.now()).total_seconds()) > 0:
            if stop.wait(left):
                return True
        return stop.is_set()

_FIELDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))


def _values(field: str, low: int, high: int) -> set[int]:
    found: set[int] = set()
    for part in field.split(","):
        span, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ValueError(f"a step must be positive: {part!r}")
        if span == "*":
            start, end = low, high
        elif "-" in span:
            first, _, last = span.partition("-")
            start, end = int(first), int(last)
        else:
            start = int(span)
            end = high if step_text else start
        if not low <= start <= end <= high:
            raise ValueError(f"{part!r} is outside {low}-{high}")
        found.update(range(start, end + 1, step))
    return found


def matches(expression: str, at: datetime) -> bool:
    """Whether the minute `at` is one the expression names; ValueError if it is not a cron expression."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"a cron expression has 5 fields, got {len(fields)}")
    minutes, hours, days, months, weekdays = (_values(f, lo, hi) for f, (lo, hi) in zip(fields, _FIELDS, strict=True))
    weekday = (at.weekday() + 1) % 7  # cron counts from Sunday = 0
    day_ok = at.day in days
    weekday_ok = weekday in weekdays or (weekday == 0 and 7 in weekdays)
    restricted = fields[2] != "*" and fields[4] != "*"
    on_day = (day_ok or weekday_ok) if restricted else (day_ok and weekday_ok)
    return at.minute in minutes and at.hour in hours and at.month in months and on_day
