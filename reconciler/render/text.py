"""The plan for a terminal, in the manner of `terraform plan`.

    ~ pipeline local/video-frames (update)
        ~ nodes.label-a.task.recipe: "default" -> "strict"
        + nodes.extra: code node (function "run")
        - connections.a.item -> b.item  (drift: edited outside Loopform)

    Plan: 0 to create, 1 to update, 0 to delete, 0 status changes.

Symbols fall back to ASCII when the terminal cannot show them; colour only through
`Terminal.style` (which knows about TTYs and NO_COLOR).
"""

from __future__ import annotations

from reconciler.plan import Action, ChangeOp, FieldChange, PipelineChange, Plan, steps_text
from reconciler.render.values import describe, text_diff
from reconciler.terminal import Terminal

SYMBOLS = {Action.CREATE: "+", Action.UPDATE: "~", Action.DELETE: "-", Action.PAUSE: "⏸",
           Action.RESUME: "▶", Action.RESET: "↺", Action.NO_OP: " "}
ASCII_SYMBOLS = {**SYMBOLS, Action.PAUSE: "||", Action.RESUME: ">", Action.RESET: "<>"}
COLOURS = {Action.CREATE: "green", Action.UPDATE: "yellow", Action.DELETE: "red", Action.PAUSE: "cyan",
           Action.RESUME: "cyan", Action.RESET: "cyan", Action.NO_OP: "dim"}
OP_SYMBOL = {ChangeOp.ADD: ("+", "green"), ChangeOp.REMOVE: ("-", "red"), ChangeOp.CHANGE: ("~", "yellow"),
             ChangeOp.RENAME: ("~", "yellow")}
NO_CHANGES = "No changes. Live pipelines match the specs."


def symbol(action: Action, term: Terminal) -> str:
    return (SYMBOLS if term.unicode else ASCII_SYMBOLS)[action]


def summary_line(plan: Plan) -> str:
    c = plan.counts()
    return (f"Plan: {c.create} to create, {c.update} to update, {c.delete} to delete, "
            f"{c.status} status changes.")


def _change_line(change: FieldChange, term: Terminal) -> str:
    if change.path == "status":
        sym, colour = "~", "cyan"
    else:
        sym, colour = OP_SYMBOL[change.op]
    line = f"{term.style(sym, colour)} {describe(change)}"
    if change.drift:
        line += term.style("  (drift: edited outside Loopform)", "yellow")
    return line


def _names(entries: list[str]) -> str:
    """"project/name" entries as names, with the project only when they span several."""
    projects = {e.partition("/")[0] for e in entries}
    return ", ".join(entries if len(projects) > 1 else [e.partition("/")[2] for e in entries])


def prune_notes(plan: Plan) -> list[str]:
    """What `--prune` would delete, and what it leaves alone here (text and Markdown end with it)."""
    notes = []
    if plan.prunable:
        n = len(plan.prunable)
        notes.append(f"{n} managed pipeline{'s' if n != 1 else ''} {'have' if n != 1 else 'has'} no spec here "
                     f"(apply --prune would delete {'them' if n != 1 else 'it'}): {_names(plan.prunable)}")
    if plan.outside_scope:
        n = len(plan.outside_scope)
        notes.append(f"{n} managed pipeline{'s' if n != 1 else ''} of this spec set came from spec files not "
                     f"given here; --prune leaves {'them' if n != 1 else 'it'} alone: {_names(plan.outside_scope)}")
    return notes


def render_pipeline(p: PipelineChange, term: Terminal) -> list[str]:
    primary = p.primary
    head = f"{symbol(primary, term)} pipeline {p.project}/{p.name}"
    lines = [f"{term.style(head, COLOURS[primary], 'bold')} ({steps_text(a.value for a in p.actions)})"]
    if p.reason:
        lines.append(f"    # {p.reason}")
    for prov in p.provisions:
        if prov.provision:
            lines.append(f"    (local) {prov.kind.value} {prov.name!r} will be provisioned")
    for change in p.changes:
        lines.append(f"    {_change_line(change, term)}")
        for line in text_diff(change) or ():
            colour = {"+": "green", "-": "red", "@": "cyan"}.get(line[:1])
            lines.append(f"        {term.style(line, colour) if colour else line}")
    return lines


def render_plan(plan: Plan, term: Terminal) -> str:
    """The whole plan as text (no trailing newline). Pipelines without changes are not listed."""
    changed = [p for p in plan.pipelines if p.has_changes]
    notes = [term.style(note, "yellow") for note in prune_notes(plan)]
    if not changed:
        return "\n".join([NO_CHANGES, *notes])
    lines = ["Loopform will perform the following actions:", ""]
    for p in changed:
        lines.extend(render_pipeline(p, term))
        lines.append("")
    lines.append(term.style(summary_line(plan), "bold"))
    return "\n".join([*lines, *notes])
