"""`loopform apply [PATH...] | apply FILE.plan`: make the live pipelines equal the specs.

Shows the plan, asks for confirmation (never without a terminal: `--auto-approve` for CI; a saved
plan is not asked about again: it was reviewed when it was made), executes
it with `reconciler.apply.apply_plan`, and reports per pipeline what was done, what failed (with
the API's message) and what was not attempted. Exit 1 when anything failed; a re-run finishes.

A saved plan (`loopform plan -out FILE`) is applied only if nothing it was made from has moved
(`planner.stale_reasons`): the same backend, every spec file with the digest the plan recorded,
every live pipeline it read with the same fingerprint, and no pipeline it planned to create
appeared meanwhile.
"""

from __future__ import annotations

import argparse
import json
import threading
from pathlib import Path

from pydantic import ValidationError

from reconciler.apply import DEFAULT_PARALLELISM, ApplyResult, Outcome, PipelineResult, ResultEvent, StartEvent, StepEvent, apply_plan
from reconciler.backend import Backend
from reconciler.commands._confirm import confirm
from reconciler.commands._signals import stop_on_signals
from reconciler.commands._specs import DEFAULT_PATH, load_specs, spec_set_of
from reconciler.connection import add_backend_arguments, backend_from_args, context_from_args
from reconciler.interpolate import Context
from reconciler.redact import restore_saved_plan
from reconciler.errors import ApplyError, ConfigError, PlanError
from reconciler.plan import Plan, steps_text
from reconciler.planner import make_plan, stale_reasons
from reconciler.render.text import render_plan
from reconciler.terminal import Terminal

_SPEC_SUFFIXES = (".yaml", ".yml")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", metavar="PATH",
                        help=f"spec files or directories (default: {DEFAULT_PATH}/), or one saved plan file")
    parser.add_argument("--auto-approve", action="store_true", help="do not ask for confirmation (CI)")
    parser.add_argument("--json", action="store_true", help="JSON event lines on stdout instead of text")
    parser.add_argument("--parallelism", type=int, default=DEFAULT_PARALLELISM, metavar="N",
                        help=f"pipelines applied at the same time (default {DEFAULT_PARALLELISM})")
    parser.add_argument("--prune", action="store_true",
                        help="also delete managed pipelines whose spec is gone")
    add_backend_arguments(parser)


def run(args: argparse.Namespace, term: Terminal) -> int:
    if args.parallelism < 1:
        raise ConfigError("--parallelism must be at least 1")
    saved = _saved_plan_path(args.paths)
    if saved is not None and args.prune:
        raise ConfigError(f"--prune does nothing with a saved plan ({saved}): it was decided when the plan "
                          "was made; use `loopform plan --prune -out FILE`")
    if args.json and saved is None and not args.auto_approve:
        # The JSON lines are for a program, which cannot answer a prompt (as Terraform's -json).
        raise ConfigError("--json needs --auto-approve, or a saved plan to apply")
    context = context_from_args(args, term)
    backend, default_project = backend_from_args(args, term)
    try:
        if saved is not None:
            plan = _read_plan(saved, context)
            _refuse_if_stale(plan, backend, context)
        else:
            plan = _make_plan(args.paths, backend, default_project, prune=args.prune,
                              context=context)
        view = _JsonView(term) if args.json else _TextView(term)
        view.plan(plan)
        if not plan.has_changes:
            view.no_changes(plan)
            return 0
        if saved is None and not args.auto_approve:
            # A saved plan was reviewed when it was made (as `terraform apply PLANFILE`).
            confirm(term, "Apply these changes?", verb="apply")
        backend.session.reserve(args.parallelism)
        stop = threading.Event()
        # A first Ctrl-C or SIGTERM (a cancelled CI job): pipelines in progress finish, no other starts.
        with stop_on_signals(stop, term, message="Stopping: pipelines in progress finish, no other starts"):
            result = apply_plan(plan, backend, parallelism=args.parallelism, on_event=view.event, stop=stop)
        view.summary(result)
    finally:
        backend.close()
    if not result.ok:
        failed = result.count(Outcome.FAILED)
        skipped = result.count(Outcome.NOT_ATTEMPTED)
        why = "interrupted" if stop.is_set() else "fix the cause"
        raise ApplyError(f"{failed} failed, {skipped} not attempted; {why} and run apply again "
                         "(it continues from the live state)")
    return 0


# -- where the plan comes from -------------------------------------------------------------------

def _saved_plan_path(paths: list[str]) -> Path | None:
    """One argument that is a file but not a spec: a saved plan."""
    if len(paths) != 1:
        return None
    path = Path(paths[0])
    if path.is_file() and path.suffix not in _SPEC_SUFFIXES:
        return path
    return None


def _read_plan(path: Path, context: Context) -> Plan:
    try:
        return Plan.from_json(restore_saved_plan(path.read_text(encoding="utf-8"), context.secret))
    except OSError as exc:
        raise PlanError(f"{path}: cannot read the saved plan ({exc.strerror})") from exc
    except (ValidationError, UnicodeDecodeError) as exc:
        raise PlanError(f"{path}: not a loopform plan file (made by `loopform plan -out {path.name}`)") from exc


def _make_plan(paths: list[str], backend: Backend, default_project: str | None, *, prune: bool,
               context: Context) -> Plan:
    return make_plan(load_specs(paths, context=context), backend, default_project=default_project, prune=prune,
                     spec_set=spec_set_of(paths), context=context)


def _refuse_if_stale(plan: Plan, backend: Backend, context: Context) -> None:
    """PlanError naming what moved since the plan was made (the backend it was made against, specs
    and the variables they used, live pipelines), if anything did."""
    moved = stale_reasons(plan, backend, context=context)
    if moved:
        raise PlanError("the saved plan is stale: " + "; ".join(moved) + ". Make a new plan.")


# -- views -------------------------------------------------------------------------------------

_VERB = {"create": "created", "update": "updated", "resume": "resumed", "install": "installed", "pause": "paused",
         "reset": "reset", "delete": "deleted", "provision": "provisioned", "marker": "marker written"}


class _TextView:
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


class _JsonView:
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
