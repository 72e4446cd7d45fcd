"""The two-environment example: one spec planned and applied to two local projects with different
variables, and a secret variable that appears in no output of any format."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from gitops_kit import REPO, embedded_state
from harness import cli

from reconciler.client import RestBackend
from reconciler.server.testing import serve_in_thread

EXAMPLE = REPO / "examples" / "two-environments"
SECRETS = {"staging": "stg-7f3a9c1e-webhook", "prod": "prd-0b8d4e2f-webhook"}


@pytest.fixture
def example(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(EXAMPLE, workdir, dirs_exist_ok=True)
    monkeypatch.setenv("STAGING_WEBHOOK_TOKEN", SECRETS["staging"])
    monkeypatch.setenv("PROD_WEBHOOK_TOKEN", SECRETS["prod"])
    return workdir


@pytest.fixture
def live(example: Path) -> Iterator[RestBackend]:
    """A second client of the same embedded state, to look at what was really applied."""
    with embedded_state(example) as backend:
        yield backend


def variables(backend: RestBackend, project: str) -> dict[str, object]:
    pipeline = backend.find_pipeline(backend.project(project).id, "label-frames")
    assert pipeline is not None
    return {v.name: v.value for v in pipeline.variables}


def test_one_spec_two_projects_two_sets_of_variables(example: Path, live: RestBackend) -> None:
    plans = {}
    for env in ("staging", "prod"):
        run = cli("plan", "--env", env, "--json", "--detailed-exitcode")
        assert run.code == 2, run.err
        assert f"project: demo-{env}; environment: {env}" in run.err
        plans[env] = json.loads(run.out)["pipelines"][0]
    assert [p["project"] for p in plans.values()] == ["demo-staging", "demo-prod"]
    staging, prod = (p["desired"] for p in plans.values())
    assert staging["description"] == "Frames from frames-staging labelled, then reviewed by 1 reviewer(s)"
    assert prod["description"] == "Frames from frames labelled, then reviewed by 3 reviewer(s)"
    for env in ("staging", "prod"):
        assert cli("apply", "--env", env, "--auto-approve").code == 0
    assert {k: v for k, v in variables(live, "demo-staging").items() if k != "loopform"} == \
        {"threshold": 0.5, "webhookToken": SECRETS["staging"]}  # the real value reached the API
    assert {k: v for k, v in variables(live, "demo-prod").items() if k != "loopform"} == \
        {"threshold": 0.8, "webhookToken": SECRETS["prod"]}
    # default_environment is staging: no --env plans against it, and finds nothing to do
    assert cli("plan", "--detailed-exitcode").code == 0
    assert cli("plan", "--env", "prod", "--detailed-exitcode").code == 0


def test_a_secret_appears_in_no_output(example: Path, live: RestBackend) -> None:
    outputs: dict[str, str] = {}

    def record(name: str, *argv: str, code: int = 0) -> None:
        run = cli(*argv)
        assert run.code == code, (name, run.out, run.err)
        outputs[f"{name} (stdout)"], outputs[f"{name} (stderr)"] = run.out, run.err

    record("plan", "-vv", "plan", "--env", "staging", "-out", "staging.plan", "--graph", "g.svg")
    record("plan --json", "plan", "--env", "staging", "--json", "--graph", "g.mmd")
    record("plan --markdown", "plan", "--env", "staging", "--markdown", "--graph", "g.md")
    for name in ("staging.plan", "g.svg", "g.mmd", "g.md"):
        outputs[name] = (example / name).read_text()
    assert "(sensitive:webhook_token)" in outputs["staging.plan"]
    record("show", "show", "staging.plan", "--env", "staging")
    assert "stale" not in outputs["show (stderr)"]  # the digest was computed with the same values
    record("show --json", "show", "staging.plan", "--env", "staging", "--json")
    record("show --markdown", "show", "staging.plan", "--env", "staging", "--markdown")
    record("apply saved plan", "apply", "staging.plan", "--env", "staging", "--auto-approve")
    assert variables(live, "demo-staging")["webhookToken"] == SECRETS["staging"]  # restored, then sent
    record("apply --json", "apply", "--env", "prod", "--json", "--auto-approve")
    assert variables(live, "demo-prod")["webhookToken"] == SECRETS["prod"]

    # export writes the secret as the reference it came from: the spec can be committed, and reads back the same
    record("export", "export", "label-frames", "--env", "staging")
    record("export -o", "export", "label-frames", "--env", "staging", "-o", "adopted")
    outputs["adopted/label-frames.yaml"] = (example / "adopted" / "label-frames.yaml").read_text()
    for name in ("export (stdout)", "adopted/label-frames.yaml"):
        assert "value: ${var.webhook_token}" in outputs[name], outputs[name]
    assert cli("plan", "adopted", "--env", "staging", "--detailed-exitcode").code == 0

    # drift on the secret itself: the plan's before/after and the reconcile log
    project = live.project("demo-staging").id
    pipeline = live.find_pipeline(project, "label-frames")
    assert pipeline is not None
    edited = [v.model_copy(update={"value": "changed-by-hand"}) if v.name == "webhookToken" else v
              for v in pipeline.variables]
    live.update_pipeline(pipeline.model_copy(update={"variables": edited}))
    record("plan with drift", "plan", "--env", "staging", "--detailed-exitcode", code=2)
    record("plan --json with drift", "plan", "--env", "staging", "--json")
    record("reconcile", "-vv", "reconcile", "--env", "staging", "--once", "--interval", "1s")
    assert json.loads(outputs["reconcile (stdout)"])["result"] == "applied"

    # an error that quotes the value, and a stale saved plan applied in another environment
    bad = example / "bad"
    bad.mkdir()
    (bad / "bad.yaml").write_text((example / "pipelines" / "label-frames.yaml").read_text()
                                  .replace("spec:\n", "spec:\n  status: ${var.webhook_token}\n", 1))
    record("error", "plan", "bad", "--env", "staging", code=1)
    # a long value around the secret: the text renderer cuts it short, in the middle of the secret
    (bad / "bad.yaml").write_text((example / "pipelines" / "label-frames.yaml").read_text().replace(
        "reviewer(s)", "reviewer(s) " + "x" * 35 + " ${var.webhook_token} and more"))
    record("cut short", "plan", "bad", "--env", "staging", code=0)
    assert "(sensitive)..." in outputs["cut short (stdout)"]
    record("cut short --markdown", "plan", "bad", "--env", "staging", "--markdown")
    assert "(sensitive)" in outputs["error (stderr)"]
    record("stale", "apply", "staging.plan", "--env", "prod", "--auto-approve", code=1)

    for name, text in outputs.items():
        for secret in SECRETS.values():
            assert secret not in text, f"{name} shows a secret:\n{text}"
    assert '"(sensitive)"' in outputs["plan (stdout)"] and "(sensitive)" in outputs["plan --json with drift (stdout)"]


def echo_secret_on_create(app: Any) -> Any:
    """WSGI middleware: refuses a pipeline create with a message quoting the variable's value, as
    an API validating values does (`value '...' is not valid`)."""
    def wrapped(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ["REQUEST_METHOD"] == "POST" and environ["PATH_INFO"].endswith("/pipelines"):
            body = json.loads(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)))
            value = next(v["value"] for v in body["variables"] if v["name"] == "webhookToken")
            start_response("400 Bad Request", [("Content-Type", "application/json")])
            return [json.dumps({"message": f"variable webhookToken: value {value!r} is not valid"}).encode()]
        return app(environ, start_response)
    return wrapped


def test_an_api_error_that_echoes_a_secret_is_redacted(example: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with serve_in_thread(example / "served.db", wrap=echo_secret_on_create) as server:
        monkeypatch.setenv("LOOPFORM_API_URL", server.base_url)
        monkeypatch.setenv("LOOPFORM_TOKEN", server.token)
        runs = [cli("-vv", "apply", "--env", "staging", "--auto-approve"),
                cli("apply", "--env", "staging", "--auto-approve", "--json"),
                cli("reconcile", "--env", "staging", "--once", "--interval", "1s")]
    for run in runs:
        assert run.code == 1, run.err
        text = run.out + run.err
        assert "value '(sensitive)' is not valid" in text, text  # the server's message does reach the user
        assert SECRETS["staging"] not in text and server.token not in text
