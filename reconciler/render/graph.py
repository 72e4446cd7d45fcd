"""A plan's changed pipelines as pictures: Mermaid (for PR comments) and SVG (for files).

    plan_graphs(plan) -> list[PipelineGraph]        the pure model: nodes and edges, each marked
    render_mermaid(graph) / render_svg(graph)       two interpreters of it
    write_graph(plan, path)                         .mmd/.md -> Mermaid, .svg -> SVG

The picture is the desired pipeline (nodes from the plan's `desired` document, named by spec key
through the marker) overlaid with the plan's changes: a `nodes.<key>` add/remove marks a node
added/removed (removed nodes are drawn from the change's `before`), any deeper node path marks it
changed; a `connections.<ident>` add/remove marks an edge, a rewire (`connections.<source>`
`-> a` to `-> b`) is a removed plus an added edge, a deeper path (`.filter`) marks it changed.

SVG is written here rather than through Graphviz: graphviz needs a system binary that CI would
have to install, and the picture needs only boxes, arrows and text placed by the same layered
layout that positions new nodes (`reconciler.layout`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from xml.sax.saxutils import escape

from pydantic import BaseModel, ConfigDict

from reconciler.errors import ConfigError
from reconciler.layout import layered_positions
from reconciler.marker import read_marker
from reconciler.normalize import essence
from reconciler.plan import Action, ChangeOp, FieldChange, PipelineChange, Plan
from reconciler.render.values import PLATFORM_TO_SPEC_TYPE


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
    return PLATFORM_TO_SPEC_TYPE.get(kind, kind)


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
        for ident in essence(change.desired, keys=keys).connections:
            src, tgt, label = _endpoints(ident)
            edges[ident] = GraphEdge(source=src, target=tgt, label=label)
    for c in change.changes:
        _apply_change(c, nodes, edges)
    if Action.CREATE in change.actions:
        nodes = {k: n.model_copy(update={"mark": Mark.ADDED}) for k, n in nodes.items()}
        edges = {k: e.model_copy(update={"mark": Mark.ADDED}) for k, e in edges.items()}
    return PipelineGraph(project=change.project, name=change.name, action=change.primary,
                         nodes=list(nodes.values()), edges=[edges[k] for k in sorted(edges)])


def _apply_change(c: FieldChange, nodes: dict[str, GraphNode], edges: dict[str, GraphEdge]) -> None:
    head, _, rest = c.path.partition(".")
    if head == "nodes" and rest:
        key = next((k for k in sorted(nodes, key=len, reverse=True) if rest == k or rest.startswith(k + ".")),
                   rest.split(".", 1)[0])
        whole = rest == key
        if whole and c.op is ChangeOp.REMOVE:
            kind = c.before.get("type", "") if isinstance(c.before, dict) else ""
            nodes[key] = GraphNode(key=key, type=_spec_type(str(kind)), mark=Mark.REMOVED)
        elif key in nodes and nodes[key].mark is Mark.SAME:
            nodes[key] = nodes[key].model_copy(update={"mark": Mark.ADDED if whole else Mark.CHANGED})
    elif head == "connections" and rest:
        if " -> " not in rest:
            if isinstance(c.before, str) and isinstance(c.after, str):
                # A rewire: `connections.<source port>` from `-> old target` to `-> new target`.
                old, new = f"{rest} {c.before}", f"{rest} {c.after}"
                src, tgt, label = _endpoints(old)
                edges[old] = GraphEdge(source=src, target=tgt, label=label, mark=Mark.REMOVED)
                if new in edges:
                    edges[new] = edges[new].model_copy(update={"mark": Mark.ADDED})
            return
        ident = next((k for k in sorted(edges, key=len, reverse=True)
                      if rest == k or rest.startswith(k + ".")), rest)
        whole = rest == ident
        if whole and c.op is ChangeOp.REMOVE:
            src, tgt, label = _endpoints(ident)
            edges[ident] = GraphEdge(source=src, target=tgt, label=label, mark=Mark.REMOVED)
        elif ident in edges and edges[ident].mark is Mark.SAME:
            mark = Mark.ADDED if whole and c.op is ChangeOp.ADD else Mark.CHANGED
            edges[ident] = edges[ident].model_copy(update={"mark": mark})


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


def _mermaid_text(text: str) -> str:
    # Inside a quoted Mermaid label only `"` and the entity introducer need escaping.
    return text.replace("#", "#35;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def render_mermaid(graph: PipelineGraph) -> str:
    """A `flowchart LR` of the graph; added/removed/changed nodes and edges are coloured and
    prefixed `+`/`-`/`~` (the sign keeps the meaning where colours are not shown)."""
    ids = {n.key: f"n{i}" for i, n in enumerate(graph.nodes)}
    lines = [f"%% {graph.project}/{graph.name} ({graph.action.value})", "flowchart LR"]
    for node in graph.nodes:
        label = _mermaid_text(f"{_SIGN[node.mark]}{node.key}")
        if node.type:
            label += f"<br/><small>{_mermaid_text(node.type)}</small>"
        cls = f":::{node.mark.value}" if node.mark is not Mark.SAME else ""
        lines.append(f'  {ids[node.key]}["{label}"]{cls}')
    styles = []
    for i, edge in enumerate(e for e in graph.edges if e.source in ids and e.target in ids):
        text = f"{_SIGN[edge.mark]}{edge.label}".strip()
        arrow = "-.->" if edge.mark is Mark.REMOVED else "-->"
        label = f'|"{_mermaid_text(text)}"|' if text else ""
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


# -- SVG ----------------------------------------------------------------------------------------

_BOX_W, _BOX_H, _COL, _ROW, _PAD, _TITLE = 150, 44, 210, 70, 20, 28
_SVG_FILL = {Mark.SAME: ("#f6f8fa", "#57606a"), Mark.ADDED: ("#dafbe1", "#1a7f37"),
             Mark.REMOVED: ("#ffebe9", "#cf222e"), Mark.CHANGED: ("#fff8c5", "#9a6700")}


def render_svg(graph: PipelineGraph) -> str:
    """A standalone SVG: nodes in depth columns (left to right), edges as arrows; removed things
    dashed red, added green, changed amber, each labelled with its sign too."""
    keys = [n.key for n in graph.nodes]
    # Removed edges count too: a removed node then sits where it was, next to its old neighbours.
    placed = layered_positions(keys, [(e.source, e.target) for e in graph.edges])
    # layered_positions speaks canvas pixels; turn them back into (column, row) for a compact picture.
    cols = sorted({x for x, _ in placed.values()})
    rows = sorted({y for _, y in placed.values()})
    cell = {k: (cols.index(x), rows.index(y)) for k, (x, y) in placed.items()}
    pos = {k: (_PAD + c * _COL, _PAD + _TITLE + r * _ROW) for k, (c, r) in cell.items()}
    width = _PAD * 2 + max((c for c, _ in cell.values()), default=0) * _COL + _BOX_W
    height = _PAD * 2 + _TITLE + max((r for _, r in cell.values()), default=0) * _ROW + _BOX_H
    out = ["<defs>" + "".join(
               f'<marker id="arrow-{m.value}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
               f'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{_SVG_FILL[m][1]}"/></marker>'
               for m in Mark) + "</defs>",
           f'<text x="{_PAD}" y="{_PAD + 12}" font-weight="bold">'
           f'{escape(f"{graph.project}/{graph.name} ({graph.action.value})")}</text>']
    for edge in graph.edges:
        if edge.source not in pos or edge.target not in pos:
            continue
        (x1, y1), (x2, y2) = pos[edge.source], pos[edge.target]
        sx, sy, tx, ty = float(x1 + _BOX_W), y1 + _BOX_H / 2, float(x2), y2 + _BOX_H / 2
        if x2 <= x1:  # same column or backwards: leave from the bottom, enter at the top
            sx, sy, tx, ty = x1 + _BOX_W / 2, y1 + _BOX_H, x2 + _BOX_W / 2, y2
        # The curve's middle (what the label sits on): straight, or below the boxes for an edge that
        # skips a column, which a straight line would draw under the boxes in between.
        mx, my, label_y = (sx + tx) / 2, (sy + ty) / 2, (sy + ty) / 2 - 4
        if x2 - x1 > _COL:
            my = max(y1, y2) + _BOX_H + 14.0
            label_y = my + 14
            height = max(height, int(label_y) + _PAD)
        cx, cy = 2 * mx - (sx + tx) / 2, 2 * my - (sy + ty) / 2  # a quadratic through (mx, my)
        colour = _SVG_FILL[edge.mark][1]
        dash = ' stroke-dasharray="5 3"' if edge.mark is Mark.REMOVED else ""
        out.append(f'<path d="M{sx},{sy} Q{cx},{cy} {tx},{ty}" fill="none" stroke="{colour}" stroke-width="1.5"'
                   f'{dash} marker-end="url(#arrow-{edge.mark.value})" class="edge {edge.mark.value}"/>')
        text = f"{_SIGN[edge.mark]}{edge.label}".strip()
        if text:
            out.append(f'<text x="{mx}" y="{label_y}" text-anchor="middle" fill="{colour}">{escape(text)}</text>')
    for node in graph.nodes:
        x, y = pos[node.key]
        fill, stroke = _SVG_FILL[node.mark]
        dash = ' stroke-dasharray="5 3"' if node.mark is Mark.REMOVED else ""
        out.append(f'<g class="node {node.mark.value}"><rect x="{x}" y="{y}" width="{_BOX_W}" height="{_BOX_H}" '
                   f'rx="6" fill="{fill}" stroke="{stroke}"{dash}/>'
                   f'<text x="{x + 8}" y="{y + 18}" font-weight="bold">{escape(_SIGN[node.mark] + node.key)}</text>'
                   f'<text x="{x + 8}" y="{y + 34}" fill="#57606a">{escape(node.type)}</text></g>')
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">')
    return "\n".join([head, *out, "</svg>"]) + "\n"


GRAPH_SUFFIXES = (".mmd", ".md", ".svg")


def check_graph_path(path: Path) -> None:
    """ConfigError unless `path` names a format `write_graph` knows (check before planning)."""
    if path.suffix.lower() not in GRAPH_SUFFIXES:
        raise ConfigError(f"--graph {path}: unknown format {path.suffix or '(no suffix)'!r}; "
                          "use .mmd, .md or .svg")


def write_graph(plan: Plan, path: Path, *, redact: Callable[[str], str] | None = None) -> None:
    """Write the changed pipelines' graphs to `path`: `.mmd` Mermaid, `.md` Markdown with
    Mermaid blocks, `.svg` one SVG (pictures stacked when several pipelines changed).

    `redact` is applied to the text before it is written (the CLI passes its secret redaction)."""
    check_graph_path(path)
    suffix = path.suffix.lower()
    graphs = plan_graphs(plan)
    if suffix == ".mmd":
        text = "\n".join(render_mermaid(g) for g in graphs) or "%% no changes\nflowchart LR\n"
    elif suffix == ".md":
        text = render_mermaid_markdown(plan) or "No changes.\n"
    else:
        text = _stack_svg([render_svg(g) for g in graphs])
    if redact is not None:
        text = redact(text)
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write the graph to {path}: {exc.strerror}") from exc


def _stack_svg(pictures: list[str]) -> str:
    """One SVG holding each picture below the previous one (nested <svg> elements)."""
    if not pictures:
        return ('<svg xmlns="http://www.w3.org/2000/svg" width="200" height="40" font-family="sans-serif">'
                '<text x="10" y="24">No changes.</text></svg>\n')
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
