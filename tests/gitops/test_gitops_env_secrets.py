"""`${env.NAME}` values are sensitive: a pull request's spec must not be able to print the CI
runner's environment in the plan comment. Every output format is searched for the value; a saved
plan holds `(sensitive:env.NAME)` and `apply FILE` sends the real value."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from gitops_kit import embedded_state
from harness import cli

from reconciler.client import RestBackend
from reconciler.config import Flags, resolve_settings

ENV_VAR = "LF_CI_SECRET"
PROJECT_FILE = "environments:\n  ci: {}\n"
SPEC = """\
apiVersion: loopform/v1
kind: Pipeline
metadata: {name: frames, project: local, description: "frames sent to ${env.LF_CI_SECRET} by the hook"}
spec:
  variables:
    - {name: hook, type: String, value: "${env.LF_CI_SECRET}"}
  nodes:
    videos: {type: dataset, dataset: raw-videos}
    cut: {type: code, code: "def run(item):\\n    return item\\n"}
  connections:
    - {from: videos, to: cut}
"""


@pytest.fixture
def value(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A long random value in the environment, and a project whose spec reads it."""
    secret = f"ci-{secrets.token_hex(16)}"
    monkeypatch.setenv(ENV_VAR, secret)
    (workdir / "loopform.yaml").write_text(PROJECT_FILE)
    (workdir / "pipelines").mkdir()
    (workdir / "pipelines" / "frames.yaml").write_text(SPEC)
    # a name from the environment too: graphs show pipeline names (files, not the terminal)
    (workdir / "pipelines" / "named.yaml").write_text(
        SPEC.replace("name: frames,", "name: 'n-${env.LF_CI_SECRET}',").replace("raw-videos", "other"))
    return secret


@pytest.fixture
def live(workdir: Path) -> Iterator[RestBackend]:
    """A second client of the embedded state, to look at what was really applied."""
    with embedded_state(workdir) as backend:
        yield backend


def hook(backend: RestBackend) -> object:
    pipeline = backend.find_pipeline(backend.project("local").id, "frames")
    assert pipeline is not None
    return next(v.value for v in pipeline.variables if v.name == "hook")


def test_an_env_value_appears_in_no_output(workdir: Path, value: str, live: RestBackend,
                                           drawn_text: list[str]) -> None:
    outputs: dict[str, str] = {}

    def record(name: str, *argv: str, code: int = 0) -> None:
        run = cli(*argv)
        assert run.code == code, (name, run.out, run.err)
        outputs[f"{name} (stdout)"], outputs[f"{name} (stderr)"] = run.out, run.err

    record("plan -vv", "-vv", "plan", "--env", "ci", "-out", "ci.plan", "--graph", "g.svg")
    record("plan --json", "plan", "--env", "ci", "--json", "--graph", "g.mmd")
    record("plan --markdown", "-vv", "plan", "--env", "ci", "--markdown", "--graph", "g.md")
    record("plan --graph png", "plan", "--env", "ci", "--graph", "g.png")
    for name in ("ci.plan", "g.svg", "g.mmd", "g.md"):
        outputs[name] = (workdir / name).read_text()
    outputs["g.png (text drawn)"] = "\n".join(drawn_text)
    assert "local/n-(sensitive) (create)" in drawn_text and (workdir / "g.png").stat().st_size > 0
    assert '"(sensitive:env.LF_CI_SECRET)"' in outputs["ci.plan"]
    assert '"(sensitive)"' in outputs["plan -vv (stdout)"] and "(sensitive)" in outputs["plan --markdown (stdout)"]
    desired = json.loads(outputs["plan --json (stdout)"])["pipelines"][0]["desired"]
    assert desired["description"] == "frames sent to (sensitive) by the hook"
    record("validate --env", "validate", "--env", "ci")
    record("validate --env --format json", "validate", "--env", "ci", "--format", "json")
    for fmt in ((), ("--json",), ("--markdown",)):
        record(f"show {fmt}", "show", "ci.plan", "--env", "ci", *fmt)
        assert "stale" not in outputs[f"show {fmt} (stderr)"]  # the same value gives the same digest

    record("apply saved plan", "-vv", "apply", "ci.plan", "--env", "ci", "--auto-approve")
    assert hook(live) == value  # put back from the environment, then sent to the API
    pipeline = live.find_pipeline(live.project("local").id, "frames")
    assert pipeline is not None and pipeline.description == f"frames sent to {value} by the hook"

    # drift on the value itself: before/after in every format, apply text and --json, reconcile's log
    def drift(to: str) -> None:
        current = live.find_pipeline(live.project("local").id, "frames")
        assert current is not None
        edited = [v.model_copy(update={"value": to}) if v.name == "hook" else v for v in current.variables]
        live.update_pipeline(current.model_copy(update={"variables": edited}))

    drift("changed-by-hand")
    record("plan with drift", "plan", "--env", "ci", "--detailed-exitcode", code=2)
    record("plan --json with drift", "plan", "--env", "ci", "--json")
    record("apply", "apply", "--env", "ci", "--auto-approve")
    assert hook(live) == value
    drift("changed-again")
    record("apply --json", "-vv", "apply", "--env", "ci", "--json", "--auto-approve")
    assert [json.loads(line)["event"] for line in outputs["apply --json (stdout)"].splitlines()][-1] == "summary"
    drift("changed-a-third-time")
    record("reconcile", "-vv", "reconcile", "--env", "ci", "--once", "--interval", "1s")
    assert json.loads(outputs["reconcile (stdout)"])["result"] == "applied" and hook(live) == value

    # errors that quote the value: a schema error (plan and validate --env), a stale saved plan
    spec = workdir / "pipelines" / "frames.yaml"
    spec.write_text(SPEC.replace("spec:\n", "spec:\n  status: ${env.LF_CI_SECRET}\n", 1))
    record("error", "-vv", "plan", "--env", "ci", code=1)
    record("validate error", "validate", "--env", "ci", code=1)
    record("validate error json", "validate", "--env", "ci", "--format", "json", code=1)
    assert "(sensitive)" in outputs["error (stderr)"] and "(sensitive)" in outputs["validate error (stdout)"]
    # placed so that the text renderer's cut (120 characters) leaves only the value's first two
    spec.write_text(SPEC.replace("frames sent to ${env.LF_CI_SECRET} by the hook", "x" * 114 + "${env.LF_CI_SECRET}"))
    record("cut short", "plan", "--env", "ci")
    assert "xxx(sensitive)..." in outputs["cut short (stdout)"]
    spec.write_text(SPEC)
    record("stale", "apply", "ci.plan", "--env", "ci", "--auto-approve", code=1)
    assert "stale" in outputs["stale (stderr)"]

    for name, text in outputs.items():
        assert value not in text, f"{name} shows the value:\n{text}"
        assert value[:12] not in text, f"{name} shows the value's beginning:\n{text}"


