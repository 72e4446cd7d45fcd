"""`loopform serve` cannot be frozen: pathological globs, idle and half-sent connections.

Deadlines here are generous bounds so that a regression fails instead of hanging the suite; no test
asserts how long anything takes.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import requests
from test_dtlpy_serve_cli import wait_for

from reconciler.server import ControlPlane
from reconciler.server.serving import HttpServer
from reconciler.server.testing import serve_in_thread

DEADLINE_S = 60


def test_a_pathological_glob_is_answered_correctly_and_sigterm_still_stops_the_server(tmp_path: Path) -> None:
    # As a backtracking regex, `*a*a*c` against 20,000 characters ran for minutes holding the
    # interpreter lock: every other request timed out and SIGTERM was never handled.
    token_file = tmp_path / "token"
    server = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "serve", "--port", "0", "--db", str(tmp_path / "state.db"),
         "--token-file", str(token_file)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        wait_for(token_file, server)
        assert server.stdout is not None
        url = next(line for line in server.stdout if " at http" in line).split(" at ")[1].split()[0]
        headers = {"authorization": f"Bearer {token_file.read_text().strip()}"}
        with requests.Session() as http:
            project = http.get(f"{url}/projects/local/name", headers=headers, timeout=DEADLINE_S).json()[0]
            created = http.post(f"{url}/pipelines", headers=headers, timeout=DEADLINE_S, json={
                "name": "long", "projectId": project["id"], "description": "a" * 20_000})
            assert created.status_code == 200, created.text

            def matching(pattern: str) -> list[str]:
                page = http.post(f"{url}/pipelines/query", headers=headers, timeout=DEADLINE_S,
                                 json={"filter": {"description": pattern}}).json()
                return [p["name"] for p in page["items"]]

            assert matching("*a*a*c") == []
            assert matching("*a*a*a") == ["long"]
            assert matching("a*" * 40) == ["long"]
            assert http.get(f"{url}/loopform/info", timeout=DEADLINE_S).json()["server"] == "loopform-local"
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            output, _ = server.communicate(timeout=DEADLINE_S)
        except subprocess.TimeoutExpired:
            server.kill()
            output, _ = server.communicate()
            raise AssertionError(f"loopform serve ignored SIGTERM: {output}") from None
    assert server.returncode == 0, output


def _idle_connections(port: int, count: int, stack: ExitStack) -> list[socket.socket]:
    """`count` connections that never finish a request: silent, a half request line, half the
    headers, a body announced and never sent."""
    partial = [b"", b"GET /api/v1/loopform/in", b"GET /api/v1/users/me HTTP/1.1\r\nHost: x\r\n",
               b"POST /api/v1/pipelines HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"]
    sockets = []
    for index in range(count):
        sock = stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=DEADLINE_S))
        sock.sendall(partial[index % len(partial)])
        sockets.append(sock)
    return sockets


def test_idle_and_half_sent_connections_do_not_lock_out_a_real_client(tmp_path: Path) -> None:
    with serve_in_thread(tmp_path / "state.db") as server, ExitStack() as stack:
        _idle_connections(server.port, 150, stack)
        # waitress's default limit (100 connections) left this one waiting in the listen queue
        # until the idle ones timed out, two minutes later.
        me = requests.get(f"{server.base_url}/users/me", headers={"authorization": f"Bearer {server.token}"},
                          timeout=DEADLINE_S)
        assert me.status_code == 200 and me.json()["email"] == "local@loopform.dev"


@contextmanager
def _serving(db: Path, **options: int) -> Iterator[int]:
    plane = ControlPlane(db)
    server = HttpServer(plane.wsgi_app, host="127.0.0.1", port=0, **options)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield server.port
    finally:
        server.stop()
        thread.join(timeout=10)
        plane.close()


def test_a_connection_that_never_finishes_its_request_is_dropped(tmp_path: Path) -> None:
    with _serving(tmp_path / "state.db", channel_timeout=1, cleanup_interval=1) as port, ExitStack() as stack:
        for sock in _idle_connections(port, 4, stack):
            # recv returns b"" once the server closes the connection (and raises at the deadline).
            assert sock.recv(1024) == b""
