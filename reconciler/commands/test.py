"""`loopform test [PATH...]`: run the pipeline test files (default `pipelines/tests/`), a fresh
embedded sandbox per case; a line per case like pytest, a diff on failure; exit 0 when all pass."""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from reconciler.project_paths import default_spec_dir
from reconciler.errors import ConfigError
from reconciler.pipeline_tests import CaseResult, junit_xml, load_test_file, run_case
from reconciler.terminal import Terminal
from reconciler.test_files import Case, PipelineTestFile, find_test_files


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", metavar="PATH",
                        help="test files or directories holding them (default: pipelines/tests of the project root)")
    parser.add_argument("--junit-xml", metavar="FILE", help="also write the results as JUnit XML")
    parser.add_argument("--keep", action="store_true",
                        help="keep each case's sandbox (its folder is printed) for inspection")
    parser.add_argument("--jobs", "-j", type=int, default=1, metavar="N",
                        help="cases run at the same time, each in its own sandbox (default 1); "
                             "the lines still come in the files' order")


def run(args: argparse.Namespace, term: Terminal) -> int:
    paths = [Path(p) for p in args.paths] or [default_spec_dir(Path.cwd()) / "tests"]
    missing = [p for p in paths if not p.exists()]
    if missing and args.paths:
        raise ConfigError(f"{missing[0]}: no such file or directory")
    files = find_test_files([p for p in paths if p.exists()])
    if not files:
        raise ConfigError(f"no pipeline test files (kind: PipelineTest) in {', '.join(map(str, paths))}")
    if args.jobs < 1:
        raise ConfigError("--jobs must be at least 1")
    # Every file read (and refused, when broken) before any case runs.
    cases = [(file, test, index, case) for file in files for test in [load_test_file(file)]
             for index, case in enumerate(test.cases)]
    started = time.monotonic()

    def run_one(job: tuple[Path, PipelineTestFile, int, Case]) -> tuple[CaseResult, Path | None]:
        file, test, index, case = job
        keep = None
        if args.keep:
            keep = Path(f".loopform/test-sandboxes/{file.stem}-{index + 1}").resolve()
            keep.mkdir(parents=True, exist_ok=True)
        return run_case(file, test, case, keep=keep), keep

    results: list[CaseResult] = []
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        # Cases are independent (a sandbox each: its own database, engine and folder); most of
        # a case's time is waiting for its executions, so cases overlap well even on few cores.
        try:
            # one at a time on this thread, as before --jobs (a Ctrl-C stops the case running)
            for result, keep in (pool.map(run_one, cases) if args.jobs > 1 else map(run_one, cases)):
                results.append(result)
                term.print(f"{result.node_id} {'PASSED' if result.passed else 'ERROR' if result.error else 'FAILED'}"
                           + (f"  (sandbox: {keep})" if keep else ""))
                if result.error is not None:
                    term.print(f"    {result.error}")
                elif not result.passed:
                    for line in result.diff.splitlines():
                        term.print(f"    {line}")
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)  # the cases running finish; no other starts
            raise
    if args.junit_xml:
        Path(args.junit_xml).write_text(junit_xml(results) + "\n", encoding="utf-8")
    failed = sum(1 for r in results if not r.passed)
    summary = f"{len(results) - failed} passed" + (f", {failed} failed" if failed else "")
    term.print(f"{summary} in {time.monotonic() - started:.1f}s")
    return 1 if failed else 0
