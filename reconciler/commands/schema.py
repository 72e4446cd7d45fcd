"""`loopform schema`: print the spec's JSON Schema (the same as schemas/pipeline.schema.json)."""

from __future__ import annotations

import argparse

from reconciler.errors import EXIT_OK
from reconciler.spec.schema import schema_text
from reconciler.terminal import Terminal


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # no options


def run(args: argparse.Namespace, term: Terminal) -> int:
    del args
    term.print(schema_text().rstrip("\n"))
    return EXIT_OK
