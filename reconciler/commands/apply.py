"""`loopform apply [PATH...] | apply FILE.plan [PATH...]`: make the live pipelines equal the specs.

Shows the plan, asks for confirmation (never without a terminal: `--auto-approve` for CI; a saved
plan is not asked about again: it was reviewed when it was made), executes
it with `reconciler.apply.apply_plan`, and reports per pipeline what was done, what failed (with
the API's message) and what was not attempted. Exit 1 when anything failed; a re-run finishes.

A saved plan (`loopform plan -out FILE`) is applied only if nothing it was made from has moved
(`planfile.stale_reasons`): the same backend, every spec file with the digest the plan recorded,
every live pipeline it read with the same fingerprint, and no pipeline it planned to create
appeared meanwhile. A plan file is data, not an instruction: the GitOps kit applies the artifact of
a pull request's own run, which that pull request's workflow made. So it applies only when made from
the paths the command names (default: the project's `pipelines/`), deletes only with `--prune` given
to apply as well, and writes only what those paths plan now (`_refuse_unless_planned_now`).
"""

from __future__ import annotations

import argparse
import os
import threading
from collections.abc import Sequence
from pathlib import Path

from reconciler import library, planfile
from reconciler.apply import DEFAULT_PARALLELISM, Outcome, apply_plan
from reconciler.backend import Backend
from reconciler.commands._confirm import confirm
from reconciler.commands._signals import stop_on_signals
from reconciler.commands._specs import DEFAULT_PATH
from reconciler.connection import add_backend_arguments, backend_from_args, context_from_args
from reconciler.errors import ApplyError, ConfigError, PlanError
from reconciler.interpolate import Context
from reconciler.plan import Action, Plan
from reconciler.project_paths import project_root
from reconciler.render.apply import ApplyView, JsonView, TextView
from reconciler.terminal import Terminal

_SPEC_SUFFIXES = (".yaml", ".yml")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", metavar="PATH",
                        help=f"spec files or directories (default: {DEFAULT_PATH}/), or a saved plan file "
                             f"followed by the paths it was made from (default: {DEFAULT_PATH}/)")
    parser.add_argument("--auto-approve", action="store_true", help="do not ask for confirmation (CI)")
    parser.add_argument("--json", action="store_true", help="JSON event lines on stdout instead of text")
    parser.add_argument("--parallelism", type=int, default=DEFAULT_PARALLELISM, metavar="N",
                        help=f"pipelines applied at the same time (default {DEFAULT_PARALLELISM})")
    parser.add_argument("--prune", action="store_true",
                        help="also delete managed pipelines whose spec is gone (with a saved plan: "
                             "let it delete what it plans to)")
    add_backend_arguments(parser)


def run(args: argparse.Namespace, term: Terminal) -> int:
    if args.parallelism < 1:
        raise ConfigError("--parallelism must be at least 1")
    saved = _saved_plan_path(args.paths)
    if args.json and saved is None and not args.auto_approve:
        # The JSON lines are for a program, which cannot answer a prompt (as Terraform's -json).
        raise ConfigError("--json needs --auto-approve, or a saved plan to apply")
    context = context_from_args(args, term)
    backend, default_project = backend_from_args(args, term)
    try:
        if saved is not None:
            plan = planfile.read(saved, secret=context.secret)
            _refuse_unless_made_from(plan, args.paths[1:] or library.default_paths(), saved)
            _refuse_deletes_unless_asked(plan, args.prune, saved)
            _refuse_if_stale(plan, backend, context)
            _refuse_unless_planned_now(plan, backend, default_project, context)
        else:
            plan = library.plan(args.paths, backend, default_project=default_project, prune=args.prune,
                                context=context)
        view: ApplyView = JsonView(term) if args.json else TextView(term)
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
    """A first argument that is a file but not a spec: a saved plan (the others: the spec paths it
    must have been made from)."""
    if not paths:
        return None
    path = Path(paths[0])
    if path.is_file() and path.suffix not in _SPEC_SUFFIXES:
        return path
    return None


def _refuse_unless_made_from(plan: Plan, expected: Sequence[str | Path], saved: Path) -> None:
    """PlanError unless the saved plan was made from the spec paths `expected`: the paths a plan
    file names are its own data, and a crafted one could name other specs of the repository (an
    example, a test fixture) to have them applied."""
    made_from = plan.paths or sorted(plan.spec_digests)  # a plan of an older version names its files

    def resolved(paths: Sequence[str | Path]) -> set[str]:
        return {os.path.realpath(p) for p in paths}

    if resolved(made_from) != resolved(expected):
        named = " ".join(made_from)
        raise PlanError(f"the saved plan was made from {named}, not from {' '.join(map(str, expected))}: "
                        f"to apply it, name the paths it was made from (`loopform apply {saved} {named}`), "
                        "or make a new plan.")


def _refuse_deletes_unless_asked(plan: Plan, prune: bool, saved: Path) -> None:
    """PlanError when the saved plan deletes pipelines and apply was not given --prune too: a plan
    file alone cannot ask for deletes."""
    deleting = [p.name for p in plan.pipelines if Action.DELETE in p.actions]
    if deleting and not prune:
        shown = ", ".join(deleting[:5]) + (f" and {len(deleting) - 5} more" if len(deleting) > 5 else "")
        raise PlanError(f"the saved plan deletes {len(deleting)} pipeline(s) ({shown}): apply it with --prune "
                        f"(`loopform apply {saved} --prune`) to let it, or make a plan without --prune.")


def _refuse_unless_planned_now(plan: Plan, backend: Backend, default_project: str | None,
                               context: Context) -> None:
    """PlanError unless the paths the saved plan was made from, planned now against the same live
    state, write exactly what it would (`planfile.not_planned_now`): what a plan file sends is
    checked, not trusted."""
    paths = plan.paths or sorted(plan.spec_digests)
    root = Path(os.path.realpath(project_root(Path.cwd())))
    for path in paths:  # the paths are the plan file's data too
        if not Path(os.path.realpath(path)).is_relative_to(root):
            raise PlanError(f"the saved plan was made from {path}, outside this project ({root}); make a new plan.")
    pruned = any(Action.DELETE in p.actions for p in plan.pipelines)
    fresh = library.plan(paths, backend, default_project=default_project, prune=pruned, context=context)
    differ = planfile.not_planned_now(plan, fresh)
    if differ:
        shown = ", ".join(differ[:5]) + (f" and {len(differ) - 5} more" if len(differ) > 5 else "")
        raise PlanError(f"the saved plan does not write what its specs plan now for {shown} (it was edited, "
                        "or made by other code); make a new plan.")


def _refuse_if_stale(plan: Plan, backend: Backend, context: Context) -> None:
    """PlanError naming what moved since the plan was made (the backend it was made against, specs
    and the variables they used, live pipelines), if anything did."""
    moved = planfile.stale_reasons(plan, backend, context=context)
    if moved:
        raise PlanError("the saved plan is stale: " + "; ".join(moved) + ". Make a new plan.")
