"""Saved plans (reconciler.planfile): one reader for show and apply, the action grammar checked on
load, secrets written by name and put back only when asked."""

from __future__ import annotations

from pathlib import Path

import pytest
from docs import change, document, plan

from reconciler import planfile
from reconciler.errors import ConfigError, PlanError
from reconciler.plan import Action, invalid_actions

A, C, D, N, P, R, U = (Action.RESUME, Action.CREATE, Action.DELETE, Action.NO_OP, Action.PAUSE, Action.RESET,
                       Action.UPDATE)


@pytest.mark.parametrize("actions", [[C], [C, A], [D], [N], [P], [R], [U], [A], [P, U], [P, R, U, A], [R, U],
                                     [U, A], [P, A]])
def test_the_action_grammar_takes_what_diff_writes(actions: list[Action]) -> None:
    assert invalid_actions(actions) is None


@pytest.mark.parametrize("actions", [[A, C], [C, U], [U, R], [A, P], [D, C], [N, U], [U, U], [C, D]])
def test_the_action_grammar_refuses_other_orders(actions: list[Action]) -> None:
    assert invalid_actions(actions) == ",".join(a.value for a in actions)


def test_a_saved_plan_whose_actions_break_the_grammar_is_refused_on_load(tmp_path: Path) -> None:
    # Apply runs actions as they come: an update before the reset would record the token first,
    # and a crash between them would lose the reset (see apply.py).
    path = tmp_path / "edited.plan"
    planfile.write(plan(change("p", "frames", [U, R], desired=document("frames", "p"), pipeline_id="x")), path)
    with pytest.raises(PlanError, match="the actions of local/frames are not a plan's: update,reset"):
        planfile.read(path)


def test_one_reader_secrets_stay_named_unless_asked_for(tmp_path: Path) -> None:
    desired = document("frames", "p", label="hook-5678-")
    path = tmp_path / "x.plan"
    planfile.write(plan(change("p", "frames", [C], desired=desired)), path, secrets={"hook": "hook-5678"})
    assert "hook-5678" not in path.read_text()
    shown = planfile.read(path)  # show: the placeholders are what it renders
    assert {n.name for n in shown.pipelines[0].desired.nodes} == {"(sensitive:hook)-0", "(sensitive:hook)-1"}
    applied = planfile.read(path, secret={"hook": "hook-5678"}.get)  # apply: the values go back
    assert applied.pipelines[0].desired == desired


def test_what_is_not_a_plan_is_one_error_whoever_reads_it(tmp_path: Path) -> None:
    (tmp_path / "junk.plan").write_text('{"format_version": 7}')
    with pytest.raises(PlanError, match="not a loopform plan file"):
        planfile.read(tmp_path / "junk.plan")
    with pytest.raises(PlanError, match="not a loopform plan file"):
        planfile.read(tmp_path / "junk.plan", secret={}.get)
    with pytest.raises(ConfigError, match="cannot read the plan"):
        planfile.read(tmp_path / "missing.plan", secret={}.get)
