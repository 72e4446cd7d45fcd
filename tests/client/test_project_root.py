"""Where the embedded default lives: at the project root, found from any subdirectory; reading
commands never create it."""

from __future__ import annotations

from pathlib import Path

import pytest
from harness import cli, isolate

from reconciler.project_paths import project_root

SPEC = ("apiVersion: loopform/v1\nkind: Pipeline\nmetadata: {name: frames}\n"
        "spec:\n  nodes:\n    cut: {type: code, code: \"def run(item):\\n    return item\\n\"}\n")
OTHER_COMMANDS = (("validate",), ("plan",), ("show", "saved.plan"), ("status",), ("export",), ("open", "frames"),
             ("executions", "frames"), ("stats", "frames"), ("pause", "frames"), ("resume", "frames"),
             ("reset", "frames"), ("execute", "frames"), ("delete", "frames", "--auto-approve"))


def test_the_root_is_the_nearest_folder_with_the_project_file(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "loopform.yaml").write_text("project: p\n")
    deep = tmp_path / "sub" / "pipelines" / "more"
    deep.mkdir(parents=True)
    assert project_root(deep) == tmp_path / "sub"


def test_without_a_project_file_the_root_is_the_git_top_level(tmp_path: Path) -> None:
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    (tmp_path / "loopform.yaml").write_text("project: someone-else\n")  # above the repository: not ours
    deep = tmp_path / "repo" / "pipelines"
    deep.mkdir()
    assert project_root(deep) == tmp_path / "repo"


def test_outside_any_project_the_root_is_the_working_directory(tmp_path: Path) -> None:
    assert project_root(tmp_path) == tmp_path


@pytest.mark.parametrize("argv", OTHER_COMMANDS, ids=lambda argv: argv[0])
def test_commands_other_than_apply_never_create_the_database(argv: tuple[str, ...], tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    isolate(tmp_path, monkeypatch)
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "frames.yaml").write_text(SPEC)
    assert cli("plan", "-out", "saved.plan").code == 0  # for `show`
    run = cli(*argv)
    assert "Traceback" not in run.err and "internal error" not in run.err, run.err
    assert not (tmp_path / ".loopform").exists(), run.err
    if argv[0] != "validate":
        assert "local control plane .loopform/state.db (sandbox), not created yet (empty)" in run.err


def test_a_missing_database_is_an_empty_control_plane(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate(tmp_path, monkeypatch)
    run = cli("status", "--all")
    assert (run.code, run.out) == (0, "No pipelines in project 'local'.\n")


def test_a_subdirectory_plans_against_the_state_of_the_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = isolate(tmp_path, monkeypatch)
    (root / ".git").mkdir()
    (root / "pipelines").mkdir()
    (root / "pipelines" / "frames.yaml").write_text(SPEC)
    assert cli("apply", "--auto-approve").code == 0
    monkeypatch.chdir(root / "pipelines")
    run = cli("plan", "--detailed-exitcode", ".")
    assert run.code == 0, run.out + run.err
    assert f"local control plane {root / '.loopform' / 'state.db'} (sandbox)" in run.err
    assert not (root / "pipelines" / ".loopform").exists()


def test_a_plan_saved_before_the_database_exists_applies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate(tmp_path, monkeypatch)
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "frames.yaml").write_text(SPEC)
    assert cli("plan", "-out", "saved.plan").code == 0
    run = cli("apply", "saved.plan")
    assert run.code == 0, run.out + run.err
    assert cli("plan", "--detailed-exitcode").code == 0


def test_a_subdirectory_reads_the_specs_of_the_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no path given, a command reads the root's pipelines/, as it uses the root's state."""
    root = isolate(tmp_path, monkeypatch)
    (root / ".git").mkdir()
    (root / "pipelines").mkdir()
    (root / "pipelines" / "frames.yaml").write_text(SPEC)
    assert cli("apply", "--auto-approve").code == 0
    (root / "docs" / "deep").mkdir(parents=True)
    monkeypatch.chdir(root / "docs" / "deep")
    assert cli("plan", "--detailed-exitcode").code == 0
    validated = cli("validate")
    assert validated.code == 0 and "1 file" in validated.out + validated.err, validated.out + validated.err
    status = cli("status")
    assert status.code == 0 and status.out.splitlines()[1].split()[:4] == ["frames", "installed", "installed",
                                                                           "in-sync"], status.out
