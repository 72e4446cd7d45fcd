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


def test_layers_are_ordered_to_avoid_crossings_and_centred() -> None:
    # Spec order puts d above c; drawn that way a->c and b->d would cross.
    pos = layered_positions(["a", "b", "d", "c"], [("a", "c"), ("b", "d")])
    assert pos["c"][1] < pos["d"][1]
    # A lone root sits level with the middle of the branches it feeds.
    pos = layered_positions(["r", "x", "y", "z"], [("r", "x"), ("r", "y"), ("r", "z")])
    assert pos["r"][1] == pos["y"][1] == ORIGIN_Y + ROW_PX


def _crossings(pos: dict[str, tuple[float, float]], edges: list[tuple[str, str]]) -> int:
    segs = [(pos[a], pos[b]) for a, b in edges]
    return sum(1 for i, (a1, b1) in enumerate(segs) for a2, b2 in segs[i + 1:]
               if a1[0] == a2[0] and b1[0] == b2[0] and (a1[1] - a2[1]) * (b1[1] - b2[1]) < 0)


def test_a_large_pipeline_reads_left_to_right_without_crossings() -> None:
    # Three review branches off one source, each label -> review -> done/discard, merged at the end;
    # the spec lists nodes grouped by kind (as people write them), not in flow order.
    edges = [("src", "split")]
    keys = ["src", "split", "merge", "report"]
    for b in range(3):
        chain = [f"label{b}", f"check{b}", f"review{b}", f"fix{b}", f"recheck{b}", f"done{b}"]
        keys += chain + [f"trash{b}", f"audit{b}"]
        edges += [("split", chain[0])] + list(zip(chain, chain[1:])) + [
            (f"review{b}", f"trash{b}"), (f"trash{b}", f"audit{b}"), (chain[-1], "merge")]
    edges.append(("merge", "report"))
    keys.sort(key=lambda k: (k.rstrip("012"), k))
    pos = layered_positions(keys, edges)
    assert len(keys) == 28 and len(set(pos.values())) == len(keys)
    assert all(pos[a][0] < pos[b][0] for a, b in edges)  # every edge points rightwards
    assert _crossings(pos, edges) == 0
