"""Running a code node's function in its own process, with limits (issue 13, "safe to run user code").

Each execution runs `child.py` in a process of its own as the invoking user: forked from the warm
parent (`zygote.py`, Linux), which has imported dtlpy's libraries once, or else a fresh
interpreter. Either way it imports dtlpy itself and runs in a temporary
directory that is also its HOME and dtlpy's state folder (DATALOOP_PATH), with an environment that
holds nothing of the server's but the control plane's URL and a token scoped to the pipeline's
project. Limits: a wall-clock timeout (the process group is killed), CPU seconds and address
space through `resource.setrlimit` where the platform has it, and a bounded log (stdout and stderr,
read as they come; what is beyond the bound is counted, not kept). A crash, an endless loop or a
flood of output fails that execution only.
"""

from __future__ import annotations

import abc
import atexit
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from reconciler.nodes.base import CodeResult
from reconciler.server.engine import child

CHILD = Path(__file__).with_name("child.py")
ZYGOTE = Path(__file__).with_name("zygote.py")
# fork (no other platform forks safely once libraries are loaded) and file descriptors over sockets
WARM_PARENT_POSSIBLE = sys.platform.startswith("linux") and hasattr(socket, "send_fds")
# The store's kind for a model's local adapter (`loopform local seed`, a test file's `models`),
# by the model's id: Loopform's own, no platform object.
ADAPTER = "model-adapter"


@dataclass(frozen=True)
class Limits:
    timeout_seconds: float = 120.0
    log_bytes: int = 64 * 1024
    memory_bytes: int = 4 * 1024 ** 3
    result_bytes: int = 4 * 1024 ** 2
    # Node executions one cycle may hold. A step writes only its execution, but a cycle is read
    # whole by whoever lists or gets it (1000 executions: about 1 MB; carried through in about 2 s
    # on this project's machines, see bench/engine_bench.py); a graph of 2-node layers each
    # connected to both nodes of the next doubles the executions per layer, and without a limit
    # 40 nodes would be a million.
    cycle_executions: int = 1000
    # Bytes of a cycle's document (executions' inputs, outputs and logs).
    cycle_bytes: int = 32 * 1024 ** 2
    # Cycles started by what a cycle's code wrote (an item that fires a trigger) or executed,
    # and by what theirs did: how deep such a chain may go, and how many cycles one first cycle
    # may lead to in all. A pipeline that writes an item into the dataset whose trigger starts it
    # again would otherwise run forever, and one writing two items per run doubles every round.
    caused_depth: int = 10
    caused_cycles: int = 1000


class _BoundedLog:
    """Drains a stream to its end in a thread, keeping the first `limit` bytes."""

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        self._kept = bytearray()
        self._dropped = 0
        self._limit = limit
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[bytes]) -> None:
        for chunk in iter(lambda: stream.read(65536), b""):
            room = self._limit - len(self._kept)
            self._kept += chunk[:max(room, 0)]
            self._dropped += max(len(chunk) - max(room, 0), 0)

    def text(self) -> str:
        self._thread.join(timeout=5)
        text = self._kept.decode("utf-8", errors="replace")
        if self._dropped:
            text += f"\n[log truncated: {self._dropped} more bytes]\n"
        return text


@dataclass(frozen=True)
class Package:
    """A pushed code package to run a function of: its zip's bytes, the module's entry point file and
    class, and the service's init parameters."""

    zipped: bytes
    entry_point: str
    class_name: str | None
    init_params: dict[str, Any]


@dataclass(frozen=True)
class Adapter:
    """A model's local adapter to run a model function with (an ml node): the Python file's text,
    the adapter class, and the model (its id in this control plane)."""

    code: str
    class_name: str
    model_id: str | None


