"""Command-line entry point: parse, dispatch, and the one error boundary.

`main(argv) -> int` never raises and never calls sys.exit; `console_main` is the console script.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from reconciler import __version__
from reconciler.terminal import Terminal

# What only a running verb needs (logging, the error tree, difflib for a typo) is imported where it
# is used: `loopform --version` and `--help` should cost little more than starting Python.


@dataclass(frozen=True)
class Command:
    """A verb: its module in `reconciler.commands` (imported only when the verb runs or shows its
    own help) defines `add_arguments(parser)` and `run(args, term) -> int`."""

    name: str
    help: str

    @property
    def module(self) -> str:
        return f"reconciler.commands.{self.name}"


# The one table of verbs, like git's builtins and pre-commit's main: a verb missing here does not
# exist, and `--version` or `--help` import none of the modules (nor requests, the server...).
COMMANDS: tuple[Command, ...] = (
    Command("apply", "apply the specs (or a saved plan) to the live pipelines"),
    Command("delete", "delete a managed pipeline, after asking (--auto-approve; --force for one loopform does not manage)"),
    Command("execute", "execute a pipeline once (from its root node, or --node)"),
    Command("executions", "list a pipeline's executions, newest first"),
    Command("export", "write live pipelines as spec YAML (with code files), to adopt pipelines built in the UI"),
    Command("local", "manage the local control plane (seed it with projects, datasets...; mint a token; take "
                     "an action on an item in a task)"),
    Command("open", "print the web URL of a pipeline"),
    Command("pause", "pause (uninstall) a pipeline now; the next apply may undo it"),
    Command("plan", "show what apply would change in the live pipelines (nothing is changed)"),
    Command("reconcile", "plan and apply in a loop to heal drift (for a scheduled job or a container)"),
    Command("reset", "reset a pipeline now (prefer a new spec.resetToken, which is reviewed and applied once)"),
    Command("resume", "resume (install) a pipeline now; the next apply may undo it"),
    Command("schema", "print the JSON Schema (2020-12) of pipeline spec files"),
    Command("serve", "serve the local control plane (Dataloop's pipelines API over a SQLite file) over HTTP"),
    Command("show", "render a plan saved with `loopform plan -out FILE` (warns when it has gone stale)"),
    Command("stats", "show a pipeline's execution statistics"),
    Command("status", "show managed pipelines: spec status, live status, in sync or drifted"),
    Command("test", "run pipeline test files (pipelines/tests/*.yaml): a fresh sandbox per case, a diff on failure"),
    Command("validate", "check spec files offline (schema, graph, references); exit 1 on any error"),
)
_BY_NAME = {command.name: command for command in COMMANDS}


def _did_you_mean(word: str, choices: Sequence[str]) -> str:
    import difflib

    close = difflib.get_close_matches(word, choices, n=3, cutoff=0.6)
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""


class _Parser(argparse.ArgumentParser):
    """argparse suggesting the flag meant for a mistyped one."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.misplaced: frozenset[str] = frozenset()  # the global flags, which go before the verb

    def parse_args(self, args: Sequence[str] | None = None, namespace: Any = None) -> argparse.Namespace:  # type: ignore[override]
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            message = f"unrecognized arguments: {' '.join(extras)}"
            flag = next((e.split("=", 1)[0] for e in extras if e.startswith("-")), None)
            if flag in self.misplaced:
                message += f" ({flag} goes before the command: loopform {flag} {self.prog.split()[-1]} ...)"
            elif flag is not None:
                message += _did_you_mean(flag, [o for o in self._option_string_actions if o.startswith("--")]
                                         if flag.startswith("--") else list(self._option_string_actions))
            self.error(message)
        return parsed

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def _top_parser() -> _Parser:
    parser = _Parser(
        prog="loopform",
        description="Dataloop pipelines as code: validate, plan and apply YAML specs.",
        epilog="Run `loopform COMMAND --help` for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"loopform {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log more (repeat for debug logs)"
    )
    # Listed for the help only: the verb's own parser is built when it runs.
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        sub.add_parser(command.name, help=command.help, add_help=False)
    return parser


def command_parser(command: Command) -> tuple[_Parser, Any]:
    """The parser of one verb (its module imported now) and the module's `run`."""
    module = importlib.import_module(command.module)
    parser = _Parser(prog=f"loopform {command.name}", description=command.help)
    module.add_arguments(parser)
    return parser, module.run


def _parse(argv: list[str]) -> tuple[argparse.Namespace, Any] | int:
    """Global flags, then the verb, then the verb's own flags parsed by the verb's parser (so a
    bad flag of `plan` shows `plan`'s usage). An int is the exit code of a parse that ends here."""
    at = next((i for i, arg in enumerate(argv) if not arg.startswith("-") or arg == "-"), len(argv))
    top = _top_parser()
    try:
        options = top.parse_args(argv[:at])
        if at == len(argv):  # bare `loopform` (or only -v): the help, not an error
            top.print_help()
            return 0
        command = _BY_NAME.get(argv[at])
        if command is None:
            top.error(f"unknown command {argv[at]!r}{_did_you_mean(argv[at], list(_BY_NAME))}")
        parser, run = command_parser(command)
        parser.misplaced = frozenset(top._option_string_actions) - {"-h", "--help"}
        args = parser.parse_args(argv[at + 1:])
    except SystemExit as exc:  # argparse reports usage errors (2), --help and --version (0) by exiting
        return int(exc.code or 0)
    args.verbose = options.verbose
    args.command = command.name
    return args, run


def _internal_error(term: Terminal, exc: BaseException) -> int:
    import tempfile
    import traceback

    from reconciler.errors import EXIT_INTERNAL
    from reconciler.redact import redact_like

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
    parsed = _parse(list(argv) if argv is not None else sys.argv[1:])
    if isinstance(parsed, int):
        return parsed
    args, run = parsed
    import logging

    from reconciler.errors import LoopformError, SpecErrors, exit_code_for

    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(levelname)s %(name)s: %(message)s",
        stream=term.err,
    )
    try:
        return int(run(args, term))
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
