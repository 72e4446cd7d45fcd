"""Renderers: exact text (unicode and ASCII, colour only when asked), JSON, Markdown size limit."""

from __future__ import annotations

import io
import json
from pathlib import Path

from goldenfile import check_golden

from reconciler.backend import Resolved, ResourceKind
from reconciler.plan import Action, ChangeOp, FieldChange, PipelineChange, Plan
from reconciler.render.jsonfmt import render_json
from reconciler.render.markdown import render_markdown
from reconciler.render.text import render_plan
from reconciler.terminal import Terminal

GOLDEN = Path(__file__).resolve().parent / "golden"


def _golden(name: str, text: str) -> None:
    check_golden(GOLDEN / name, text)


def _term(*, colour: bool = False, unicode: bool = True) -> Terminal:
    return Terminal(out=io.StringIO(), err=io.StringIO(), colour=colour, unicode=unicode)


def _plan() -> Plan:
    return Plan.build([
        PipelineChange(project="demo", project_id="p", name="new-one", actions=[Action.CREATE, Action.RESUME],
                       provisions=[Resolved(kind=ResourceKind.DATASET, name="frames", id="d", provision=True)],
                       changes=[FieldChange(path="nodes.videos", op=ChangeOp.ADD,
                                            after={"type": "dataset", "name": "Videos", "dataset": "frames"}),
                                FieldChange(path="nodes.videos.trigger", op=ChangeOp.ADD, after={"cron": "0 * * * *"}),
                                FieldChange(path="connections.videos.item -> cut.item", after={"filter": {}}, op=ChangeOp.ADD),
                                FieldChange(path="variables.t", after={"type": "Float", "value": 0.5}, op=ChangeOp.ADD)],
                       reason="no live pipeline with this name"),
        PipelineChange(project="demo", project_id="p", name="edited", pipeline_id="x", actions=[Action.UPDATE],
                       changes=[FieldChange(path="nodes.cut.code", before="def run(item):\n    return item\n",
                                            after="def run(item):\n    item.x = 1\n    return item\n"),
                                FieldChange(path="nodes.label.task.priority", before="high", after="medium", drift=True),
                                FieldChange(path="connections.a.item[complete]", before="-> b.item", after="-> c.item"),
                                FieldChange(path="nodes.old", before={"type": "code"}, op=ChangeOp.REMOVE)]),
        PipelineChange(project="demo", project_id="p", name="paused", pipeline_id="y", actions=[Action.PAUSE],
                       changes=[FieldChange(path="status", before="installed", after="paused")]),
        PipelineChange(project="demo", project_id="p", name="resetting", pipeline_id="z",
                       actions=[Action.RESET, Action.UPDATE],
                       changes=[FieldChange(path="resetToken", before="1", after="2")]),
        PipelineChange(project="demo", project_id="p", name="gone", pipeline_id="w", actions=[Action.DELETE]),
        PipelineChange(project="demo", project_id="p", name="same", pipeline_id="v", actions=[Action.NO_OP]),
    ], backend="test", spec_digests={}, created_at="2026-01-01T00:00:00+00:00")


def test_text_unicode() -> None:
    _golden("plan.txt", render_plan(_plan(), _term()) + "\n")


def test_text_ascii_fallback() -> None:
    text = render_plan(_plan(), _term(unicode=False))
    _golden("plan-ascii.txt", text + "\n")
    assert all(ord(ch) < 128 for ch in text)


def test_colour_only_when_the_terminal_wants_it() -> None:
    assert "\x1b[" not in render_plan(_plan(), _term(colour=False))
    term = _term(colour=True)
    term.print(render_plan(_plan(), term))
    assert "\x1b[32m+\x1b[0m" in term.out.getvalue()  # type: ignore[attr-defined]  # an added field, green


