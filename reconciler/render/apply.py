"""Apply's two views (terraform's `views`): the core emits events (`reconciler.apply`), these show
them. `TextView` for people, `JsonView` (one JSON object per line) for programs; both take the
plan first, then each event, then the result."""

from __future__ import annotations

import json
from typing import Protocol

from reconciler.apply import ApplyResult, Outcome, PipelineResult, ResultEvent, StartEvent, StepEvent
from reconciler.plan import Plan, steps_text
from reconciler.render.text import render_plan
from reconciler.terminal import Terminal


class ApplyView(Protocol):
    def plan(self, plan: Plan) -> None: ...

    def no_changes(self, plan: Plan) -> None: ...

    def event(self, event: StartEvent | StepEvent | ResultEvent) -> None: ...

    def summary(self, result: ApplyResult) -> None: ...


_VERB = {"create": "created", "update": "updated", "resume": "resumed", "install": "installed", "pause": "paused",
         "reset": "reset", "delete": "deleted", "provision": "provisioned", "marker": "marker written"}


class TextView:
    """Human output: the plan; one line per pipeline as soon as it is finished (so a long apply in a
    CI log shows progress too), with each step's line before it on a TTY; then the total."""

    def __init__(self, term: Terminal) -> None:
        self.term = term
        self.live = term.interactive
        self.started = False
        self.created: set[tuple[str, str]] = set()  # installing what was just created says "installed"
        self.not_attempted: list[PipelineResult] = []  # shown together before the total

    def plan(self, plan: Plan) -> None:
        self.term.print(render_plan(plan, self.term))

    def no_changes(self, plan: Plan) -> None:
        pass  # the rendered plan said "No changes."

    def event(self, event: StartEvent | StepEvent | ResultEvent) -> None:
        shown: str | None = None
        if self.live and isinstance(event, StepEvent):
            detail = f" {event.detail}" if event.detail else ""
            who = (event.project, event.name)
            step = event.step.value
            if step == "create":
                self.created.add(who)
            elif step == "resume" and who in self.created:
                step = "install"  # the plan's word (plan.step_words)
            shown = self.term.style(f"  {event.project}/{event.name}: {_VERB[step]}{detail}", "dim")
        elif isinstance(event, ResultEvent) and event.result.outcome is Outcome.NOT_ATTEMPTED:
            self.not_attempted.append(event.result)
        elif isinstance(event, ResultEvent) and event.result.outcome is not Outcome.UNCHANGED:
            shown = _result_line(event.result, self.term)
        if shown is not None:
            self._show(shown)

    def _show(self, line: str) -> None:
        if not self.started:
            self.term.print("")
            self.started = True
        self.term.print(line)

    def summary(self, result: ApplyResult) -> None:
        for line in _not_attempted_lines(self.not_attempted, self.term):
            self._show(line)
        counts = {o: result.count(o) for o in Outcome}
        line = (f"Apply {'complete' if result.ok else 'incomplete'}: {counts[Outcome.DONE]} done, "
                f"{counts[Outcome.FAILED]} failed, {counts[Outcome.NOT_ATTEMPTED]} not attempted, "
                f"{counts[Outcome.UNCHANGED]} unchanged.")
        self.term.print(self.term.style(line, "green" if result.ok else "red", "bold"))


def _result_line(r: PipelineResult, term: Terminal) -> str:
    # In the plan's words (`plan.step_words`): "create, then install" in both.
    steps = steps_text(s.value for s in r.done)
    who = f"{r.project}/{r.name}"
    if r.outcome is Outcome.DONE:
        return f"{term.style('done', 'green')}           {who} ({steps})"
    if r.outcome is Outcome.FAILED:
        earlier = [s.value for s in (*r.done, *([r.failed_step] if r.failed_step else []))]
        pending = steps_text((s.value for s in r.pending), before=earlier)
        extra = f"; done: {steps}" if steps else ""
        extra += f"; not attempted: {pending}" if pending else ""
        return f"{term.style('failed', 'red')}         {who}: {r.error}{extra}"
    return f"{term.style('not attempted', 'yellow')}  {who}"


_LISTED_NOT_ATTEMPTED = 10  # beyond this, one line: after a stop, a long list would bury the failures
_NAMED_WHEN_FOLDED = 3


def _not_attempted_lines(results: list[PipelineResult], term: Terminal) -> list[str]:
    if len(results) <= _LISTED_NOT_ATTEMPTED:
        return [_result_line(r, term) for r in results]
    names = sorted(f"{r.project}/{r.name}" for r in results)
    shown = ", ".join(names[:_NAMED_WHEN_FOLDED])
    return [f"{term.style('not attempted', 'yellow')}  {len(names)} pipelines: {shown} "
            f"and {len(names) - _NAMED_WHEN_FOLDED} more"]


class JsonView:
    """One JSON object per line: {"event": "plan"}, then apply's events, then {"event": "summary"}."""

    def __init__(self, term: Terminal) -> None:
        self.term = term

    def plan(self, plan: Plan) -> None:
        self.term.print(json.dumps({"event": "plan", "plan": json.loads(plan.to_json(indent=None))},
                                   separators=(",", ":")))

    def no_changes(self, plan: Plan) -> None:
        # A CI job reads the last line either way.
        self.summary(ApplyResult(results=[PipelineResult(project=p.project, name=p.name, outcome=Outcome.UNCHANGED,
                                                         pipeline_id=p.pipeline_id) for p in plan.pipelines]))

    def event(self, event: StartEvent | StepEvent | ResultEvent) -> None:
        self.term.print(event.model_dump_json())

    def summary(self, result: ApplyResult) -> None:
        self.term.print(json.dumps({"event": "summary", "ok": result.ok,
                                    **{o.value: result.count(o) for o in Outcome}}, separators=(",", ":")))
