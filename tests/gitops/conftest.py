"""GitOps fixtures: a clean working directory and a served control plane the CLI selects."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import isolate, serve_for_cli

from reconciler.server.testing import ServerHandle


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory with no Loopform/Dataloop settings in the environment."""
    return isolate(tmp_path, monkeypatch)


@pytest.fixture
def served(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ServerHandle]:
    """`loopform serve` in a thread, selected for the CLI through LOOPFORM_API_URL/TOKEN."""
    with serve_for_cli(workdir / "served.db", monkeypatch) as server:
        yield server
