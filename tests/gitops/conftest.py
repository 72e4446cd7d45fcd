"""GitOps fixtures: a clean working directory, the CLI as users run it, a served control plane,
and dtlpy pointed at it (to make edits "outside Loopform")."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from reconciler.cli import main
from reconciler.server.testing import ServerHandle, serve_in_thread
from reconciler.terminal import Terminal

REPO = Path(__file__).resolve().parents[2]
ENV_VARS = ("LOOPFORM_API_URL", "LOOPFORM_TOKEN", "LOOPFORM_PROJECT", "LOOPFORM_ENV", "DATALOOP_PATH")

SPEC = """\
apiVersion: loopform/v1
kind: Pipeline
metadata: {name: frames, project: local}
spec:
  nodes:
    videos: {type: dataset, dataset: raw-videos}
    cut: {type: code, code: "def run(item):\\n    return item\\n"}
    label: {type: task, task: {dataset: frames, recipe: default, priority: medium}}
    done: {type: dataset, dataset: frames, folder: /done}
  connections:
    - {from: videos, to: cut}
    - {from: cut, to: label}
    - {from: label, action: complete, to: done}
"""


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


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory with no Loopform/Dataloop settings in the environment."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    return tmp_path


@pytest.fixture
def served(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ServerHandle]:
    """`loopform serve` in a thread, selected for the CLI through LOOPFORM_API_URL/TOKEN."""
    with serve_in_thread(workdir / "served.db") as server:
        monkeypatch.setenv("LOOPFORM_API_URL", server.base_url)
        monkeypatch.setenv("LOOPFORM_TOKEN", server.token)
        yield server


@pytest.fixture(scope="session")
def dtlpy_module(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    # dtlpy reads DATALOOP_PATH once, at import (each xdist worker imports it afresh).
    if "dtlpy" not in sys.modules:
        os.environ["DATALOOP_PATH"] = str(tmp_path_factory.mktemp("dataloop"))
    import dtlpy

    return dtlpy


def dtlpy_project(dl: ModuleType, server: ServerHandle, project: str = "local") -> Any:
    """dtlpy switched to `server` and logged in; the dtlpy Project named `project`."""
    alias = f"loopform-gitops-{server.port}"
    dl.add_environment(environment=server.base_url, alias=alias, gate_url=server.root_url,
                       url=server.root_url + "/", verify_ssl=False)
    dl.setenv(alias)
    dl.login_token(server.token)
    return dl.projects.get(project_name=project)
