"""`plan --graph`: the changed pipelines' topology, with added/removed/changed nodes and edges marked."""

from __future__ import annotations

import random
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from gitops_kit import SPEC
from PIL import Image, ImageChops, ImageColor
from harness import cli

from reconciler.apply import apply_plan
from reconciler.client import RestBackend
from reconciler.connection import open_embedded
from reconciler.errors import ConfigError
from reconciler.plan import Plan
from reconciler.planner import make_plan
from reconciler.plan import Action
import reconciler.render
from reconciler.render.picture import GROUP_FILL, GROUP_STROKE
from reconciler.render import graph_png
from reconciler.render.graph import (PALETTE, GraphEdge, GraphNode, Mark, PipelineGraph, layout_graph, pipeline_graph,
                                     plan_graphs, render_mermaid, render_mermaid_markdown, render_svg, write_graph)
from reconciler.spec import load


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[RestBackend]:
    b = open_embedded(tmp_path / "state.db")
    yield b
    b.close()


def plan_of(tmp_path: Path, backend: RestBackend, text: str) -> Plan:
    spec = tmp_path / "specs" / "frames.yaml"
    spec.parent.mkdir(exist_ok=True)
    spec.write_text(text)
    loaded = load([spec])
    assert loaded.ok, [str(e) for e in loaded.errors]
    return make_plan(loaded.specs, backend, default_project="local")


EDITED = (SPEC.replace("    done: {type: dataset, dataset: frames, folder: /done}\n",
                       "    review: {type: task, task: {type: qa, dataset: frames}}\n")
          .replace("priority: medium", "priority: high")
          .replace("    - {from: label, action: complete, to: done}\n",
                   "    - {from: label, action: complete, to: review}\n"
                   "    - {from: videos, to: review, filter: {metadata.user.ok: true}}\n"))


def test_marks_added_removed_and_changed_nodes_and_connections(tmp_path: Path, backend: RestBackend) -> None:
    created = plan_of(tmp_path, backend, SPEC)
    (graph,) = plan_graphs(created)
    assert {n.key: n.mark for n in graph.nodes} == dict.fromkeys(["videos", "cut", "label", "done"], Mark.ADDED)
    assert apply_plan(created, backend).ok

    graph = pipeline_graph(plan_of(tmp_path, backend, EDITED).pipelines[0])
    marks = {n.key: n.mark for n in graph.nodes}
    assert marks == {"videos": Mark.SAME, "cut": Mark.SAME, "label": Mark.CHANGED, "review": Mark.ADDED,
                     "done": Mark.REMOVED}
    edges = {(e.source, e.target, e.label): e.mark for e in graph.edges}
    assert edges == {("videos", "cut", ""): Mark.SAME, ("cut", "label", ""): Mark.SAME,
                     ("label", "done", "complete"): Mark.REMOVED, ("label", "review", "complete"): Mark.ADDED,
                     ("videos", "review", ""): Mark.ADDED}


def test_mermaid_text(tmp_path: Path, backend: RestBackend) -> None:
    assert apply_plan(plan_of(tmp_path, backend, SPEC), backend).ok
    plan = plan_of(tmp_path, backend, EDITED)
    text = render_mermaid(plan_graphs(plan)[0])
    assert text.splitlines()[:2] == ["%% local/frames (update)", "flowchart LR"]
    assert '["~ label<br/><small>task</small>"]:::changed' in text
    assert '["+ review<br/><small>task</small>"]:::added' in text
    assert '["- done<br/><small>dataset</small>"]:::removed' in text
    assert ' -.->|"- complete"| ' in text and ' -->|"+ complete"| ' in text
    assert "linkStyle" in text and "classDef removed" in text
    md = render_mermaid_markdown(plan)
    assert md.startswith("#### `local/frames` (update)\n\n```mermaid\n") and md.rstrip().endswith("```")


