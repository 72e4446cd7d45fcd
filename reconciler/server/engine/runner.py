"""Running a code node's function in its own process, with limits (issue 13, "safe to run user code").

Each execution starts a fresh interpreter on `child.py` as the invoking user, in a temporary
directory that is also its HOME and dtlpy's state folder (DATALOOP_PATH), with an environment that
holds nothing of the server's but the control plane's URL and a token scoped to the pipeline's
project. Limits: a wall-clock timeout (the process group is killed), CPU seconds and address
space through `resource.setrlimit` where the platform has it, and a bounded log (stdout and stderr,
read as they come; what is beyond the bound is counted, not kept). A crash, an endless loop or a
flood of output fails that execution only.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from reconciler.nodes.base import CodeResult

CHILD = Path(__file__).with_name("child.py")
# The store's kind for a model's local adapter (`loopform local seed`, a test file's `models`),
# by the model's id: Loopform's own, no platform object.
ADAPTER = "model-adapter"


@dataclass(frozen=True)
class Limits:
    timeout_seconds: float = 120.0
    log_bytes: int = 64 * 1024
    memory_bytes: int = 4 * 1024 ** 3
    result_bytes: int = 4 * 1024 ** 2
    # Node executions one cycle may hold. A cycle is one document, rewritten at every step of
    # every execution: 1000 executions make it about 1 MB and take about a minute to carry through
    # on one core (see bench/server_bench.py); a graph of 2-node layers each connected to both
    # nodes of the next doubles the executions per layer, and without a limit 40 nodes would be
    # a million.
    cycle_executions: int = 1000
    # Bytes of a cycle's document (executions' inputs, outputs and logs).
    cycle_bytes: int = 32 * 1024 ** 2
    # Cycles started by what a cycle's code wrote (an item that fires a trigger) or executed,
    # and by what theirs did: how deep such a chain may go, and how many cycles one first cycle
    # may lead to in all. A pipeline that writes an item into the dataset whose trigger starts it
    # again would otherwise run forever, and one writing two items per run doubles every round.
    caused_depth: int = 10
    caused_cycles: int = 1000


def _limit_child(limits: Limits) -> None:  # runs in the child between fork and exec
    try:
        import resource
    except ImportError:  # no setrlimit on this platform: the timeout still holds
        return
    cpu = int(limits.timeout_seconds) + 5
    for name, value in (("RLIMIT_CPU", cpu), ("RLIMIT_AS", limits.memory_bytes)):
        which = getattr(resource, name, None)
        if which is not None:
            try:
                resource.setrlimit(which, (value, value))
            except (ValueError, OSError):
                pass


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
             stopped: str = "stopped") -> CodeResult:
    """Run `function` of `code` in a fresh sandboxed process; its outputs, its log, or the error.
    When `stop` is set the process is ended and the result is the error `stopped`."""
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
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home, "TMPDIR": home,
               "DATALOOP_PATH": str(Path(home) / ".dataloop"), "NO_PROXY": "127.0.0.1,localhost"}
        # -I: no user site, no PYTHON* variables, no current directory on sys.path; -u: the log
        # holds what was printed up to a kill
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and script, no shell
            [sys.executable, "-I", "-u", str(CHILD)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, cwd=home, env=env, start_new_session=True,
            preexec_fn=(lambda: _limit_child(limits)) if os.name == "posix" else None)
        assert proc.stdin is not None and proc.stdout is not None
        log = _BoundedLog(proc.stdout, limits.log_bytes)
        try:
            proc.stdin.write(json.dumps(request).encode())
            proc.stdin.close()
        except BrokenPipeError:
            pass
        ended = _wait(proc, limits.timeout_seconds, stop)
        if ended is not None:
            _kill(proc)
            why = stopped if ended == "stop" else f"timed out after {limits.timeout_seconds:g} s: the process was stopped"
            return CodeResult(outputs={}, log=log.text(), error=why)
        text = log.text()
        if not result_path.is_file():
            return CodeResult(outputs={}, log=text, error=f"the process ended without a result (exit status {proc.returncode})")
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


def _wait(proc: subprocess.Popen[bytes], timeout: float, stop: threading.Event | None) -> str | None:
    """Wait for `proc`: None when it ended, "timeout" or "stop" when it must be ended."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return "timeout"
        try:
            proc.wait(timeout=left if stop is None else min(left, 0.2))  # a stop is seen within 0.2 s
            return None
        except subprocess.TimeoutExpired:
            if stop is not None and stop.is_set():
                return "stop"


def _kill(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, AttributeError):
        proc.kill()
    proc.wait()
