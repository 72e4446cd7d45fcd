"""The warm parent of code executions (Linux): imports dtlpy's libraries once, then forks one
process per execution, which runs `child.run` as a fresh interpreter would.

A fresh interpreter spends most of an execution importing dtlpy and what it imports (about 0.9 s
of CPU on this project's machines, for a function that takes milliseconds). Here that is paid
once: this process imports the third-party libraries dtlpy imports (`PRELOAD`, measured with
`python -X importtime -c "import dtlpy"`), never dtlpy itself, so each execution still imports
dtlpy afresh in its own process and dtlpy's state (its settings folder, the token it stores, its
log file) is made from that execution's environment, as before.

Protocol, over the (SOCK_SEQPACKET) socket the engine hands over as argv[1]: one byte `r` when
ready; then, per execution, one message holding the execution's folder and carrying three file
descriptors (SCM_RIGHTS): a socket for the execution's status, the write end of its log pipe, the
read end of its request pipe. The forked process makes them its stdout/stderr and stdin, closes
everything else of this one (the engine's socket, other executions' sockets), starts its own
session, reads the request and applies its `process` part (environment, working directory,
resource limits) before any user code runs. On the status socket this process writes `exit N` (N
as `Popen.returncode`: -signal when killed) when the execution's process has ended, and what it
started with it (`failed WHY` when it could not be forked); it ends the execution's process group
when the engine writes there or closes it (a timeout or a stop). When the engine's socket closes (the engine stopped, or its
process died), every running execution is ended, the folders of those executions (their dtlpy
state holds their token) and this process's own folder (argv[2]) are removed, and this process
exits.

Standalone like `child.py`: it imports nothing of Loopform.
"""

from __future__ import annotations

import importlib.util
import json
import os
import selectors
import shutil
import signal
import socket
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

# What `import dtlpy` imports beyond the standard library, heaviest first; a name missing or
# failing here is imported by the execution itself (slower, never different).
PRELOAD = (
    "pandas", "numpy", "aiohttp", "redis", "validators", "urllib3", "requests", "requests_toolbelt",
    "jinja2", "PIL.Image", "filelock", "wcwidth", "attr", "pathspec", "charset_normalizer", "tqdm",
    "bson", "dateutil.parser", "jwt", "diskcache", "tabulate", "dictdiffer", "webvtt", "yarl",
    "decorator", "certifi", "six", "multiprocessing.pool", "xml.etree.ElementTree", "sqlite3",
    "asyncio", "email.parser", "http.client", "ssl",
)


