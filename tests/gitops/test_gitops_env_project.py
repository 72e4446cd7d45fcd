"""An environment stays in its project: with `--env staging`, a spec naming `project: demo-prod`
is a located error (plan, apply, validate), never an apply to prod; `projects:` lists others."""

from __future__ import annotations

from pathlib import Path

from gitops_kit import SPEC, embedded_state
from harness import cli

PROJECT_FILE = """\
environments:
  staging: {project: demo-staging}
  prod: {project: demo-prod}
  shared: {project: demo-staging, projects: [demo-prod]}
  open: {}
"""


def test_a_spec_naming_another_environments_project_is_a_located_error(workdir: Path) -> None:
    (workdir / "loopform.yaml").write_text(PROJECT_FILE)
    (workdir / "pipelines").mkdir()
    (workdir / "pipelines" / "frames.yaml").write_text(SPEC.replace("project: local", "project: demo-prod"))
    message = ("pipelines/frames.yaml:3:26: project 'demo-prod' is not a project of environment 'staging' "
               "(its projects: 'demo-staging'); name one of those, or list 'demo-prod' under the environment's "
               "`projects:` in loopform.yaml")
    for argv in (("plan",), ("apply", "--auto-approve"), ("reconcile", "--once"), ("validate",)):
        run = cli(*argv, "--env", "staging")
        assert run.code == 1, (argv, run.out, run.err)
        assert message in run.out + run.err, (argv, run.out + run.err)
    with embedded_state(workdir) as live:
        assert live.find_pipeline(live.project("demo-prod").id, "frames") is None  # nothing applied to prod
    for env in ("prod", "shared", "open"):  # its own project, one it lists, an environment naming none
        run = cli("plan", "--env", env)
        assert run.code == 0, (env, run.err)
