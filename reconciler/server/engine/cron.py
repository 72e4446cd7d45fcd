"""Cron expressions of cron triggers, read as the spec validator reads them (five fields, or six
with seconds first; numbers, ranges, steps, lists, month and weekday names, `?`); as in cron,
when both day fields are restricted either may match. Pure, but for `Clock`, the time the cron
loop of `loopform serve` keeps (a test gives it one it drives)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Protocol

from reconciler.spec.cron import named_values


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

def matches(expression: str, at: datetime) -> bool:
    """Whether the minute `at` is one the expression names; ValueError if it is not a cron expression.

    The spec validator's rule (reconciler.spec.cron): five fields, or six with seconds first,
    month and weekday names, `?` in a day field. A seconds field does not make a schedule fire
    more than once a minute (`* * * * * *` is every minute here, not every second)."""
    minutes, hours, days, months, weekdays = named_values(expression)
    weekday = (at.weekday() + 1) % 7  # cron counts from Sunday = 0
    day_ok = days is None or at.day in days
    weekday_ok = weekdays is None or weekday in weekdays or (weekday == 0 and 7 in weekdays)
    restricted = days is not None and weekdays is not None
    on_day = (day_ok or weekday_ok) if restricted else (day_ok and weekday_ok)
    return all(values is None or now in values for values, now in
               ((minutes, at.minute), (hours, at.hour), (months, at.month))) and on_day
