"""`loopform show FILE`: render a saved plan, warning when it no longer matches specs or live state."""

from __future__ import annotations

import argparse

from reconciler import planfile
from reconciler.commands._plan_output import add_format_arguments, print_plan
from reconciler.connection import add_backend_arguments, backend_from_args, context_from_args
from reconciler.errors import EXIT_OK
from reconciler.terminal import Terminal


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="a saved plan")
    add_format_arguments(parser)
    parser.add_argument("--offline", action="store_true",
                        help="do not contact the backend (only the spec files are checked for staleness)")
    add_backend_arguments(parser)


def run(args: argparse.Namespace, term: Terminal) -> int:
    plan = planfile.read(args.file)  # secrets stay `(sensitive:NAME)`: only apply needs them
    context = context_from_args(args, term)  # the specs are re-read as the plan read them
    backend = None
    if not args.offline:
        backend, _ = backend_from_args(args, term, writes=False)
    try:
        reasons = planfile.stale_reasons(plan, backend, context=context)
    finally:
        if backend is not None:
            backend.close()
    for reason in reasons:
        term.eprint(term.style(f"warning: stale plan: {reason}", "yellow"))
    if reasons:
        term.eprint("Run `loopform plan` again; `loopform apply` will refuse this plan.")
    print_plan(plan, args, term)
    return EXIT_OK
