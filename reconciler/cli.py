"""Command-line entry point: parse, dispatch, and the one error boundary.

`main(argv) -> int` never raises and never calls sys.exit; `console_main` is the console script.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import pkgutil
import sys
import tempfile
import traceback
from collections.abc import Sequence
from types import ModuleType

from reconciler import __version__, commands
from reconciler.errors import EXIT_INTERNAL, LoopformError, SpecErrors, exit_code_for
from reconciler.redact import redact_like
from reconciler.terminal import Terminal

log = logging.getLogger("loopform")


def _command_modules() -> list[ModuleType]:
    found = []
    for info in pkgutil.iter_modules(commands.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        if hasattr(module, "NAME") and hasattr(module, "run"):
            found.append(module)
    return sorted(found, key=lambda m: m.NAME)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="loopform",
        description="Dataloop pipelines as code: validate, plan and apply YAML specs.",
    )
    parser.add_argument("--version", action="version", version=f"loopform {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log more (repeat for debug logs)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in _command_modules():
        cmd = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(cmd)
        cmd.set_defaults(_run=module.run)
    return parser


def _internal_error(term: Terminal, exc: BaseException) -> int:
    # An unexpected exception is a bug: keep the traceback out of the user's face but on disk.
    # The log goes through the same redaction as the terminal: an exception message may quote a
    # secret variable's value.
    fd, path = tempfile.mkstemp(prefix="loopform-crash-", suffix=".log")
    with os.fdopen(fd, "w") as fh:
        fh.write(redact_like(term, "".join(traceback.format_exception(exc))))
    term.eprint(f"Error: internal error ({type(exc).__name__}: {exc}).")
    term.eprint(f"This is a bug in loopform; the traceback is in {path}")
    return EXIT_INTERNAL


def main(argv: Sequence[str] | None = None, *, term: Terminal | None = None) -> int:
    term = term or Terminal()
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
    except SystemExit as exc:  # argparse reports usage errors by exiting with 2
        return int(exc.code or 0)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(levelname)s %(name)s: %(message)s",
        stream=term.err,
    )
    try:
        return int(args._run(args, term))
    except SpecErrors as exc:
        for err in exc.errors:
            term.eprint(str(err))
        return exit_code_for(exc)
    except LoopformError as exc:
        term.eprint(f"Error: {exc}")
        return exit_code_for(exc)
    except KeyboardInterrupt as exc:
        term.eprint("Interrupted.")
        return exit_code_for(exc)
    except BrokenPipeError as exc:
        # The reader of our output went away (`loopform plan --json | head -1`): not a bug. Point
        # stdout at devnull so the interpreter's final flush does not fail again, and exit as a
        # process killed by SIGPIPE would (128 + 13).
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return exit_code_for(exc)
    except Exception as exc:  # noqa: BLE001 - the one boundary where anything is caught
        return _internal_error(term, exc)


def console_main() -> None:
    sys.exit(main())
