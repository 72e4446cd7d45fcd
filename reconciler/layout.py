"""Automatic canvas positions for nodes whose spec sets none: layered left to right by depth.

Depth is the longest path from a node without incoming edges, so every edge points rightwards.
Within a layer, nodes are ordered to cut edge crossings (a few barycenter sweeps, the standard
Sugiyama heuristic: each node moves towards the mean row of its neighbours in the layer before,
then after; spec order breaks ties), and each layer is centred on the tallest one so that a
branch sits beside the node it leaves. Pixel spacing follows the SDK's own grid
(`x = col * 1.7 * 200 + 100`, `y = row * 1.5 * 87 + 87`, reference 4.1), so a laid-out pipeline
looks like one built with dtlpy.

`layered_drawing` is the same layering for pictures (`render.graph`): cycles are broken first,
and an edge spanning several layers passes through a dummy node in each, so it can be drawn
through a slot of its own instead of through the boxes in between.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

COLUMN_PX = 1.7 * 200
ROW_PX = 1.5 * 87
ORIGIN_X = 100.0
ORIGIN_Y = 87.0


def layered_positions(keys: Sequence[str], edges: Iterable[tuple[str, str]]) -> dict[str, tuple[float, float]]:
    """key -> (x, y) for every key. `edges` are (source key, target key); cycles are tolerated
    (an edge that would close one is ignored for depth), unknown keys in edges are ignored."""
    succ, pred = _adjacency(keys, edges)
    depth = _depths(keys, succ)
    layers: dict[int, list[str]] = {}
    for key in keys:
        layers.setdefault(depth[key], []).append(key)
    _reduce_crossings(layers, pred, succ)
    tallest = max((len(layer) for layer in layers.values()), default=0)
    out: dict[str, tuple[float, float]] = {}
    for col, layer in layers.items():
        offset = (tallest - len(layer)) / 2
        for row, key in enumerate(layer):
            out[key] = (ORIGIN_X + col * COLUMN_PX, ORIGIN_Y + (row + offset) * ROW_PX)
    return out


Slot = tuple[int, float]  # (layer, row); rows of one layer differ by whole numbers


@dataclass(frozen=True)
class Drawing:
    """A layered picture in layer/row units: `cells` places each node; `paths[i]` lists the empty
    slots edge i passes through, in travel order, one per layer strictly between its ends (the
    dummy nodes of a layered layout), so a long edge crosses other layers in a gap of its own
    instead of through the boxes there."""

    cells: dict[str, Slot]
    paths: list[list[Slot]] = field(default_factory=list)


def layered_drawing(keys: Sequence[str], edges: Sequence[tuple[str, str]]) -> Drawing:
    """The layout of `layered_positions` for pictures: the same layers, and every edge that spans
    more than one layer (either way: a backward edge of a cycle too) gets a dummy node in each
    layer between, ordered with the real nodes to cut crossings. Unknown keys and self-loops get
    an empty path."""
    succ, pred = _adjacency(keys, edges)
    # A cycle's nodes would all stay in one column (none of them is ever ready): lay out the graph
    # without its back edges, which are then drawn leftwards through their own slots.
    depth = _depths(keys, _without_back_edges(keys, succ))
    layers: dict[int, list[str]] = {}
    for key in keys:
        layers.setdefault(depth[key], []).append(key)
    chains: list[list[str]] = []
    for i, (src, tgt) in enumerate(edges):
        if src not in depth or tgt not in depth or abs(depth[src] - depth[tgt]) < 2:
            chains.append([])
            continue
        low, high = sorted((depth[src], depth[tgt]))
        chain = [f"\0{i}:{layer}" for layer in range(low + 1, high)]  # \0: no spec key starts so
        for layer, dummy in zip(range(low + 1, high), chain):
            layers.setdefault(layer, []).append(dummy)
        succ[src].remove(tgt)  # the chain stands for the edge when ordering the layers
        pred[tgt].remove(src)
        ends = [src if depth[src] < depth[tgt] else tgt, *chain, tgt if depth[src] < depth[tgt] else src]
        for a, b in zip(ends, ends[1:]):
            succ.setdefault(a, []).append(b)
            pred.setdefault(b, []).append(a)
        succ.update((d, succ.get(d, [])) for d in chain)
        pred.update((d, pred.get(d, [])) for d in chain)
        chains.append(chain if depth[src] < depth[tgt] else chain[::-1])
    _reduce_crossings(layers, pred, succ)
    tallest = max((len(members) for members in layers.values()), default=0)
    slot: dict[str, Slot] = {}
    for col, members in layers.items():
        offset = (tallest - len(members)) / 2
        slot.update((key, (col, row + offset)) for row, key in enumerate(members))
    return Drawing(cells={k: slot[k] for k in keys}, paths=[[slot[d] for d in chain] for chain in chains])


def _adjacency(keys: Sequence[str], edges: Iterable[tuple[str, str]]) -> tuple[dict[str, list[str]],
                                                                                dict[str, list[str]]]:
    known = set(keys)
    succ: dict[str, list[str]] = {k: [] for k in keys}
    pred: dict[str, list[str]] = {k: [] for k in keys}
    for src, tgt in edges:
        if src in known and tgt in known and src != tgt:
            succ[src].append(tgt)
            pred[tgt].append(src)
    return succ, pred


def _without_back_edges(keys: Sequence[str], succ: dict[str, list[str]]) -> dict[str, list[str]]:
    """`succ` less the edges that close a cycle, found by a depth-first search in spec order."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    kept: dict[str, list[str]] = {k: [] for k in keys}
    for root in keys:
        if root in state:
            continue
        state[root] = 1
        stack = [(root, iter(succ[root]))]
        while stack:
            key, rest = stack[-1]
            nxt = next(rest, None)
            if nxt is None:
                state[key] = 2
                stack.pop()
            elif state.get(nxt) != 1:  # an edge back onto the current path closes a cycle
                kept[key].append(nxt)
                if nxt not in state:
                    state[nxt] = 1
                    stack.append((nxt, iter(succ[nxt])))
    return kept


def _depths(keys: Sequence[str], succ: dict[str, list[str]]) -> dict[str, int]:
    """The longest path from a node without incoming edges (Kahn's algorithm in spec order;
    nodes left over sit on a cycle and keep the depth reached)."""
    indeg = dict.fromkeys(keys, 0)
    for key in keys:
        for nxt in succ[key]:
            indeg[nxt] += 1
    depth = dict.fromkeys(keys, 0)
    ready = [k for k in keys if indeg[k] == 0]
    while ready:
        key = ready.pop(0)
        for nxt in succ[key]:
            depth[nxt] = max(depth[nxt], depth[key] + 1)
            indeg[nxt] -= 1
            if indeg[nxt] == 0:
                ready.append(nxt)
    return depth


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
