"""`loopform validate [PATH...]`: offline schema and graph checks, every problem as file:line:col."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from reconciler.errors import EXIT_ERROR, EXIT_OK, Location, SpecError
from reconciler.spec import load
from reconciler.terminal import Terminal

NAME = "validate"
HELP = "check spec files offline (schema, graph, references); exit 1 on any error"
DEFAULT_PATH = "pipelines"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help=f"spec files or directories searched for *.yaml/*.yml (default: {DEFAULT_PATH}/)",
    )
    parser.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text (file:line:col: message) or json for tools",
    )


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _as_json(error: SpecError) -> dict[str, object]:
    loc = error.location
    return {
        "path": loc.path,
        "line": loc.line,
        "col": loc.col,
        "pointer": loc.pointer,
        "severity": error.severity,
        "message": error.message,
    }


def run(args: argparse.Namespace, term: Terminal) -> int:
    paths = [Path(p) for p in (args.paths or [DEFAULT_PATH])]
    result = load(paths)
    errors = list(result.errors)
    if result.files == 0 and not errors:
        shown = ", ".join(str(p) for p in paths)
        errors.append(SpecError(f"no spec files (*.yaml, *.yml) found in {shown}", Location(shown)))
    error_count = sum(1 for e in errors if e.severity == "error")
    warning_count = len(errors) - error_count

    if args.format == "json":
        body = {
            "errors": [_as_json(e) for e in errors],
            "count": len(errors),
            "error_count": error_count,
            "warning_count": warning_count,
            "files": result.files,
            "valid": error_count == 0,
        }
        term.print(json.dumps(body, indent=2))
        return EXIT_OK if error_count == 0 else EXIT_ERROR

    for error in errors:  # the same text as SpecError's str(), with colour
        label = term.style("warning: ", "yellow") if error.severity == "warning" else ""
        term.print(f"{error.location}: {label}{error.message}")
    if error_count:
        term.print(f"{_plural(error_count, 'error')}, {_plural(warning_count, 'warning')}")
        return EXIT_ERROR
    summary = f"{_plural(result.files, 'file')} valid"
    if warning_count:
        summary += f", {_plural(warning_count, 'warning')}"
    term.print(term.style(summary, "green"))
    return EXIT_OK
