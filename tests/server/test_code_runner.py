"""A code node's process, both ways it starts: forked from the warm parent (`zygote.py`, what the
engine uses on Linux) and a fresh interpreter (every other platform). Each case runs real user
code against a control plane served over HTTP, and the two ways must not differ in what the code
sees or in how its process ends."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.server.engine.runner import WARM_PARENT_POSSIBLE, Limits, run_code
from reconciler.server.testing import ServerHandle, serve_in_thread

WAYS = [pytest.param(True, id="warm", marks=pytest.mark.skipif(not WARM_PARENT_POSSIBLE, reason="Linux only")),
        pytest.param(False, id="fresh")]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    with serve_in_thread(tmp_path_factory.mktemp("runner") / "state.db") as handle:
        yield handle


def run(server: ServerHandle, code: str, *, warm: bool, limits: Limits | None = None,
        stop: threading.Event | None = None) -> Any:
    return run_code(code, "run", [{"name": "x", "type": "String", "value": "in"}], [{"name": "x", "type": "String"}],
                    api_url=server.base_url, token=server.token, limits=limits or Limits(timeout_seconds=60),
                    stop=stop, stopped="stopped by the test", warm=warm)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


SEES = """
import json, os, random, sys
def run(x):
    import numpy
    from dtlpy.services import service_defaults
    unix = {line.split()[-2] for line in open("/proc/net/unix").read().splitlines()[1:]}
    fds = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            fds[int(fd)] = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            pass
    return json.dumps({
        "env": dict(os.environ), "cwd": os.getcwd(), "dtlpy_path": service_defaults.DATALOOP_PATH,
        "pipes": sorted(fd for fd, target in fds.items() if fd > 2 and target.startswith("pipe:")),
        "unix_sockets": sorted(fd for fd, target in fds.items()
                               if target.startswith("socket:") and target[8:-1] in unix),
        "random": [random.random(), float(numpy.random.rand())], "argv0": os.path.basename(sys.argv[0]),
        "parent": os.getppid()})
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_code_sees_the_same_process_either_way(server: ServerHandle) -> None:
    seen = {}
    for warm in ([True, True, False] if WARM_PARENT_POSSIBLE else [False, False]):
        result = run(server, SEES, warm=warm)
        assert result.error is None, result.error
        seen.setdefault(warm, []).append(json.loads(result.outputs["x"]))
    for got in [s for runs in seen.values() for s in runs]:
        home = got["env"]["HOME"]
        assert got["cwd"] == home and got["env"]["TMPDIR"] == home
        assert got["dtlpy_path"] == got["env"]["DATALOOP_PATH"] == str(Path(home) / ".dataloop")
        assert got["pipes"] == [] and got["unix_sockets"] == []  # nothing of the engine or the warm parent
        assert got["argv0"] == "child.py"
        assert "LOOPFORM_TOKEN" not in got["env"] and server.token not in json.dumps(got["env"])
    if WARM_PARENT_POSSIBLE:
        warm_runs, fresh = seen[True], seen[False][0]
        assert {k for k in warm_runs[0]["env"] if k not in ("USE_ATTRIBUTE_2",)} == \
            {k for k in fresh["env"] if k not in ("USE_ATTRIBUTE_2",)}
        assert warm_runs[0]["env"]["HOME"] != warm_runs[1]["env"]["HOME"]
        # forked from one parent, yet neither Python's nor numpy's random numbers repeat
        assert warm_runs[0]["random"][0] != warm_runs[1]["random"][0]
        assert warm_runs[0]["random"][1] != warm_runs[1]["random"][1]
        assert warm_runs[0]["parent"] == warm_runs[1]["parent"] != os.getpid()


STARTS_A_SLEEPER = """
import os, subprocess, time
def run(x):
    sleeper = subprocess.Popen(["sleep", "300"])
    print("pids", os.getpid(), sleeper.pid, flush=True)
    time.sleep(300)
"""


def _pids(log: str) -> list[int]:
    line = next(line for line in log.splitlines() if line.startswith("pids "))
    return [int(p) for p in line.split()[1:]]


@pytest.mark.parametrize("warm", WAYS)
def test_a_timeout_ends_the_process_and_what_it_started(server: ServerHandle, warm: bool) -> None:
    result = run(server, STARTS_A_SLEEPER, warm=warm, limits=Limits(timeout_seconds=6))
    assert result.error is not None and result.error.startswith("timed out after 6 s")
    pids = _pids(result.log)
    deadline = time.monotonic() + 5
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(p) for p in pids)


