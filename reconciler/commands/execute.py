"""`loopform execute NAME --input item=ID`: start one execution (cycle) of a pipeline."""

from __future__ import annotations

import argparse
import json
from typing import Any

from reconciler.commands._selected import selected_pipeline
from reconciler.connection import add_pipeline_arguments
from reconciler.errors import ConfigError
from reconciler.terminal import Terminal


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", action="append", default=[], metavar="KEY=VALUE",
                        help="an input of the start node, e.g. item=<item id>; KEY:=JSON for non-strings (repeatable)")
    parser.add_argument("--node", metavar="NODE", help="start at this node (name or id) instead of the root")
    parser.add_argument("--test", action="store_true", help="run in test mode")
    parser.add_argument("--json", action="store_true", help="print the execution as JSON")
    add_pipeline_arguments(parser)


def parse_inputs(pairs: list[str]) -> dict[str, Any]:
    """`key=value` sends a string (ids stay strings even when they look numeric);
    `key:=json` sends a JSON value (number, object, list...), as httpie does."""
    inputs: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key or key == ":":
            raise ConfigError(f"--input {pair!r}: expected KEY=VALUE or KEY:=JSON, e.g. item=64b0...")
        if key.endswith(":"):
            try:
                inputs[key[:-1]] = json.loads(raw)
            except ValueError as exc:
                raise ConfigError(f"--input {pair!r}: the value after := is not JSON") from exc
        else:
            inputs[key] = raw
    return inputs


def run(args: argparse.Namespace, term: Terminal) -> int:
    inputs = parse_inputs(args.input)
    with selected_pipeline(args, term) as (backend, _, pipeline):
        node_id = None
        if args.node:
            match = [n for n in pipeline.nodes if args.node in (n.id, n.name)]
            if len(match) != 1:
                raise ConfigError(f"--node {args.node!r}: {'no' if not match else 'more than one'} node "
                                  f"of {pipeline.name!r} has that name or id")
            node_id = match[0].id
        execution = backend.execute(pipeline.id or "", inputs, node_id=node_id,
                                    test_mode=True if args.test else None)
    if args.json:
        term.print(execution.model_dump_json(indent=2))
    else:
        term.print(f"Execution {execution.id} of {pipeline.name!r}: {execution.status or 'started'}")
    return 0
