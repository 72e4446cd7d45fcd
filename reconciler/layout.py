"""Automatic canvas positions for nodes whose spec sets none: layered left to right by depth.

Depth is the longest path from a node without incoming edges, so every edge points rightwards.
Within a layer, nodes are ordered to cut edge crossings (a few barycenter sweeps, the standard
Sugiyama heuristic: each node moves towards the mean row of its neighbours in the layer before,
then after; spec order breaks ties), and each layer is centred on the tallest one so that a
branch sits beside the node it leaves. Pixel spacing follows the SDK's own grid
(`x = col * 1.7 * 200 + 100`, `y = row * 1.5 * 87 + 87`, reference 4.1), so a laid-out pipeline
looks like one built with dtlpy.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

COLUMN_PX = 1.7 * 200
ROW_PX = 1.5 * 87
ORIGIN_X = 100.0
ORIGIN_Y = 87.0


def layered_positions(keys: Sequence[str], edges: Iterable[tuple[str, str]]) -> dict[str, tuple[float, float]]:
    """key -> (x, y) for every key. `edges` are (source key, target key); cycles are tolerated
    (an edge that would close one is ignored for depth), unknown keys in edges are ignored."""
    known = set(keys)
    succ: dict[str, list[str]] = {k: [] for k in keys}
    indeg = dict.fromkeys(keys, 0)
    for src, tgt in edges:
        if src in known and tgt in known and src != tgt:
            succ[src].append(tgt)
            indeg[tgt] += 1
    depth = dict.fromkeys(keys, 0)
    # Kahn's algorithm in spec order; nodes left over sit on a cycle and keep the depth reached.
    ready = [k for k in keys if indeg[k] == 0]
    seen: set[str] = set()
    while ready:
        key = ready.pop(0)
        seen.add(key)
        for nxt in succ[key]:
            depth[nxt] = max(depth[nxt], depth[key] + 1)
            indeg[nxt] -= 1
            if indeg[nxt] == 0:
                ready.append(nxt)
    layers: dict[int, list[str]] = {}
    for key in keys:
        layers.setdefault(depth[key], []).append(key)
    pred: dict[str, list[str]] = {k: [] for k in keys}
    for src, targets in succ.items():
        for tgt in targets:
            pred[tgt].append(src)
    _reduce_crossings(layers, pred, succ)
    tallest = max((len(layer) for layer in layers.values()), default=0)
    out: dict[str, tuple[float, float]] = {}
    for col, layer in layers.items():
        offset = (tallest - len(layer)) / 2
        for row, key in enumerate(layer):
            out[key] = (ORIGIN_X + col * COLUMN_PX, ORIGIN_Y + (row + offset) * ROW_PX)
    return out


SWEEPS = 4  # down and up, twice: enough for pipeline-sized graphs, and bounded


def _reduce_crossings(layers: dict[int, list[str]], pred: dict[str, list[str]],
                      succ: dict[str, list[str]]) -> None:
    """Reorder each layer in place by the barycenter of its neighbours' rows (deterministic)."""
    order = sorted(layers)
    tallest = max((len(cols) for cols in layers.values()), default=0)
    # Rows as they will be drawn (layers centred), so edges that skip layers weigh in fairly.
    rank = {k: i + (tallest - len(cols)) / 2 for cols in layers.values() for i, k in enumerate(cols)}
    for sweep in range(SWEEPS):
        downwards = sweep % 2 == 0
        neighbours = pred if downwards else succ
        for col in (order[1:] if downwards else order[-2::-1]):
            layer = layers[col]

            def centre(key: str) -> float:
                rows = [rank[n] for n in neighbours[key]]
                return sum(rows) / len(rows) if rows else rank[key]

            layer[:] = [k for _, _, k in sorted((centre(k), i, k) for i, k in enumerate(layer))]
            offset = (tallest - len(layer)) / 2
            rank.update((k, i + offset) for i, k in enumerate(layer))
