"""Automatic layout: layers by longest path, rows in spec order, cycles tolerated."""

from __future__ import annotations

from reconciler.layout import COLUMN_PX, ORIGIN_X, ORIGIN_Y, ROW_PX, layered_positions


def test_layers_follow_the_longest_path() -> None:
    pos = layered_positions(["a", "b", "c", "d"], [("a", "b"), ("b", "c"), ("a", "c"), ("a", "d")])
    col = {k: round((x - ORIGIN_X) / COLUMN_PX) for k, (x, _) in pos.items()}
    assert col == {"a": 0, "b": 1, "c": 2, "d": 1}
    assert pos["b"][1] == ORIGIN_Y and pos["d"][1] == ORIGIN_Y + ROW_PX  # same layer: stacked in spec order


def test_cycles_and_unknown_keys_do_not_break_layout() -> None:
    pos = layered_positions(["a", "b"], [("a", "b"), ("b", "a"), ("a", "zzz")])
    assert set(pos) == {"a", "b"}
    assert len(set(pos.values())) == 2  # no two nodes on one spot