def test_a_saved_plan_needs_the_variable_when_applied(workdir: Path, value: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli("plan", "--env", "ci", "-out", "ci.plan").code == 0
    monkeypatch.delenv(ENV_VAR)
    run = cli("apply", "ci.plan", "--env", "ci", "--auto-approve")
    assert run.code == 1
    assert ("the saved plan needs the environment variable LF_CI_SECRET (the specs use ${env.LF_CI_SECRET}), "
            "which is not set") in run.err
    monkeypatch.setenv(ENV_VAR, "abc")
    run = cli("apply", "ci.plan", "--env", "ci", "--auto-approve")
    assert run.code == 1 and "shorter than 4 characters" in run.err and '"abc"' not in run.out + run.err


@pytest.mark.parametrize("short", ["abc", ""])
def test_a_value_too_short_to_redact_is_a_located_error(workdir: Path, value: str, short: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, short)
    for argv in (("plan", "--env", "ci"), ("validate", "--env", "ci")):
        run = cli(*argv)
        assert run.code == 1, run.out + run.err
        text = run.out + run.err
        # both uses, each at its line and column, and the way out
        assert "pipelines/frames.yaml:3:42: environment variable LF_CI_SECRET is too short for " \
               "${env.LF_CI_SECRET}" in text, text
        assert "pipelines/frames.yaml:6:34: environment variable LF_CI_SECRET is too short" in text
        assert "{env: LF_CI_SECRET, secret: false}" in text
        assert "Plan:" not in text


def test_a_project_file_variable_read_from_the_environment_is_secret_unless_it_says_not(tmp_path: Path) -> None:
    (tmp_path / "loopform.yaml").write_text(
        "variables:\n"
        "  token: {env: TOKEN}\n"
        "  region: {env: REGION, secret: false}\n"
        "  batch: {env: BATCH}\n"
        "  literal: {value: plain-text}\n")
    got = resolve_settings(Flags(), env={"TOKEN": "tok-5678", "REGION": "eu", "BATCH": "8"},
                           cwd=tmp_path, home=tmp_path).variables
    assert {n: (v.value, v.secret) for n, v in got.items()} == {
        "token": ("tok-5678", True), "region": ("eu", False), "batch": (None, True), "literal": ("plain-text", False)}
    assert got["batch"].missing == ("a secret must be at least 4 characters long (read from BATCH, it is "
                                    "secret unless declared with `secret: false`)")


def test_a_non_secret_variable_from_the_environment_is_shown(workdir: Path, value: str,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The way out the error names: `secret: false` in loopform.yaml shows the value (and may be short)."""
    monkeypatch.setenv("LF_REGION", "eu")
    (workdir / "loopform.yaml").write_text("environments:\n  ci:\n    variables:\n"
                                           "      region: {env: LF_REGION, secret: false}\n")
    (workdir / "pipelines" / "frames.yaml").write_text(SPEC.replace("${env.LF_CI_SECRET}", "${var.region}"))
    run = cli("plan", "--env", "ci", "--json")
    assert run.code == 0, run.err
    desired = json.loads(run.out)["pipelines"][0]["desired"]
    assert desired["description"] == "frames sent to eu by the hook"


def test_a_multi_line_value_is_redacted_line_by_line(workdir: Path, value: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A key in the environment shows line by line in a code diff's context: no line of it is shown."""
    key_lines = ["-----BEGIN KEY-----", f"MII{secrets.token_hex(20)}", f"Qw{secrets.token_hex(20)}", "-----END KEY-----"]
    monkeypatch.setenv(ENV_VAR, "\n".join(key_lines))
    code = "def run(item):\\n    key = '''${env.LF_CI_SECRET}'''\\n    return item\\n"
    spec = workdir / "pipelines" / "frames.yaml"
    spec.write_text(SPEC.replace('"def run(item):\\n    return item\\n"', f'"{code}"'))
    (workdir / "pipelines" / "named.yaml").unlink()
    assert cli("apply", "--env", "ci", "--auto-approve").code == 0
    spec.write_text(spec.read_text().replace("return item", "return item  # v2"))
    run = cli("plan", "--env", "ci", "--detailed-exitcode")
    assert run.code == 2, run.err
    assert "(sensitive)'''" in run.out and "+     return item  # v2" in run.out  # the diff is still shown
    for line in key_lines[1:3]:
        assert line not in run.out + run.err
