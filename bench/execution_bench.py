"""A code node's execution on the local control plane: forked from the warm parent (what the
engine does on Linux) next to a fresh interpreter (the baseline, and what other platforms do).

    python bench/execution_bench.py [--runs 10]

Each execution runs `def run(item): return item` with dtlpy logged in to a control plane served
over HTTP on 127.0.0.1, through `runner.run_code` as the engine calls it, one after the other;
the two ways are taken alternately so that load from other processes hits both alike. The first
warm execution, which starts the warm parent, is printed on its own. Prints seconds per
execution (median) and the ratio, and what of dtlpy's imports the warm parent does not preload
(PRELOAD's upkeep); never asserts.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from reconciler.server.engine import zygote
from reconciler.server.engine.runner import WARM_PARENT_POSSIBLE, Limits, run_code
from reconciler.server.testing import serve_in_thread

CODE = "def run(item):\n    return item\n"


def not_preloaded() -> tuple[float, list[str]]:
    """What `import dtlpy` still imports beyond dtlpy itself once the warm parent's PRELOAD is in:
    seconds and the heaviest top-level names (a newer dtlpy with new dependencies shows here; the
    executions are then slower, never different)."""
    script = ("import sys\nsys.path.insert(0, sys.argv[1])\nfrom zygote import PRELOAD\n"
              "for name in PRELOAD:\n    try:\n        __import__(name)\n    except Exception:\n        pass\n"
              "print('--- dtlpy', file=sys.stderr, flush=True)\nimport dtlpy\n")
    engine = Path(zygote.__file__).parent
    err = subprocess.run([sys.executable, "-X", "importtime", "-c", script, str(engine)], capture_output=True,
                         text=True, env={"PATH": os.environ.get("PATH", ""), "HOME": tempfile.gettempdir()}).stderr
    after = err.split("--- dtlpy", 1)[-1]
    own: dict[str, int] = {}
    for line in after.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[0].startswith("import time:") and parts[0][12:].strip().isdigit():
            top = parts[2].strip().split(".")[0]
            if top != "dtlpy":
                own[top] = own.get(top, 0) + int(parts[0][12:].strip())
    heaviest = sorted(own, key=own.__getitem__, reverse=True)
    return sum(own.values()) / 1e6, [f"{name} {own[name] / 1e3:.0f} ms" for name in heaviest[:5]]


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
            for way in (False, True):
                times[way].append(once(way))
    fresh, warm = statistics.median(times[False]), statistics.median(times[True])
    print(f"a code node's execution, median of {args.runs}:")
    print(f"  fresh interpreter (baseline)   {fresh:.3f} s")
    print(f"  forked from the warm parent    {warm:.3f} s: {warm / fresh:.2f}x the baseline")
    print(f"  the first warm one, which starts the warm parent: {first:.3f} s")
    seconds, heaviest = not_preloaded()
    print(f"dtlpy's imports beyond dtlpy that PRELOAD misses: {seconds:.3f} s"
          + (f" ({', '.join(heaviest)})" if heaviest else ""))


if __name__ == "__main__":
    main()
