"""`loopform plan` as a command: exit codes, located errors, formats, the embedded default."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml
from conftest import BASE_SPEC, World, cli
from harness import isolate


@pytest.fixture
def embedded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with no remote configured: the embedded control plane in .loopform/."""
    isolate(tmp_path, monkeypatch)
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "frames.yaml").write_text(yaml.safe_dump(BASE_SPEC, sort_keys=False))
    return tmp_path


def test_detailed_exitcode_and_formats_on_the_embedded_default(embedded: Path) -> None:
    run = cli("plan", "--detailed-exitcode")
    assert run.code == 2, run.err
    assert "Backend: local control plane .loopform/state.db (sandbox)" in run.err
    assert "+ pipeline local/frames (create, then install)" in run.out
    assert "(local) dataset 'raw-videos' will be provisioned" in run.out
    assert run.out.rstrip().endswith("Plan: 1 to create, 0 to update, 0 to delete, 0 status changes.")
    as_json = json.loads(cli("plan", "--json").out)
    assert as_json["summary"]["create"] == 1
    assert as_json["pipelines"][0]["desired"]["nodes"]  # the document apply will send
    markdown = cli("plan", "--markdown").out
    assert markdown.startswith("### Loopform plan") and "<details>" in markdown
    assert "\x1b[" not in run.out  # not a TTY: no colour


def test_unknown_names_in_strict_mode_are_located_errors(embedded: Path) -> None:
    spec = copy.deepcopy(BASE_SPEC)
    # Compile meets the owner before the assignees; the file has them the other way round.
    spec["spec"]["nodes"]["label"]["task"].update(assignees=["ann@example.com"], owner="lead@example.com")
    (embedded / "pipelines" / "frames.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    run = cli("plan", "--strict")
    assert run.code == 1
    lines = run.err.splitlines()
    assert any(line.startswith("pipelines/frames.yaml:") and "unknown dataset 'raw-videos'" in line
               for line in lines), run.err
    # Every unknown name is reported, not only the first, in the order of the file.
    assert sum("unknown " in line for line in lines) >= 3
    located = [tuple(int(n) for n in line.split(":")[1:3]) for line in lines if line.startswith("pipelines/")]
    assert located == sorted(located)
    assert "Traceback" not in run.err


def test_invalid_spec_fails_before_contacting_anything(embedded: Path) -> None:
    bad = copy.deepcopy(BASE_SPEC)
    bad["spec"]["connections"].append({"from": "nowhere", "to": "cut"})
    (embedded / "pipelines" / "frames.yaml").write_text(yaml.safe_dump(bad, sort_keys=False))
    run = cli("plan", "--detailed-exitcode")
    assert run.code == 1
    assert "unknown node 'nowhere'" in run.err
    assert not (embedded / ".loopform").exists()


def test_no_spec_files_is_an_error(embedded: Path) -> None:
    (embedded / "empty").mkdir()
    run = cli("plan", "empty")
    assert run.code == 1 and "no spec" in run.err


def test_two_specs_for_one_pipeline(world: World) -> None:
    world.write(BASE_SPEC, "copy.yaml")
    run = cli("plan", "pipelines")
    assert run.code == 1 and "pipeline 'frames' in project 'local' is already defined in" in run.err
