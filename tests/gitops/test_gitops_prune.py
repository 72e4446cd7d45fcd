"""`--prune` deletes only what this spec set applied (issue 10.5): each attack that used to lose a
pipeline, reproduced against a served control plane through the CLI, ends with 0 wrong deletions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gitops_kit import SPEC
from harness import cli

from reconciler.client import ApiSession, RestBackend
from reconciler.server.testing import ServerHandle
from reconciler.spec_set import SpecSet, find_spec_set, remote_identity


def _repo(root: Path, *names: str, set_name: str | None = None) -> Path:
    """A repository directory with one spec per name under pipelines/ (and a loopform.yaml naming
    the spec set, when given)."""
    (root / "pipelines").mkdir(parents=True)
    for name in names:
        (root / "pipelines" / f"{name}.yaml").write_text(SPEC.replace("name: frames", f"name: {name}"))
    if set_name is not None:
        (root / "loopform.yaml").write_text(f"name: {set_name}\n")
    return root


def _live_names(server: ServerHandle) -> list[str]:
    backend = RestBackend(ApiSession(server.base_url, server.token), label="check")
    try:
        return sorted(p.name for p in backend.list_pipelines(backend.project("local").id))
    finally:
        backend.close()


def _apply(*argv: str) -> str:
    run = cli("apply", "--auto-approve", *argv)
    assert run.code == 0, run.out + run.err
    return run.out


def test_a_pipeline_applied_from_another_repository_is_never_pruned(
        workdir: Path, served: ServerHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    ours = _repo(workdir / "ours", "frames", set_name="ours")
    theirs = _repo(workdir / "theirs", "theirs", set_name="theirs")
    monkeypatch.chdir(theirs)
    _apply()
    monkeypatch.chdir(ours)
    _apply()
    plan = json.loads(cli("plan", "--prune", "--json").out)
    assert [p["name"] for p in plan["pipelines"]] == ["frames"] and plan["prunable"] == []
    out = _apply("--prune")
    assert "theirs" not in out
    assert _live_names(served) == ["frames", "theirs"]


def test_a_copy_of_a_managed_pipeline_is_never_pruned(
        workdir: Path, served: ServerHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    _repo(workdir, "frames", "gone")
    _apply()
    backend = RestBackend(ApiSession(served.base_url, served.token), label="copier")
    try:
        original = backend.find_pipeline(backend.project("local").id, "frames")
        assert original is not None
        # A copy made through REST (as dtlpy's pipelines.create with the original's document does):
        # it carries the marker, variables and all.
        backend.create_pipeline(original.model_copy(update={"id": None, "name": "frames-copy"}))
    finally:
        backend.close()
    (workdir / "pipelines" / "gone.yaml").unlink()
    out = _apply("--prune")
    # The pipeline whose spec was removed goes; the copy stays.
    assert "local/gone (delete)" in out and "frames-copy" not in out
    assert _live_names(served) == ["frames", "frames-copy"]


def test_pruning_with_some_of_the_files_leaves_the_others_pipelines_alone(
        workdir: Path, served: ServerHandle) -> None:
    _repo(workdir, "one", "two")
    _apply()
    one = workdir / "pipelines" / "one.yaml"
    one.write_text(one.read_text().replace("name: one", "name: uno"))  # one.yaml now names another pipeline
    plan = cli("plan", "--prune", "pipelines/one.yaml")
    assert "- pipeline local/one (delete)" in plan.out
    assert ("1 managed pipeline of this spec set came from spec files not given here; --prune leaves it "
            "alone: two") in plan.out
    _apply("--prune", "pipelines/one.yaml")
    assert _live_names(served) == ["two", "uno"]
    # Without --prune, the plan says what would go.
    (workdir / "pipelines" / "two.yaml").unlink()
    hint = cli("plan", "--detailed-exitcode")
    assert hint.code == 0  # nothing changes without --prune
    assert "1 managed pipeline has no spec here (apply --prune would delete it): two" in hint.out
    assert json.loads(cli("plan", "--json").out)["prunable"] == ["local/two"]
    assert "1 managed pipeline has no spec here (apply --prune would delete it): two" in cli("plan", "--markdown").out


def test_the_spec_set_identity() -> None:
    # The same repository on every clone; a credential in the remote never reaches the marker.
    for url in ("git@github.com:acme/specs.git", "https://user:tok3n@github.com/acme/specs",
                "ssh://git@GitHub.com/acme/specs.git/"):
        assert remote_identity(url) == "github.com/acme/specs"
    assert remote_identity("/srv/git/specs.git") is None
    scoped = SpecSet(identity="x", root=Path("/r"), scope=("pipelines/one.yaml", "more"))
    assert scoped.covers("pipelines/one.yaml") and scoped.covers("more/deep/a.yaml")
    assert not scoped.covers("pipelines/two.yaml") and not scoped.covers(None)
    assert SpecSet().covers(None)


def test_a_name_in_loopform_yaml_is_the_identity_from_any_subdirectory(tmp_path: Path) -> None:
    _repo(tmp_path, "frames", set_name="team-a")
    found = find_spec_set(tmp_path / "pipelines", ["."])
    assert found.identity == "name:team-a" and found.root == tmp_path and found.scope == ("pipelines",)
