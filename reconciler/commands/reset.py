"""`loopform reset NAME`: reset a pipeline's cycles now (imperative)."""

from __future__ import annotations

import argparse

from reconciler.connection import add_pipeline_arguments, pipeline_from_args
from reconciler.marker import read_marker
from reconciler.terminal import Terminal

NAME = "reset"
HELP = "reset a pipeline now (prefer a new spec.resetToken, which is reviewed and applied once)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_pipeline_arguments(parser)


def run(args: argparse.Namespace, term: Terminal) -> int:
    backend, _, pipeline = pipeline_from_args(args, term)
    try:
        backend.reset(pipeline.id or "")
    finally:
        backend.close()
    term.print(f"Reset {pipeline.name!r}.")
    if read_marker(pipeline) is not None:
        term.eprint(term.style(f"warning: {pipeline.name!r} is managed by loopform; this reset is not recorded "
                               "in its spec. To reset through review, set a new `spec.resetToken`.", "yellow"))
    return 0
