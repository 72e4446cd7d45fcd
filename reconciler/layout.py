"""Automatic canvas positions for nodes whose spec sets none: layered left to right by depth.

Depth is the longest path from a node without incoming edges, so every edge points rightwards;
nodes of one layer stack downwards in spec order. Pixel spacing follows the SDK's own grid
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
    rows: dict[int, int] = {}
    out: dict[str, tuple[float, float]] = {}
    for key in keys:
        col = depth[key]
        row = rows.get(col, 0)
        rows[col] = row + 1
        out[key] = (ORIGIN_X + col * COLUMN_PX, ORIGIN_Y + row * ROW_PX)
    return out