def test_control_characters_from_live_text_are_escaped_and_colours_kept() -> None:
    """A pipeline name with ESC/BEL sequences (retitle the terminal, clear the screen) cannot drive
    the terminal through a plan: only Loopform's own colour sequences reach it."""
    hostile = "x\x1b]0;owned\x07\x1b[2J\x9b2J\u202eevil\ud800"
    plan = Plan.build([PipelineChange(project="demo", project_id="p", name=hostile, pipeline_id="w",
                                      actions=[Action.DELETE])], backend="t", spec_digests={})
    term = _term(colour=True)
    term.print(render_plan(plan, term))
    shown = term.out.getvalue()  # type: ignore[attr-defined]
    assert "x\\u001b]0;owned\\u0007\\u001b[2J\\u009b2J\\u202eevil\\ud800" in shown
    assert "\x07" not in shown and "\x9b" not in shown and "\x1b[2J" not in shown
    assert "\x1b[31;1m- pipeline" in shown  # the delete is still red


def test_summary_and_no_changes() -> None:
    assert render_plan(_plan(), _term()).endswith(
        "Plan: 1 to create, 1 to update, 1 to delete, 2 status changes.")
    empty = Plan.build([], backend="t", spec_digests={})
    assert render_plan(empty, _term()) == "No changes. Live pipelines match the specs."


def test_json_has_version_summary_and_reads_back() -> None:
    text = render_json(_plan())
    data = json.loads(text)
    assert data["format_version"] == 1
    assert data["summary"] == {"create": 1, "update": 1, "delete": 1, "status": 2, "has_changes": True}
    assert Plan.from_json(text) == _plan()


def test_markdown() -> None:
    _golden("plan.md", render_markdown(_plan()))


def test_markdown_never_exceeds_the_limit() -> None:
    big = [PipelineChange(project="demo", project_id="p", name=f"pipeline-{i:04d}", pipeline_id=str(i),
                          actions=[Action.UPDATE],
                          changes=[FieldChange(path=f"nodes.n{j}.metadata.x", before="a" * 50, after="b" * 50)
                                   for j in range(20)])
           for i in range(200)]
    text = render_markdown(Plan.build(big, backend="t", spec_digests={}))
    assert len(text) <= 60_000
    assert "more pipeline(s) not shown" in text
    assert text.count("<details>") == text.count("</details>")
    huge = [p.model_copy(update={"name": "x" * 400 + str(i), "changes": []}) for i, p in enumerate(big * 2)]
    text = render_markdown(Plan.build(huge, backend="t", spec_digests={}))
    assert len(text) <= 60_000


def test_markdown_cuts_one_huge_pipeline_instead_of_dropping_it() -> None:
    huge = PipelineChange(project="demo", project_id="p", name="huge", pipeline_id="1", actions=[Action.UPDATE],
                          changes=[FieldChange(path=f"nodes.n{j:04d}.task.priority", before="low", after="high")
                                   for j in range(3000)])
    text = render_markdown(Plan.build([huge], backend="t", spec_digests={}))
    assert len(text) <= 60_000
    assert "nodes.n0000.task.priority" in text  # the first changes are there
    assert "more lines: run `loopform plan` for the full plan" in text
    assert text.count("<details>") == text.count("</details>") == 1
    assert text.count("```") % 2 == 0  # every fence closed


def test_mermaid_draws_each_module_instance_as_a_labelled_group_nested_as_the_instances() -> None:
    from reconciler.render.graph import GraphEdge, GraphNode, PipelineGraph, render_mermaid

    graph = PipelineGraph(project="p", name="x", action=Action.UPDATE, nodes=[
        GraphNode(key="src", type="dataset"), GraphNode(key="stage/label", type="task"),
        GraphNode(key="stage/inner/check", type="task"), GraphNode(key="other/label", type="task"),
    ], edges=[GraphEdge(source="src", target="stage/label"), GraphEdge(source="stage/label", target="stage/inner/check")])
    lines = render_mermaid(graph).splitlines()
    assert lines[2:13] == [
        '  n0["src<br/><small>dataset</small>"]',
        '  subgraph m0["module other"]',
        '    n3["other/label<br/><small>task</small>"]',
        "  end",
        '  subgraph m1["module stage"]',
        '    n1["stage/label<br/><small>task</small>"]',
        '    subgraph m2["module stage/inner"]',
        '      n2["stage/inner/check<br/><small>task</small>"]',
        "    end",
        "  end",
        "  n0 --> n1",
    ]
