"""`loopform plan [PATH...]`: what apply would change, compared with the live pipelines."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from reconciler import library, planfile
from reconciler.commands._plan_output import add_format_arguments, print_plan
from reconciler.commands._specs import DEFAULT_PATH
from reconciler.connection import add_backend_arguments, backend_from_args, context_from_args
from reconciler.errors import EXIT_CHANGES, EXIT_OK
from reconciler.plan import Action
from reconciler.redact import hidden_values, redact_like
from reconciler.terminal import Terminal


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", metavar="PATH",
                        help=f"spec files or directories (default: {DEFAULT_PATH}/)")
    add_format_arguments(parser)
    parser.add_argument("--detailed-exitcode", action="store_true",
                        help="exit 0 when there are no changes, 2 when there are, 1 on error")
    parser.add_argument("-out", "--out", dest="out", metavar="FILE",
                        help="save the plan to FILE for `loopform apply FILE`")
    parser.add_argument("--prune", action="store_true",
                        help="also plan deleting pipelines Loopform manages that no spec names")
    parser.add_argument("--graph", metavar="FILE",
                        help="also draw each changed pipeline: FILE.mmd (Mermaid), FILE.md (Markdown "
                             "with Mermaid), FILE.svg or FILE.png (needs Pillow: loopform[graph])")
    add_backend_arguments(parser)


def run(args: argparse.Namespace, term: Terminal) -> int:
    if args.graph:
        from reconciler.render.graph import check_graph_path  # only a --graph plan draws

        check_graph_path(Path(args.graph))
    context = context_from_args(args, term)
    # Connected first, as apply does: the live pipelines are fetched while the specs load.
    backend, default_project = backend_from_args(args, term, writes=False)
    try:
        plan = library.plan(args.paths, backend, default_project=default_project, prune=args.prune,
                            context=context, warn=lambda w: term.eprint(str(w)))
    finally:
        backend.close()
    print_plan(plan, args, term)
    # Notes beside the plan: on stderr when stdout is a document (JSON, Markdown) for a program.
    note = term.eprint if args.json or args.markdown else term.print
    if args.graph:
        # A file, not the terminal: redacted here (a project or pipeline name may come from ${env.*}).
        from reconciler.render.graph import write_graph

        write_graph(plan, Path(args.graph), redact=lambda text: redact_like(term, text))
        note(f"Wrote {args.graph}")
    if args.out:
        # secret variables and ${env.*} values by name; the rest the terminal hides (old values)
        planfile.write(plan, args.out, secrets=context.secrets(), hidden=hidden_values(term))
        # the command that applies it: apply names the paths and allows the deletes (a plan file does not)
        command = shlex.join(["loopform", "apply", args.out, *args.paths,
                              *(["--prune"] if any(Action.DELETE in p.actions for p in plan.pipelines) else [])])
        note(f"Saved the plan to {args.out}; apply exactly it with `{command}`.")
    if args.detailed_exitcode and plan.has_changes:
        return EXIT_CHANGES
    return EXIT_OK
