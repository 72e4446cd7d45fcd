"""Helpers for the spec tests: run the real CLI over a Terminal on StringIO; repository paths."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from reconciler.cli import main
from reconciler.terminal import Terminal

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
REAL_PIPELINES = Path(__file__).resolve().parents[1] / "fixtures" / "dataloop-pipelines"


@dataclass
class CliResult:
    code: int
    out: str
    err: str


def run_cli(*argv: str) -> CliResult:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), term=Terminal(out=out, err=err, colour=False))
    return CliResult(code, out.getvalue(), err.getvalue())
