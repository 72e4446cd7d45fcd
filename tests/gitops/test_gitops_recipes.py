"""The CI recipes, run as written: every `loopform ...` line of the GitHub workflow and the
pre-commit hook's entry, parsed from the files (so a change to a recipe changes what is tested),
against the local control plane served over HTTP."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from gitops_kit import REPO
from harness import Run, cli, copy_examples

from reconciler.server.testing import ServerHandle

WORKFLOW = REPO / ".github" / "workflows" / "loopform.yml"
HOOKS = REPO / ".pre-commit-hooks.yaml"


def loopform_lines(job: str) -> list[str]:
    """The `loopform` command lines of one workflow job, in order."""
    workflow = yaml.safe_load(WORKFLOW.read_text())
    lines = []
    for step in workflow["jobs"][job]["steps"]:
        for line in str(step.get("run", "")).splitlines():
            if line.strip().startswith("loopform "):
                lines.append(line.strip())
    return lines


def run_line(line: str) -> Run:
    """One recipe line in-process: `loopform ARGS [> FILE]` (the redirect is done here)."""
    words = shlex.split(line)
    target = None
    if ">" in words:
        at = words.index(">")
        words, target = words[:at], words[at + 1]
    run = cli(*words[1:])
    if target is not None:
        Path(target).write_text(run.out)
    return run


@pytest.fixture
def repo(workdir: Path, served: ServerHandle) -> Path:
    """A user's repository: the example specs in pipelines/, the API selected as in the workflow."""
    copy_examples(workdir)
    return workdir


def test_the_workflow_has_the_documented_shape() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    triggers = workflow[True] if True in workflow else workflow["on"]  # YAML 1.1 reads `on` as true
    assert set(triggers) == {"pull_request", "push", "workflow_dispatch"}
    jobs = workflow["jobs"]
    assert jobs["plan"]["if"] == "github.event_name == 'pull_request'"
    assert jobs["apply"]["if"] == "github.event_name == 'push'"
    assert jobs["apply-main"]["if"].startswith("github.event_name == 'workflow_dispatch'")
    assert loopform_lines("plan")[:2] == ["loopform validate", "loopform test --jobs 2"]  # tests before the plan
    assert any("--markdown" in line and "-out loopform.plan" in line for line in loopform_lines("plan"))
    assert loopform_lines("apply") == ["loopform apply loopform.plan --auto-approve"]
    assert loopform_lines("apply-main") == ["loopform apply --auto-approve"]
    # a newer push cancels the older plan; applies queue, never run side by side
    assert jobs["plan"]["concurrency"]["cancel-in-progress"] is True
    assert jobs["apply"]["concurrency"] == jobs["apply-main"]["concurrency"] == \
        {"group": "loopform-apply", "cancel-in-progress": False}
    # the token reaches only the steps that talk to the API, not every action of the workflow
    assert "LOOPFORM_TOKEN" not in workflow["env"]
    with_token = [(job, step["name"]) for job, spec in jobs.items() for step in spec["steps"]
                  if "LOOPFORM_TOKEN" in step.get("env", {})]
    assert with_token == [("plan", "Plan"), ("apply", "Apply the reviewed plan (refused if it went stale)"),
                          ("apply-main", "Plan and apply main")]
    # the plan is kept before the comment is posted (a fork's read-only token cannot comment)
    steps = [step.get("uses", step.get("name", "")) for step in jobs["plan"]["steps"]]
    assert steps.index("actions/upload-artifact@v4") < steps.index("Comment the plan on the pull request")
    uploads = [s for s in jobs["plan"]["steps"] if "upload-artifact" in str(s.get("uses"))]
    assert "loopform.plan" in uploads[0]["with"]["path"]


def test_pull_request_then_merge_applies_the_reviewed_plan(repo: Path) -> None:
    validate, tests, plan = (run_line(line) for line in loopform_lines("plan"))
    assert validate.code == 0, validate.out
    assert tests.code == 0 and "video-frames.yaml::" in tests.out and " passed in " in tests.out, tests.out
    assert plan.code == 2, plan.err  # changes: the step treats 0 and 2 as success
    comment = (repo / "plan.md").read_text()
    assert comment.startswith("### Loopform plan") and "```mermaid" in comment
    assert (repo / "loopform.plan").is_file() and (repo / "loopform-graph.svg").is_file()

    (apply,) = (run_line(line) for line in loopform_lines("apply"))
    assert apply.code == 0, apply.err
    assert "Apply complete: 3 done" in apply.out

    again = [run_line(line) for line in loopform_lines("plan")]
    assert [r.code for r in again] == [0, 0, 0]  # nothing left to change
    assert "No changes." in (repo / "plan.md").read_text()


