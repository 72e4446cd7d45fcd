"""Stopping a long command cleanly: the first Ctrl-C or SIGTERM (a cancelled CI job, a container
being stopped) asks it to stop at the next safe point; a second Ctrl-C interrupts at once.

Not a verb (the leading underscore keeps the CLI's command discovery away from it).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from reconciler.terminal import Terminal


@contextmanager
def stop_on_signals(stop: threading.Event, term: Terminal, *, message: str) -> Iterator[None]:
    """While the block runs, a first SIGINT or SIGTERM sets `stop` and prints `message` on stderr
    (after Ctrl-C followed by how to abort at once; a SIGTERM came from a supervisor, which has
    no Ctrl-C to press); a second SIGINT raises KeyboardInterrupt (a second SIGTERM changes
    nothing). Signal handlers can only be installed from the main thread; elsewhere nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            if signum == signal.SIGINT:
                raise KeyboardInterrupt
            return
        stop.set()
        term.eprint(f"{message} (Ctrl-C again to abort now)." if signum == signal.SIGINT else f"{message}.")

    previous = {signum: signal.signal(signum, on_signal) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
