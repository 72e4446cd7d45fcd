"""`loopform reconcile (--interval DURATION | --once) [PATH...]`: keep the live pipelines equal to the specs.

For a scheduled job (`--once`) or a container. One JSON line per cycle on stdout (see
`reconciler.reconcile.CycleReport`); SIGTERM or a first Ctrl-C end the loop cleanly: at once during
the wait; during an apply, once the pipelines in progress have finished every step (the others are
left for the next run; a second Ctrl-C interrupts at once). An API that
cannot be reached, at start or later, is a failed cycle retried with backoff; a bad flag or
loopform.yaml ends the command at once. Exit status with --once: 0 in sync, healed or held, 1
failed or refused. Without --once the loop runs until stopped and exits 0.
"""

from __future__ import annotations

import argparse
import threading

from reconciler.client import RestBackend
from reconciler.commands._signals import stop_on_signals
from reconciler import library
from reconciler.commands._specs import DEFAULT_PATH
from reconciler.connection import (add_backend_arguments, backend_from_args, context_from_args,
                                   settings_from_args)
from reconciler.errors import EXIT_ERROR, EXIT_OK, ConfigError
from reconciler.plan import Plan
from reconciler.reconcile import CycleReport, Reconciler, ReconcileOptions, parse_duration
from reconciler.terminal import Terminal

_ONCE_INTERVAL = 300.0  # placeholder for ReconcileOptions: with --once no wait follows the cycle


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", metavar="PATH",
                        help=f"spec files or directories (default: {DEFAULT_PATH}/)")
    parser.add_argument("--interval", metavar="DURATION",
                        help="time between cycles, e.g. 30s, 5m, 1h (required unless --once)")
    parser.add_argument("--max-changes", type=int, default=None, metavar="N",
                        help="apply nothing in a cycle that plans more than N changes (report it instead)")
    parser.add_argument("--prune", action="store_true",
                        help="also delete managed pipelines whose spec is gone (never without it)")
    parser.add_argument("--cooldown", default="0s", metavar="DURATION",
                        help="leave alone a pipeline edited outside Loopform less than DURATION ago")
    parser.add_argument("--max-backoff", default="5m", metavar="DURATION",
                        help="longest wait between cycles while the API keeps failing (default 5m)")
    parser.add_argument("--once", action="store_true", help="run one cycle and exit")
    add_backend_arguments(parser)


def options_from_args(args: argparse.Namespace) -> ReconcileOptions:
    if args.interval is None and not args.once:
        raise ConfigError("--interval is required (the time between cycles, e.g. 5m), unless --once runs "
                          "a single cycle")
    # One cycle never waits, so a cron job's `reconcile --once` needs no interval.
    interval = parse_duration(args.interval, flag="--interval") if args.interval is not None else _ONCE_INTERVAL
    if interval <= 0:
        raise ConfigError("--interval must be longer than 0s")
    if args.max_changes is not None and args.max_changes < 0:
        raise ConfigError("--max-changes must be 0 or more")
    return ReconcileOptions(interval=interval, max_changes=args.max_changes, prune=args.prune,
                            cooldown=parse_duration(args.cooldown, flag="--cooldown"),
                            max_backoff=parse_duration(args.max_backoff, flag="--max-backoff"),
                            max_cycles=1 if args.once else None)


def run(args: argparse.Namespace, term: Terminal) -> int:
    options = options_from_args(args)
    settings_from_args(args, term)  # a bad flag or loopform.yaml fails now, not as a retried cycle
    connected: list[tuple[RestBackend, str | None]] = []

    def connect() -> RestBackend:
        connected.append(backend_from_args(args, term))
        return connected[0][0]

    def plan() -> Plan:
        # Afresh each cycle, loopform.yaml's variables too: a `git pull` between cycles is picked up.
        context = context_from_args(args, term)
        backend, default_project = connected[0]
        return library.plan(args.paths, backend, default_project=default_project, prune=options.prune,
                            context=context)

    def log(report: CycleReport) -> None:
        term.print(report.model_dump_json(exclude_defaults=False))

    stop = threading.Event()
    try:
        with stop_on_signals(stop, term, message="Stopping: pipelines being applied finish, then the loop "
                                                   "ends"):
            reports = Reconciler(make_plan=plan, connect=connect, options=options, log=log, stop=stop).run()
    finally:
        for backend, _ in connected:
            backend.close()
    if stop.is_set():
        term.eprint("Stopped.")
    if args.once and reports and reports[-1].result in ("failed", "refused"):
        return EXIT_ERROR
    return EXIT_OK