def run_code(code: str | Package | Adapter, function: str, inputs: list[dict[str, Any]], outputs: list[dict[str, Any]], *,
             api_url: str, token: str, limits: Limits, stop: threading.Event | None = None,
             stopped: str = "stopped", warm: bool = True) -> CodeResult:
    """Run `function` of `code` in a process of its own; its outputs, its log, or the error.
    When `stop` is set the process is ended and the result is the error `stopped`.

    The process is forked from the warm parent (`zygote.py`) where there is one (Linux, unless
    `warm` is false), else a fresh interpreter on `child.py`: the same program, environment,
    folder and limits either way."""
    with tempfile.TemporaryDirectory(prefix="loopform-exec-") as home:
        result_path = Path(home) / "result.json"
        source: dict[str, Any] = {"code": code}
        if isinstance(code, Package):
            zip_path = Path(home) / "code" / "package.zip"
            zip_path.parent.mkdir()
            zip_path.write_bytes(code.zipped)
            source = {"package": {"zip_path": str(zip_path), "entry_point": code.entry_point,
                                  "class_name": code.class_name, "init_params": code.init_params}}
        elif isinstance(code, Adapter):
            source = {"adapter": {"code": code.code, "class_name": code.class_name, "model_id": code.model_id}}
        request = {**source, "function": function, "inputs": inputs,
                   "outputs": [{"name": p.get("name"), "type": p.get("type")} for p in outputs],
                   "api_url": api_url, "token": token, "result_path": str(result_path)}
        process = _Process.start(request, env=_environment(home), cwd=home, limits=limits, warm=warm)
        log = _BoundedLog(process.log, limits.log_bytes)
        ended = _wait(process, limits.timeout_seconds, stop)
        if ended is not None:
            process.kill()
            why = stopped if ended == "stop" else f"timed out after {limits.timeout_seconds:g} s: the process was stopped"
            return CodeResult(outputs={}, log=log.text(), error=why)
        text = log.text()
        if not result_path.is_file():
            return CodeResult(outputs={}, log=text, error=f"the process ended without a result ({process.ending()})")
        if result_path.stat().st_size > limits.result_bytes:
            return CodeResult(outputs={}, log=text, error="the function's result is too large")
        try:
            result = json.loads(result_path.read_text(encoding="utf-8"))
        except ValueError:
            return CodeResult(outputs={}, log=text, error="the function's result could not be read")
        if "error" in result:
            return CodeResult(outputs={}, log=text, error=str(result["error"]))
        produced = result.get("outputs")
        return CodeResult(outputs=produced if isinstance(produced, dict) else {}, log=text)


def _environment(home: str) -> dict[str, str]:
    """All an execution's process gets of the environment (none of the server's settings or
    tokens): the warm parent's too, so that what it imports sees what a fresh interpreter would."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home, "TMPDIR": home,
            "DATALOOP_PATH": str(Path(home) / ".dataloop"), "NO_PROXY": "127.0.0.1,localhost"}


class _Process(abc.ABC):
    """One execution's process, however it was started: its log stream, its end, its kill."""

    log: IO[bytes]

    @staticmethod
    def start(request: dict[str, Any], *, env: dict[str, str], cwd: str, limits: Limits, warm: bool) -> _Process:
        cpu_seconds = int(limits.timeout_seconds) + 5  # the timeout ends it first; this bounds a runaway
        if warm:
            process = {"env": env, "cwd": cwd, "cpu_seconds": cpu_seconds, "memory_bytes": limits.memory_bytes}
            for _ in range(2):  # a parent found gone is replaced once
                zygote = _Zygote.shared()
                if zygote is None:
                    break
                try:
                    return zygote.fork(json.dumps({**request, "process": process}).encode(), cwd)
                except OSError:
                    _Zygote.lost(zygote)
        return _Fresh(json.dumps(request).encode(), env=env, cwd=cwd, cpu_seconds=cpu_seconds,
                      memory_bytes=limits.memory_bytes)

    @abc.abstractmethod
    def wait(self, timeout: float) -> bool:
        """Whether the process ended within `timeout` seconds."""

    @abc.abstractmethod
    def kill(self) -> None:
        """End the process and all it started, and wait for that."""

    @abc.abstractmethod
    def ending(self) -> str:
        """How it ended, for a message."""


