"""`loopform delete NAME`: delete a pipeline Loopform manages (others only with --force).

Asks first, as `apply` does (only 'yes' goes on; `--auto-approve` for scripts; without a terminal
and without it, nothing is deleted).
"""

from __future__ import annotations

import argparse

from reconciler.commands._confirm import confirm
from reconciler.commands._selected import selected_pipeline
from reconciler.connection import add_pipeline_arguments
from reconciler.errors import UserAbort
from reconciler.marker import read_marker
from reconciler.terminal import Terminal


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--force", action="store_true", help="also delete a pipeline loopform does not manage")
    parser.add_argument("--auto-approve", action="store_true", help="do not ask for confirmation (scripts, CI)")
    add_pipeline_arguments(parser)


def run(args: argparse.Namespace, term: Terminal) -> int:
    with selected_pipeline(args, term) as (backend, project, pipeline):
        managed = read_marker(pipeline) is not None
        if not managed and not args.force:
            raise UserAbort(f"{pipeline.name!r} is not managed by loopform (it has no marker); "
                            "refusing to delete it. Use --force if you mean it.")
        if not args.auto_approve:
            confirm(term, f"Delete pipeline {pipeline.name!r} ({pipeline.id}) from project {project.name!r}?",
                    verb="delete")
        backend.delete_pipeline(pipeline.id or "")
    term.print(f"Deleted {pipeline.name!r} from project {project.name!r}.")
    if managed:
        term.eprint(term.style(f"warning: if a spec for {pipeline.name!r} still exists, the next apply creates it "
                               "again; remove the spec (and apply with --prune) to delete it for good.", "yellow"))
    return 0
