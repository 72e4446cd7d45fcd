"""Cron triggers: the expression matcher, and a minute's tick starting cycles of installed
pipelines only (the tick is called with the minute; `loopform serve` calls it every minute)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from reconciler.server.engine import cron

if TYPE_CHECKING:
    from conftest import Api

MONDAY_0930 = datetime(2026, 11, 30, 9, 30, tzinfo=UTC)  # a Monday


@pytest.mark.parametrize(("expression", "expected"), [
    ("* * * * *", True), ("30 9 * * *", True), ("*/15 * * * *", True), ("*/7 * * * *", False),
    ("0-29 * * * *", False), ("25-35/5 9 * * *", True), ("30 9 * * 1", True), ("30 9 * * 0,7", False),
    ("30 9 1 * 1", True),  # both day fields restricted: either may match
    ("30 9 1 * *", False), ("30 9 30 11 *", True), ("30 9 * 12 *", False),
])
def test_cron_expressions_name_minutes(expression: str, expected: bool) -> None:
    assert cron.matches(expression, MONDAY_0930) is expected


@pytest.mark.parametrize(("expression", "expected"), [
    ("30 9 * * MON", True), ("30 9 * * mon-fri", True), ("30 9 * * SAT,SUN", False), ("30 9 ? NOV MON", True),
    ("30 9 * DEC *", False), ("0 30 9 * * *", True), ("*/10 30 9 * * *", True), ("* 31 9 * * *", False),
])
def test_names_question_marks_and_a_seconds_field_are_read_as_the_spec_validator_reads_them(
        expression: str, expected: bool) -> None:
    # The engine read five numeric fields only: the validator's `0 9 * * MON` or a seconds field
    # were refused each minute and the schedule never fired. A seconds field fires once a minute.
    assert cron.matches(expression, MONDAY_0930) is expected


@pytest.mark.parametrize("expression", ["* * * *", "61 * * * *", "*/0 * * * *", "a * * * *", "5-1 * * * *",
                                        "* * * * * * *"])
def test_what_is_not_a_cron_expression_is_refused(expression: str) -> None:
    with pytest.raises(ValueError):
        cron.matches(expression, MONDAY_0930)


def test_a_tick_starts_cycles_of_installed_pipelines_whose_cron_names_the_minute(api: Api) -> None:
    doc = api.sample("engine-cron")
    doc["nodes"][1]["config"]["package"]["code"] = "def run(item=None):\n    return None\n"
    doc["nodes"], doc["connections"] = [doc["nodes"][1]], []
    doc["nodes"][0]["inputs"] = []
    cut = doc["nodes"][0]["id"]
    doc["startNodes"] = [{"nodeId": cut, "type": "root",
                          "trigger": {"type": "Cron", "spec": {"cron": "30 9 * * *"}}}]
    pipeline = api.ok(api.post("/pipelines", doc))
    engine = api.server.control_plane.engine
    assert engine.cron_tick(MONDAY_0930) == 0  # not installed
    api.ok(api.post(f"/pipelines/{pipeline['id']}/install", {}))
    assert engine.cron_tick(MONDAY_0930.replace(minute=31)) == 0
    assert engine.cron_tick(MONDAY_0930.replace(second=12)) == 1
    engine.drain()
    (cycle,) = api.ok(api.post("/pipelines/query", {"filter": {"pipelineId": pipeline["id"]},
                                                    "resource": "pipelineState"}))["items"]
    assert cycle["status"] == "success" and cycle["startNodeId"] == cut
    api.ok(api.post(f"/pipelines/{pipeline['id']}/uninstall", {}))
    assert engine.cron_tick(MONDAY_0930) == 0  # paused
