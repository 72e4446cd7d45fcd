"""`loopform pause NAME`: uninstall a pipeline now (imperative; the spec may undo it)."""

from __future__ import annotations

import argparse

from reconciler.connection import add_pipeline_arguments, pipeline_from_args
from reconciler.marker import read_marker
from reconciler.terminal import Terminal

NAME = "pause"
HELP = "pause (uninstall) a pipeline now; the next apply may undo it"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--keep-triggers-active", action="store_true",
                        help="keep its triggers active while paused")
    add_pipeline_arguments(parser)


def run(args: argparse.Namespace, term: Terminal) -> int:
    backend, _, pipeline = pipeline_from_args(args, term)
    try:
        backend.uninstall(pipeline.id or "", keep_triggers_active=True if args.keep_triggers_active else None)
    finally:
        backend.close()
    term.print(f"Paused {pipeline.name!r}.")
    if read_marker(pipeline) is not None:
        term.eprint(term.style(f"warning: {pipeline.name!r} is managed by loopform; if its spec says "
                               "`status: installed`, the next apply resumes it. Change the spec to keep it paused.",
                               "yellow"))
    return 0
