"""Helpers shared by the test suites (importable as `harness`: tests/conftest.py puts tests/ on the path).

- `cli(*argv)`: `loopform ARGV` in-process over a non-TTY terminal, output captured.
- `isolate(path, monkeypatch)`: a working directory with no Loopform/Dataloop settings inherited.
- `serve_for_cli(db, monkeypatch)`: a served control plane that the CLI selects through the environment.
- dtlpy: `import_dtlpy`, `point_dtlpy` (-> `DtlpySdk`) and `items_of` for its paged listings.
- `copy_examples(into, reuse=False)`: the repository's example specs, as `into/pipelines`.
- `Drain(stream)`: a subprocess's output read in a thread, awaited with a deadline (`wait_for`), so a
  child that hangs without printing fails the test instead of hanging it.
"""

from __future__ import annotations

import io
import itertools
import os
import shutil
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import IO, Any

import pytest

from reconciler.cli import main
from reconciler.server.testing import ServerHandle, serve_in_thread
from reconciler.terminal import Terminal

# Settings a developer's shell may carry that would change what the CLI selects or prints.
INHERITED_SETTINGS = ("LOOPFORM_API_URL", "LOOPFORM_TOKEN", "LOOPFORM_PROJECT", "LOOPFORM_ENV", "DATALOOP_PATH",
                      "NO_COLOR")


@dataclass
class Run:
    code: int
    out: str
    err: str


def cli(*argv: str) -> Run:
    """`loopform ARGV` in-process, over a non-TTY terminal; stdout and stderr captured."""
    term = Terminal(out=io.StringIO(), err=io.StringIO(), colour=False, unicode=True)
    out, err = term.out, term.err
    code = main(list(argv), term=term)
    return Run(code, out.getvalue(), err.getvalue())  # type: ignore[attr-defined]


def isolate(path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Make `path` the working directory and HOME, with none of INHERITED_SETTINGS set."""
    monkeypatch.chdir(path)
    monkeypatch.setenv("HOME", str(path))
    for var in INHERITED_SETTINGS:
        monkeypatch.delenv(var, raising=False)
    return path


def applied_project(path: Path, monkeypatch: pytest.MonkeyPatch, specs: dict[str, str]) -> Path:
    """`path` as an isolated project (a git root) whose `pipelines/` holds `specs` (file name ->
    text), applied to its embedded control plane; the path of that plane's database."""
    isolate(path, monkeypatch)
    (path / ".git").mkdir()
    (path / "pipelines").mkdir()
    for name, text in specs.items():
        (path / "pipelines" / name).write_text(text)
    applied = cli("apply", "--auto-approve")
    assert applied.code == 0, applied.err
    return path / ".loopform" / "state.db"


@contextmanager
def serve_for_cli(db: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ServerHandle]:
    """`loopform serve` in a thread on `db`, selected for the CLI through LOOPFORM_API_URL/TOKEN."""
    with serve_in_thread(db) as server:
        monkeypatch.setenv("LOOPFORM_API_URL", server.base_url)
        monkeypatch.setenv("LOOPFORM_TOKEN", server.token)
        yield server


# --- the official dtlpy SDK pointed at a server ----------------------------------------------------


def import_dtlpy(home: Path) -> ModuleType:
    """dtlpy, with its cookie/log directory under `home` unless this process imported it already:
    it reads DATALOOP_PATH once, at import (each pytest-xdist worker is a process of its own)."""
    if "dtlpy" not in sys.modules:
        os.environ["DATALOOP_PATH"] = str(home)
    import dtlpy

    return dtlpy


@dataclass(frozen=True)
class DtlpySdk:
    dl: ModuleType
    server: ServerHandle
    project: Any  # dtlpy.entities.Project of the server's default project

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}/"

    def activate(self) -> Any:
        """Point the process-wide SDK at this server again (after another one moved it); its default project."""
        self.dl.setenv(f"loopform-{self.server.port}")
        self.dl.client_api.token = self.server.token
        return self.dl.projects.get(project_name="local")


