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
"""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from types import ModuleType
from xml.sax.saxutils import escape

from pydantic import BaseModel, ConfigDict

from reconciler.errors import ConfigError
from reconciler.layout import layered_positions
from reconciler.marker import read_marker
from reconciler.normalize import connection_refs
from reconciler.plan import Action, ChangeKind, FieldChange, PipelineChange, Plan
from reconciler.nodes import spec_type_of


class Mark(str, Enum):
    SAME = "same"
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"


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


def mermaid_text(text: str) -> str:
    # Inside a quoted Mermaid label only `"` and the entity introducer need escaping.
    return text.replace("#", "#35;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def render_mermaid(graph: PipelineGraph) -> str:
    """A `flowchart LR` of the graph; added/removed/changed nodes and edges are coloured and
    prefixed `+`/`-`/`~` (the sign keeps the meaning where colours are not shown)."""
    ids = {n.key: f"n{i}" for i, n in enumerate(graph.nodes)}
    lines = [f"%% {graph.project}/{graph.name} ({graph.action.value})", "flowchart LR"]
    for node in graph.nodes:
        label = mermaid_text(f"{_SIGN[node.mark]}{node.key}")
        if node.type:
            label += f"<br/><small>{mermaid_text(node.type)}</small>"
        cls = f":::{node.mark.value}" if node.mark is not Mark.SAME else ""
        lines.append(f'  {ids[node.key]}["{label}"]{cls}')
    styles = []
    for i, edge in enumerate(e for e in graph.edges if e.source in ids and e.target in ids):
        text = f"{_SIGN[edge.mark]}{edge.label}".strip()
        arrow = "-.->" if edge.mark is Mark.REMOVED else "-->"
        label = f'|"{mermaid_text(text)}"|' if text else ""
        lines.append(f"  {ids[edge.source]} {arrow}{label} {ids[edge.target]}")
        if edge.mark is not Mark.SAME:
            styles.append(f"  linkStyle {i} {_EDGE_STYLE[edge.mark]}")
    return "\n".join(lines + styles) + "\n" + _MERMAID_CLASSES


def render_mermaid_markdown(plan: Plan) -> str:
    """Every changed pipeline as a fenced ```mermaid block under a heading (GitHub renders them)."""
    parts = []
    for graph in plan_graphs(plan):
        parts.append(f"#### `{graph.project}/{graph.name}` ({graph.action.value})\n\n"
                     f"```mermaid\n{render_mermaid(graph)}```\n")
    return "\n".join(parts)


# -- Layout: where everything goes, shared by the SVG and PNG pictures ---------------------------

BOX_W, BOX_H, _COL, _ROW, _PAD, _TITLE = 150, 44, 210, 70, 20, 28
ARROW = 10.5  # arrow head length (the SVG marker: 7 units of a 1.5 stroke)
PALETTE = {Mark.SAME: ("#f6f8fa", "#57606a"), Mark.ADDED: ("#dafbe1", "#1a7f37"),
           Mark.REMOVED: ("#ffebe9", "#cf222e"), Mark.CHANGED: ("#fff8c5", "#9a6700")}  # (fill, stroke)
MUTED = "#57606a"  # a node's type under its name

Point = tuple[float, float]


class Label(BaseModel):
    model_config = ConfigDict(frozen=True)

    text: str
    x: float
    y: float  # the baseline
    middle: bool = False  # centred on x (else starting at x)
    bold: bool = False
    colour: str | None = None  # None: the default ink


class Box(BaseModel):
    """A node: a rounded box with its signed key and its type; removed boxes are dashed."""

    model_config = ConfigDict(frozen=True)

    mark: Mark
    x: float
    y: float
    name: Label
    kind: Label
    width: float = BOX_W
    height: float = BOX_H


class Route(BaseModel):
    """An edge: the quadratic curve start -> end bent towards `control`, an arrow head at `end`."""

    model_config = ConfigDict(frozen=True)

    mark: Mark
    start: Point
    control: Point
    end: Point
    label: Label | None = None


class GraphLayout(BaseModel):
    """One pipeline's picture in canvas units (origin top left); renderers only draw it."""

    model_config = ConfigDict(frozen=True)

    width: float
    height: float
    title: Label
    boxes: list[Box] = []
    routes: list[Route] = []


NO_CHANGES = GraphLayout(width=200, height=40, title=Label(text="No changes.", x=10, y=24))


def layout_graph(graph: PipelineGraph) -> GraphLayout:
    """Nodes in depth columns (left to right), edges as curves between them (pure)."""
    keys = [n.key for n in graph.nodes]
    # Removed edges count too: a removed node then sits where it was, next to its old neighbours.
    placed = layered_positions(keys, [(e.source, e.target) for e in graph.edges])
    # layered_positions speaks canvas pixels; turn them back into (column, row) for a compact picture.
    cols = sorted({x for x, _ in placed.values()})
    rows = sorted({y for _, y in placed.values()})
    cell = {k: (cols.index(x), rows.index(y)) for k, (x, y) in placed.items()}
    pos = {k: (_PAD + c * _COL, _PAD + _TITLE + r * _ROW) for k, (c, r) in cell.items()}
    width = _PAD * 2 + max((c for c, _ in cell.values()), default=0) * _COL + BOX_W
    height = _PAD * 2 + _TITLE + max((r for _, r in cell.values()), default=0) * _ROW + BOX_H
    routes = []
    for edge in graph.edges:
        if edge.source not in pos or edge.target not in pos:
            continue
        (x1, y1), (x2, y2) = pos[edge.source], pos[edge.target]
        sx, sy, tx, ty = float(x1 + BOX_W), y1 + BOX_H / 2, float(x2), y2 + BOX_H / 2
        if x2 <= x1:  # same column or backwards: leave from the bottom, enter at the top
            sx, sy, tx, ty = x1 + BOX_W / 2, y1 + BOX_H, x2 + BOX_W / 2, y2
        # The curve's middle (what the label sits on): straight, or below the boxes for an edge that
        # skips a column, which a straight line would draw under the boxes in between.
        mx, my, label_y = (sx + tx) / 2, (sy + ty) / 2, (sy + ty) / 2 - 4
        if x2 - x1 > _COL:
            my = max(y1, y2) + BOX_H + 14.0
            label_y = my + 14
            height = max(height, int(label_y) + _PAD)
        text = f"{_SIGN[edge.mark]}{edge.label}".strip()
        label = Label(text=text, x=mx, y=label_y, middle=True, colour=PALETTE[edge.mark][1]) if text else None
        routes.append(Route(mark=edge.mark, start=(sx, sy), end=(tx, ty), label=label,
                            control=(2 * mx - (sx + tx) / 2, 2 * my - (sy + ty) / 2)))  # through (mx, my)
    boxes = [Box(mark=node.mark, x=x, y=y, name=Label(text=_SIGN[node.mark] + node.key, x=x + 8, y=y + 18, bold=True),
                 kind=Label(text=node.type, x=x + 8, y=y + 34, colour=MUTED))
             for node in graph.nodes for x, y in [pos[node.key]]]
    title = Label(text=f"{graph.project}/{graph.name} ({graph.action.value})", x=_PAD, y=_PAD + 12, bold=True)
    return GraphLayout(width=width, height=height, title=title, boxes=boxes, routes=routes)


# -- SVG ----------------------------------------------------------------------------------------


def _n(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(round(value, 2))


def _svg_text(label: Label) -> str:
    attrs = f'x="{_n(label.x)}" y="{_n(label.y)}"'
    attrs += ' text-anchor="middle"' * label.middle + ' font-weight="bold"' * label.bold
    attrs += f' fill="{label.colour}"' if label.colour else ""
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
    for route in layout.routes:
        (sx, sy), (cx, cy), (tx, ty) = route.start, route.control, route.end
        dash = ' stroke-dasharray="5 3"' if route.mark is Mark.REMOVED else ""
        out.append(f'<path d="M{_n(sx)},{_n(sy)} Q{_n(cx)},{_n(cy)} {_n(tx)},{_n(ty)}" fill="none" '
                   f'stroke="{PALETTE[route.mark][1]}" stroke-width="1.5"{dash} '
                   f'marker-end="url(#arrow-{route.mark.value})" class="edge {route.mark.value}"/>')
        if route.label is not None:
            out.append(_svg_text(route.label))
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
