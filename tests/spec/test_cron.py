"""Cron expressions, field by field."""

from __future__ import annotations

import re

import pytest

from reconciler.spec.cron import CRON_PATTERN, cron_problem

VALID = ["0 */6 * * *", "*/5 1-3 ? JAN,mar 0", "0 0 * * MON-FRI", "0 0 1,15 * 7", "30 0 0 * * *", "0 8-18/2 * * 1-5",
         "05 5/15 * * *"]


@pytest.mark.parametrize("expression", VALID)
def test_valid_expressions_pass(expression: str) -> None:
    assert cron_problem(expression) is None


@pytest.mark.parametrize(("expression", "problem"), [
    ("99 * * * *", "the minute field '99' is outside 0-59"),
    ("0 24 * * *", "the hour field '24' is outside 0-23"),
    ("0 0 0 * *", "the day-of-month field '0' is outside 1-31"),
    ("0 0 * FOO *", "the month field 'FOO' is outside 1-12 or JAN-DEC"),
    ("0 0 * * 8", "the day-of-week field '8' is outside 0-7 or SUN-SAT"),
    ("60 0 0 * * *", "the seconds field '60' is outside 0-59"),
    ("*/0 * * * *", "the minute field step '0' must be a whole number from 1 to 59"),
    ("? * * * *", "the minute field '?' is outside 0-59"),
    ("1,,2 * * * *", "the minute field '' is not a value, range or step (allowed: 0-59, *, N-M, */N)"),
    ("* * * *", "expected 5 or 6 space-separated fields, got 4"),
    ("\u0663 * * * *", "the minute field '\u0663' is outside 0-59"),  # an Arabic-Indic digit
])
def test_each_problem_names_the_field_and_its_range(expression: str, problem: str) -> None:
    assert cron_problem(expression) == problem


@pytest.mark.parametrize("expression", [*VALID, "99 * * * *", "0 0 * * 8", "*/0 * * * *", "1,,2 * * * *",
                                        "0 0 * FOO *", "? * * * *", "60 0 0 * * *", "1 2 3 4 5 6 7"])
def test_the_schema_pattern_accepts_what_validate_accepts(expression: str) -> None:
    assert (re.search(CRON_PATTERN, expression) is not None) == (cron_problem(expression) is None)
