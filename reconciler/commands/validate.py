"""`loopform validate [PATH...]`: offline schema and graph checks, every problem as file:line:col.

Without `--env` the check needs nothing but the files: `${var.*}`/`${env.*}` references are
checked for syntax, and a value that is one whole reference is not type-checked (its type is
unknown). `--env NAME` resolves them from that environment of loopform.yaml, as plan and apply
would, and checks the result; still offline (no backend is selected or contacted).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from reconciler.project_paths import ENV_ENVIRONMENT, SPECS_DIR, default_spec_dir
from reconciler.settings_file import PROJECT_FILE
from reconciler.errors import EXIT_ERROR, EXIT_OK, Location, SpecError
from reconciler.interpolate import Context
from reconciler.spec import load
from reconciler.terminal import Terminal

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help=f"spec files or directories searched for *.yaml/*.yml (default: {SPECS_DIR}/ of the project root)",
    )
    parser.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text (file:line:col: message) or json for tools",
    )
    parser.add_argument(
        "--env",
        dest="environment",
        default=None,
        metavar="NAME",
        help=f"resolve ${{var.*}}/${{env.*}} with this environment of {PROJECT_FILE} and check the "
        f"values too (offline; {ENV_ENVIRONMENT} and default_environment are not used: without "
        "--env, references are checked for syntax only)",
    )


def _printable(text: str) -> str:
    """Text with control and invisible formatting characters escaped (`\x1b`, `\u202e`).

    Messages quote keys and values from the file: an escape sequence there must not recolour or
    rewrite the user's terminal or CI log, nor a bidi override reorder what the message says.
    """
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


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
    paths = [Path(p) for p in args.paths] or [default_spec_dir(Path.cwd())]
    context: Context | None = None
    if args.environment:
        # Only --env reads the settings (and builds their models): a plain validate needs the files alone.
        from reconciler.connection import context_from_args

        # Installs redaction of the environment's secrets and ${env.*} values on `term`.
        context = context_from_args(args, term)
    result = load(paths, context=context)
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
            "environment": args.environment,
        }
        term.print(json.dumps(body, indent=2))
        return EXIT_OK if error_count == 0 else EXIT_ERROR

    for error in errors:  # the same text as SpecError's str(), with colour
        label = term.style("warning: ", "yellow") if error.severity == "warning" else ""
        term.print(_printable(f"{error.location}: ") + label + _printable(error.message))
    if error_count:
        term.print(f"{_plural(error_count, 'error')}, {_plural(warning_count, 'warning')}")
        return EXIT_ERROR
    summary = f"{_plural(result.files, 'file')} valid"
    if args.environment:
        summary += f" in environment '{args.environment}'"
    if warning_count:
        summary += f", {_plural(warning_count, 'warning')}"
    term.print(term.style(summary, "green"))
    return EXIT_OK
