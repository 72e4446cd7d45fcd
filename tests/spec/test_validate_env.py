"""`validate` and `${...}` references: offline (types unknown) and with `--env NAME` (resolved)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from spec_corpus import VALID
from spec_helpers import run_cli

PROJECT_FILE = """\
variables:
  frames: frames
  batch: 10
environments:
  dev:
    variables: {frames: frames-dev}
  prod:
    variables:
      batch: big
      owner: {env: R2_TEST_OWNER, secret: true}
"""

SPEC = """\
apiVersion: loopform/v1
kind: Pipeline
metadata: {name: templated, project: local}
spec:
  nodes:
    src: {type: dataset, dataset: "${var.frames}", folder: "/in/${var.frames}"}
    work:
      type: task
      task: {dataset: "${var.frames}", batchSize: "${var.batch}", owner: "${var.owner}"}
  connections:
    - {from: src, to: work}
"""


@pytest.fixture
def project(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("R2_TEST_OWNER", raising=False)
    monkeypatch.delenv("LOOPFORM_ENV", raising=False)
    (in_tmp / "loopform.yaml").write_text(PROJECT_FILE)
    (in_tmp / "t.yaml").write_text(SPEC)
    return in_tmp


def test_offline_whole_references_are_not_type_checked(project: Path) -> None:
    # batchSize must be an integer and status one of two words: unknown until an environment is
    # chosen, so no error; the rest of the file is still checked (the unknown node below).
    offline = SPEC.replace("spec:\n", 'spec:\n  status: "${var.status}"\n')
    (project / "t.yaml").write_text(offline + "    - {from: work, to: nowhere}\n")
    result = run_cli("validate", "t.yaml")
    assert (result.code, result.out) == (1, "t.yaml:13:20: unknown node 'nowhere'\n1 error, 0 warnings\n")
    (project / "t.yaml").write_text(offline)
    assert run_cli("validate", "t.yaml").out == "1 file valid\n"


def test_offline_a_reference_inside_a_string_and_bad_syntax(project: Path) -> None:
    (project / "t.yaml").write_text(SPEC.replace('"${var.batch}"', '"${batch}"'))
    result = run_cli("validate", "t.yaml")
    assert result.out == (
        "t.yaml:9:40: '${batch}' is not a reference: use ${var.NAME} or ${env.NAME} "
        "(write $${ for a literal ${)\n"
        "1 error, 0 warnings\n"
    )


def test_env_resolves_and_checks_the_values(project: Path) -> None:
    # dev: batch 10 (top level) and frames-dev; owner is not defined in dev
    result = run_cli("validate", "--env", "dev", "t.yaml")
    assert (result.code, result.out) == (
        1,
        "t.yaml:9:67: variable 'owner' is not defined in environment 'dev' (defined: batch, "
        "frames); add it under `variables:` in loopform.yaml\n1 error, 0 warnings\n",
    )
    (project / "t.yaml").write_text(SPEC.replace('"${var.owner}"', "lead@example.com"))
    result = run_cli("validate", "--env", "dev", "t.yaml")
    assert (result.code, result.out) == (0, "1 file valid in environment 'dev'\n")


def test_env_wrong_type_and_unset_source_are_located(project: Path) -> None:
    result = run_cli("validate", "--env", "prod", "t.yaml")
    assert (result.code, result.out) == (
        1,
        "t.yaml:9:40: expected an integer, got 'big'\n"
        "t.yaml:9:67: variable 'owner' in environment 'prod' has no value: environment variable "
        "R2_TEST_OWNER is not set\n"
        "2 errors, 0 warnings\n",
    )


def test_env_secret_values_are_redacted(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("R2_TEST_OWNER", "hunter2-secret")
    (project / "t.yaml").write_text(SPEC.replace('  status: "${var.status}"\n', "").replace(
        'folder: "/in/${var.frames}"', 'folder: "${var.owner}"'))
    result = run_cli("validate", "--env", "prod", "t.yaml")
    assert result.code == 1
    assert result.out == (
        "t.yaml:6:52: folder must start with '/' (got '(sensitive)')\n"
        "t.yaml:9:40: expected an integer, got 'big'\n"
        "2 errors, 0 warnings\n"
    )
    body = json.loads(run_cli("validate", "--env", "prod", "--format", "json", "t.yaml").out)
    assert body["environment"] == "prod" and body["error_count"] == 2
    assert "hunter2" not in json.dumps(body)


def test_unknown_environment(project: Path) -> None:
    result = run_cli("validate", "--env", "staging", "t.yaml")
    assert (result.code, result.out) == (1, "")
    assert "unknown environment 'staging' (defined: dev, prod)" in result.err


def test_loopform_env_alone_keeps_validate_offline(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A pre-commit hook must not depend on the shell's environment selection or its secrets.
    monkeypatch.setenv("LOOPFORM_ENV", "prod")
    result = run_cli("validate", "t.yaml")
    assert (result.code, result.out) == (0, "1 file valid\n")


def test_duplicate_name_is_found_in_a_file_with_schema_errors(in_tmp: Path) -> None:
    (in_tmp / "a.yaml").write_text(VALID)
    (in_tmp / "b.yaml").write_text(VALID.replace("spec:\n", "spec:\n  status: running\n"))
    result = run_cli("validate", ".")
    assert result.out == (
        "b.yaml:4:3: pipeline 'demo' in the default project is already defined in a.yaml\n"
        "b.yaml:6:3: expected one of installed, paused; got 'running'\n"
        "2 errors, 0 warnings\n"
    )
