"""`loopform open NAME`: print the web address of a pipeline (what dtlpy's open_in_web opens)."""

from __future__ import annotations

import argparse

from reconciler.commands._selected import selected_pipeline
from reconciler.connection import add_pipeline_arguments
from reconciler.errors import ConfigError
from reconciler.terminal import Terminal


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_pipeline_arguments(parser)


def run(args: argparse.Namespace, term: Terminal) -> int:
    with selected_pipeline(args, term) as (backend, _, pipeline):
        url = backend.web_url(pipeline)
        embedded = backend.control_plane is not None
    if url is None:
        raise ConfigError("no web console is known for this API; set `console_url:` in loopform.yaml")
    term.print(url)
    if embedded:
        term.eprint("note: the embedded control plane has no web server; run `loopform serve` to reach it there.")
    return 0
