"""Benchmark: apply new pipelines with the default parallelism and serially; then a no-op apply.

    python bench/apply_bench.py [--count 60] [--latency-ms 50]

Each apply is `loopform apply DIR --auto-approve` in a fresh interpreter against `loopform serve` in
another process (a server in the bench's process would share its GIL), on a fresh database: the
whole command a user waits for, plan and provisioning included. With --latency-ms, the applies run
again through a proxy that delays every request by that much (a remote API), and the bench prints
the parallel/serial ratio there and how many round trips the parallel apply waited for one after
the other: (time behind the proxy - time without) / latency.

Then the same specs are planned and applied again against a control plane in this process, whose
request log gives the number of write requests of the no-op apply (it must be 0). Prints, never
asserts.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

from benchkit import DelayingProxy, best_of, clean_env, loopform, loopform_serve, small_specs, timed, workdir

from reconciler.apply import DEFAULT_PARALLELISM, apply_plan
from reconciler.client import ApiSession, RestBackend
from reconciler.planner import make_plan
from reconciler.server.testing import serve_in_thread
from reconciler.spec import load


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--count", type=int, default=60, help="new pipelines (default 60)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="also apply behind a link this slow")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    latency = args.latency_ms / 1000
    with workdir() as tmp:
        specs = small_specs(tmp, args.count)
        runs = itertools.count()

        def apply(parallelism: int, delay: float = 0.0) -> float:
            with loopform_serve(tmp / f"run{next(runs)}.db") as (base_url, token):
                env = {**clean_env(tmp), "LOOPFORM_TOKEN": token}
                argv = loopform("apply", str(specs), "--auto-approve", "--parallelism", str(parallelism))
                if not delay:
                    return timed([*argv, "--url", base_url], env=env, cwd=tmp)
                with DelayingProxy(base_url, delay) as proxy:
                    return timed([*argv, "--url", proxy.base_url], env=env, cwd=tmp)

        parallel, serial = best_of(args.rounds, lambda: apply(DEFAULT_PARALLELISM), lambda: apply(1))
        print(f"apply {args.count} new pipelines (loopform apply, fresh process, loopform serve):")
        print(f"  parallelism {DEFAULT_PARALLELISM} (the default) {parallel:.2f} s, serial {serial:.2f} s: "
              f"{parallel / serial:.2f}x the serial time")
        if latency:
            slow_parallel, slow_serial = best_of(args.rounds, lambda: apply(DEFAULT_PARALLELISM, latency),
                                                 lambda: apply(1, latency))
            print(f"  behind a {args.latency_ms:g} ms link: parallelism {DEFAULT_PARALLELISM} {slow_parallel:.2f} s, "
                  f"serial {slow_serial:.2f} s: {slow_parallel / slow_serial:.2f}x the serial time")
            print(f"  serial round trips: {(slow_parallel - parallel) / latency:.1f} with parallelism "
                  f"{DEFAULT_PARALLELISM}, {(slow_serial - serial) / latency:.1f} serially")
        count, changed = noop_writes(specs, tmp / "noop.db")
        print(f"no-op plan + apply of the same {args.count}: write requests {count}"
              f"{'  (UNEXPECTED CHANGES)' if changed else ''}")


def noop_writes(specs: Path, db: Path) -> tuple[int, bool]:
    loaded = load([specs])
    with serve_in_thread(db) as server:
        backend = RestBackend(ApiSession(server.base_url, server.token), label="bench")
        apply_plan(make_plan(loaded.specs, backend, default_project="local"), backend)
        server.control_plane.request_log.clear()
        again = make_plan(loaded.specs, backend, default_project="local")
        result = apply_plan(again, backend)
        count = len(server.control_plane.request_log.writes())
        backend.close()
    return count, again.has_changes or not result.ok


if __name__ == "__main__":
    main()