def test_a_plan_that_went_stale_before_the_merge_is_refused(repo: Path) -> None:
    assert [run_line(line).code for line in loopform_lines("plan")] == [0, 0, 2]
    # meanwhile main moved: another merge changed a spec this plan read
    spec = repo / "pipelines" / "model-review.yaml"
    spec.write_text(spec.read_text().replace("batchSize: 20", "batchSize: 25"))
    (apply,) = (run_line(line) for line in loopform_lines("apply"))
    assert apply.code == 1
    assert "the saved plan is stale: spec pipelines/model-review.yaml changed" in apply.err
    assert "Apply complete" not in apply.out
    # the way out the workflow offers: run it by hand on main, which plans and applies main as it is
    (recover,) = (run_line(line) for line in loopform_lines("apply-main"))
    assert recover.code == 0, recover.err
    assert "Apply complete: 3 done" in recover.out


def test_a_pull_request_that_changes_no_pipeline(repo: Path) -> None:
    assert cli("apply", "--auto-approve").code == 0  # live already equals the specs
    validate, tests, plan = (run_line(line) for line in loopform_lines("plan"))
    assert (validate.code, tests.code, plan.code) == (0, 0, 0)  # the Plan step passes on 0 as on 2
    assert "No changes." in (repo / "plan.md").read_text()
    (apply,) = (run_line(line) for line in loopform_lines("apply"))  # the merge applies an empty plan
    assert apply.code == 0 and "No changes." in apply.out


def test_an_invalid_spec_fails_the_pull_request(repo: Path) -> None:
    (repo / "pipelines" / "broken.yaml").write_text("apiVersion: loopform/v1\nkind: Pipeline\nmetadata: {}\n")
    validate = run_line(loopform_lines("plan")[0])
    assert validate.code == 1 and "broken.yaml:" in validate.out


def test_a_broken_pipeline_test_fails_the_validate_step(repo: Path) -> None:
    # the pull request renames a task node in the test only: its cases could never run
    file = repo / "pipelines" / "tests" / "video-frames.yaml"
    file.write_text(file.read_text().replace("{node: Label frames (team B), action: completed}",
                                             "{node: Label frames (team C), action: completed}", 1))
    validate = run_line(loopform_lines("plan")[0])
    assert validate.code == 1
    assert ("pipelines/tests/video-frames.yaml:15:10: the pipeline has no node named 'Label frames (team C)' "
            "(did you mean 'Label frames (team B)'?)") in validate.out.splitlines()


def test_a_pipeline_test_that_fails_fails_the_pull_request_before_the_plan(repo: Path) -> None:
    # the pull request sends discarded frames somewhere else, but its tests still expect them apart
    spec = repo / "pipelines" / "video-frames.yaml"
    spec.write_text(spec.read_text().replace("- {from: review, action: discard, to: discarded}\n", ""))
    validate, tests = (run_line(line) for line in loopform_lines("plan")[:2])
    assert validate.code == 0, validate.out
    assert tests.code == 1
    assert "video-frames.yaml::a frame discarded by a team or in review is cloned into discarded-frames FAILED" \
        in tests.out
    assert "--- expected" in tests.out and "+++ actual" in tests.out
    assert not (repo / "plan.md").exists()  # the steps stop at the first failure: no plan was made


def test_the_pre_commit_hook_entry(repo: Path) -> None:
    (hook,) = yaml.safe_load(HOOKS.read_text())
    assert hook["id"] == "loopform-validate" and hook["pass_filenames"] is False
    entry = shlex.split(hook["entry"]) + list(hook.get("args", []))
    assert entry[0] == "loopform"
    ok = cli(*entry[1:])
    tests = len(list((repo / "pipelines" / "tests").glob("*.yaml")))  # `loopform test`'s files count too
    assert ok.code == 0 and f"{3 + tests} files valid" in ok.out
    (repo / "pipelines" / "video-frames.yaml").write_text("kind: Pipeline\n")
    failed = cli(*entry[1:])
    assert failed.code == 1 and "pipelines/video-frames.yaml:" in failed.out


@pytest.mark.parametrize("code, passes", [(0, True), (2, True), (1, False), (3, False), (130, False)])
def test_the_plan_step_passes_only_on_no_changes_or_changes(tmp_path: Path, code: int, passes: bool) -> None:
    # The step's own shell script, run by bash with a `loopform` on PATH that exits with `code`.
    (step,) = (s for s in yaml.safe_load(WORKFLOW.read_text())["jobs"]["plan"]["steps"] if s.get("name") == "Plan")
    stub = tmp_path / "bin" / "loopform"
    stub.parent.mkdir()
    stub.write_text(f"#!/bin/sh\nexit {code}\n")
    stub.chmod(0o755)
    bash = shutil.which("bash")
    assert bash is not None
    run = subprocess.run([bash, "-e", "-c", step["run"]], cwd=tmp_path, capture_output=True, timeout=30,
                         env={"PATH": f"{stub.parent}:/usr/bin:/bin"})
    assert (run.returncode == 0) is passes, run.stderr
