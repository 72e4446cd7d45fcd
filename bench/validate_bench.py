"""`loopform validate` next to its floor; hostile spec files at the reader's limits.

    python bench/validate_bench.py [--count 300]

First, `loopform validate DIR` of --count copies of the example specs against the floor: parsing the
same files with libyaml (`yaml.load(..., Loader=CSafeLoader)`), each in a fresh interpreter, best of
5 taken alternately; prints validate/floor.

Then the hostile inputs: time and peak memory of `load`, next to a valid example. Each input runs in a fresh interpreter, which reports the seconds `load([file])` took and its
peak resident memory, so one case's garbage cannot hide another's. The promise being measured:
every bad input is rejected with a located error within a second and in bounded memory. Prints
the time ratio to loading the largest example spec; never asserts.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HEAD = "apiVersion: loopform/v1\nkind: Pipeline\nmetadata: {name: gen}\nspec:\n"

# Peak memory from VmHWM: unlike ru_maxrss, it starts afresh at exec (ru_maxrss would include
# the forked copy of this process, which holds the 50 MB case).
CHILD = """
import json, re, sys, time
from pathlib import Path
from reconciler.spec import load
start = time.perf_counter()
result = load([Path(sys.argv[1])])
elapsed = time.perf_counter() - start
first = result.errors[0] if result.errors else None
peak = re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text())
print(json.dumps({"seconds": elapsed, "rss_mb": int(peak.group(1)) / 1024 if peak else float("nan"),
                  "errors": len(result.errors), "first": str(first) if first else "valid"}))
"""


def _chain(prefix: str, count: int, source: str | None) -> str:
    """A module of `count` chained nodes: code nodes, or uses of the module `source`."""
    node = ("{type: module, source: " + source + "}") if source else "{type: code, code: x}"
    into, out = (".in", ".out") if source else ("", "")
    return (f"apiVersion: loopform/v1\nkind: Module\nmetadata: {{name: {prefix}}}\nspec:\n  nodes:\n"
            + "".join(f"    {prefix}{i}: {node}\n" for i in range(count)) + "  connections:\n"
            + "".join(f"    - {{from: {prefix}{i}{out}, to: {prefix}{i + 1}{into}}}\n" for i in range(count - 1))
            + f"  ports:\n    in: {{to: {prefix}0{into}}}\n    out: {{from: {prefix}{count - 1}{out}}}\n")


# Module files beside every case (only the module bomb uses them): 100 uses of 30 nodes each.
MODULES = {"modules/a.yaml": _chain("n", 30, None), "modules/b.yaml": _chain("u", 100, "a.yaml")}


def _cases() -> dict[str, str | bytes]:
    nodes = "".join(f"    n{i}: {{type: merge}}\n" for i in range(3000))
    bomb = "".join(
        f"m{i}: &m{i} {{a: *m{i - 1}, b: *m{i - 1}, c: *m{i - 1}, d: *m{i - 1}}}\n" if i else "m0: &m0 {x: 1}\n"
        for i in range(40)
    )
    return {
        "50 MB file": b"a: " + b"x" * (50 * 1024 * 1024),
        "1 MB of flat values": "a: [" + "1," * 500_000 + "1]\n",
        "1 MB of quoted flow values": "a: [" + '"x",' * 250_000 + '"x"]\n',
        "200k-deep flow nesting": "a: " + "[" * 200_000 + "]" * 200_000 + "\n",
        "alias bomb in flow mappings": bomb,
        "900 kB key above 250k values": "? " + "k" * 400_000 + "\n: [" + "1," * 250_000 + "1]\n",
        "3000 nodes, 6000 unknown targets": HEAD + "  root: n0\n  nodes:\n" + nodes + "  connections:\n"
        + "".join(f"    - {{from: n{i}, to: [n{i + 1}, x{i}, y{i}]}}\n" for i in range(2999)),
        "3000 nodes, ambiguous root": HEAD + "  nodes:\n" + nodes,
        "invalid UTF-8 at the end of 1 MB": b"# " + b"x" * 1_000_000 + b"\n\xff\n",
        "3 kB: 100 uses of 100 uses of 30 nodes": HEAD + "  root: src\n  nodes:\n    src: {type: dataset, dataset: d}\n"
        + "".join(f"    v{i}: {{type: module, source: modules/b.yaml}}\n" for i in range(100))
        + "  connections:\n    - {from: src, to: v0.in}\n"
        + "".join(f"    - {{from: v{i}.out, to: v{i + 1}.in}}\n" for i in range(99)),
        "55 kB: 2000 forEach entries, 300 nodes": "apiVersion: loopform/v1\nkind: Pipeline\nforEach:\n"
        + "".join(f"  e{i}: {{}}\n" for i in range(2000)) + "metadata: {name: 'g-${each.key}'}\nspec:\n  nodes:\n"
        + "".join(f"    n{i}: {{type: code, code: 'x = \"${{each.key}}\"'}}\n" for i in range(300)),
    }


def _run(path: Path) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True,
                         check=True, timeout=600, cwd=path.parent)
    return json.loads(out.stdout)


def against_the_floor(count: int) -> None:
    from benchkit import best_of, clean_env, floor, loopform, small_specs, timed, workdir

    with workdir() as tmp:
        specs = small_specs(tmp, count)
        env = clean_env(tmp)
        floor_s, validate_s = best_of(5, lambda: timed(floor(specs), env=env, cwd=tmp),
                                      lambda: timed(loopform("validate", str(specs)), env=env, cwd=tmp))
    print(f"validate {count} copies of the example specs (fresh process): {validate_s:.2f} s; "
          f"floor (CSafeLoader parse) {floor_s:.2f} s: {validate_s / floor_s:.2f}x the floor")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--count", type=int, default=300)
    against_the_floor(parser.parse_args().count)
    baseline_path = max((REPO / "pipelines").glob("*.yaml"), key=lambda p: p.stat().st_size)
    runs = [_run(baseline_path) for _ in range(3)]
    baseline = min(float(r["seconds"]) for r in runs)  # type: ignore[arg-type]
    print(f"baseline: {baseline_path.name} loads in {baseline * 1000:.1f} ms, peak {runs[0]['rss_mb']:.0f} MB")
    print(f"{'input':36} {'ms':>8} {'x base':>8} {'MB':>6}  first error")
    with tempfile.TemporaryDirectory() as tmp:
        for module, text in MODULES.items():
            (Path(tmp) / module).parent.mkdir(exist_ok=True)
            (Path(tmp) / module).write_text(text)
        for name, content in _cases().items():
            path = Path(tmp) / "case.yaml"
            path.write_bytes(content if isinstance(content, bytes) else content.encode())
            report = _run(path)
            seconds = float(report["seconds"])  # type: ignore[arg-type]
            print(f"{name:36} {seconds * 1000:8.1f} {seconds / baseline:8.0f} {report['rss_mb']:6.0f}  "
                  f"{str(report['first'])[:90]}")


if __name__ == "__main__":
    main()
