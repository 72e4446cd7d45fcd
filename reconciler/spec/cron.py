"""Cron expressions checked field by field, so that `99 * * * *` is refused at validate time with
the field and its range instead of by the platform at apply (or never, by a schedule that never fires).

Five fields (minute hour day-of-month month day-of-week), or six with seconds first, as the
platform's scheduler reads them. Each field is a comma-separated list of `*`, `N`, `N-M`, each
optionally `/STEP`; months and weekdays may be written as names (`JAN`, `MON`), day-of-week 7 is
Sunday like 0, and `?` ("no specific value") is accepted in the two day fields.

`CRON_PATTERN` is the same rule as one regular expression, for the published JSON Schema (built
from the same field table, so that the schema and `validate` accept the same expressions).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()  # names for low, low+1, ...
    question: bool = False  # `?` allowed


_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_SECOND = _Field("seconds", 0, 59)
_FIVE = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day-of-month", 1, 31, question=True),
    _Field("month", 1, 12, _MONTHS),
    _Field("day-of-week", 0, 7, _DAYS, question=True),
)
_PART = re.compile(r"^(?P<range>\*|[^-/]+(?:-[^-/]+)?)(?:/(?P<step>[^/]*))?$")
_DIGITS = re.compile(r"[0-9]+")  # not str.isdigit: that takes any script's digits


def _numbers_regex(low: int, high: int) -> str:
    """`low`..`high` (at most 99), with any leading zeros: `0*(?:[0-9]|1[0-9]|...)`."""
    alternatives = [f"[{low}-{min(9, high)}]"] if low <= 9 else []
    for tens in range(max(1, low // 10), high // 10 + 1):
        alternatives.append(f"{tens}[{max(0, low - tens * 10)}-{min(9, high - tens * 10)}]")
    return f"0*(?:{'|'.join(alternatives)})"


def _field_regex(field: _Field) -> str:
    names = ["".join(f"[{c}{c.lower()}]" for c in name) for name in field.names]
    value = "|".join([_numbers_regex(field.low, field.high), *names])
    part = f"(?:\\*|(?:{value})(?:-(?:{value}))?)(?:/{_numbers_regex(1, field.high)})?"
    listed = f"{part}(?:,{part})*"
    return f"(?:\\?|{listed})" if field.question else f"(?:{listed})"


def cron_problem(expression: str) -> str | None:
    """What is wrong with `expression`, naming the field and its range; None when it is valid."""
    values = expression.split()
    if len(values) not in (5, 6):
        return f"expected 5 or 6 space-separated fields, got {len(values)}"
    fields = _FIVE if len(values) == 5 else (_SECOND, *_FIVE)
    for field, value in zip(fields, values):
        why = _field_problem(field, value)
        if why:
            return f"the {field.name} field {why}"
    return None


def _field_problem(field: _Field, value: str) -> str | None:
    allowed = f"{field.low}-{field.high}"
    if field.names:
        allowed += f" or {field.names[0]}-{field.names[-1]}"
    if value == "?" and field.question:
        return None
    for part in value.split(","):
        found = _PART.match(part)
        if found is None:
            return f"{part!r} is not a value, range or step (allowed: {allowed}, *, N-M, */N)"
        bounds = found.group("range")
        if bounds != "*":
            for text in bounds.split("-"):
                if _number(field, text) is None:
                    return f"{text!r} is outside {allowed}"
        step = found.group("step")
        if step is not None and not (_DIGITS.fullmatch(step) and 1 <= int(step) <= field.high):
            return f"step {step!r} must be a whole number from 1 to {field.high}"
    return None


def _number(field: _Field, text: str) -> int | None:
    """The field value `text` stands for, or None when it is not one of the field's."""
    if _DIGITS.fullmatch(text):
        number = int(text)
        return number if field.low <= number <= field.high else None
    upper = text.upper()
    if upper in field.names:
        return field.low + field.names.index(upper)
    return None


CRON_PATTERN = (f"^(?:{_field_regex(_SECOND)}\\s+)?"
                + "\\s+".join(_field_regex(field) for field in _FIVE) + "$")


def named_values(expression: str) -> list[set[int] | None]:
    """The values each of the five fields of a valid expression names (minute, hour,
    day-of-month, month, day-of-week; a seconds field is left out: a schedule read minute by
    minute fires once in a minute it names); None for `*` and `?`, which name every value.
    ValueError with `cron_problem`'s message for an invalid expression, and for a range that
    runs backwards (`5-1`)."""
    problem = cron_problem(expression)
    if problem:
        raise ValueError(problem)
    texts = expression.split()[-5:]
    return [None if text in ("*", "?") else _values(field, text) for field, text in zip(_FIVE, texts, strict=True)]


def _values(field: _Field, text: str) -> set[int]:
    found: set[int] = set()
    for part in text.split(","):
        found_part = _PART.match(part)
        assert found_part is not None  # cron_problem checked it
        bounds, step_text = found_part.group("range"), found_part.group("step")
        step = int(step_text) if step_text else 1
        first, _, last = bounds.partition("-")
        start = field.low if bounds == "*" else _number(field, first)
        end = field.high if bounds == "*" or (not last and step_text) else _number(field, last or first)
        assert start is not None and end is not None  # cron_problem checked them
        if end < start:
            raise ValueError(f"the {field.name} field's range {part!r} runs backwards")
        found.update(range(start, end + 1, step))
    return found
