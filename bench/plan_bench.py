"""Benchmark: a no-change `loopform plan` next to its floor, and behind a slow link.

    python bench/plan_bench.py                      # 300 copies of the example specs
    python bench/plan_bench.py --count 500 --nodes 30   # 500 generated 30-node specs
    python bench/plan_bench.py --count 60 --latency-ms 50

Setup (not timed): the specs are written to a temporary directory and applied once to a control
plane served over HTTP on 127.0.0.1, so the timed plan is the common case in CI: nothing changed.

Timed, each in a fresh interpreter, best of --rounds taken alternately:
- floor: parse the same files with libyaml (`yaml.load(..., Loader=CSafeLoader)`) and fetch and
  decode the live pipeline list — what no plan can beat;
- plan: `loopform plan DIR --url ...`.
Prints plan/floor. With --latency-ms, the plan runs again through a proxy that delays every request
by that much (a remote API) and the bench prints how many round trips it waited for one after the
other: (plan behind the proxy - plan without) / latency. Never asserts.
"""

from __future__ import annotations

import argparse

from benchkit import (DelayingProxy, apply_once, best_of, clean_env, floor, generated_specs, loopform, small_specs,
                      timed, workdir)

from reconciler.server.testing import serve_in_thread


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--count", type=int, default=300, help="pipelines (default 300)")
    parser.add_argument("--nodes", type=int, default=0,
                        help="generate specs of this many nodes (default: copies of the example specs)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="also plan behind a link this slow")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with workdir() as tmp:
        specs = generated_specs(tmp, args.count, args.nodes) if args.nodes else small_specs(tmp, args.count)
        shape = f"{args.nodes}-node generated specs" if args.nodes else "copies of the example specs"
        with serve_in_thread(tmp / "state.db") as server:
            project_id = apply_once(specs, server.base_url, server.token, tmp)
            env = {**clean_env(tmp), "LOOPFORM_TOKEN": server.token}

            def plan_via(url: str) -> float:
                # Exit 0: --detailed-exitcode would exit 2 on any change; the plan must be a no-op.
                return timed(loopform("plan", str(specs), "--url", url, "--detailed-exitcode"), env=env, cwd=tmp)

            floor_s, plan_s = best_of(args.rounds, lambda: timed(floor(specs, server.base_url, server.token,
                                                                       project_id), env=env, cwd=tmp),
                                      lambda: plan_via(server.base_url))
            ratio = plan_s / floor_s
            print(f"no-change plan of {args.count} {shape}, against loopform serve:")
            print(f"  floor (CSafeLoader parse + live list, fresh process) {floor_s:.2f} s")
            print(f"  loopform plan {plan_s:.2f} s: {ratio:.2f}x the floor")
            if args.latency_ms:
                latency = args.latency_ms / 1000
                with DelayingProxy(server.base_url, latency) as proxy:
                    direct, slow = best_of(args.rounds, lambda: plan_via(server.base_url),
                                           lambda: plan_via(proxy.base_url))
                print(f"  behind a {args.latency_ms:g} ms link: {slow:.2f} s, {direct:.2f} s without: "
                      f"{(slow - direct) / latency:.1f} serial round trips")


if __name__ == "__main__":
    main()