@pytest.mark.parametrize("warm", WAYS)
def test_a_stop_ends_it_and_an_exit_status_is_reported(server: ServerHandle, warm: bool) -> None:
    stop = threading.Event()
    threading.Timer(1, stop.set).start()
    assert run(server, STARTS_A_SLEEPER, warm=warm, stop=stop).error == "stopped by the test"
    ended = run(server, "import os\ndef run(x):\n    print('bye', flush=True)\n    os._exit(3)\n", warm=warm)
    assert ended.error == "the process ended without a result (exit status 3)" and "bye" in ended.log


@pytest.mark.skipif(not WARM_PARENT_POSSIBLE, reason="Linux only")
def test_when_the_warm_parent_dies_its_execution_fails_and_the_next_one_gets_a_new_parent(
        server: ServerHandle, tmp_path: Path) -> None:
    mark = tmp_path / "pids"
    code = ("import os, time\ndef run(x):\n"
            f"    open({str(mark)!r}, 'w').write(f'{{os.getpid()}} {{os.getppid()}}')\n    time.sleep(300)\n")
    box: dict[str, Any] = {}
    running = threading.Thread(target=lambda: box.update(result=run(server, code, warm=True)))
    running.start()
    deadline = time.monotonic() + 60
    while not mark.exists() or not mark.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    execution, parent = (int(p) for p in mark.read_text().split())
    assert parent != os.getpid()
    os.kill(parent, signal.SIGKILL)
    running.join(timeout=30)
    assert box["result"].error == "the process ended without a result (the warm parent ended)"
    deadline = time.monotonic() + 5
    while _alive(execution) and time.monotonic() < deadline:  # it dies with its parent
        time.sleep(0.05)
    assert not _alive(execution)
    again = run(server, "import os\ndef run(x):\n    return str(os.getppid())\n", warm=True)
    assert again.error is None and again.outputs["x"] not in (str(parent), str(os.getpid()))


ENGINE_THAT_DIES = """
import sys
from reconciler.server.engine.runner import Limits, run_code
code = ("import os, time\\ndef run(x):\\n"
        f"    open({sys.argv[3]!r}, 'w').write(f'{{os.getpid()}} {{os.getppid()}} {{os.getcwd()}}')\\n    time.sleep(300)\\n")
run_code(code, "run", [{"name": "x", "type": "String", "value": "in"}], [], api_url=sys.argv[1], token=sys.argv[2],
         limits=Limits(timeout_seconds=300))
"""


@pytest.mark.skipif(not WARM_PARENT_POSSIBLE, reason="Linux only")
def test_when_the_engine_process_dies_the_warm_parent_ends_its_executions_and_removes_their_folders(
        server: ServerHandle, tmp_path: Path) -> None:
    # The folder holds dtlpy's state, the token with it; a killed `loopform serve` left it behind.
    mark = tmp_path / "pids"
    engine = subprocess.Popen([sys.executable, "-c", ENGINE_THAT_DIES, server.base_url, server.token, str(mark)])
    try:
        deadline = time.monotonic() + 60
        while not mark.exists() or not mark.read_text():
            assert time.monotonic() < deadline and engine.poll() is None
            time.sleep(0.05)
        execution, parent, folder = mark.read_text().split(" ", 2)
        parent_home = Path(f"/proc/{parent}/cwd").resolve()
        assert Path(folder).is_dir() and parent_home.name.startswith("loopform-zygote-")
    finally:
        engine.kill()
        engine.wait()
    deadline = time.monotonic() + 10
    while (_alive(int(parent)) or Path(folder).exists()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(int(execution)) and not _alive(int(parent))
    assert not Path(folder).exists() and not parent_home.exists()


@pytest.mark.parametrize("warm", WAYS)
def test_what_an_execution_starts_in_the_background_ends_with_it(server: ServerHandle, warm: bool,
                                                                  tmp_path: Path) -> None:
    # A daemon left running would outlive every execution (and hold its log open, so the engine
    # waited 5 s for the log's end): the process group goes when the execution's process ends.
    mark = tmp_path / "daemon"
    code = ("import subprocess\ndef run(x):\n    daemon = subprocess.Popen(['sleep', '300'])\n"
            f"    open({str(mark)!r}, 'w').write(str(daemon.pid))\n    return x\n")
    result = run(server, code, warm=warm)
    assert result.error is None and result.outputs == {"x": "in"}
    daemon = int(mark.read_text())
    deadline = time.monotonic() + 5
    while _alive(daemon) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(daemon)
