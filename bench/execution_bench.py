"""A code node's execution on the local control plane: forked from the warm parent (what the
engine does on Linux) next to a fresh interpreter (the baseline, and what other platforms do).

    python bench/execution_bench.py [--runs 10]

Each execution runs `def run(item): return item` with dtlpy logged in to a control plane served
over HTTP on 127.0.0.1, through `runner.run_code` as the engine calls it, one after the other;
the two ways are taken alternately so that load from other processes hits both alike. The first
warm execution, which starts the warm parent, is printed on its own. Prints seconds per
execution (median) and the ratio; never asserts.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from reconciler.server.engine.runner import WARM_PARENT_POSSIBLE, Limits, run_code
from reconciler.server.testing import serve_in_thread

CODE = "def run(item):\n    return item\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    if not WARM_PARENT_POSSIBLE:
        raise SystemExit("no warm parent on this platform: every execution is a fresh interpreter")
    with tempfile.TemporaryDirectory() as tmp, serve_in_thread(Path(tmp) / "state.db") as server:
        def once(warm: bool) -> float:
            start = time.perf_counter()
            result = run_code(CODE, "run", [{"name": "item", "type": "String", "value": "x"}],
                              [{"name": "item", "type": "String"}], api_url=server.base_url, token=server.token,
                              limits=Limits(), warm=warm)
            if result.error:
                raise SystemExit(result.error)
            return time.perf_counter() - start

        first = once(True)
        times: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(args.runs):
            for warm in (False, True):
                times[warm].append(once(warm))
    fresh, warm = statistics.median(times[False]), statistics.median(times[True])
    print(f"a code node's execution, median of {args.runs}:")
    print(f"  fresh interpreter (baseline)   {fresh:.3f} s")
    print(f"  forked from the warm parent    {warm:.3f} s: {warm / fresh:.2f}x the baseline")
    print(f"  the first warm one, which starts the warm parent: {first:.3f} s")


if __name__ == "__main__":
    main()
