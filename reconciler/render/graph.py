"""A plan's changed pipelines as pictures: Mermaid (for PR comments), SVG and PNG (for files).

    plan_graphs(plan) -> list[PipelineGraph]        the pure model: nodes and edges, each marked
    render_mermaid(graph)                           Mermaid text of it (the renderer lays it out)
    layout_graph(graph) -> GraphLayout              boxes, curves and labels placed on a canvas
    render_svg(graph) / render.graph_png            the two painters of that one layout
    write_graph(plan, path)                         .mmd/.md -> Mermaid, .svg -> SVG, .png -> PNG

The picture is the desired pipeline (nodes from the plan's `desired` document, named by spec key
through the marker) overlaid with the plan's changes, read by their addresses (`FieldChange.section`,
`key`, `field`, `kind`): a whole node added/removed marks it so (removed nodes are drawn from the
change's `before`), a field of it (or a rename) marks it changed; a whole connection added/removed
marks an edge, a rewire (from `-> a` to `-> b`) is a removed plus an added edge, a field of it
(`filter`) marks it changed.

SVG is written here rather than through Graphviz: graphviz needs a system binary that CI would
have to install, and the picture needs only boxes, arrows and text placed by the same layered
layout that positions new nodes (`reconciler.layout`). The PNG paints the same layout with Pillow,
an optional dependency (`loopform[graph]`) imported only when a PNG is asked for.

Module instances (nodes keyed `<instance>/<node>`) are groups: Mermaid subgraphs, and in the
pictures rectangles labelled `module <instance>` (`_banded` gives each instance rows of its own).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from xml.sax.saxutils import escape

from pydantic import BaseModel, ConfigDict

from reconciler.errors import ConfigError
from reconciler.layout import Drawing, Slot, layered_drawing
from reconciler.marker import read_marker
from reconciler.normalize import connection_refs
from reconciler.plan import Action, ChangeKind, FieldChange, PipelineChange, Plan
from reconciler.nodes import spec_type_of
from reconciler.render.picture import (
    BOX_H,
    BOX_W,
    CHAR_W,
    FONT_SIZE,
    GROUP_FILL,
    GROUP_INK,
    GROUP_STROKE,
    LABEL_H,
    MUTED,
    NO_CHANGES,
    PALETTE,
    TITLE_SIZE,
    Box,
    GraphLayout,
    Group,
    Label,
    Mark,
    Point,
    Route,
)
from reconciler.render.escaping import mermaid_text


class GraphNode(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: str
    type: str = ""
    mark: Mark = Mark.SAME


class GraphEdge(BaseModel):
    model_config = ConfigDict(frozen=True)

    source: str  # node key
    target: str
    label: str = ""  # the output action, if any
    mark: Mark = Mark.SAME


class PipelineGraph(BaseModel):
    model_config = ConfigDict(frozen=True)

    project: str
    name: str
    action: Action
    nodes: list[GraphNode]
    edges: list[GraphEdge]


def _endpoints(ident: str) -> tuple[str, str, str]:
    """`a.item[complete] -> b.item` -> ("a", "b", "complete")."""
    src, _, tgt = ident.partition(" -> ")
    label = ""
    if src.endswith("]") and "[" in src:
        src, _, label = src[:-1].partition("[")
    return src.rsplit(".", 1)[0], tgt.rsplit(".", 1)[0], label


def _spec_type(kind: str) -> str:
    # The picture speaks spec words like the text plan (`dataset`, not the platform's `storage`).
    return spec_type_of(kind)


def pipeline_graph(change: PipelineChange) -> PipelineGraph:
    """The marked graph of one pipeline change (pure)."""
    nodes: dict[str, GraphNode] = {}
    edges: dict[str, GraphEdge] = {}  # by connection ident
    if change.desired is not None:
        marker = read_marker(change.desired)
        known = {node_id: key for key, node_id in (marker.nodes if marker else {}).items()}
        keys = {n.id: known.get(n.id) or n.name or n.id for n in change.desired.nodes}
        for node in change.desired.nodes:
            nodes[keys[node.id]] = GraphNode(key=keys[node.id], type=_spec_type(node.type or ""))
        for ref in connection_refs(change.desired.wire(), keys):
            edges[ref.ident] = GraphEdge(source=ref.source, target=ref.target, label=ref.action or "")
    for c in change.changes:
        _apply_change(c, nodes, edges)
    if Action.CREATE in change.actions:
        nodes = {k: n.model_copy(update={"mark": Mark.ADDED}) for k, n in nodes.items()}
        edges = {k: e.model_copy(update={"mark": Mark.ADDED}) for k, e in edges.items()}
    return PipelineGraph(project=change.project, name=change.name, action=change.primary,
                         nodes=list(nodes.values()), edges=[edges[k] for k in sorted(edges)])


def _apply_change(c: FieldChange, nodes: dict[str, GraphNode], edges: dict[str, GraphEdge]) -> None:
    if c.key is None:
        return
    whole = c.field is None
    if c.section == "nodes":
        if whole and c.kind is ChangeKind.REMOVE:
            kind = c.before.get("type", "") if isinstance(c.before, dict) else ""
            nodes[c.key] = GraphNode(key=c.key, type=_spec_type(str(kind)), mark=Mark.REMOVED)
        elif c.key in nodes and nodes[c.key].mark is Mark.SAME:
            # A renamed key is the same node, changed; a whole node otherwise is new.
            added = whole and c.kind is ChangeKind.ADD
            nodes[c.key] = nodes[c.key].model_copy(update={"mark": Mark.ADDED if added else Mark.CHANGED})
    elif c.section == "connections":
        if c.kind is ChangeKind.REWIRE:
            if isinstance(c.before, str) and isinstance(c.after, str):
                # `key` is the source end; the values say `-> old target` / `-> new target`.
                old, new = f"{c.key} {c.before}", f"{c.key} {c.after}"
                src, tgt, label = _endpoints(old)
                edges[old] = GraphEdge(source=src, target=tgt, label=label, mark=Mark.REMOVED)
                if new in edges:
                    edges[new] = edges[new].model_copy(update={"mark": Mark.ADDED})
        elif whole and c.kind is ChangeKind.REMOVE:
            src, tgt, label = _endpoints(c.key)
            edges[c.key] = GraphEdge(source=src, target=tgt, label=label, mark=Mark.REMOVED)
        elif c.key in edges and edges[c.key].mark is Mark.SAME:
            mark = Mark.ADDED if whole and c.kind is ChangeKind.ADD else Mark.CHANGED
            edges[c.key] = edges[c.key].model_copy(update={"mark": mark})


def plan_graphs(plan: Plan) -> list[PipelineGraph]:
    """One graph per pipeline the plan changes (pure)."""
    return [pipeline_graph(p) for p in plan.pipelines if p.has_changes]


# -- Mermaid ------------------------------------------------------------------------------------

_SIGN = {Mark.SAME: "", Mark.ADDED: "+ ", Mark.REMOVED: "- ", Mark.CHANGED: "~ "}
_MERMAID_CLASSES = (
    "  classDef added fill:#dafbe1,stroke:#1a7f37,color:#0f5323\n"
    "  classDef removed fill:#ffebe9,stroke:#cf222e,color:#82071e,stroke-dasharray:4 3\n"
    "  classDef changed fill:#fff8c5,stroke:#9a6700,color:#4d2d00\n"
)
_EDGE_STYLE = {Mark.ADDED: "stroke:#1a7f37,stroke-width:2px",
               Mark.REMOVED: "stroke:#cf222e,stroke-width:2px,stroke-dasharray:4 3",
               Mark.CHANGED: "stroke:#9a6700,stroke-width:2px"}


# A picture (or chart) shows at most this much; a larger pipeline gets one saying so. Laying out grows
# faster than the graph (slots for every layer a long connection skips, each label kept clear of all
# placed before): a 2,000-node spec in a pull request took the workflow's `plan --graph` 185 s.
MAX_DRAWN_NODES = 200
MAX_DRAWN_EDGES = 400


def _too_large(graph: PipelineGraph) -> str | None:
    """Why `graph` is not drawn (a Mermaid chart or a picture), None when it is."""
    if len(graph.nodes) <= MAX_DRAWN_NODES and len(graph.edges) <= MAX_DRAWN_EDGES:
        return None
    return (f"{len(graph.nodes)} nodes and {len(graph.edges)} connections, more than a picture shows "
            f"({MAX_DRAWN_NODES} and {MAX_DRAWN_EDGES}); the plan lists every change")


def render_mermaid(graph: PipelineGraph) -> str:
    """A `flowchart LR` of the graph; added/removed/changed nodes and edges are coloured and
    prefixed `+`/`-`/`~` (the sign keeps the meaning where colours are not shown)."""
    lines = [f"%% {graph.project}/{graph.name} ({graph.action.value})", "flowchart LR"]
    too_large = _too_large(graph)
    if too_large is not None:  # GitHub does not render a chart that long either
        return "\n".join([*lines, f'  n0["{mermaid_text(too_large)}"]']) + "\n"
    ids = {n.key: f"n{i}" for i, n in enumerate(graph.nodes)}
    instances = sorted({prefix for n in graph.nodes for prefix in _instances_of(n.key)})
    ids.update({f"{prefix}/": f"m{i}" for i, prefix in enumerate(instances)})  # no node key ends in '/'
    lines += _mermaid_nodes(graph.nodes, ids, "", "  ")
    styles = []
    for i, edge in enumerate(e for e in graph.edges if e.source in ids and e.target in ids):
        text = f"{_SIGN[edge.mark]}{edge.label}".strip()
        arrow = "-.->" if edge.mark is Mark.REMOVED else "-->"
        label = f'|"{mermaid_text(text)}"|' if text else ""
        lines.append(f"  {ids[edge.source]} {arrow}{label} {ids[edge.target]}")
        if edge.mark is not Mark.SAME:
            styles.append(f"  linkStyle {i} {_EDGE_STYLE[edge.mark]}")
    return "\n".join(lines + styles) + "\n" + _MERMAID_CLASSES


def _instance_of(key: str) -> str:
    """The module instance a node belongs to (`stage/first` for `stage/first/label`), "" for none:
    nodes of modules are keyed `<instance>/<node>` (reconciler.spec.modules)."""
    return key.rpartition("/")[0]


def _mermaid_nodes(nodes: list[GraphNode], ids: dict[str, str], instance: str, indent: str) -> list[str]:
    """The node lines of `instance` ("" for the pipeline), each module instance in it as a
    `subgraph` labelled with its key, nested as the instances are."""
    lines = []
    for node in nodes:
        if _instance_of(node.key) != instance:
            continue
        label = mermaid_text(f"{_SIGN[node.mark]}{node.key}")
        if node.type:
            label += f"<br/><small>{mermaid_text(node.type)}</small>"
        cls = f":::{node.mark.value}" if node.mark is not Mark.SAME else ""
        lines.append(f'{indent}{ids[node.key]}["{label}"]{cls}')
    inside = sorted({prefix for n in nodes
                     for prefix in _instances_of(n.key) if _instance_of(prefix) == instance})
    for child in inside:
        lines.append(f'{indent}subgraph {ids[child + "/"]}["module {mermaid_text(child)}"]')
        lines += _mermaid_nodes(nodes, ids, child, indent + "  ")
        lines.append(f"{indent}end")
    return lines


def _instances_of(key: str) -> list[str]:
    """Every instance a node is inside, outermost first: `a/b/n` -> [`a`, `a/b`]."""
    parts = key.split("/")[:-1]
    return ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]


def render_mermaid_markdown(plan: Plan) -> str:
    """Every changed pipeline as a fenced ```mermaid block under a heading (GitHub renders them)."""
    parts = []
    for graph in plan_graphs(plan):
        parts.append(f"#### `{graph.project}/{graph.name}` ({graph.action.value})\n\n"
                     f"```mermaid\n{render_mermaid(graph)}```\n")
    return "\n".join(parts)


# -- Layout: where everything goes, shared by the SVG and PNG pictures ---------------------------

_ROW, _PAD, _TITLE = 70, 20, 32
MIN_GAP = 70  # between two columns of boxes, where the edges run and their labels sit


def layout_graph(graph: PipelineGraph) -> GraphLayout:
    """Nodes in depth columns (left to right), edges as polylines between them (pure).

    No edge crosses a box: between two columns an edge runs through the gap, and through a column
    it skips it runs through a slot of its own (`layered_drawing`'s dummy nodes). The gap is wide
    enough for the longest edge label, which sits on its edge's first stretch through a gap. A graph
    beyond MAX_DRAWN_NODES or MAX_DRAWN_EDGES is not drawn: its picture is a line saying so."""
    heading = f"{graph.project}/{graph.name} ({graph.action.value})"
    too_large = _too_large(graph)
    if too_large is not None:
        title = Label(text=f"{heading}: {too_large}", x=_PAD, y=_PAD + TITLE_SIZE, bold=True, size=TITLE_SIZE)
        return GraphLayout(width=math.ceil(title.extent()[2]) + _PAD, height=_PAD * 2 + _TITLE, title=title)
    keys = [n.key for n in graph.nodes]
    texts = [f"{_SIGN[e.mark]}{e.label}".strip() for e in graph.edges]
    # Removed edges count too: a removed node then sits where it was, next to its old neighbours.
    drawing = layered_drawing(keys, [(e.source, e.target) for e in graph.edges])
    bands: dict[str, tuple[int, int, float, float]] = {}
    if any("/" in k for k in keys):  # module instances: each one a band of rows of its own
        drawing, bands = _banded(graph, drawing)
    gap = math.ceil(max([MIN_GAP, *(Label(text=t, x=0, y=0).extent()[2] + 24 for t in texts)]))
    column = BOX_W + gap
    margins = _margins(bands, gap)
    lead = max(margins.values(), default=0.0)  # room left of the first column for its rectangles

    def x_of(layer: int) -> float:
        return _PAD + lead + layer * column

    def y_of(row: float) -> float:
        return _PAD + _TITLE + row * _ROW

    pos = {k: (x_of(layer), y_of(row)) for k, (layer, row) in drawing.cells.items()}
    slots = [*drawing.cells.values(), *(s for path in drawing.paths for s in path)]
    width = _PAD * 2 + lead + max((layer for layer, _ in slots), default=0) * column + BOX_W
    height = _PAD * 2 + _TITLE + max((row for _, row in slots), default=0) * _ROW + BOX_H
    routes: list[Route] = []
    groups = _groups(bands, margins, x_of, y_of)
    placed = [(x, y, x + BOX_W, y + BOX_H) for x, y in pos.values()]  # what a label must not cover
    placed += [g.label.extent() for g in groups]
    for edge, text, path in zip(graph.edges, texts, drawing.paths):
        if edge.source not in pos or edge.target not in pos:
            continue
        points = _route(drawing.cells[edge.source], drawing.cells[edge.target], path, x_of, y_of)
        label = None
        if text:
            # nor, for an edge that does not enter or leave an instance, the instance's rectangle
            apart = [g.extent() for g in groups if not _inside(edge.source, g.key) and not _inside(edge.target, g.key)]
            label = _place_label(text, points, PALETTE[edge.mark][1], placed + apart)
            placed.append(label.extent())
        routes.append(Route(mark=edge.mark, points=points, label=label))
    boxes = [Box(mark=node.mark, x=x, y=y, name=Label(text=_SIGN[node.mark] + node.key, x=x + 8, y=y + 18, bold=True),
                 kind=Label(text=node.type, x=x + 8, y=y + 34, colour=MUTED))
             for node in graph.nodes for x, y in [pos[node.key]]]
    title = Label(text=heading, x=_PAD, y=_PAD + TITLE_SIZE, bold=True, size=TITLE_SIZE)
    # Everything drawn lies inside: a loop's bend or a label may stick out right of the last column.
    right = max([width - _PAD, title.extent()[2], *(x for r in routes for x, _ in r.points),
                 *(r.label.extent()[2] for r in routes if r.label is not None), *(g.extent()[2] for g in groups)])
    bottom = max([height - _PAD, *(r.label.extent()[3] for r in routes if r.label is not None),
                  *(g.extent()[3] for g in groups)])
    return GraphLayout(width=math.ceil(right) + _PAD, height=math.ceil(bottom) + _PAD, title=title, boxes=boxes,
                       routes=routes, groups=groups)


# A module instance's band: its label's strip on top, its members below, a margin under the last.
GROUP_HEAD, GROUP_FOOT = 24.0, 8.0
GROUP_MARGIN = 8.0  # how far a rectangle reaches into the gaps beside its columns, per level it holds


def _inside(key: str, instance: str) -> bool:
    return key.startswith(f"{instance}/")


def _common(a: str, b: str) -> str:
    """The innermost instance holding both instances `a` and `b` ("" for the pipeline)."""
    out: list[str] = []
    for x, y in zip(a.split("/") if a else [], b.split("/") if b else []):
        if x != y:
            break
        out.append(x)
    return "/".join(out)


_Item = tuple[str, str, int]  # ("node", key, 0) | ("dummy", "", index into all dummies) | ("group", key, 0)


def _banded(graph: PipelineGraph, drawing: Drawing) -> tuple[Drawing, dict[str, tuple[int, int, float, float]]]:
    """`drawing` with its rows made again so that each module instance is a rectangle of its own: its
    nodes, its nested instances and the slots of the edges within it are stacked together in its
    columns, below a strip for its label, and nothing else lies in that rectangle (an edge between
    outer nodes passes through slots outside it). The layers stay; within an instance the rows keep
    the crossing-reduced order. Returns the drawing (rows in `_ROW` units) and, per instance, its
    columns and its top and height in pixels."""
    members: dict[str, list[_Item]] = {"": []}
    cols: dict[_Item, tuple[int, int]] = {}
    order: dict[_Item, float] = {}
    instances = sorted({p for n in graph.nodes for p in _instances_of(n.key)}, key=lambda g: (-g.count("/"), g))
    for g in instances:
        members[g] = []
    for node in graph.nodes:
        item: _Item = ("node", node.key, 0)
        members[_instance_of(node.key)].append(item)
        layer, row = drawing.cells[node.key]
        cols[item], order[item] = (layer, layer), row
    dummies: list[tuple[int, int]] = []  # (edge, step along its path)
    for i, (edge, path) in enumerate(zip(graph.edges, drawing.paths)):
        owner = _common(_instance_of(edge.source), _instance_of(edge.target))
        for j, (layer, row) in enumerate(path):
            item = ("dummy", "", len(dummies))
            dummies.append((i, j))
            members[owner if owner in members else ""].append(item)
            cols[item], order[item] = (layer, layer), row
    for g in instances:  # innermost first: an instance's span and place in order come from its members
        inside = members[g]
        item = ("group", g, 0)
        members[_instance_of(g)].append(item)
        cols[item] = (min(cols[m][0] for m in inside), max(cols[m][1] for m in inside))
        order[item] = sum(order[m] for m in inside) / len(inside)
    tops: dict[_Item, float] = {}
    heights: dict[_Item, float] = {}

    def pack(instance: str) -> float:
        """Stack the members in their columns (each as high as the lowest column it spans allows);
        returns the height they take."""
        sky: dict[int, float] = {}
        bottom = 0.0
        for item in sorted(members[instance], key=lambda m: (order[m], cols[m][0], m)):
            height = GROUP_HEAD + pack(item[1]) + GROUP_FOOT if item[0] == "group" else float(BOX_H)
            c0, c1 = cols[item]
            top = max(sky.get(c, 0.0) for c in range(c0, c1 + 1))
            tops[item], heights[item] = top, height
            sky.update((c, top + height + _ROW - BOX_H) for c in range(c0, c1 + 1))
            bottom = max(bottom, top + height)
        return bottom

    pack("")
    absolute: dict[_Item, float] = {}

    def place(instance: str, y: float) -> None:
        for item in members[instance]:
            absolute[item] = y + tops[item]
            if item[0] == "group":
                place(item[1], absolute[item] + GROUP_HEAD)

    place("", 0.0)
    cells = {n.key: (drawing.cells[n.key][0], absolute[("node", n.key, 0)] / _ROW) for n in graph.nodes}
    paths: list[list[Slot]] = [[] for _ in drawing.paths]
    for index, (i, j) in enumerate(dummies):
        paths[i].append((drawing.paths[i][j][0], absolute[("dummy", "", index)] / _ROW))
    bands = {g: (*cols[("group", g, 0)], absolute[("group", g, 0)], heights[("group", g, 0)]) for g in instances}
    return Drawing(cells=cells, paths=paths), bands


def _margins(bands: dict[str, tuple[int, int, float, float]], gap: float) -> dict[str, float]:
    """How far each instance's rectangle reaches into the gaps beside its columns: a step per level
    of instances it holds (so an outer one encloses the inner ones), all under half a gap so that
    instances in neighbouring columns stay apart."""
    levels = {g: 1 + max((h.count("/") - g.count("/") for h in bands if h == g or _inside(h, g)), default=0)
              for g in bands}
    step = min(GROUP_MARGIN, (gap / 2 - 2) / max(levels.values(), default=1))
    return {g: step * level for g, level in levels.items()}


def _groups(bands: dict[str, tuple[int, int, float, float]], margins: dict[str, float],
            x_of: Callable[[int], float], y_of: Callable[[float], float]) -> list[Group]:
    """The rectangles of `_banded`'s instances, outer ones first, each labelled `module <key>`."""
    out = []
    for g in sorted(bands, key=lambda g: (g.count("/"), g)):
        c0, c1, top, height = bands[g]
        margin = margins[g]
        x, y = x_of(c0) - margin, y_of(top / _ROW)
        width = x_of(c1) + BOX_W + margin - x
        room = max(1, int((width - 12) / (FONT_SIZE * CHAR_W)))
        text = f"module {g}"
        if len(text) > room:  # the whole key is on each of its nodes
            text = text[:room - 1] + "…"
        out.append(Group(key=g, x=x, y=y, width=width, height=height,
                         label=Label(text=text, x=x + 6, y=y + 16, colour=GROUP_INK, bold=True, halo=True)))
    return out


LOOP = 14  # how far right of its column an edge within one column bends


def _route(source: Slot, target: Slot, path: list[Slot], x_of: Callable[[int], float],
           y_of: Callable[[float], float]) -> list[Point]:
    """The polyline of one edge: out of the source's side facing the target, through each slot of
    `path` (straight across the column there), into the target's facing side."""
    (s_layer, s_row), (t_layer, t_row) = source, target
    mid = BOX_H / 2
    if s_layer == t_layer:
        # Same column (a cycle, or a node feeding itself): out of the right side and back in,
        # through the gap on the right, which holds no box.
        bend = x_of(s_layer) + BOX_W + LOOP
        ys, yt = y_of(s_row) + mid, y_of(t_row) + mid
        if s_row == t_row:
            ys, yt = ys - BOX_H / 4, yt + BOX_H / 4
        return [(x_of(s_layer) + BOX_W, ys), (bend, ys), (bend, yt), (x_of(t_layer) + BOX_W, yt)]
    forward = t_layer > s_layer
    near, far = (BOX_W, 0.0) if forward else (0.0, BOX_W)  # the sides facing the way the edge goes
    points = [(x_of(s_layer) + near, y_of(s_row) + mid)]
    for layer, row in path:
        points += [(x_of(layer) + far, y_of(row) + mid), (x_of(layer) + near, y_of(row) + mid)]
    return points + [(x_of(t_layer) + far, y_of(t_row) + mid)]


def _place_label(text: str, points: list[Point], colour: str,
                 placed: list[tuple[float, float, float, float]]) -> Label:
    """The label by the edge's first stretch through a gap, inside that gap: above the line (or
    below it) at the first of a few spots along it where it covers nothing placed before (boxes,
    labels). An edge within one column is labelled right of its bend."""
    (x0, y0), (x1, y1) = points[0], points[1]
    width = Label(text=text, x=0, y=0).extent()[2]
    if x0 == x1 or y0 == y1 and len(points) == 4 and points[0][0] == points[-1][0]:
        # A loop within a column: beside its vertical stretch, in the gap.
        (bx, by0), (_, by1) = points[1], points[2]
        spots = [(bx + 4 + width / 2, by0 + (by1 - by0) * t + LABEL_H / 2) for t in (0.5, 0.25, 0.75, 0, 1)]
        spots += [(bx + 4 + width / 2, max(by0, by1) + LABEL_H * k) for k in range(1, 5)]  # further down
    else:
        lo, hi = sorted((x0, x1))
        spots = []
        for t in (0.5, 0.3, 0.7, 0.15, 0.85):
            x = min(max(x0 + (x1 - x0) * t, lo + width / 2 + 4), hi - width / 2 - 4)
            y = y0 + (y1 - y0) * (x - x0) / (x1 - x0)
            spots += [(x, y - 4), (x, y + LABEL_H + 2)]  # above the line, else below it
        spots += [(spots[0][0], spots[0][1] + d * LABEL_H * k) for k in (1, 2) for d in (-1, 1)]  # off it
    # Last, further down the same gap, step by step: below everything placed a spot is always free,
    # so in a crowded gap the label moves away from its edge rather than covering another.
    bottom = max((rect[3] for rect in placed), default=0.0)
    x, y = spots[0]
    while y - LABEL_H <= bottom + LABEL_H:
        y += LABEL_H
        spots.append((x, y))
    labels = [Label(text=text, x=x, y=y, middle=True, colour=colour, halo=True) for x, y in spots]
    return next(lab for lab in labels if not any(_overlap(lab.extent(), other) for other in placed))


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


# -- SVG ----------------------------------------------------------------------------------------


def _n(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(round(value, 2))


def _svg_text(label: Label) -> str:
    attrs = f'x="{_n(label.x)}" y="{_n(label.y)}"'
    attrs += ' text-anchor="middle"' * label.middle + ' font-weight="bold"' * label.bold
    attrs += f' font-size="{_n(label.size)}"' if label.size != FONT_SIZE else ""
    attrs += f' fill="{label.colour}"' if label.colour else ""
    attrs += ' stroke="white" stroke-width="4" paint-order="stroke"' if label.halo else ""
    return f"<text {attrs}>{escape(label.text)}</text>"


def render_svg(graph: PipelineGraph) -> str:
    """A standalone SVG of `layout_graph(graph)`: removed things dashed red, added green, changed
    amber, each labelled with its sign too."""
    return _svg_of(layout_graph(graph))


def _svg_of(layout: GraphLayout) -> str:
    out = ["<defs>" + "".join(
               f'<marker id="arrow-{m.value}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
               f'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{PALETTE[m][1]}"/></marker>'
               for m in Mark) + "</defs>", _svg_text(layout.title)]
    for group in layout.groups:  # behind everything, outer ones first
        out.append(f'<rect class="group" x="{_n(group.x)}" y="{_n(group.y)}" width="{_n(group.width)}" '
                   f'height="{_n(group.height)}" rx="8" fill="{GROUP_FILL}" fill-opacity="0.6" '
                   f'stroke="{GROUP_STROKE}" stroke-dasharray="6 3"/>')
    for route in layout.routes:
        dash = ' stroke-dasharray="5 3"' if route.mark is Mark.REMOVED else ""
        d = "M" + " L".join(f"{_n(x)},{_n(y)}" for x, y in route.points)
        out.append(f'<path d="{d}" fill="none" stroke="{PALETTE[route.mark][1]}" stroke-width="1.5"{dash} '
                   f'stroke-linejoin="round" marker-end="url(#arrow-{route.mark.value})" '
                   f'class="edge {route.mark.value}"/>')
    # Labels after every edge, on a white outline: no other edge is drawn over one.
    out.extend(_svg_text(route.label) for route in layout.routes if route.label is not None)
    out.extend(_svg_text(group.label) for group in layout.groups)
    for box in layout.boxes:
        fill, stroke = PALETTE[box.mark]
        dash = ' stroke-dasharray="5 3"' if box.mark is Mark.REMOVED else ""
        out.append(f'<g class="node {box.mark.value}"><rect x="{_n(box.x)}" y="{_n(box.y)}" width="{_n(box.width)}" '
                   f'height="{_n(box.height)}" rx="6" fill="{fill}" stroke="{stroke}"{dash}/>'
                   f'{_svg_text(box.name)}{_svg_text(box.kind)}</g>')
    w, h = _n(layout.width), _n(layout.height)
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
            f'viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">')
    return "\n".join([head, *out, "</svg>"]) + "\n"


GRAPH_SUFFIXES = (".mmd", ".md", ".svg", ".png")


def check_graph_path(path: Path) -> None:
    """ConfigError unless `path` names a format `write_graph` knows and can write here: a PNG
    needs Pillow (check before planning)."""
    if path.suffix.lower() not in GRAPH_SUFFIXES:
        raise ConfigError(f"--graph {path}: unknown format {path.suffix or '(no suffix)'!r}; "
                          "use .mmd, .md, .svg or .png")
    if path.suffix.lower() == ".png":
        _png_painter(path)


def _png_painter(path: Path) -> ModuleType:
    try:
        from reconciler.render import graph_png
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] != "PIL":
            raise
        raise ConfigError(f"--graph {path}: drawing a PNG needs Pillow: pip install 'loopform[graph]' "
                          "(or use .svg)") from exc
    return graph_png


def write_graph(plan: Plan, path: Path, *, redact: Callable[[str], str] | None = None) -> None:
    """Write the changed pipelines' graphs to `path`: `.mmd` Mermaid, `.md` Markdown with
    Mermaid blocks, `.svg` one SVG, `.png` one PNG (pictures stacked when several pipelines changed).

    `redact` is applied to the text before it is written, or, for a PNG, to each string before it
    is drawn (the CLI passes its secret redaction)."""
    check_graph_path(path)
    suffix = path.suffix.lower()
    graphs = plan_graphs(plan)
    if suffix == ".png":
        data = _png_painter(path).render_png([layout_graph(g) for g in graphs] or [NO_CHANGES], redact=redact)
        _write(path, data)
        return
    if suffix == ".mmd":
        text = "\n".join(render_mermaid(g) for g in graphs) or "%% no changes\nflowchart LR\n"
    elif suffix == ".md":
        text = render_mermaid_markdown(plan) or "No changes.\n"
    else:
        text = _stack_svg([render_svg(g) for g in graphs])
    if redact is not None:
        text = redact(text)
    _write(path, text.encode("utf-8"))


def _write(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise ConfigError(f"cannot write the graph to {path}: {exc.strerror}") from exc


def _stack_svg(pictures: list[str]) -> str:
    """One SVG holding each picture below the previous one (nested <svg> elements)."""
    if not pictures:
        return _svg_of(NO_CHANGES)
    if len(pictures) == 1:
        return pictures[0]
    size = re.compile(r'width="([\d.]+)" height="([\d.]+)"')
    body, y, width = [], 0.0, 0.0
    for pic in pictures:
        w, h = (float(v) for v in size.search(pic).groups())  # type: ignore[union-attr]
        body.append(pic.replace("<svg ", f'<svg y="{y}" ', 1))
        y, width = y + h, max(width, w)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{y}" viewBox="0 0 {width} {y}">\n'
            + "".join(body) + "</svg>\n")