def point_dtlpy(dl: ModuleType, server: ServerHandle, token: str | None = None) -> DtlpySdk:
    """Register `server` as a dtlpy environment, switch to it and log in (GET /users/me; raises
    ValueError unless 2xx) with `token` (the server's own by default)."""
    alias = f"loopform-{server.port}"
    dl.add_environment(environment=server.base_url, alias=alias, gate_url=server.root_url,
                       url=server.root_url + "/", verify_ssl=False)
    dl.setenv(alias)
    dl.login_token(token or server.token)
    return DtlpySdk(dl=dl, server=server, project=dl.projects.get(project_name="local"))


def items_of(paged: Any, *, max_pages: int) -> list[Any]:
    """Every entity dtlpy yields, failing (not hanging) if a server that ignores `page` makes it loop."""
    pages = list(itertools.islice(iter(paged), max_pages + 1))
    assert len(pages) <= max_pages, f"dtlpy fetched over {max_pages} pages: the server does not honour paging"
    return [entity for page in pages for entity in page]


# --- subprocess output, with deadlines ------------------------------------------------------------

OUTPUT_DEADLINE = 60.0  # seconds a child may take to print what a test waits for


class Drain:
    """Reads a subprocess's text stream to its end in a background thread, keeping every line."""

    def __init__(self, stream: IO[str]) -> None:
        self._lines: list[str] = []
        self._ended = False
        self._changed = threading.Condition()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        try:
            for line in iter(stream.readline, ""):
                with self._changed:
                    self._lines.append(line)
                    self._changed.notify_all()
        finally:
            with self._changed:
                self._ended = True
                self._changed.notify_all()

    @property
    def text(self) -> str:
        with self._changed:
            return "".join(self._lines)

    def seen(self, needle: str, *, deadline: float = OUTPUT_DEADLINE) -> bool:
        """Whether `needle` appears before the stream ends and within `deadline` seconds (waits)."""
        with self._changed:
            self._changed.wait_for(lambda: needle in "".join(self._lines) or self._ended, timeout=deadline)
            return needle in "".join(self._lines)

    def wait_for(self, needle: str, *, deadline: float = OUTPUT_DEADLINE) -> str:
        """The output so far, once it contains `needle`; fails the test if the stream ends or
        `deadline` seconds pass first."""
        self.seen(needle, deadline=deadline)
        with self._changed:
            text, ended = "".join(self._lines), self._ended
        if needle not in text:
            why = "the output ended" if ended else f"nothing more within {deadline:g}s"
            pytest.fail(f"waiting for {needle!r}: {why}; the output so far: {text!r}")
        return text

    def rest(self, *, deadline: float = OUTPUT_DEADLINE) -> str:
        """All the output, once the stream has ended (fails the test after `deadline` seconds)."""
        with self._changed:
            if not self._changed.wait_for(lambda: self._ended, timeout=deadline):
                pytest.fail(f"the output did not end within {deadline:g}s; so far: {''.join(self._lines)!r}")
            return "".join(self._lines)


REPO_EXAMPLES = Path(__file__).resolve().parents[1] / "pipelines"
# The examples of modules and for-each. The apply-mechanics suites (faults, processes, lookups,
# the gitops recipes) count requests and pipelines on the three plain examples; the reuse examples
# have their own tests (tests/spec/test_modules.py, test_for_each.py) and the README flow's.
REUSE_EXAMPLES = ("modules", "street-labeling.yaml", "scan-labeling.yaml", "per-customer.yaml")


def copy_examples(into: Path, *, reuse: bool = False) -> Path:
    """`pipelines/` under `into`: the example specs, with the module and for-each ones if `reuse`."""
    target = into / "pipelines"

    def skipped(directory: str, names: list[str]) -> set[str]:
        if Path(directory) == REPO_EXAMPLES / "tests":  # `loopform test`'s files of the examples left out
            return {n for n in names if n in REUSE_EXAMPLES}
        return {n for n in names if Path(directory) == REPO_EXAMPLES and n in REUSE_EXAMPLES}

    shutil.copytree(REPO_EXAMPLES, target, ignore=None if reuse else skipped)
    return target
