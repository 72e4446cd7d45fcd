"""`loopform reset NAME`: reset a pipeline's cycles now (imperative)."""

from __future__ import annotations

import argparse

from reconciler.commands._selected import selected_pipeline, warn_if_managed
from reconciler.connection import add_pipeline_arguments
from reconciler.terminal import Terminal


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_pipeline_arguments(parser)


def run(args: argparse.Namespace, term: Terminal) -> int:
    with selected_pipeline(args, term) as (backend, _, pipeline):
        backend.reset(pipeline.id or "")
    term.print(f"Reset {pipeline.name!r}.")
    warn_if_managed(term, pipeline, "this reset is not recorded in its spec. "
                                    "To reset through review, set a new `spec.resetToken`.")
    return 0
