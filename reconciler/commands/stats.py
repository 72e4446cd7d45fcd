"""`loopform stats NAME`: execution counters of a pipeline, overall and per node."""

from __future__ import annotations

import argparse

from reconciler.commands._selected import selected_pipeline
from reconciler.connection import add_pipeline_arguments
from reconciler.terminal import Terminal


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the statistics as JSON")
    add_pipeline_arguments(parser)


def run(args: argparse.Namespace, term: Terminal) -> int:
    with selected_pipeline(args, term) as (backend, _, pipeline):
        stats = backend.statistics(pipeline.id or "")
    if args.json:
        term.print(stats.model_dump_json(indent=2))
        return 0
    names = {n.id: n.name for n in pipeline.nodes}
    counters = ", ".join(f"{c.status} {c.count}" for c in stats.pipelineExecutionCounters) or "none"
    term.print(f"{pipeline.name}: executions: {counters}")
    for node in stats.nodeExecutionsCounters:
        per = ", ".join(f"{c.status} {c.count}" for c in node.statusCount) or "none"
        term.print(f"  {names.get(node.nodeId, node.nodeId)}: {per}")
    return 0
