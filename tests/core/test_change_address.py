"""Changes carry typed addresses (section, key, field, kind); readers use them, not the path text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.plan import ChangeKind, ChangeOp, FieldChange
from reconciler.render.values import describe

GOLDEN_PLANS = sorted((Path(__file__).resolve().parents[1] / "scenarios" / "golden").glob("*.json"))
ADDRESS = ("section", "key", "field", "kind")


@pytest.mark.parametrize("golden", GOLDEN_PLANS, ids=[p.stem for p in GOLDEN_PLANS])
def test_a_plan_saved_before_addresses_reads_with_the_diffs_addresses(golden: Path) -> None:
    """The golden plans' changes carry the addresses the diff gave them; the same change without
    them (a plan saved by an earlier Loopform) is read with exactly those addresses."""
    changes = [c for p in json.loads(golden.read_text())["pipelines"] for c in p["changes"]]
    for change in changes:
        assert set(ADDRESS) <= set(change)
        legacy = {k: v for k, v in change.items() if k not in ADDRESS}
        assert FieldChange.model_validate(legacy) == FieldChange.model_validate(change)


def test_the_path_is_the_rendering_of_the_address() -> None:
    change = FieldChange.at("connections", "a.item[complete] -> b.item", "filter", before={}, after={"x": 1})
    assert change.path == "connections.a.item[complete] -> b.item.filter"
    assert (change.key, change.field, change.kind) == ("a.item[complete] -> b.item", "filter", ChangeKind.VALUE)
    rename = FieldChange.at("nodes", "b", op=ChangeOp.RENAME, before="nodes.a", after="nodes.b")
    assert (rename.path, rename.kind) == ("nodes.b", ChangeKind.RENAME)


def test_a_rewire_is_told_by_its_kind_not_by_its_values() -> None:
    # A malformed condition stays a string (normalize.parse_json_text): one that starts with "-> "
    # is still a value, shown quoted, not a rewire with its arrows cut off.
    change = FieldChange.at("connections", "a.item -> b.item", "filter", before="-> x", after="-> y")
    assert describe(change) == 'connections.a.item -> b.item.filter: "-> x" -> "-> y"'
    rewire = FieldChange.at("connections", "a.item", before="-> b.item", after="-> c.item", kind=ChangeKind.REWIRE)
    assert describe(rewire) == "connections.a.item: b.item -> c.item"
