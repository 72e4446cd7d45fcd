"""Apply 200 new pipelines over HTTP with the default parallelism and serially; print the ratio.

Then plan and apply the same 200 again: the no-op apply must make 0 write requests.

    /work/venv/bin/python bench/apply_bench.py [--count 200]

Runs against `loopform serve` in a separate process on 127.0.0.1 (a server in the same process
would share the client's GIL and hide what parallelism buys). Each run gets a fresh database. The
no-op write count comes from the server's own request log, in-process (`serve_in_thread`).
Prints, never asserts timings.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from reconciler.apply import ApplyResult, apply_plan
from reconciler.client import ApiSession, ClientOptions, RestBackend
from reconciler.errors import ApiError
from reconciler.planner import make_plan
from reconciler.server.testing import serve_in_thread
from reconciler.spec import load

EXAMPLES = Path(__file__).resolve().parents[1] / "pipelines"
TEMPLATE = "video-frames.yaml"


def generate(into: Path, count: int) -> Path:
    specs = into / "specs"
    specs.mkdir()
    shutil.copytree(EXAMPLES / "snippets", specs / "snippets")
    text = (EXAMPLES / TEMPLATE).read_text()
    for i in range(count):
        named = re.sub(r"(?m)^  name: .*$", f"  name: bench-{i:03d}", text, count=1)
        (specs / f"bench-{i:03d}.yaml").write_text(named)
    return specs


def writes(plane: object) -> int:
    return len(plane.request_log.writes())  # type: ignore[attr-defined]


@contextlib.contextmanager
def loopform_serve(db: Path) -> Iterator[tuple[str, str]]:
    """`loopform serve` in a child process; yields (base_url, token)."""
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


def plan_then_time_apply(base_url: str, token: str, specs: list, parallelism: int) -> tuple[float, ApplyResult]:
    """Plan `specs` against the server, then apply with `parallelism` workers: (seconds the apply took, result)."""
    backend = RestBackend(ApiSession(base_url, token), label="bench")
    try:
        plan = make_plan(specs, backend, default_project="local", prune=False)
        start = time.perf_counter()
        result = apply_plan(plan, backend, parallelism=parallelism)
        return time.perf_counter() - start, result
    finally:
        backend.close()


def timed_apply(specs: list, workdir: Path, parallelism: int) -> tuple[float, int]:
    with loopform_serve(workdir / f"p{parallelism}.db") as (base_url, token):
        elapsed, result = plan_then_time_apply(base_url, token, specs, parallelism)
    if not result.ok:
        sys.exit(f"apply failed: {[r.error for r in result.results if r.error][:3]}")
    return elapsed, len(result.results)


def timed_apply_with_latency(specs: list, workdir: Path, parallelism: int, latency: float) -> float:
    """The same apply with every answer delayed by `latency` s, as a remote API's round trip is."""

    def delayed(app):  # type: ignore[no-untyped-def]
        def middleware(environ, start_response):  # type: ignore[no-untyped-def]
            time.sleep(latency)  # sleeping releases the GIL: this models the wire, not CPU
            return app(environ, start_response)
        return middleware

    with serve_in_thread(workdir / f"lat{parallelism}.db", wrap=delayed) as server:
        elapsed, result = plan_then_time_apply(server.base_url, server.token, specs, parallelism)
    if not result.ok:
        sys.exit("apply failed")
    return elapsed


def noop_writes(specs: list, workdir: Path) -> tuple[int, bool, float]:
    with serve_in_thread(workdir / "noop.db") as server:
        backend = RestBackend(ApiSession(server.base_url, server.token), label="bench")
        apply_plan(make_plan(specs, backend, default_project="local", prune=False), backend)
        server.control_plane.request_log.clear()
        start = time.perf_counter()
        again = make_plan(specs, backend, default_project="local", prune=False)
        result = apply_plan(again, backend)
        elapsed = time.perf_counter() - start
        count = writes(server.control_plane)
        backend.close()
    return count, again.has_changes or not result.ok, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--latency-ms", type=float, default=20.0,
                        help="simulated round trip for the second comparison (default 20)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        loaded = load([generate(workdir, args.count)])
        if not loaded.ok:
            sys.exit("\n".join(str(e) for e in loaded.errors))
        parallel, n = timed_apply(loaded.specs, workdir, 4)
        serial, _ = timed_apply(loaded.specs, workdir, 1)
        print(f"apply {n} new pipelines to loopform serve: parallelism 4 {parallel:.2f} s, "
              f"serial {serial:.2f} s, speed-up {serial / parallel:.2f}x")
        latency = args.latency_ms / 1000
        lat_parallel = timed_apply_with_latency(loaded.specs, workdir, 4, latency)
        lat_serial = timed_apply_with_latency(loaded.specs, workdir, 1, latency)
        print(f"same, with {args.latency_ms:g} ms per request (a remote API): parallelism 4 {lat_parallel:.2f} s, "
              f"serial {lat_serial:.2f} s, speed-up {lat_serial / lat_parallel:.2f}x")
        count, changed, elapsed = noop_writes(loaded.specs, workdir)
        print(f"no-op plan + apply of the same {n}: {elapsed:.2f} s, write requests: {count}"
              f"{'  (UNEXPECTED CHANGES)' if changed else ''}")


if __name__ == "__main__":
    main()