def test_write_graph_formats(tmp_path: Path, backend: RestBackend) -> None:
    assert apply_plan(plan_of(tmp_path, backend, SPEC), backend).ok
    plan = plan_of(tmp_path, backend, EDITED)
    write_graph(plan, tmp_path / "g.svg")
    root = ET.fromstring((tmp_path / "g.svg").read_text())  # well-formed XML
    ns = "{http://www.w3.org/2000/svg}"
    # one box per node of the picture (the four kept or added, and the removed one), each marked
    boxes = {g.find(f"{ns}text").text: g.get("class") for g in root.iter(f"{ns}g")}  # type: ignore[union-attr]
    assert boxes == {"videos": "node same", "cut": "node same", "~ label": "node changed",
                     "+ review": "node added", "- done": "node removed"}
    edges = [e.get("class") or "" for e in root.iter(f"{ns}path") if (e.get("class") or "").startswith("edge")]
    assert sorted(edges) == ["edge added", "edge added", "edge removed", "edge same", "edge same"]
    texts = [t.text for t in root.iter(f"{ns}text")]
    assert "local/frames (update)" in texts and "- complete" in texts and "+ complete" in texts
    width, height = float(root.get("width") or 0), float(root.get("height") or 0)
    for box in root.iter(f"{ns}rect"):  # every box inside the canvas
        assert float(box.get("x") or 0) + float(box.get("width") or 0) <= width
        assert float(box.get("y") or 0) + float(box.get("height") or 0) <= height
    write_graph(plan, tmp_path / "g.mmd")
    assert (tmp_path / "g.mmd").read_text().startswith("%% local/frames")
    write_graph(plan, tmp_path / "g.md")
    assert "```mermaid" in (tmp_path / "g.md").read_text()
    with pytest.raises(ConfigError, match=r"unknown format '.gif'; use .mmd, .md, .svg or .png"):
        write_graph(plan, tmp_path / "g.gif")


def test_a_pipeline_too_large_to_draw_gets_a_picture_saying_so(tmp_path: Path, backend: RestBackend) -> None:
    # A spec a pull request may bring: a chain of 600 nodes and a connection from the first to
    # every other. Laid out, its long connections needed 180,000 slots (the workflow's
    # `plan --graph` ran for minutes); its picture says what it is instead.
    count = 600
    nodes = "".join(f"    n{i}: {{type: code, code: x}}\n" for i in range(count))
    chain = "".join(f"    - {{from: n{i}, to: n{i + 1}}}\n" for i in range(count - 1))
    fan = "    - {from: n0, to: [" + ", ".join(f"n{i}" for i in range(2, count)) + "]}\n"
    plan = plan_of(tmp_path, backend, "apiVersion: loopform/v1\nkind: Pipeline\nmetadata: {name: fan, project: local}\n"
                                      f"spec:\n  root: n0\n  nodes:\n{nodes}  connections:\n{chain}{fan}")
    said = "600 nodes and 1197 connections, more than a picture shows (200 and 400); the plan lists every change"
    write_graph(plan, tmp_path / "g.svg")
    root = ET.fromstring((tmp_path / "g.svg").read_text())
    ns = "{http://www.w3.org/2000/svg}"
    assert [t.text for t in root.iter(f"{ns}text")] == [f"local/fan (create): {said}"]
    assert not list(root.iter(f"{ns}rect"))
    write_graph(plan, tmp_path / "g.mmd")
    assert (tmp_path / "g.mmd").read_text() == f'%% local/fan (create)\nflowchart LR\n  n0["{said}"]\n'
    (graph,) = plan_graphs(plan)
    small = graph.model_copy(update={"nodes": graph.nodes[:200], "edges": graph.edges[:199]})
    assert len(layout_graph(small).boxes) == 200  # at the limit it is still drawn


def test_png_paints_the_svg_layout(tmp_path: Path, backend: RestBackend, drawn_text: list[str]) -> None:
    assert apply_plan(plan_of(tmp_path, backend, SPEC), backend).ok
    plan = plan_of(tmp_path, backend, EDITED)
    write_graph(plan, tmp_path / "g.png", redact=lambda text: text.replace("review", "(sensitive)"))
    with Image.open(tmp_path / "g.png") as image:
        image.load()
    layout = layout_graph(plan_graphs(plan)[0])
    assert image.format == "PNG" and image.mode == "RGB"
    assert image.size == (layout.width * graph_png.SCALE, layout.height * graph_png.SCALE)
    assert ImageChops.difference(image, Image.new("RGB", image.size, "white")).getbbox() is not None
    colours = {colour for _, colour in image.getcolors(maxcolors=image.width * image.height) or []}
    for mark in (Mark.ADDED, Mark.REMOVED, Mark.CHANGED, Mark.SAME):  # each box's fill and border
        fill, stroke = PALETTE[mark]
        assert {ImageColor.getrgb(fill), ImageColor.getrgb(stroke)} <= colours, mark
    # every label of the layout, each through `redact`
    assert sorted(drawn_text) == sorted(["local/frames (update)", "videos", "dataset", "cut", "code", "~ label", "task",
                                    "+ (sensitive)", "task", "- done", "dataset", "- complete", "+ complete", "+"])
    # the layout is the SVG's: the same boxes at the same places
    write_graph(plan, tmp_path / "g.svg")
    root = ET.fromstring((tmp_path / "g.svg").read_text())
    rects = [(float(r.get("x") or 0), float(r.get("y") or 0)) for r in root.iter("{http://www.w3.org/2000/svg}rect")]
    assert rects == [(box.x, box.y) for box in layout.boxes]
    # no changes: a picture saying so
    write_graph(plan_of(tmp_path, backend, SPEC), tmp_path / "none.png")
    assert "No changes." in drawn_text


