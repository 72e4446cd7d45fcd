"""GitOps fixtures: a clean working directory and a served control plane the CLI selects."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from harness import isolate, serve_for_cli

from reconciler.render import graph_png
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


@pytest.fixture
def drawn_text(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every string drawn into a PNG graph from now on, in order: a PNG cannot be searched for text."""
    drawn: list[str] = []
    draw_text = graph_png.draw_text

    def record(draw: Any, xy: tuple[int, int], text: str, **style: Any) -> None:
        drawn.append(text)
        draw_text(draw, xy, text, **style)

    monkeypatch.setattr(graph_png, "draw_text", record)
    return drawn
