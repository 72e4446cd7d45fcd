"""Fault injection over real HTTP, in front of the local control plane.

`FaultInjector` is a WSGI middleware (give it to `serve_in_thread(wrap=...)`): it answers chosen
requests with an error status, holds them past the client's timeout (until `release()`: never a sleep
racing the client's timer), or lets the request commit and then replaces the answer, or runs a `then` action once the app answered (the world changes before the
client's next request). `DroppingProxy` is a tiny TCP proxy that resets connections: before the request
reaches the server, or after the server committed it (the answer is lost). Every rule counts how
often it fired, so a test can check that the fault it is about did happen. `Concurrency` measures
how many requests a client has in flight at once.
"""

from __future__ import annotations

import json
import re
import socket
import struct
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from reconciler.client import ClientOptions

WsgiApp = Callable[..., Iterable[bytes]]

# Real retries and timeouts, shrunk so a test with five retries still takes milliseconds.
FAST = ClientOptions(connect_timeout=2.0, read_timeout=2.0, attempts=3, backoff_factor=0.001,
                     backoff_max=0.01, backoff_jitter=0.001, retry_after_max=0.01)


@dataclass
class Rule:
    method: str
    path: re.Pattern[str]
    kind: str  # "status" | "status-after-commit" | "slow" | "slow-after-commit" | "then" | "wait"
    times: int
    status: int = 500
    headers: list[tuple[str, str]] = field(default_factory=list)
    fired: int = 0
    then: Callable[[], None] | None = None  # "then": run after the app answered, before the client reads it
    until: threading.Event | None = None  # "wait": the request reaches the app only once this is set
    # Set each time the app has handled a request this rule held ("slow": it committed only then).
    handled: threading.Event = field(default_factory=threading.Event)


# A held request is answered when the test calls `release()`; this only bounds a forgotten one.
HOLD_LIMIT = 60.0


class FaultInjector:
    """Programmable faults; each rule fires `times` times on matching (method, path regex)."""

    def __init__(self) -> None:
        self._rules: list[Rule] = []
        self._lock = threading.Lock()
        self._released = threading.Event()
        self.seen: list[tuple[str, str]] = []

    def add(self, method: str, path: str, kind: str, *, times: int = 1, status: int = 500,
            headers: list[tuple[str, str]] | None = None, then: Callable[[], None] | None = None,
            until: threading.Event | None = None) -> Rule:
        """"slow" holds a request (before the app sees it) until `release()`, "slow-after-commit"
        lets the app handle it and holds the answer; the client's own timeout is what ends its wait.
        "wait" holds a request until `until` is set (an order between requests, without timing)."""
        rule = Rule(method.upper(), re.compile(path), kind, times, status, headers or [], then=then, until=until)
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        """Stop injecting (the fault went away)."""
        with self._lock:
            self._rules.clear()

    def release(self) -> None:
        """Let every held request (and every later one) go on."""
        self._released.set()

    def _take(self, method: str, path: str) -> Rule | None:
        with self._lock:
            self.seen.append((method, path))
            for rule in self._rules:
                if rule.method == method and rule.path.search(path) and rule.fired < rule.times:
                    rule.fired += 1
                    return rule
        return None

    def __call__(self, app: WsgiApp) -> WsgiApp:
        def middleware(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            rule = self._take(environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""))
            if rule is None:
                return app(environ, start_response)
            if rule.kind == "then":  # something happens between the answer and the client's next request
                body = b"".join(app(environ, start_response))
                assert rule.then is not None
                rule.then()
                return [body]
            if rule.kind == "wait":
                assert rule.until is not None
                rule.until.wait(HOLD_LIMIT)
                return app(environ, start_response)
            if rule.kind == "slow":
                self._released.wait(HOLD_LIMIT)
                body = b"".join(app(environ, start_response))
                rule.handled.set()
                return [body]
            if rule.kind == "slow-after-commit":
                body = b"".join(app(environ, _ignore))
                rule.handled.set()
                self._released.wait(HOLD_LIMIT)
                return [body]  # too late: the client gave up; waitress drops it
            if rule.kind == "status-after-commit":
                b"".join(app(environ, _ignore))
            payload = json.dumps({"status": rule.status, "message": f"injected {rule.status}"}).encode()
            start_response(f"{rule.status} Injected", [("Content-Type", "application/json"),
                                                      ("Content-Length", str(len(payload))), *rule.headers])
            return [payload]
        return middleware


