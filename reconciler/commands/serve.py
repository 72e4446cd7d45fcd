"""`loopform serve`: the local control plane over HTTP on 127.0.0.1 (dtlpy can talk to it too)."""

from __future__ import annotations

import argparse
import errno
import ipaddress
import json
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from reconciler.project_paths import ENV_TOKEN, STATE_DB, STATE_DIR, default_state_db
from reconciler.settings_file import PROJECT_FILE
from reconciler.errors import ConfigError
from reconciler.server import ControlPlane
from reconciler.server.app import API_PREFIX
from reconciler.server.engine.cron import Clock
from reconciler.server.serving import HttpServer
from reconciler.server.store import StoreError
from reconciler.terminal import Terminal


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1; anything else exposes the API)")
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    parser.add_argument("--db", type=Path, default=None,
                        help=f"state database (default {STATE_DIR}/{STATE_DB} at the project root, the folder "
                             f"of {PROJECT_FILE}, else of .git, else this one; created if missing)")
    parser.add_argument("--project", default="local",
                        help="project a fresh database starts with (default: local)")
    parser.add_argument("--strict", action="store_true",
                        help="answer like the real platform: never provision unknown datasets, recipes...")
    parser.add_argument("--token-file", type=Path, metavar="FILE",
                        help="write the access token to FILE (mode 600) instead of printing it")
    parser.add_argument("--dtlpy-login", type=Path, metavar="DIR",
                        help="write DIR/cookie.json so that dtlpy with DATALOOP_PATH=DIR uses this server")


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # the mode above applies to a new file only; an old one may be readable
    with os.fdopen(fd, "w") as fh:
        fh.write(text)


def dtlpy_cookie(base_url: str, token: str) -> dict[str, object]:
    """dtlpy's login file for this server (reference 1.2): no setup calls needed after it."""
    root = base_url[: -len(API_PREFIX)]
    return {
        "url": base_url,
        "login_parameters": {
            base_url: {"alias": "loopform", "token": token, "refresh_token": None,
                       "verify_ssl": False, "url": root + "/", "gate_url": root},
        },
    }


def run(args: argparse.Namespace, term: Terminal) -> int:
    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port must be between 0 and 65535, not {args.port}")
    args.db = args.db or default_state_db(Path.cwd())
    # SIGINT/SIGTERM handlers go in before anything is opened or announced: a supervisor (or a
    # test) may stop the server as soon as it prints its URL, and must get a clean stop then too.
    with _stop_signals() as stop_requested:
        return _run(args, term, stop_requested)


def _run(args: argparse.Namespace, term: Terminal, stop_requested: threading.Event, *,
         clock: Clock | None = None) -> int:
    """Serve until `stop_requested` is set; cron triggers fire by `clock` (default the system's)."""
    try:
        plane = ControlPlane(args.db, strict=args.strict, default_project=args.project)
    except StoreError as exc:
        raise ConfigError(str(exc)) from exc
    try:
        try:
            server = HttpServer(plane.wsgi_app, host=args.host, port=args.port)
        except OSError as exc:
            hint = ""
            if exc.errno == errno.EADDRINUSE:
                hint = (f" (is another `loopform serve` running? Stop it, or choose another port:"
                        f" --port {args.port + 1 if args.port < 65535 else 0}, or --port 0 for any free one)")
            elif exc.errno in (errno.EACCES, errno.EPERM) and 0 < args.port < 1024:
                hint = " (ports below 1024 need privileges; choose one above 1023)"
            raise ConfigError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}{hint}") from exc
        address = ipaddress.ip_address(server.host.split("%")[0])
        # A wildcard bind (0.0.0.0, ::) is no address to connect to: print the loopback one.
        shown = ("::1" if address.version == 6 else "127.0.0.1") if address.is_unspecified else args.host
        shown = f"[{shown}]" if ":" in shown else shown
        base_url = f"http://{shown}:{server.port}{API_PREFIX}"
        token = plane.mint_token()
        recovered = plane.engine.recover()  # the open cycles of the last run go on
        plane.engine.run_cron(clock)  # cron triggers fire while the server runs
        mode = "strict" if args.strict else "sandbox"
        try:
            if args.token_file:
                _write_private(args.token_file, token + "\n")
            if args.dtlpy_login:
                _write_private(args.dtlpy_login / "cookie.json", json.dumps(dtlpy_cookie(base_url, token)))
        except OSError as exc:
            server.close()
            raise ConfigError(f"cannot write {exc.filename or 'the token'}: {exc.strerror or exc}") from exc
        term.print(f"Local control plane ({mode}) serving {args.db} at {base_url}")
        if args.token_file:
            term.print(f"Access token written to {args.token_file}")
        else:
            term.print(f"Access token (valid 24 h; `loopform local token --db {args.db}` mints another): {token}")
        if args.dtlpy_login:
            term.print(f"dtlpy login written: export DATALOOP_PATH={args.dtlpy_login.resolve()}")
            term.print(f"Use it: DATALOOP_PATH={args.dtlpy_login.resolve()} loopform plan --url {base_url}")
        else:
            term.print(f"Use it: {ENV_TOKEN}=<the token> loopform plan --url {base_url}")
        if not address.is_loopback:
            term.eprint(f"Warning: listening on {server.host}, not only this machine: anyone who can reach "
                        "it and holds a token can change this database.")
        if recovered.queued or recovered.failed:
            term.print(f"Open cycles carried on: {recovered.queued} execution(s) queued again, {recovered.failed} "
                       "failed (they were running when the control plane stopped)")
        term.print("Press Ctrl-C to stop.")
        return _serve_until_signalled(server, term, stop_requested)
    finally:
        plane.close(finish_work=False)  # executions not started yet run at the next start (recover)


@contextmanager
def _stop_signals() -> Iterator[threading.Event]:
    """An event set by SIGINT or SIGTERM while the block runs (handlers restored after it).

    Off the main thread (the CLI called from a test thread) no handler can be installed; the
    event is then only set by KeyboardInterrupt.
    """
    stop_requested = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop_requested.set()

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, on_signal)
    try:
        yield stop_requested
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _serve_until_signalled(server: HttpServer, term: Terminal, stop_requested: threading.Event) -> int:
    thread = threading.Thread(target=server.run, name="loopform-serve", daemon=True)
    thread.start()
    try:
        while not stop_requested.wait(0.5):
            if not thread.is_alive():
                break
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        thread.join(timeout=10)
    term.print("Stopped.")
    return 0
