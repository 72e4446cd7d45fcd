"""What the GitOps tests share besides fixtures (importable as `gitops_kit`): the repository root
and a small spec."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from reconciler.client import RestBackend
from reconciler.connection import open_embedded

REPO = Path(__file__).resolve().parents[2]

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


@contextmanager
def embedded_state(workdir: Path) -> Iterator[RestBackend]:
    """A second client of the embedded state in `workdir`, to look at what was really applied."""
    backend = open_embedded(workdir / ".loopform" / "state.db")
    try:
        yield backend
    finally:
        backend.close()
