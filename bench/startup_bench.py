"""Benchmark: `loopform --version`, `--help` and `validate` of one spec next to `python -c "import yaml"`.

    python bench/startup_bench.py [--rounds 15]

Each a fresh process, best of --rounds taken alternately. A command imports only what it runs (the
verb table in reconciler/cli.py), so the first two should cost little more than starting Python and
importing PyYAML. Prints the ratios; never asserts.
"""

from __future__ import annotations

import argparse
import sys

from benchkit import EXAMPLES, best_of, loopform, timed


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    rounds = parser.parse_args().rounds
    spec = str(min(EXAMPLES.glob("*.yaml")))
    floor, version, help_, validate = best_of(
        rounds, lambda: timed([sys.executable, "-c", "import yaml"]), lambda: timed(loopform("--version")),
        lambda: timed(loopform("--help")), lambda: timed(loopform("validate", spec)))
    print(f"python -c 'import yaml' {floor * 1000:.0f} ms")
    for name, seconds in (("--version", version), ("--help", help_), ("validate ONE_SPEC", validate)):
        print(f"loopform {name:18} {seconds * 1000:.0f} ms: {seconds / floor:.2f}x")


if __name__ == "__main__":
    main()
