"""`loopform executions NAME`: the latest executions (cycles) of a pipeline."""

from __future__ import annotations

import argparse
import json

from reconciler.commands._selected import selected_pipeline
from reconciler.connection import add_pipeline_arguments
from reconciler.terminal import Terminal


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--limit", type=int, default=20, help="at most this many (default 20)")
    parser.add_argument("--json", action="store_true", help="print them as a JSON list")
    add_pipeline_arguments(parser)


def run(args: argparse.Namespace, term: Terminal) -> int:
    with selected_pipeline(args, term) as (backend, _, pipeline):
        found = backend.executions(pipeline.id or "", limit=max(1, args.limit))
    if args.json:
        term.print(json.dumps([e.model_dump(mode="json", exclude_none=True) for e in found], indent=2))
        return 0
    if not found:
        term.print(f"No executions of {pipeline.name!r}.")
        return 0
    term.print(f"{'ID':<26} {'STATUS':<12} CREATED")
    for e in found:
        term.print(f"{e.id:<26} {e.status or '?':<12} {e.createdAt or ''}")
    return 0
