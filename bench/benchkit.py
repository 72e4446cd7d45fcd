"""What the benches share: spec generators, `loopform serve` in a child process, a delaying TCP
proxy (a remote API's round trip), timing of whole commands in fresh interpreters, and the floor.

Timings are whole processes, as a user waits for them: Python's start and the imports count. Each
figure is the best of several runs taken alternately with what it is compared to, so load from
other processes on a shared machine hits both alike. The benches print; they never assert.
"""

from __future__ import annotations

import compileall
import contextlib
import functools
import os
import queue
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import yaml

from reconciler.client import ApiSession, ClientOptions
from reconciler.errors import ApiError

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "pipelines"

# The floor a plan cannot beat: parse the same files with libyaml (CSafeLoader) and fetch and
# decode the live pipeline list, in a fresh interpreter.
FLOOR = """
import sys
from pathlib import Path
import yaml
for path in sorted(Path(sys.argv[1]).rglob("*.yaml")):
    yaml.load(path.read_bytes(), Loader=yaml.CSafeLoader)
if len(sys.argv) > 2:
    import requests
    url, token, project = sys.argv[2:5]
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    page = 0
    while True:
        body = {"filter": {"$and": [{"projectId": project}]}, "resource": "pipeline", "page": page, "pageSize": 1000}
        answer = session.post(url + "/pipelines/query", json=body).json()
        if not answer.get("items") or not answer.get("hasNextPage"):
            break
        page += 1
"""


# -- specs ---------------------------------------------------------------------------------------

def small_specs(into: Path, count: int) -> Path:
    """`count` copies of the repository's example specs (the three kinds in turn), renamed."""
    specs = into / "pipelines"
    specs.mkdir(parents=True)
    for shared in ("snippets", "modules"):
        shutil.copytree(EXAMPLES / shared, specs / shared)
    templates = sorted(EXAMPLES.glob("*.yaml"))
    for i in range(count):
        template = templates[i % len(templates)].read_text()
        # A for-each spec stamps out one pipeline per entry: its copies keep the entry in the name.
        name = f"bench-{i:04d}-${{each.key}}" if "${each.key}" in template else f"bench-{i:04d}"
        text = re.sub(r"(?m)^  name: .*$", lambda _: "  name: " + name, template, count=1)
        (specs / f"bench-{i:04d}.yaml").write_text(text)
    return specs


def spec_for(i: int, nodes: int) -> dict:
    """A generated pipeline of `nodes` nodes: a dataset with a trigger, code, tasks, ml, datasets."""
    body: dict = {"nodes": {}, "connections": [], "variables": [{"name": "threshold", "type": "Float", "value": 0.5}]}
    n = body["nodes"]
    n["source"] = {"type": "dataset", "dataset": f"raw-{i % 7}", "folder": "/incoming",
                   "trigger": {"event": {"filter": {"metadata.system.mimetype": "image*"}}}}
    prev = "source"
    for j in range(1, nodes):
        key = f"step-{j}"
        kind = j % 4
        if kind == 0:
            n[key] = {"type": "code", "code": f"def run(item):\n    return item  # {i}-{j}\n"}
        elif kind == 1:
            n[key] = {"type": "task", "name": f"Label {j}",
                      "task": {"dataset": f"frames-{i % 5}", "recipe": "default", "priority": "medium"}}
        elif kind == 2:
            n[key] = {"type": "ml", "model": f"model-{i % 3}", "function": "predict"}
        else:
            n[key] = {"type": "dataset", "dataset": f"out-{i % 5}", "operation": "clone"}
        conn: dict = {"from": prev if n[prev]["type"] != "ml" else f"{prev}.item", "to": key}
        if n[prev]["type"] == "task":
            conn["action"] = "complete"
        if kind == 3:
            conn["filter"] = {"metadata.user.score": {"$gt": 0.5}}
        body["connections"].append(conn)
        prev = key
    return {"apiVersion": "loopform/v1", "kind": "Pipeline",
            "metadata": {"name": f"bench-{i:04d}", "project": "local"}, "spec": body}


def generated_specs(into: Path, count: int, nodes: int) -> Path:
    specs = into / "pipelines"
    specs.mkdir(parents=True)
    for i in range(count):
        (specs / f"bench-{i:04d}.yaml").write_text(yaml.safe_dump(spec_for(i, nodes), sort_keys=False))
    return specs


# -- servers ---------------------------------------------------------------------------------------