def _load_child() -> Any:
    spec = importlib.util.spec_from_file_location("loopform_child", Path(__file__).with_name("child.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _preload() -> None:
    for name in PRELOAD:
        try:
            __import__(name)
        except Exception:  # noqa: BLE001, S110 - the execution imports it itself then
            pass


def _die_with(parent: int) -> None:
    """Be killed when the warm parent ends, however it ends: nothing else could end this process."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # it ended before the line above
        os._exit(1)


def _execution(child: Any, parent: int, log: int, request: int) -> int:
    """In the forked process: become the execution's own process, then run it."""
    os.setsid()  # its own process group: a timeout ends it with whatever it started
    _die_with(parent)
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.dup2(request, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    # Everything else of this process goes: the engine's socket, other executions' status sockets
    # (the Python objects over them stay referenced by the frames below, so none closes a reused fd)
    os.closerange(3, os.sysconf("SC_OPEN_MAX"))
    wanted = json.loads(sys.stdin.read())
    process = wanted.pop("process")
    child.limit_resources(process["cpu_seconds"], process["memory_bytes"])
    # as a fresh interpreter given this environment would: Python's start coerced a C locale
    # (PEP 538) here as it would there
    coerced = {"LC_CTYPE": os.environ["LC_CTYPE"]} \
        if "LC_CTYPE" in os.environ and "LC_CTYPE" not in process["env"] else {}
    os.environ.clear()
    os.environ.update({**process["env"], **coerced})
    os.chdir(process["cwd"])
    # What a fresh interpreter would not share with the other executions: the temporary folder
    # a module may have looked up at import (here, the warm parent's), and numpy's global random
    # state, seeded once at import (Python's `random` reseeds itself after a fork).
    tempfile.tempdir = None
    sys.argv[:] = [child.__file__]
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()
    return int(child.run(wanted))


def _end(pid: int) -> None:
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
            return
        except (ProcessLookupError, PermissionError):
            continue


def serve(control: socket.socket, home: str) -> int:
    try:
        return _serve(control)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _serve(control: socket.socket) -> int:
    child = _load_child()
    _preload()
    if any(name == "dtlpy" or name.startswith("dtlpy.") for name in sys.modules):
        return 3  # a preloaded library imported dtlpy: its state would be shared, so no warm parent
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_read, False)
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    selector = selectors.DefaultSelector()
    selector.register(control, selectors.EVENT_READ, "control")
    selector.register(wake_read, selectors.EVENT_READ, "wake")
    running: dict[int, socket.socket] = {}
    folders: dict[int, str] = {}  # of the executions running: the engine removes them when they end
    control.sendall(b"r")
    try:
        while True:
            for key, _ in selector.select():
                if key.data == "control":
                    try:
                        data, fds, _flags, _addr = socket.recv_fds(control, 65536, 3)
                    except OSError:
                        data, fds = b"", []
                    if not data:
                        return 0  # the engine is gone
                    if len(fds) != 3:
                        for fd in fds:
                            os.close(fd)
                        continue
                    status = socket.socket(fileno=fds[0])
                    try:
                        pid = _fork(child, fds[1], fds[2])
                    except OSError as error:
                        _tell(status, f"failed {error.strerror or error}")
                        continue
                    running[pid] = status
                    folders[pid] = os.fsdecode(data)
                    selector.register(status, selectors.EVENT_READ, pid)
                elif key.data == "wake":
                    try:
                        while os.read(wake_read, 512):
                            pass
                    except BlockingIOError:
                        pass
                    for pid in _reap(running, selector):
                        folders.pop(pid, None)
                else:  # the engine wrote on, or closed, an execution's status socket: end it
                    pid = key.data
                    try:
                        key.fileobj.recv(64)  # type: ignore[union-attr]
                    except OSError:
                        pass
                    selector.unregister(key.fileobj)
                    _end(pid)
    finally:
        for pid in running:
            _end(pid)
        for pid, folder in folders.items():
            try:
                os.waitpid(pid, 0)  # dead (SIGKILL): nothing writes into the folder after this
            except ChildProcessError:
                pass
            shutil.rmtree(folder, ignore_errors=True)


def _tell(status: socket.socket, word: str) -> None:
    """The execution's last word to the engine, and the end of its status socket."""
    try:
        status.sendall(word.encode() + b"\n")
    except OSError:
        pass
    status.close()


def _fork(child: Any, log: int, request: int) -> int:
    parent = os.getpid()
    try:
        with warnings.catch_warnings():
            # Python 3.12+ warns of forking with threads; numpy's BLAS pool is one, and is fork-safe
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
    except OSError:
        os.close(log)
        os.close(request)
        raise
    if pid == 0:
        code = 1
        try:
            code = _execution(child, parent, log, request)
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)
    os.close(log)
    os.close(request)
    return pid


def _reap(running: dict[int, socket.socket], selector: selectors.BaseSelector) -> list[int]:
    """Tell the engine of every execution that ended; their pids."""
    ended: list[int] = []
    while running:
        try:
            found = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            break
        if found is None:
            break
        pid = found.si_pid
        # Ended, not yet reaped: its pid still holds its process group, so what it started in the
        # background (a daemon keeping its log open) ends with it rather than outliving it.
        _end(pid)
        _, wait_status = os.waitpid(pid, 0)
        status = running.pop(pid, None)
        if status is None:
            continue
        ended.append(pid)
        try:
            selector.unregister(status)
        except (KeyError, ValueError):
            pass
        _tell(status, f"exit {os.waitstatus_to_exitcode(wait_status)}")
    return ended


if __name__ == "__main__":
    sys.exit(serve(socket.socket(fileno=int(sys.argv[1])), sys.argv[2]))
