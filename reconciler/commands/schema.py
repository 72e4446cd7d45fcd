"""`loopform schema`: print the spec's JSON Schema (the same as schemas/pipeline.schema.json), or
with `--module` the module file's (schemas/module.schema.json)."""

from __future__ import annotations

import argparse

from reconciler.errors import EXIT_OK
from reconciler.spec.schema import module_schema_text, schema_text
from reconciler.terminal import Terminal


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--module", action="store_true",
                        help="the schema of module files (kind: Module) instead of pipeline specs")


def run(args: argparse.Namespace, term: Terminal) -> int:
    term.print((module_schema_text() if args.module else schema_text()).rstrip("\n"))
    return EXIT_OK