def _ignore(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
    return lambda chunk: None


class Concurrency:
    """WSGI middleware measuring how many matching requests are inside the app at once (`max_seen`).

    Until `target` requests have been inside together, each waits (at most `patience` seconds, once)
    for more to arrive, so that a client that does send `target` at a time is seen doing so, however
    slowly the threads start. A client bounded below `target` never gets there: after the one wait,
    everything passes and `max_seen` stays at its bound.
    """

    def __init__(self, method: str, path: str, *, target: int, patience: float = 2.0) -> None:
        self.method = method.upper()
        self.path = re.compile(path)
        self.target = target
        self.patience = patience
        self.inside = 0
        self.max_seen = 0
        self.count = 0
        self._waited = False
        self._cond = threading.Condition()

    def __call__(self, app: WsgiApp) -> WsgiApp:
        def middleware(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            if environ["REQUEST_METHOD"] != self.method or not self.path.search(environ.get("PATH_INFO", "")):
                return app(environ, start_response)
            with self._cond:
                self.inside += 1
                self.count += 1
                self.max_seen = max(self.max_seen, self.inside)
                self._cond.notify_all()
                if not self._waited:
                    self._cond.wait_for(lambda: self._waited or self.inside >= self.target,
                                        timeout=self.patience)
                    self._waited = True
                    self._cond.notify_all()
            try:
                return [b"".join(app(environ, start_response))]  # counted until the app is done
            finally:
                with self._cond:
                    self.inside -= 1
        return middleware


@dataclass
class DropRule:
    method: str
    path: re.Pattern[str]
    when: str  # "before" | "after"
    times: int
    fired: int = 0


class DroppingProxy:
    """127.0.0.1 TCP proxy to `upstream_port`; resets chosen requests' connections.

    `drop(method, path_regex, when="before"|"after", times=1)`: "before" resets without forwarding;
    "after" forwards, waits for the server's whole answer (so it committed), then resets instead of
    relaying it. One request per client connection (the proxy asks upstream for `Connection: close`).
    """

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._rules: list[DropRule] = []
        self._lock = threading.Lock()
        self._closed = False
        self.dropped = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1"

    def drop(self, method: str, path: str, *, when: str = "before", times: int = 1) -> DropRule:
        """Reset the next `times` matching requests' connections; the rule counts how many it did."""
        rule = DropRule(method.upper(), re.compile(path), when, times)
        with self._lock:
            self._rules.append(rule)
        return rule

    def close(self) -> None:
        self._closed = True
        self._listener.close()

    def _match(self, method: str, path: str) -> str | None:
        with self._lock:
            for rule in self._rules:
                if rule.method == method and rule.path.search(path) and rule.fired < rule.times:
                    rule.fired += 1
                    return rule.when
        return None

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client: socket.socket) -> None:
        try:
            request = _read_request(client)
            if request is None:
                client.close()
                return
            head, body = request
            request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
            method, target = request_line.split(" ")[:2]
            when = self._match(method, target.split("?")[0])
            if when == "before":
                self._reset(client)
                return
            lines = [ln for ln in head.split(b"\r\n") if not ln.lower().startswith(b"connection:")]
            forwarded = b"\r\n".join([*lines, b"Connection: close"]) + b"\r\n\r\n" + body
            with socket.create_connection(("127.0.0.1", self.upstream_port)) as upstream:
                upstream.sendall(forwarded)
                answer = _read_all(upstream)
            if when == "after":
                self._reset(client)
                return
            client.sendall(answer)
            client.close()
        except OSError:
            client.close()

    def _reset(self, client: socket.socket) -> None:
        self.dropped += 1
        # SO_LINGER 0: close() sends RST, as a crashed peer or middlebox would.
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()


def _read_request(sock: socket.socket) -> tuple[bytes, bytes] | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return head, rest


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
