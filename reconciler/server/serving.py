"""Serving a WSGI app over HTTP with waitress, and stopping it cleanly from any thread.

waitress: threaded, HTTP/1.1 keep-alive, TCP_NODELAY (no 40 ms Nagle stall per request).
`HttpServer.stop()` may be called from any thread (a signal handler, a test fixture): it asks the
server's own loop thread to close every connection and the listening socket, after which `run()`
returns and the worker threads are shut down.

Connections are cheap and idle ones are dropped, so that clients which connect and then say
nothing, or send a request a few bytes at a time (slowloris), cannot lock others out: waitress
stops accepting at its connection limit (100 by default, when 100 idle sockets would be enough to
lock out every real client for the two minutes of its default idle timeout). Here the limit is
CONNECTION_LIMIT (fewer if the process may not open that many files), readiness is polled (select()
fails past file descriptor 1024), and a connection with no complete request that has been silent for
CHANNEL_TIMEOUT_S seconds is closed. Bodies are read in full before a worker thread sees them, so a
slow client never holds one of the `threads`.

The host is resolved here to exactly one address: given a name with several addresses
(`localhost` as 127.0.0.1 and ::1), waitress would open one socket per address, each with its own
port when asked for port 0, and the server would have no single URL.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from typing import Any

from waitress.server import TcpWSGIServer, create_server

WsgiApp = Callable[..., Any]

CONNECTION_LIMIT = 1000
CHANNEL_TIMEOUT_S = 20
CLEANUP_INTERVAL_S = 5  # how often idle connections are looked for


def connection_limit() -> int:
    """CONNECTION_LIMIT, or fewer when the process may not open that many files: each connection
    is one, and the database, the listener and the worker threads need some of them."""
    try:
        import resource
    except ImportError:  # not on Unix
        return CONNECTION_LIMIT
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return CONNECTION_LIMIT
    return max(16, min(CONNECTION_LIMIT, soft - 64))


class BindError(OSError):
    """The address cannot be listened on: an unknown host, a port in use, a foreign address."""


def resolve_host(host: str, port: int) -> str:
    """The one address `host` binds to (the first the resolver gives); BindError if none."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (OSError, UnicodeError) as exc:
        raise BindError(f"cannot resolve host {host!r}: {getattr(exc, 'strerror', None) or exc}") from None
    address = infos[0][4][0]
    return str(address)


class HttpServer:
    def __init__(self, app: WsgiApp, *, host: str = "127.0.0.1", port: int = 0, threads: int = 16,
                 channel_timeout: int = CHANNEL_TIMEOUT_S, cleanup_interval: int = CLEANUP_INTERVAL_S) -> None:
        """Bind now (port 0 picks a free port; read it back from `.port`); serve with `run()`.

        16 threads: as many as a client's connection pool, so an apply at its default parallelism
        (10) never queues behind the server.

        Raises BindError (an OSError) when the address cannot be listened on.
        """
        address = resolve_host(host, port)
        try:
            server = create_server(
                app,
                host=address,
                port=port,
                threads=threads,
                ident="loopform",
                # Never let waitress print a traceback into a response (it does not by default).
                expose_tracebacks=False,
                clear_untrusted_proxy_headers=True,
                # The control plane enforces its own, smaller, body limit (413 as JSON).
                max_request_body_size=64 * 1024 * 1024,
                connection_limit=connection_limit(),
                channel_timeout=channel_timeout,
                cleanup_interval=cleanup_interval,
                asyncore_use_poll=True,
            )
        except OSError as exc:
            raise BindError(exc.errno, exc.strerror or str(exc)) from None
        if not isinstance(server, TcpWSGIServer):  # one address in, so one TCP socket out
            server.close()
            raise BindError(f"cannot listen on {host}:{port}: expected one TCP socket")
        self._server: Any = server  # waitress's stubs lack the attributes stop() uses (_map, trigger)
        # waitress warns "Task queue depth is N" whenever all threads are busy for a moment; that is
        # expected under a burst of parallel applies and not worth a line on the user's terminal.
        logging.getLogger("waitress.queue").setLevel(logging.ERROR)
        self.host = address
        self.port: int = int(server.getsockname()[1])

    def run(self) -> None:
        """Serve until `stop()`; returns once every worker thread has finished."""
        try:
            self._server.run()
        finally:
            self._server.task_dispatcher.shutdown(timeout=5)

    def close(self) -> None:
        """Release the socket of a server that was never `run()` (use `stop()` for a running one)."""
        self._server.close()
        self._server.task_dispatcher.shutdown(timeout=1)

    def stop(self) -> None:
        server = self._server

        def close_everything() -> None:
            for channel in list(server._map.values()):
                if channel is not server and channel is not server.trigger:
                    channel.close()
            server.close()

        # Quieten waitress: closing live keep-alive connections is expected here.
        logging.getLogger("waitress").setLevel(logging.ERROR)
        try:
            server.trigger.pull_trigger(close_everything)
        except OSError:  # already closed
            pass
