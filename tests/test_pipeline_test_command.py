"""`loopform test`: pipeline test files run case by case in fresh embedded sandboxes, with the real
engine (code runs, tasks wait for decisions, triggers fire); pytest-like lines, a diff when a case
expects the wrong route, JUnit XML, exit 0/1."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import yaml
from harness import cli, copy_examples, isolate

from reconciler.test_files import schema

FIXTURE = Path(__file__).parent / "fixtures" / "pipeline_tests"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(FIXTURE, tmp_path / "pipelines")
    return isolate(tmp_path, monkeypatch)


def test_the_cases_pass_and_junit_xml_lists_them(project: Path) -> None:
    r = cli("test", "--junit-xml", "report.xml")
    assert r.code == 0, r.out + r.err
    lines = r.out.splitlines()
    assert lines[:2] == [
        "pipelines/tests/tagging.yaml::a completed cat is kept, a dog never starts a cycle PASSED",
        "pipelines/tests/tagging.yaml::an executed item discarded in the task is archived PASSED"]
    assert lines[-1].startswith("2 passed in ")
    suite = ET.parse(project / "report.xml").getroot()
    assert suite.get("tests") == "2" and suite.get("failures") == "0"
    assert [c.get("name") for c in suite.iter("testcase")][0].startswith("a completed cat")


def test_cases_run_side_by_side_with_jobs_and_report_in_the_files_order(project: Path) -> None:
    serial = cli("test", "--junit-xml", "serial.xml")
    side_by_side = cli("test", "--jobs", "2", "--junit-xml", "jobs.xml")
    assert side_by_side.code == serial.code == 0, side_by_side.out + side_by_side.err
    assert side_by_side.out.splitlines()[:-1] == serial.out.splitlines()[:-1]  # the timing line differs
    names = [[c.get("name") for c in ET.parse(project / f).getroot().iter("testcase")] for f in ("serial.xml", "jobs.xml")]
    assert names[0] == names[1] and len(names[0]) == 2
    refused = cli("test", "--jobs", "0")
    assert refused.code == 1 and "--jobs must be at least 1" in refused.err


def test_a_case_expecting_the_wrong_route_fails_with_a_diff(project: Path) -> None:
    file = project / "pipelines" / "tests" / "tagging.yaml"
    file.write_text(file.read_text().replace("visited: [inbox, tag, label, kept]", "visited: [inbox, tag, label, dropped]"))
    r = cli("test", "pipelines/tests/tagging.yaml", "--junit-xml", "report.xml")
    assert r.code == 1
    assert "tagging.yaml::a completed cat is kept, a dog never starts a cycle FAILED" in r.out
    assert "    -    - dropped" in r.out and "    +    - kept" in r.out
    assert r.out.splitlines()[-1].startswith("1 passed, 1 failed in ")
    suite = ET.parse(project / "report.xml").getroot()
    assert suite.get("failures") == "1" and "+    - kept" in (suite.find("testcase/failure").text or "")


def test_validate_and_plan_take_valid_test_files_beside_the_specs_for_no_pipeline(project: Path) -> None:
    assert cli("validate").code == 0
    r = cli("plan")
    assert r.code in (0, 2) and "tests/tagging.yaml" not in r.out + r.err


def test_keep_leaves_each_sandbox(project: Path) -> None:
    r = cli("test", "--keep")
    assert r.code == 0, r.out
    assert (project / ".loopform" / "test-sandboxes" / "tagging-1" / "state.db").is_file()
    assert "(sandbox: " in r.out


def test_a_malformed_test_file_is_an_error_naming_the_file(project: Path) -> None:
    (project / "pipelines" / "tests" / "broken.yaml").write_text(
        "apiVersion: loopform/v1\nkind: PipelineTest\npipeline: ../tagging.yaml\ncases: []\n")
    r = cli("test", "pipelines/tests/broken.yaml")
    assert r.code == 1 and r.err.startswith("pipelines/tests/broken.yaml:") and r.out == ""


def test_every_problem_of_a_test_file_is_reported_at_once_with_its_line(project: Path) -> None:
    (project / "pipelines" / "tests" / "broken.yaml").write_text(
        "apiVersion: loopform/v1\n"
        "kind: PipelineTest\n"
        "pipeline: ../tagging.yaml\n"
        "datasets: [photos]\n"
        "cases:\n"
        "  - name: one\n"
        "    itms: []\n"
        "    decisions:\n"
        "      - {node: label, action: 3}\n"
        "    expect:\n"
        "      cycles: {cat.jpg: {status: done}}\n"
        "      items: {cat.jpg: {dataset: 5}}\n")
    r = cli("test", "pipelines/tests/broken.yaml")
    assert (r.code, r.out) == (1, "")
    assert r.err.splitlines() == [
        "pipelines/tests/broken.yaml:7:5: unknown field 'itms' (did you mean 'items'?)",
        "pipelines/tests/broken.yaml:9:23: expected a string, got number 3; quote it, \"3\"",
        "pipelines/tests/broken.yaml:11:26: expected one of success, failed, in-progress; got 'done'",
        "pipelines/tests/broken.yaml:12:25: expected a string, got number 5; quote it, \"5\""]


def test_a_test_file_naming_a_missing_spec_or_an_unmade_dataset_is_located(project: Path) -> None:
    (project / "pipelines" / "tests" / "broken.yaml").write_text(
        "apiVersion: loopform/v1\nkind: PipelineTest\npipeline: ../nowhere.yaml\ndatasets: [photos]\n"
        "cases:\n  - name: one\n    items:\n      - {name: a.jpg, dataset: photoz}\n")
    r = cli("test", "pipelines/tests/broken.yaml")
    assert r.code == 1
    assert r.err.splitlines() == [
        "pipelines/tests/broken.yaml:3:1: no pipeline spec '../nowhere.yaml' beside this file",
        "pipelines/tests/broken.yaml:8:23: dataset 'photoz' is not one the sandbox makes: list it under `datasets:`"]


def test_nodes_a_test_file_names_must_be_nodes_of_the_pipeline(project: Path) -> None:
    file = project / "pipelines" / "tests" / "tagging.yaml"
    file.write_text(file.read_text().replace("{node: label, action: completed}", "{node: labl, action: completed}")
                    .replace("visited: [inbox, tag, label, dropped]", "visited: [inbox, tagger, label, dropped]"))
    r = cli("test", "pipelines/tests/tagging.yaml")
    assert (r.code, r.out) == (1, "")
    assert r.err.splitlines() == [
        "pipelines/tests/tagging.yaml:12:10: the pipeline has no node named 'labl' (did you mean 'label'?)",
        "pipelines/tests/tagging.yaml:27:36: the pipeline has no node named 'tagger' (did you mean 'tag'?)"]


BROKEN_TEST_FILES = {
    "schema": "apiVersion: loopform/v1\nkind: PipelineTest\npipeline: ../tagging.yaml\ndatasets: [photos]\n"
              "cases:\n  - name: one\n    itms: []\n    decisions:\n      - {node: label, action: 3}\n",
    "missing spec, unmade dataset": "apiVersion: loopform/v1\nkind: PipelineTest\npipeline: ../nowhere.yaml\n"
                                    "datasets: [photos]\ncases:\n  - name: one\n    items:\n"
                                    "      - {name: a.jpg, dataset: photoz}\n",
    "unknown nodes": "apiVersion: loopform/v1\nkind: PipelineTest\npipeline: ../tagging.yaml\ncases:\n"
                     "  - name: one\n    decisions: [{node: labl, action: completed}]\n"
                     "    expect: {cycles: {a.jpg: {visited: [inbox, tagger]}}}\n",
    "a duplicate key": "apiVersion: loopform/v1\nkind: PipelineTest\nkind: PipelineTest\n"
                       "pipeline: ../tagging.yaml\ncases: [{name: one}]\n",
}


@pytest.mark.parametrize("text", BROKEN_TEST_FILES.values(), ids=BROKEN_TEST_FILES.keys())
def test_validate_reports_a_broken_test_file_as_loopform_test_does(project: Path, text: str) -> None:
    # A pull request that breaks a test file fails the Validate step, not only the Test step.
    (project / "pipelines" / "tests" / "broken.yaml").write_text(text)
    tested = cli("test", "pipelines/tests/broken.yaml")
    assert tested.code == 1 and tested.err.startswith("pipelines/tests/broken.yaml:"), tested.err
    validated = cli("validate")
    assert validated.code == 1
    problems = tested.err.splitlines()
    assert validated.out.splitlines() == [*problems, f"{len(problems)} error{'s' * (len(problems) > 1)}, 0 warnings"]
    as_json = json.loads(cli("validate", "--format", "json").out)
    assert not as_json["valid"] and as_json["files"] == 3
    assert [f"{e['path']}:{e['line']}:{e['col']}: {e['message']}" for e in as_json["errors"]] == problems


def test_validate_names_each_problem_of_the_test_files_given_with_the_specs_valid(project: Path) -> None:
    (project / "pipelines" / "tests" / "broken.yaml").write_text(BROKEN_TEST_FILES["unknown nodes"])
    r = cli("validate", "pipelines/tagging.yaml", "pipelines/tests/broken.yaml")
    assert r.code == 1
    assert r.out.splitlines() == [
        "pipelines/tests/broken.yaml:6:18: the pipeline has no node named 'labl' (did you mean 'label'?)",
        "pipelines/tests/broken.yaml:7:48: the pipeline has no node named 'tagger' (did you mean 'tag'?)",
        "2 errors, 0 warnings"]


@pytest.mark.parametrize("names", [{"self.yaml": "self.yaml"}, {"a.yaml": "b.yaml", "b.yaml": "a.yaml"},
                                   {"a.yaml": "b.yaml", "b.yaml": "../tagging.yaml"}])
def test_a_test_file_naming_a_test_file_is_located_and_never_loops(project: Path, names: dict[str, str]) -> None:
    for name, pipeline in names.items():
        (project / "pipelines" / "tests" / name).write_text(
            f"apiVersion: loopform/v1\nkind: PipelineTest\npipeline: {pipeline}\ncases: [{{name: one}}]\n")
    naming_tests = sorted(n for n, pipeline in names.items() if pipeline in names)
    expected = [f"pipelines/tests/{n}:3:1: {names[n]!r} is a test file, not a pipeline spec" for n in naming_tests]
    r = cli("validate")
    assert (r.code, r.out.splitlines()[:-1]) == (1, expected)
    for name in naming_tests:
        r = cli("test", f"pipelines/tests/{name}")
        assert (r.code, r.out, r.err.splitlines()) == (1, "", [f"pipelines/tests/{name}:3:1: "
                                                               f"{names[name]!r} is a test file, not a pipeline spec"])


@pytest.mark.parametrize("text, where", [
    ("apiVersion: loopform/v1\ncases: [\n", "pipelines/tests/broken.yaml:3:"),  # YAML that does not parse
    ("apiVersion: loopform/v1\napiVersion: loopform/v1\n", "pipelines/tests/broken.yaml:2:1: "),  # a duplicate key
    ("# nothing yet\n", "pipelines/tests/broken.yaml:1:1: empty file: expected a PipelineTest file"),
    ("- a list\n", "pipelines/tests/broken.yaml:1:1: a test file must be a mapping (apiVersion, kind, pipeline, datasets, cases)"),
])
def test_unreadable_test_files_are_located_like_specs(project: Path, text: str, where: str) -> None:
    (project / "pipelines" / "tests" / "broken.yaml").write_text(text)
    r = cli("test", "pipelines/tests/broken.yaml")
    assert r.code == 1 and r.err.startswith(where), r.err


def test_a_directory_without_test_files_is_an_error(project: Path) -> None:
    (project / "empty").mkdir()
    r = cli("test", "empty")
    assert r.code != 0 and "no pipeline test files" in r.err


def test_a_missing_path_or_default_folder_is_one_clear_line(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    r = cli("test", "nowhere")
    assert (r.code, r.err.strip()) == (1, "Error: nowhere: no such file or directory")
    shutil.rmtree(project / "pipelines" / "tests")
    r = cli("test")
    assert r.code == 1 and "no pipeline test files (kind: PipelineTest) in pipelines/tests" in r.err, r.err


def test_a_subdirectory_runs_the_tests_of_the_root(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (project / ".git").mkdir()
    (project / "docs").mkdir()
    monkeypatch.chdir(project / "docs")
    r = cli("test")
    assert r.code == 0 and "PASSED" in r.out, r.out + r.err


def test_variables_set_before_a_case_and_by_an_update_variable_node_are_expected(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(Path(__file__).parent / "fixtures" / "pipeline_variables", tmp_path / "pipelines")
    isolate(tmp_path, monkeypatch)
    r = cli("test")
    assert r.code == 0, r.out + r.err
    file = tmp_path / "pipelines" / "tests" / "remembering.yaml"
    file.write_text(file.read_text().replace("variables: {last: a.jpg", "variables: {last: b.jpg"))
    r = cli("test")
    assert r.code == 1
    assert "    -  last: b.jpg" in r.out and "    +  last: a.jpg" in r.out, r.out


def test_an_ml_node_runs_the_models_local_adapter_in_its_own_process(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(Path(__file__).parent / "fixtures" / "pipeline_models", tmp_path / "pipelines")
    isolate(tmp_path, monkeypatch)
    r = cli("test")
    assert r.code == 0, r.out + r.err
    # without the adapter the item stops at the ml node, saying so
    file = tmp_path / "pipelines" / "tests" / "predicting.yaml"
    file.write_text(file.read_text().replace("models: [{name: tagger, adapter: ../adapters/tagger.py:Tagger}]",
                                             "models: [{name: tagger}]").replace("status: success", "status: in-progress"))
    r = cli("test")
    assert r.code == 1 and "+    - detect" not in r.out and "-    - done" in r.out, r.out


def test_the_schema_file_is_the_models() -> None:
    assert json.loads((ROOT / "schemas" / "pipeline-test.schema.json").read_text()) == schema()


def test_the_examples_tests_pass_from_the_project_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy_examples(isolate(tmp_path, monkeypatch), reuse=True)
    files = sorted(p.name for p in (tmp_path / "pipelines" / "tests").glob("*.yaml"))
    specs = sorted(p.name for p in (tmp_path / "pipelines").glob("*.yaml"))
    assert files == specs  # every example pipeline has its tests
    r = cli("test")
    assert r.code == 0, r.out + r.err
    assert "FAILED" not in r.out and "ERROR" not in r.out
    assert {line.split("::")[0] for line in r.out.splitlines()[:-1]} == {f"pipelines/tests/{f}" for f in files}


def test_an_example_test_expecting_the_wrong_route_fails_with_a_readable_diff(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy_examples(isolate(tmp_path, monkeypatch), reuse=True)
    file = tmp_path / "pipelines" / "tests" / "street-labeling.yaml"
    text = file.read_text()
    wrong = text.replace("good.jpg: {visited: [New street images, Label, Review, Training set]",
                         "good.jpg: {visited: [New street images, Label, Review, To label again]")
    assert wrong != text
    file.write_text(wrong)
    r = cli("test", "pipelines/tests/street-labeling.yaml")
    assert r.code == 1
    assert ("pipelines/tests/street-labeling.yaml::an approved image is cloned into the training set, "
            "a discarded one into to-label FAILED") in r.out
    diff = r.out[r.out.index("--- expected"):]
    assert "+++ actual" in diff and "-    - To label again" in diff and "+    - Training set" in diff


def test_a_pending_ml_node_and_a_foreach_instance_are_what_the_cases_say(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy_examples(isolate(tmp_path, monkeypatch), reuse=True)
    tests = tmp_path / "pipelines" / "tests"
    model = tests / "model-review.yaml"
    model.write_text(model.read_text().replace("no local runner for ml node", "a runner for ml node"))
    customer = tests / "per-customer.yaml"
    customer.write_text(customer.read_text().replace("name: customer-acme\n", ""))
    r = cli("test", "pipelines/tests/model-review.yaml", "pipelines/tests/per-customer.yaml")
    assert r.code == 1
    assert "+      Detect vehicles: 'pending: no local runner for ml node ''Detect vehicles'''" in r.out, r.out
    assert "makes no pipeline named 'customer-${each.key}' (a file with forEach makes several" in r.out


def test_the_readmes_example_is_the_first_case_of_the_video_frames_tests() -> None:
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("### Testing pipelines: `loopform test`", 1)[1]
    shown = yaml.safe_load(section.split("```yaml\n", 1)[1].split("```", 1)[0])
    real = yaml.safe_load((ROOT / "pipelines" / "tests" / "video-frames.yaml").read_text(encoding="utf-8"))
    first = real["cases"][0]
    assert {k: v for k, v in shown.items() if k != "cases"} == {k: v for k, v in real.items() if k != "cases"}
    (case,) = shown["cases"]
    assert {**case, "expect": None} == {**first, "expect": None}
    assert case["expect"]["cycles"] == first["expect"]["cycles"]
    assert case["expect"]["items"].items() <= first["expect"]["items"].items()  # the README shows one frame


def test_an_item_file_that_cannot_be_read_errors_that_case_with_its_name(project: Path) -> None:
    file = project / "pipelines" / "tests" / "tagging.yaml"
    file.write_text(file.read_text().replace("{name: cat.jpg, dataset: photos,",
                                             "{name: cat.jpg, file: photos/cat.jpg, dataset: photos,", 1))
    r = cli("test", "pipelines/tests/tagging.yaml")
    assert r.code == 1 and "cannot read the item file 'photos/cat.jpg' (a path relative to the test file)" in r.out


def test_a_load_reads_each_file_once_though_test_files_name_the_specs(monkeypatch: pytest.MonkeyPatch) -> None:
    # The examples' test files name most specs: each such spec is loaded for the test's check and
    # as a spec of the load; the second is the first's result, not a second read.
    from reconciler.spec import loader

    read: list[str] = []
    real = loader.read_source
    monkeypatch.setattr(loader, "read_source", lambda path, **kw: read.append(str(path)) or real(path, **kw))
    examples = Path(__file__).resolve().parents[1] / "pipelines"
    result = loader.load([examples])
    assert result.ok and len(result.specs) == 8
    assert sorted(read) == sorted(set(read)) and len(read) == result.files


def test_in_a_repository_a_test_file_names_only_a_spec_inside_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A test file in a pull request must not have CI read a file outside the checkout (node names
    # of a spec there would show in did-you-mean hints), nor git's own files.
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURE, repo / "pipelines")
    (repo / ".git").mkdir()
    (repo / ".git" / "spec.yaml").write_text((FIXTURE / "tagging.yaml").read_text())
    shutil.copy(FIXTURE / "tagging.yaml", tmp_path / "outside.yaml")
    isolate(repo, monkeypatch)
    tests = repo / "pipelines" / "tests"
    for name, pipeline in (("out.yaml", "../../../outside.yaml"), ("git.yaml", "../../.git/spec.yaml")):
        (tests / name).write_text(f"apiVersion: loopform/v1\nkind: PipelineTest\npipeline: {pipeline}\n"
                                  "cases: [{name: one}]\n")
    r = cli("validate")
    assert r.code == 1
    assert r.out.splitlines()[:-1] == [
        "pipelines/tests/git.yaml:3:1: '../../.git/spec.yaml' is inside a .git directory, not a pipeline spec of "
        "the repository",
        f"pipelines/tests/out.yaml:3:1: '../../../outside.yaml' is outside the project ({repo}); keep test files "
        "and their specs in the repository"]
