"""Every output of one plan tells the same story (issue 9.3): the summary line's counts, the exit
code of `--detailed-exitcode`, the JSON plan, and apply's result lines.

A property over the kinds of change the golden scenarios cover, one at a time and in random
sequences (seeded, bounded, so every run makes the same sequences), spec edits mixed with edits
made outside Loopform. After each step: plan (text and JSON) and apply agree, and a second plan
finds nothing left to do.
"""

from __future__ import annotations

import copy
import json
import random
import re
from collections.abc import Callable
from typing import Any

import pytest
from conftest import BASE_SPEC, World, cli

from reconciler.compile import deterministic_id
from reconciler.plan import steps_text

Spec = dict[str, Any]
_HEADER = re.compile(r"^\S+ pipeline (\S+) \((.*)\)$")
_SUMMARY = re.compile(r"^Plan: (\d+) to create, (\d+) to update, (\d+) to delete, (\d+) status changes\.$")
_DONE = re.compile(r"^done\s+(\S+) \((.*)\)$")


def _nodes(spec: Spec) -> dict[str, Any]:
    return spec["spec"]["nodes"]


def _set_recipe(world: World, spec: Spec, rng: random.Random) -> None:
    label = next(k for k in _nodes(spec) if k.startswith("label"))
    _nodes(spec)[label]["task"]["recipe"] = rng.choice(["default", "strict", "loose"])


def _toggle_status(world: World, spec: Spec, rng: random.Random) -> None:
    spec["spec"]["status"] = "paused" if spec["spec"].get("status", "installed") == "installed" else "installed"


def _bump_token(world: World, spec: Spec, rng: random.Random) -> None:
    spec["spec"]["resetToken"] = f"r{rng.randint(2, 10_000)}"


def _add_or_remove_trash(world: World, spec: Spec, rng: random.Random) -> None:
    label = next(k for k in _nodes(spec) if k.startswith("label"))
    conns = spec["spec"]["connections"]
    if "trash" in _nodes(spec):
        del _nodes(spec)["trash"]
        spec["spec"]["connections"] = [c for c in conns if c["to"] != "trash"]
    else:
        _nodes(spec)["trash"] = {"type": "dataset", "dataset": "trash", "name": rng.choice(["Trash", "Bin"])}
        conns.append({"from": label, "action": "discard", "to": "trash"})


def _change_filter(world: World, spec: Spec, rng: random.Random) -> None:
    last = spec["spec"]["connections"][3]
    last["filter"] = {"metadata.user.score": {"$gt": rng.randint(1, 9) / 10}}


def _toggle_trigger(world: World, spec: Spec, rng: random.Random) -> None:
    videos = _nodes(spec)["videos"]
    videos["trigger"] = ({"cron": f"0 */{rng.randint(2, 12)} * * *"} if "event" in videos["trigger"]
                         else copy.deepcopy(BASE_SPEC["spec"]["nodes"]["videos"]["trigger"]))


def _change_variables(world: World, spec: Spec, rng: random.Random) -> None:
    spec["spec"]["variables"] = [{"name": "threshold", "type": "Float", "value": rng.randint(1, 9) / 10}]


def _rename_label_keeping_its_id(world: World, spec: Spec, rng: random.Random) -> None:
    old = next(k for k in _nodes(spec) if k.startswith("label"))
    new = "label-bee" if old == "label" else "label"
    backend = world.backend()
    try:
        project_id = backend.project("local").id
    finally:
        backend.close()
    node = _nodes(spec)[old]
    # The id the node has had since the first apply (from its first key, made deterministically).
    node.setdefault("id", deterministic_id(project_id, "frames", "label"))
    spec["spec"]["nodes"] = {(new if k == old else k): v for k, v in _nodes(spec).items()}
    for conn in spec["spec"]["connections"]:
        for end in ("from", "to"):
            if conn[end] == old:
                conn[end] = new


def _add_or_remove_a_pipeline(world: World, spec: Spec, rng: random.Random) -> None:
    other = world.specs / "frames-copy.yaml"
    if other.exists():
        other.unlink()
    else:
        copied = copy.deepcopy(BASE_SPEC)
        copied["metadata"]["name"] = "frames-copy"
        world.write(copied, "frames-copy.yaml")


