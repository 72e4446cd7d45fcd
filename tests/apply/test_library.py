"""The library face: plan and apply from Python, without the CLI (reconciler.library)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.connection import open_embedded
from reconciler.errors import SpecErrors
from reconciler.library import plan
from reconciler.server.store import StoreError

EXAMPLES = Path(__file__).resolve().parents[2] / "pipelines"

SCRIPT = """
import sys
from pathlib import Path
from reconciler.connection import open_embedded
from reconciler.library import apply, plan

with open_embedded(Path("state.db")) as backend:
    first = plan(["pipelines"], backend, default_project="local")
    result = apply(first, backend)
    again = plan(["pipelines"], backend, default_project="local")
print(first.has_changes, result.ok, again.has_changes)
print(sorted(m for m in sys.modules if m == "reconciler.cli" or m.startswith("reconciler.commands")))
"""


def test_plan_and_apply_from_python_without_the_cli(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLES, tmp_path / "pipelines")
    run = subprocess.run([sys.executable, "-c", SCRIPT], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert run.stdout.splitlines() == ["True True False", "[]"]
    assert run.stderr == ""  # the library prints nothing


def test_the_backend_is_a_context_manager_that_closes(tmp_path: Path) -> None:
    with open_embedded(tmp_path / "state.db") as backend:
        store = backend.control_plane.store
        assert store.meta("no such key") is None
        with pytest.raises(AttributeError):  # what it is was decided when it was made
            backend.label = "another backend"  # type: ignore[misc]
    with pytest.raises(StoreError):  # closed with the block: the database is released
        store.meta("no such key")


def test_spec_problems_are_raised_not_printed(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("apiVersion: loopform/v1\nkind: Pipeline\nmetadata: {}\n")
    with open_embedded(tmp_path / "state.db") as backend, pytest.raises(SpecErrors):
        plan([tmp_path / "broken.yaml"], backend)
    (tmp_path / "empty").mkdir()
    with open_embedded(tmp_path / "state.db") as backend, pytest.raises(SpecErrors, match="no spec files"):
        plan([tmp_path / "empty"], backend)
