"""`loopform validate` and `loopform schema` through the real CLI entry point."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from spec_corpus import VALID
from spec_helpers import REPO, run_cli

from reconciler.spec.schema import schema_text

# Five independent mistakes, one per line of interest; each must be reported, located.
FIVE_MISTAKES = """\
apiVersion: loopform/v1
kind: Pipeline
metadata:
  name: five
  project: local
spec:
  status: paused
  nodes:
    videos: {type: dataset, dataset: raw-videos, folder: incoming}
    cut: {type: code, source: snippets/cut.py}
    label:
      type: task
      task: {type: annotation, priority: urgent}
    review: {type: task, task: {type: qa}}
  connections:
    - {from: videos, to: cut}
    - {from: cut, to: label}
    - {from: label, action: approve, to: review}
    - {from: review, to: archive}
"""


def test_five_independent_mistakes_give_five_located_errors(in_tmp: Path) -> None:
    (in_tmp / "five.yaml").write_text(FIVE_MISTAKES)
    result = run_cli("validate", "five.yaml")
    assert result.code == 1
    assert result.out == (
        "five.yaml:9:50: folder must start with '/' (got 'incoming')\n"
        "five.yaml:10:23: code source file 'snippets/cut.py': no such file or directory\n"
        "five.yaml:13:32: expected one of low, medium, high; got 'urgent'\n"
        "five.yaml:18:21: action 'approve' is not offered by 'label.item'; it offers: complete, discard\n"
        "five.yaml:19:22: unknown node 'archive'\n"
        "5 errors, 0 warnings\n"
    )


def test_valid_tree_prints_the_file_count(in_tmp: Path) -> None:
    (in_tmp / "pipelines").mkdir()
    (in_tmp / "pipelines" / "a.yaml").write_text(VALID)
    (in_tmp / "pipelines" / "nested").mkdir()
    (in_tmp / "pipelines" / "nested" / "b.yml").write_text(VALID.replace("name: demo", "name: other"))
    (in_tmp / "pipelines" / "notes.txt").write_text("not a spec")
    result = run_cli("validate")  # default: pipelines/
    assert (result.code, result.out, result.err) == (0, "2 files valid\n", "")


def test_warnings_do_not_fail(in_tmp: Path) -> None:
    text = VALID.replace("spec:\n", "spec:\n  root: src\n").replace(
        "  connections:", "    lost: {type: merge}\n  connections:"
    )
    (in_tmp / "w.yaml").write_text(text)
    result = run_cli("validate", "w.yaml")
    assert result.code == 0
    assert result.out == (
        "w.yaml:10:5: warning: node 'lost' is unreachable: no path from the root or a trigger "
        "leads to it\n"
        "1 file valid, 1 warning\n"
    )


def test_json_format(in_tmp: Path) -> None:
    (in_tmp / "bad.yaml").write_text(VALID.replace("to: work}", "to: wrok}"))
    result = run_cli("validate", "--format", "json", "bad.yaml")
    assert result.code == 1
    body = json.loads(result.out)
    assert body["count"] == 1
    assert body["errors"][0] == {
        "path": "bad.yaml",
        "line": 10,
        "col": 19,
        "pointer": "/spec/connections/0/to/0",
        "severity": "error",
        "message": "unknown node 'wrok' (did you mean 'work'?)",
    }
    assert (body["error_count"], body["warning_count"], body["files"], body["valid"]) == (1, 0, 1, False)


def test_json_format_when_valid(in_tmp: Path) -> None:
    (in_tmp / "ok.yaml").write_text(VALID)
    result = run_cli("validate", "--format", "json", "ok.yaml")
    assert result.code == 0
    assert json.loads(result.out) == {
        "errors": [],
        "count": 0,
        "error_count": 0,
        "warning_count": 0,
        "files": 1,
        "valid": True,
        "environment": None,
    }


def test_missing_default_directory(in_tmp: Path) -> None:
    result = run_cli("validate")
    assert (result.code, result.out) == (
        1,
        "pipelines:1:1: no such file or directory\n1 error, 0 warnings\n",
    )


def test_empty_directory_is_an_error(in_tmp: Path) -> None:
    (in_tmp / "empty").mkdir()
    result = run_cli("validate", "empty")
    assert (result.code, result.out) == (
        1,
        "empty:1:1: no spec files (*.yaml, *.yml) found in empty\n1 error, 0 warnings\n",
    )


def test_bad_and_good_files_together_report_everything(in_tmp: Path) -> None:
    (in_tmp / "a.yaml").write_text("kind: [\n")
    (in_tmp / "b.yaml").write_bytes(b"\x00\x01")
    (in_tmp / "c.yaml").write_text(VALID)
    result = run_cli("validate", ".")
    assert result.code == 1
    assert result.out == (
        "a.yaml:2:1: invalid YAML: did not find expected node content while parsing a flow node\n"
        "b.yaml:1:1: binary file (contains NUL bytes), not a YAML spec\n"
        "2 errors, 0 warnings\n"
    )


def test_examples_and_the_readme_command(in_tmp: Path) -> None:
    shutil.copytree(REPO / "pipelines", in_tmp / "pipelines")
    result = run_cli("validate", "pipelines/")
    # a module file counts, and so do `loopform test`'s files beside the specs (checked, not specs)
    tests = len(list((REPO / "pipelines" / "tests").glob("*.yaml")))
    assert (result.code, result.out) == (0, f"{7 + tests} files valid\n")


def test_schema_command_prints_the_published_schema() -> None:
    result = run_cli("schema")
    assert result.code == 0
    assert result.out == schema_text()
    assert result.out == (REPO / "schemas" / "pipeline.schema.json").read_text()


def test_control_characters_from_the_file_are_escaped_in_messages(in_tmp: Path) -> None:
    (in_tmp / "esc.yaml").write_text(
        VALID.replace("  nodes:\n", '  nodes:\n    "a\\e[31mX": {type: merge}\n    "b\\u202ec": {type: merge}\n')
    )
    result = run_cli("validate", "esc.yaml")
    lines = result.out.splitlines()
    assert lines[0].startswith("esc.yaml:7:5: invalid node key 'a\\x1b[31mX': use letters")
    assert lines[1].startswith("esc.yaml:8:5: invalid node key 'b\\u202ec': use letters")
    assert "\x1b" not in result.out and "\u202e" not in result.out


def test_a_repository_walk_skips_hidden_paths_and_the_project_file(in_tmp: Path) -> None:
    (in_tmp / ".github" / "workflows").mkdir(parents=True)
    (in_tmp / ".github" / "workflows" / "ci.yml").write_text("on: push\n")
    (in_tmp / ".pre-commit-hooks.yaml").write_text("- id: hook\n")
    (in_tmp / "loopform.yaml").write_text("backend: local\n")
    (in_tmp / "pipelines").mkdir()
    (in_tmp / "pipelines" / "a.yaml").write_text(VALID)
    assert run_cli("validate", ".").out == "1 file valid\n"
    # named explicitly, a file is always read
    result = run_cli("validate", "loopform.yaml")
    assert result.code == 1 and result.out.startswith("loopform.yaml:1:1: missing required field")