class _Fresh(_Process):
    """A fresh interpreter on child.py."""

    def __init__(self, request: bytes, *, env: dict[str, str], cwd: str, cpu_seconds: int, memory_bytes: int) -> None:
        # -I: no user site, no PYTHON* variables, no current directory on sys.path; -u: the log
        # holds what was printed up to a kill
        self._proc = subprocess.Popen(  # noqa: S603 - our own interpreter and script, no shell
            [sys.executable, "-I", "-u", str(CHILD)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, cwd=cwd, env=env, start_new_session=True,
            preexec_fn=(lambda: child.limit_resources(cpu_seconds, memory_bytes)) if os.name == "posix" else None)
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self.log = self._proc.stdout
        _send(self._proc.stdin, request)

    def wait(self, timeout: float) -> bool:
        if not hasattr(os, "waitid"):  # no way to see the end before reaping: its group stays
            try:
                self._proc.wait(timeout=timeout)
                return True
            except subprocess.TimeoutExpired:
                return False
        deadline, pause = time.monotonic() + timeout, 0.001
        while os.waitid(os.P_PID, self._proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(pause, left))
            pause = min(pause * 2, 0.05)
        # Ended, not yet reaped: its pid still holds its process group, so what it started in the
        # background (and keeps its log open) ends with it, as the warm parent's executions do.
        self.kill()
        return True

    def kill(self) -> None:
        try:
            os.killpg(self._proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError, AttributeError):
            self._proc.kill()
        self._proc.wait()

    def ending(self) -> str:
        return f"exit status {self._proc.returncode}"


class _Forked(_Process):
    """A process the warm parent forked: it reports the end on `status` and ends the process
    when told there."""

    def __init__(self, zygote: _Zygote, status: socket.socket, log: IO[bytes]) -> None:
        self._zygote = zygote
        self._status = status
        self.log = log
        self._said = b""
        self._ended: str | None = None

    def wait(self, timeout: float) -> bool:
        if self._ended is None:
            ready, _, _ = select.select([self._status], [], [], max(timeout, 0))
            if not ready:
                return False
            self._read_end()
        return True

    def _read_end(self) -> None:
        try:
            while not self._said.endswith(b"\n"):
                chunk = self._status.recv(64)
                if not chunk:
                    break
                self._said += chunk
        except OSError:
            pass
        said = self._said.decode(errors="replace").strip()
        self._status.close()
        word, _, rest = said.partition(" ")
        if word == "exit":
            self._ended = f"exit status {rest}"
        elif word == "failed":
            self._ended = f"the warm parent could not start it: {rest}"
        else:  # no word at all: the warm parent itself is gone (its executions die with it)
            self._ended = "the warm parent ended"
            _Zygote.lost(self._zygote)

    def kill(self) -> None:
        if self._ended is not None:
            return
        try:
            self._status.sendall(b"k")
        except OSError:
            pass
        if not self.wait(10):  # the parent kills at once: one that does not is stuck, and replaced
            self._status.close()
            self._ended = "killed"
            _Zygote.lost(self._zygote)  # its executions die with it

    def ending(self) -> str:
        return self._ended or "still running"


def _send(pipe: IO[bytes], data: bytes) -> None:
    try:
        pipe.write(data)
    except BrokenPipeError:  # the process ended before reading it: its result says so
        pass
    finally:
        try:
            pipe.close()
        except BrokenPipeError:
            pass


class _Zygote:
    """The process-wide warm parent (`zygote.py`), started at the first execution that wants it
    and shared by every engine of this process; ends with this process (its socket closes)."""

    _lock = threading.Lock()
    _current: _Zygote | None = None
    _unavailable = False  # it could not start here: fresh interpreters from then on

    def __init__(self) -> None:
        # SEQPACKET: each execution's message arrives whole, with its file descriptors
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        home = tempfile.mkdtemp(prefix="loopform-zygote-")
        self._proc = subprocess.Popen(  # noqa: S603 - our own interpreter and script, no shell
            [sys.executable, "-I", "-u", str(ZYGOTE), str(theirs.fileno()), home], stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=home, env=_environment(home),
            pass_fds=(theirs.fileno(),), start_new_session=True)
        theirs.close()
        self._socket = ours
        self._home = home
        self._send_lock = threading.Lock()
        ours.settimeout(120)  # the imports take about a second; a machine under load, more
        try:
            ready = ours.recv(1) == b"r"
        except OSError:
            ready = False
        ours.settimeout(None)
        if not ready:
            self.close()
            raise OSError("the warm parent did not start")

    @classmethod
    def shared(cls) -> _Zygote | None:
        if not WARM_PARENT_POSSIBLE:
            return None
        with cls._lock:
            if cls._current is None and not cls._unavailable:
                try:
                    cls._current = cls()
                except OSError:
                    cls._unavailable = True
                else:
                    atexit.register(cls._current.close)
            return cls._current

    @classmethod
    def lost(cls, zygote: _Zygote) -> None:
        """`zygote` ended (killed, crashed): the next execution starts another."""
        with cls._lock:
            if cls._current is zygote:
                cls._current = None
        zygote.close()

    def fork(self, request: bytes, folder: str) -> _Forked:
        """Have the parent fork the process of an execution that runs in `folder` (removed by the
        parent if this process dies first)."""
        status, theirs_status = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        log_read, log_write = os.pipe()
        request_read, request_write = os.pipe()
        try:
            with self._send_lock:
                socket.send_fds(self._socket, [os.fsencode(folder)],
                                [theirs_status.fileno(), log_write, request_read])
        except OSError:
            status.close()
            os.close(log_read)
            os.close(request_write)
            raise
        finally:
            theirs_status.close()
            os.close(log_write)
            os.close(request_read)
        # In a thread: a request larger than the pipe waits for the process to read it, and if the
        # parent never forks it, the execution's timeout must still end the wait.
        threading.Thread(target=_send, args=(os.fdopen(request_write, "wb"), request), daemon=True).start()
        return _Forked(self, status, os.fdopen(log_read, "rb"))

    def close(self) -> None:
        atexit.unregister(self.close)
        self._socket.close()  # the parent ends its executions and exits
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        shutil.rmtree(self._home, ignore_errors=True)


def _wait(process: _Process, timeout: float, stop: threading.Event | None) -> str | None:
    """Wait for `process`: None when it ended, "timeout" or "stop" when it must be ended."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return "timeout"
        if process.wait(left if stop is None else min(left, 0.2)):  # a stop is seen within 0.2 s
            return None
        if stop is not None and stop.is_set():
            return "stop"
