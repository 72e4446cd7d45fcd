"""`loopform pause NAME`: uninstall a pipeline now (imperative; the spec may undo it)."""

from __future__ import annotations

import argparse

from reconciler.commands._selected import selected_pipeline, warn_if_managed
from reconciler.connection import add_pipeline_arguments
from reconciler.terminal import Terminal


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--keep-triggers-active", action="store_true",
                        help="keep its triggers active while paused")
    add_pipeline_arguments(parser)


def run(args: argparse.Namespace, term: Terminal) -> int:
    with selected_pipeline(args, term) as (backend, _, pipeline):
        backend.uninstall(pipeline.id or "", keep_triggers_active=True if args.keep_triggers_active else None)
    term.print(f"Paused {pipeline.name!r}.")
    warn_if_managed(term, pipeline, "if its spec says `status: installed`, the next apply resumes it. "
                                    "Change the spec to keep it paused.")
    return 0
