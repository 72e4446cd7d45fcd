"""`loopform resume NAME`: install a pipeline now (imperative; the spec may undo it)."""

from __future__ import annotations

import argparse

from reconciler.connection import add_pipeline_arguments, pipeline_from_args
from reconciler.marker import read_marker
from reconciler.terminal import Terminal

NAME = "resume"
HELP = "resume (install) a pipeline now; the next apply may undo it"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--resume-option", choices=["resumeExistingCycles", "terminateExistingCycles"],
                        help="what to do with cycles that were running when it was paused")
    add_pipeline_arguments(parser)


def run(args: argparse.Namespace, term: Terminal) -> int:
    backend, _, pipeline = pipeline_from_args(args, term)
    try:
        installed = backend.install(pipeline.id or "", resume_option=args.resume_option)
    finally:
        backend.close()
    term.print(f"Resumed {pipeline.name!r} (status: {installed.status or 'unknown'}).")
    if read_marker(pipeline) is not None:
        term.eprint(term.style(f"warning: {pipeline.name!r} is managed by loopform; if its spec says "
                               "`status: paused`, the next apply pauses it again.", "yellow"))
    return 0
