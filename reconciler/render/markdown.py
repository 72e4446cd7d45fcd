"""The plan as Markdown for a pull-request comment: a summary table, then one collapsible
`<details>` block per changed pipeline. Never longer than `MAX_CHARS` (GitHub rejects comments over
65,536 characters): the first block that does not fit is cut short, the ones after it are dropped,
and a note says how many."""

from __future__ import annotations

import re

from reconciler.plan import PipelineChange, Plan, steps_text
from reconciler.render.escaping import markdown_cell
from reconciler.render.graph import pipeline_graph, render_mermaid
from reconciler.render.text import NO_CHANGES, prune_notes, render_pipeline, summary_line
from reconciler.terminal import Terminal

MAX_CHARS = 60_000
_PLAIN = Terminal(out=None, err=None, colour=False, unicode=True)  # type: ignore[arg-type]


_CHANGE_LINE = re.compile(r"^    ([+~-]) ")
_TEXT_DIFF_LINE = re.compile(r"^        ([+-]) ")


def _diff_line(line: str) -> str:
    # GitHub colours a ```diff block by the first column: move each change's symbol there
    # (`~` becomes `!`, which it shows as a modification); lines of a code diff likewise.
    match = _CHANGE_LINE.match(line)
    text = _TEXT_DIFF_LINE.match(line) if match is None else None
    if text is not None:
        return f"{text.group(1)}{' ' * 9}{line[text.end():]}"
    if match is None:
        return line
    sym = "!" if match.group(1) == "~" else match.group(1)
    return f"{sym}   {line[match.end():]}"


def _details(p: PipelineChange, room: int | None = None) -> str:
    """The pipeline's collapsible block; with `room`, cut to fit it (diagram first, then the
    last lines of the diff, with a note) or "" when not even the head fits."""
    lines = [_diff_line(line).replace("```", "` ` `") for line in render_pipeline(p, _PLAIN)]
    drift = " — drift" if any(c.drift for c in p.changes) else ""
    head = (f"<details><summary><code>{p.project}/{p.name}</code>: {steps_text(a.value for a in p.actions)}"
            f"{drift}</summary>\n\n```diff\n")
    full = f"{head}{chr(10).join(lines)}\n```\n\n{_diagram(p)}</details>\n"
    if room is None or len(full) <= room:
        return full
    tail = "\n```\n\n</details>\n"
    budget = room - len(head) - len(tail) - 80  # 80: the note on what was cut
    kept: list[str] = []
    for line in lines:
        if sum(len(k) + 1 for k in kept) + len(line) > budget:
            break
        kept.append(line)
    if not kept:
        return ""
    note = f"... {len(lines) - len(kept)} more lines: run `loopform plan` for the full plan"
    return f"{head}{chr(10).join([*kept, note])}{tail}"


def _diagram(p: PipelineChange) -> str:
    """The pipeline's graph with the changes marked, as a Mermaid block (GitHub draws it); only
    when the plan carries the document (create/update), so there is a topology to draw."""
    if p.desired is None or not p.desired.nodes:
        return ""
    return f"```mermaid\n{render_mermaid(pipeline_graph(p))}```\n\n"


def render_markdown(plan: Plan, *, max_chars: int = MAX_CHARS) -> str:
    changed = [p for p in plan.pipelines if p.has_changes]
    title = "### Loopform plan\n\n"
    notes = "".join(f"\n_{markdown_cell(note)}_\n" for note in prune_notes(plan))
    if not changed:
        return f"{title}{NO_CHANGES}\n{notes}"
    table = ["| Pipeline | Project | Actions | Changes | Drift |", "|---|---|---|---|---|"]
    for p in changed:
        drift = "yes" if any(c.drift for c in p.changes) else ""
        actions = steps_text(a.value for a in p.actions)
        table.append(f"| {markdown_cell(p.name)} | {markdown_cell(p.project)} | {actions} | {len(p.changes)} | {drift} |")
    head = f"{title}**{summary_line(plan)}**\n\n" + "\n".join(table) + "\n\n"
    note_room = 200 + len(notes)
    parts = [head]
    size = len(head)
    left_out = 0
    for i, p in enumerate(changed):
        block = _details(p)
        if size + len(block) > max_chars - note_room:
            # The first block that does not fit is shown cut short, so a single large pipeline
            # still shows its first changes; the rest are counted in the note.
            cut = _details(p, max_chars - note_room - size)
            parts.append(cut)
            size += len(cut)
            left_out = len(changed) - i - (1 if cut else 0)
            break
        parts.append(block)
        size += len(block)
    if left_out:
        parts.append(f"\n_…{left_out} more pipeline(s) not shown: the comment is limited to {max_chars:,} "
                     "characters. Run `loopform plan` for the full plan._\n")
    text = "".join(parts) + notes
    if len(text) > max_chars:  # the summary table alone is too long (thousands of pipelines)
        note = "\n\n_…truncated: run `loopform plan` for the full plan._\n"
        text = text[: max_chars - len(note)] + note
    return text