def _pause_through_the_api(world: World, spec: Spec, rng: random.Random) -> None:
    backend = world.backend()
    try:
        live = backend.find_pipeline(backend.project("local").id, "frames")
        assert live is not None and live.id is not None
        (backend.uninstall if live.status == "Installed" else backend.install)(live.id)
    finally:
        backend.close()


def _edit_priority_through_the_api(world: World, spec: Spec, rng: random.Random) -> None:
    backend = world.backend()
    try:
        live = backend.find_pipeline(backend.project("local").id, "frames")
        assert live is not None
        nodes = [n.model_copy(update={"metadata": {**n.metadata, "priority": rng.choice([1, 3])}})
                 if n.type == "task" and "priority" in n.metadata else n for n in live.nodes]
        backend.update_pipeline(live.model_copy(update={"nodes": nodes}))
    finally:
        backend.close()


EDITS: list[Callable[[World, Spec, random.Random], None]] = [
    _set_recipe, _toggle_status, _bump_token, _add_or_remove_trash, _change_filter, _toggle_trigger,
    _change_variables, _rename_label_keeping_its_id, _add_or_remove_a_pipeline, _pause_through_the_api,
    _edit_priority_through_the_api,
]


def assert_outputs_agree() -> None:
    """Plan text, its exit code, the JSON plan and apply's result lines say the same; afterwards
    nothing is left to do."""
    text = cli("plan", "pipelines", "--prune", "--detailed-exitcode")
    as_json = cli("plan", "pipelines", "--prune", "--json")
    assert text.code in (0, 2) and as_json.code == 0, text.err + as_json.err
    plan = json.loads(as_json.out)
    summary = plan["summary"]
    changed = {f"{p['project']}/{p['name']}": steps_text(p["actions"])
               for p in plan["pipelines"] if p["actions"] != ["no-op"]}
    counts = (summary["create"], summary["update"], summary["delete"], summary["status"])

    assert summary["has_changes"] == bool(changed) == (text.code == 2) == (sum(counts) > 0), (text.out, plan)
    headers = dict(m.groups() for m in map(_HEADER.match, text.out.splitlines()) if m)
    assert headers == changed, text.out
    if changed:
        (line,) = [m.groups() for m in map(_SUMMARY.match, text.out.splitlines()) if m]
        assert tuple(map(int, line)) == counts, text.out
        # Each pipeline is counted once: created, deleted, updated, or only moved in status.
        assert summary["create"] + summary["delete"] + summary["update"] <= len(changed) <= sum(counts)
    else:
        assert text.out.startswith("No changes.")

    applied = cli("apply", "pipelines", "--prune", "--auto-approve")
    assert applied.code == 0, applied.out + applied.err
    done = dict(m.groups() for m in map(_DONE.match, applied.out.splitlines()) if m)
    assert done == changed, applied.out
    again = cli("plan", "pipelines", "--prune", "--detailed-exitcode")
    assert again.code == 0, again.out


@pytest.mark.parametrize("edit", EDITS, ids=[e.__name__.strip("_") for e in EDITS])
def test_each_kind_of_change(world: World, edit: Callable[[World, Spec, random.Random], None]) -> None:
    spec = copy.deepcopy(BASE_SPEC)
    edit(world, spec, random.Random(0))
    world.write(spec)
    assert_outputs_agree()


@pytest.mark.parametrize("seed", range(4))
def test_random_edit_sequences(world: World, seed: int) -> None:
    rng = random.Random(seed)
    spec = copy.deepcopy(BASE_SPEC)
    for _ in range(5):
        for edit in rng.sample(EDITS, rng.randint(1, 3)):
            edit(world, spec, rng)
        world.write(spec)
        assert_outputs_agree()


def test_a_spec_catching_up_with_a_pause_made_outside(world: World) -> None:
    """Only the status Loopform records moves: a marker write, counted as 1 to update (the summary
    said "0 to update" of a plan that has a change, and exited 2)."""
    spec = copy.deepcopy(BASE_SPEC)
    _pause_through_the_api(world, spec, random.Random(0))
    _toggle_status(world, spec, random.Random(0))
    world.write(spec)
    assert "1 to update" in cli("plan", "pipelines").out
    assert_outputs_agree()
