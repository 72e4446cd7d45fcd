"""`loopform resume NAME`: install a pipeline now (imperative; the spec may undo it)."""

from __future__ import annotations

import argparse

from reconciler.commands._selected import selected_pipeline, warn_if_managed
from reconciler.connection import add_pipeline_arguments
from reconciler.terminal import Terminal


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--resume-option", choices=["resumeExistingCycles", "terminateExistingCycles"],
                        help="what to do with cycles that were running when it was paused")
    add_pipeline_arguments(parser)


def run(args: argparse.Namespace, term: Terminal) -> int:
    with selected_pipeline(args, term) as (backend, _, pipeline):
        installed = backend.install(pipeline.id or "", resume_option=args.resume_option)
    term.print(f"Resumed {pipeline.name!r} (status: {installed.status or 'unknown'}).")
    warn_if_managed(term, pipeline, "if its spec says `status: paused`, the next apply pauses it again.")
    return 0