@contextlib.contextmanager
def loopform_serve(db: Path) -> Iterator[tuple[str, str]]:
    """`loopform serve` in a child process (not sharing the bench's GIL); yields (base_url, token)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    token_file = db.with_suffix(".token")
    proc = subprocess.Popen([sys.executable, "-m", "reconciler", "serve", "--port", str(port), "--db", str(db),
                             "--token-file", str(token_file)], stdout=subprocess.DEVNULL)
    base_url = f"http://127.0.0.1:{port}/api/v1"
    probe_session = ApiSession(base_url, None, options=ClientOptions(connect_timeout=1, read_timeout=1, attempts=0))
    try:
        for _ in range(200):
            with contextlib.suppress(ApiError):  # not listening yet
                if token_file.exists() and probe_session.call("GET", "/loopform/info"):
                    break
            time.sleep(0.05)
        else:
            sys.exit("loopform serve did not come up")
        yield base_url, token_file.read_text().strip()
    finally:
        probe_session.close()
        proc.terminate()
        proc.wait(timeout=10)


class DelayingProxy:
    """A TCP proxy that delivers every byte the client sends `latency` seconds later: each request
    and its answer then take one round trip of a remote link, and requests in flight at the same time
    wait together (as on a real link), not one after the other.

    TCP_NODELAY on both sides: with Nagle's algorithm a small write waiting for the peer's delayed
    ACK stalls 40 ms, which would be measured as latency that the link does not have.
    """

    def __init__(self, upstream_url: str, latency: float) -> None:
        match = re.match(r"http://([^:/]+):(\d+)(/.*)?$", upstream_url)
        assert match, upstream_url
        self.upstream = (match.group(1), int(match.group(2)))
        self.path = match.group(3) or ""
        self.latency = latency
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def close(self) -> None:
        self._closed = True
        self.listener.close()

    def __enter__(self) -> DelayingProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            for sock in (client, server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._pipe(client, server, self.latency)
            self._pipe(server, client, 0.0)

    @staticmethod
    def _pipe(source: socket.socket, target: socket.socket, delay: float) -> None:
        due: queue.Queue[tuple[float, bytes]] = queue.Queue()

        def read() -> None:
            while True:
                try:
                    data = source.recv(65536)
                except OSError:
                    data = b""
                due.put((time.monotonic() + delay, data))
                if not data:
                    return

        def write() -> None:
            while True:
                at, data = due.get()
                wait = at - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                if not data:
                    with contextlib.suppress(OSError):
                        target.shutdown(socket.SHUT_WR)
                    return
                try:
                    target.sendall(data)
                except OSError:
                    return

        threading.Thread(target=read, daemon=True).start()
        threading.Thread(target=write, daemon=True).start()


def apply_once(specs: Path, base_url: str, token: str, cwd: Path) -> str:
    """Apply `specs` (setup, not timed) as `loopform apply` run in `cwd` would, so that a plan run there
    next finds nothing to change; the id of the project `local`."""
    from reconciler.apply import apply_plan
    from reconciler.client import RestBackend
    from reconciler.planner import make_plan
    from reconciler.spec import load
    from reconciler.spec_set import find_spec_set

    loaded = load([specs])
    if not loaded.ok:
        sys.exit("\n".join(str(e) for e in loaded.errors[:3]))
    backend = RestBackend(ApiSession(base_url, token), label="bench")
    try:
        plan = make_plan(loaded.specs, backend, default_project="local", spec_set=find_spec_set(cwd, [specs]))
        if not apply_plan(plan, backend).ok:
            sys.exit("the setup's apply failed")
        return backend.project("local").id
    finally:
        backend.close()


# -- timing ----------------------------------------------------------------------------------------

def timed(argv: Sequence[str], *, env: dict[str, str] | None = None, cwd: Path | None = None,
          ok: Sequence[int] = (0,)) -> float:
    """Seconds a command takes in a fresh process (its output discarded); exits on a failure."""
    start = time.perf_counter()
    run = subprocess.run(list(argv), env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if run.returncode not in ok:
        sys.exit(f"{' '.join(argv[:4])}... exited {run.returncode}:\n{run.stderr[-2000:]}")
    return elapsed


def best_of(rounds: int, *measures: Callable[[], float]) -> list[float]:
    """The best time of each measure over `rounds` rounds, measured alternately."""
    best = [float("inf")] * len(measures)
    for _ in range(rounds):
        for i, measure in enumerate(measures):
            best[i] = min(best[i], measure())
    return best


def loopform(*args: str) -> list[str]:
    _compile_bytecode()
    return [sys.executable, "-m", "reconciler", *args]


@functools.cache
def _compile_bytecode() -> None:
    """Compile Loopform's modules once, as `pip install` does for an installed package: from a
    checkout under PYTHONDONTWRITEBYTECODE=1 (set on this project's machines) every timed process
    would compile every module again, a cost no user of an installed Loopform pays. The floor's
    libraries are installed, so their bytecode already exists."""
    compileall.compile_dir(REPO / "reconciler", quiet=1)


def floor(specs: Path, url: str | None = None, token: str | None = None, project_id: str | None = None) -> list[str]:
    live = [url, token, project_id] if url else []
    return [sys.executable, "-c", FLOOR, str(specs), *live]  # type: ignore[list-item]


def clean_env(workdir: Path) -> dict[str, str]:
    """No settings inherited from the developer's shell; HOME in the bench's directory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOOPFORM_", "DATALOOP_"))}
    env["HOME"] = str(workdir)
    return env


@contextlib.contextmanager
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="loopform-bench-") as tmp:
        yield Path(tmp)