@pytest.mark.parametrize("name", ["plan.gif", "plan"])
def test_plan_graph_flag_refuses_an_unknown_format_before_planning(workdir: Path, name: str) -> None:
    run = cli("plan", "--graph", name)
    assert run.code == 1 and run.out == ""
    suffix = "'.gif'" if name.endswith(".gif") else "'(no suffix)'"
    assert run.err == f"Error: --graph {name}: unknown format {suffix}; use .mmd, .md, .svg or .png\n"


def test_plan_graph_png_without_pillow_names_the_extra_before_planning(workdir: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # Pillow is optional: as if it were not installed (and the PNG painter never imported).
    monkeypatch.setitem(sys.modules, "PIL", None)
    monkeypatch.delitem(sys.modules, "reconciler.render.graph_png")
    monkeypatch.delattr(reconciler.render, "graph_png")
    run = cli("plan", "--graph", "plan.png")
    assert run.code == 1 and run.out == ""
    assert run.err == ("Error: --graph plan.png: drawing a PNG needs Pillow: pip install 'loopform[graph]' "
                       "(or use .svg)\n")


def test_labels_are_escaped_for_mermaid_and_svg(tmp_path: Path) -> None:
    # Spec keys are plain, but live-only nodes are named by their display names, which are free text.
    graph = PipelineGraph(project="p", name='a "b" <c>', action=Action.UPDATE,
                          nodes=[GraphNode(key='cut <&> "x"#1', type="code", mark=Mark.REMOVED),
                                 GraphNode(key="next", type="task")],
                          edges=[GraphEdge(source='cut <&> "x"#1', target="next", label="a<b", mark=Mark.REMOVED)])
    text = render_mermaid(graph)
    assert '["- cut #lt;&#gt; #quot;x#quot;#35;1<br/><small>code</small>"]:::removed' in text
    assert '-.->|"- a#lt;b"|' in text
    root = ET.fromstring(render_svg(graph))
    assert '- cut <&> "x"#1' in [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]


def test_a_node_renamed_with_its_id_kept_is_drawn_changed_not_added(tmp_path: Path, backend: RestBackend) -> None:
    with_id = SPEC.replace("label: {type: task,", "label: {id: 5d7e1c52-0000-4000-8000-00000000000b, type: task,")
    assert apply_plan(plan_of(tmp_path, backend, with_id), backend).ok
    renamed = with_id.replace("label:", "label-bee:").replace("to: label}", "to: label-bee}") \
        .replace("from: label,", "from: label-bee,")
    graph = pipeline_graph(plan_of(tmp_path, backend, renamed).pipelines[0])
    assert {n.key: n.mark for n in graph.nodes}["label-bee"] is Mark.CHANGED


# -- geometry: no edge through a box, no label covered --------------------------------------------

Rect = tuple[float, float, float, float]


def _crosses(p: tuple[float, float], q: tuple[float, float], r: Rect) -> bool:
    """Whether the segment p-q enters the open rectangle r (Liang-Barsky clipping)."""
    (x0, y0), (x1, y1) = p, q
    t0, t1 = 0.0, 1.0
    for d, lo, hi, v in ((x1 - x0, r[0], r[2], x0), (y1 - y0, r[1], r[3], y0)):
        if d == 0:
            if not lo < v < hi:
                return False
            continue
        a, b = (lo - v) / d, (hi - v) / d
        t0, t1 = max(t0, min(a, b)), min(t1, max(a, b))
    return t0 < t1


def _check_geometry(graph: PipelineGraph) -> None:
    layout = layout_graph(graph)
    boxes = {b.name.text.split(" ")[-1]: (b.x, b.y, b.x + b.width, b.y + b.height) for b in layout.boxes}
    inner = {k: (x0 + 0.5, y0 + 0.5, x1 - 0.5, y1 - 0.5) for k, (x0, y0, x1, y1) in boxes.items()}
    labels = [r.label.extent() for r in layout.routes if r.label is not None]
    for route in layout.routes:
        for p, q in zip(route.points, route.points[1:]):
            for key, rect in inner.items():
                assert not _crosses(p, q, rect), (graph.name, key, route.points)
        assert all(0 <= x <= layout.width and 0 <= y <= layout.height for x, y in route.points)
    for i, label in enumerate(labels):
        assert not any(_overlaps(label, box) for box in boxes.values()), (graph.name, label)
        assert not any(_overlaps(label, other) for other in labels[i + 1:]), (graph.name, label)
        assert 0 <= label[0] and label[2] <= layout.width and 0 <= label[1] and label[3] <= layout.height
    svg = render_svg(graph)  # labels are drawn after every edge: no line is painted over one
    if labels:
        assert svg.rindex('class="edge ') < svg.index('paint-order="stroke"')
    _check_groups(graph, layout, boxes, labels)


def _check_groups(graph: PipelineGraph, layout, boxes: dict[str, Rect], labels: list[Rect]) -> None:
    """Module instances: one rectangle each, around exactly its nodes; nested ones inside the outer
    one, the others apart; its label inside it and over nothing; no label of an edge that neither
    enters nor leaves it inside it."""
    wanted = sorted({"/".join(n.key.split("/")[:i]) for n in graph.nodes for i in range(1, n.key.count("/") + 1)})
    assert sorted(g.key for g in layout.groups) == wanted, graph.name
    for group in layout.groups:
        rect, tag = group.extent(), group.label.extent()
        for key, box in boxes.items():
            member = key.startswith(group.key + "/")
            assert _contains(rect, box) if member else not _overlaps(rect, box), (graph.name, group.key, key)
            assert not _overlaps(tag, box), (graph.name, group.key, key)
        assert _contains(rect, tag) and not any(_overlaps(tag, label) for label in labels), (graph.name, group.key)
        for other in layout.groups:
            if other.key.startswith(group.key + "/"):
                assert _contains(rect, other.extent()) and not _overlaps(tag, other.extent()), (group.key, other.key)
            elif other.key != group.key and not group.key.startswith(other.key + "/"):
                assert not _overlaps(rect, other.extent()), (graph.name, group.key, other.key)
        assert len(layout.routes) == len(graph.edges)  # every edge's ends are drawn: routes in edge order
        for edge, route in zip(graph.edges, layout.routes):
            if route.label is None:
                continue
            if not any(k.startswith(group.key + "/") for k in (edge.source, edge.target)):
                assert not _overlaps(route.label.extent(), rect), (graph.name, group.key, route.label.text)
        assert 0 <= rect[0] and rect[2] <= layout.width and rect[3] <= layout.height


def _contains(outer: Rect, inner: Rect) -> bool:
    return outer[0] < inner[0] and inner[2] < outer[2] and outer[1] < inner[1] and inner[3] < outer[3]


def _overlaps(a: Rect, b: Rect) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _graph(name: str, keys: list[str], edges: list[tuple[str, str, str]]) -> PipelineGraph:
    return PipelineGraph(project="p", name=name, action=Action.UPDATE,
                         nodes=[GraphNode(key=k, type="code") for k in keys],
                         edges=[GraphEdge(source=a, target=b, label=label) for a, b, label in edges])


def _big() -> PipelineGraph:
    edges = [("src", "split", "")]
    keys = ["src", "split", "merge", "report"]
    for b in range(3):
        chain = [f"label{b}", f"check{b}", f"review{b}", f"fix{b}", f"recheck{b}", f"done{b}"]
        keys += chain + [f"trash{b}", f"audit{b}"]
        edges += [("split", chain[0], "")] + [(x, y, "complete") for x, y in zip(chain, chain[1:])] + [
            (f"review{b}", f"trash{b}", "discard"), (f"trash{b}", f"audit{b}", ""), (chain[-1], "merge", "")]
    edges += [("merge", "report", ""), ("src", "report", "shortcut"), ("label0", "audit2", "escalate-to-audit")]
    return _graph("big", keys, edges)


def _random(seed: int) -> PipelineGraph:
    rnd = random.Random(seed)
    keys = [f"n{i}" for i in range(rnd.randint(2, 14))]
    words = ["", "", "complete", "discard", "approve", "a-much-longer-action-name"]
    edges = {(rnd.choice(keys), rnd.choice(keys)) for _ in range(rnd.randint(1, 2 * len(keys)))}
    return _graph(f"random-{seed}", keys, [(a, b, rnd.choice(words)) for a, b in sorted(edges)])


def _random_modules(seed: int) -> PipelineGraph:
    """A random graph whose nodes sit in random (nested) module instances."""
    rnd = random.Random(seed)
    prefixes = ["", "", "a/", "b/", "a/x/", "a/y/", "b/x/"]
    keys = [f"{rnd.choice(prefixes)}n{i}" for i in range(rnd.randint(2, 14))]
    words = ["", "", "complete", "discard", "a-much-longer-action-name"]
    edges = {(rnd.choice(keys), rnd.choice(keys)) for _ in range(rnd.randint(1, 2 * len(keys)))}
    return _graph(f"modules-{seed}", keys, [(a, b, rnd.choice(words)) for a, b in sorted(edges)])


def _examples(tmp_path: Path) -> list[PipelineGraph]:
    """The example pipelines as a first apply draws them: three use modules/label-review.yaml."""
    with open_embedded(tmp_path / "state.db") as backend:
        loaded = load([REPO / "pipelines"])
        assert loaded.ok, [str(e) for e in loaded.errors]
        return plan_graphs(make_plan(loaded.specs, backend, default_project="local"))


REPO = Path(__file__).resolve().parents[2]

GEOMETRY_CASES = [
    _graph("video-frames", ["videos", "cut", "label-a", "label-b", "review", "discarded"],
           [("videos", "cut", ""), ("cut", "label-a", ""), ("cut", "label-b", ""),
            ("label-a", "review", "complete"), ("label-b", "review", "complete"),
            ("label-a", "discarded", "discard"), ("label-b", "discarded", "discard"),
            ("review", "discarded", "discard")]),
    _graph("cycle", ["a", "b", "c", "d"], [("a", "b", "x"), ("b", "c", "y"), ("c", "d", ""), ("d", "a", "back"),
                                           ("c", "a", "again"), ("b", "b", "self")]),
    _big(),
    *(_random(seed) for seed in range(40)),
    *(_random(seed) for seed in (99, 207, 458, 594)),  # crowded gaps: every nearby spot was taken
    _graph("nested", ["src", "outer/first/label", "outer/first/review", "outer/second/label", "outer/second/review",
                      "outer/merge", "done", "side"],
           [("src", "outer/first/label", ""), ("outer/first/label", "outer/first/review", "complete"),
            ("outer/first/review", "outer/second/label", "approve"), ("outer/second/label", "outer/second/review", ""),
            ("outer/second/review", "outer/merge", "approve"), ("outer/merge", "done", ""), ("src", "side", ""),
            ("side", "done", "a-long-way-round"), ("outer/first/review", "done", "discard")]),
    *(_random_modules(seed) for seed in range(40)),
]


@pytest.mark.parametrize("graph", GEOMETRY_CASES, ids=lambda g: g.name)
def test_no_edge_passes_through_a_box_and_no_label_is_covered(graph: PipelineGraph) -> None:
    _check_geometry(graph)


def test_the_examples_draw_each_module_instance_as_a_labelled_group(tmp_path: Path) -> None:
    graphs = {g.name: g for g in _examples(tmp_path)}
    for graph in graphs.values():
        _check_geometry(graph)
    street = layout_graph(graphs["street-labeling"])
    assert [(g.key, g.label.text) for g in street.groups] == [("stage", "module stage")]
    svg = render_svg(graphs["street-labeling"])
    assert svg.index('class="group"') < svg.index('class="edge ')  # behind the edges and boxes
    assert ">module stage</text>" in svg



def test_png_paints_the_module_groups_redacted(tmp_path: Path, drawn_text: list[str]) -> None:
    graph = next(g for g in GEOMETRY_CASES if g.name == "nested")
    layout = layout_graph(graph)
    data = graph_png.render_png([layout], redact=lambda text: text.replace("second", "(sensitive)"))
    (tmp_path / "g.png").write_bytes(data)
    with Image.open(tmp_path / "g.png") as image:
        colours = {colour for _, colour in image.getcolors(maxcolors=image.width * image.height) or []}
    assert {ImageColor.getrgb(GROUP_FILL), ImageColor.getrgb(GROUP_STROKE)} <= colours
    assert [t for t in drawn_text if t.startswith("module ")] == [
        "module outer", "module outer/first", "module outer/(sensitive)"]


@pytest.mark.parametrize(("fmt", "stream"), [((), "out"), (("--json",), "err"), (("--markdown",), "err")])
def test_plan_graph_says_where_it_wrote(workdir: Path, fmt: tuple[str, ...], stream: str) -> None:
    (workdir / "pipelines").mkdir()
    (workdir / "pipelines" / "frames.yaml").write_text(SPEC)
    run = cli("plan", "--graph", "g.png", *fmt)
    assert run.code == 0, run.err
    assert "Wrote g.png\n" in getattr(run, stream)  # beside a JSON or Markdown document, on stderr
    assert (workdir / "g.png").read_bytes().startswith(b"\x89PNG")

