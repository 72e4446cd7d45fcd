"""Dataloop pipeline templates as modules (reconciler.spec.templates): a DPK manifest's
`components.pipelineTemplates[]` entry used as a module source, its variables as the module's inputs.

The manifests are the real ones of tests/fixtures/dataloop-pipelines (a second template added where a
test needs a manifest with several)."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import pytest
from spec_helpers import REAL_PIPELINES

from reconciler.connection import open_embedded
from reconciler.interpolate import Context
from reconciler.library import apply, plan
from reconciler.marker import read_marker
from reconciler.planfile import stale_reasons
from reconciler.spec import load
from reconciler.spec.templates import template_module

PII = json.loads((REAL_PIPELINES / "document_preprocessing_presidio_anonymizer.json").read_text())
MANIFEST = "pipelines/vendor/pii/dataloop.json"

PIPELINE = """\
apiVersion: loopform/v1
kind: Pipeline
metadata: {name: p, project: local}
spec:
  nodes:
    pii:
      type: module
      source: vendor/pii/dataloop.json
      with: {medical_dataset: records}
    done: {type: dataset, dataset: done}
  connections:
    - {from: pii.presidio-anonymizer, to: done}
"""


def _two_templates() -> dict:
    """The PII manifest with a second template (another name, a Float variable with a value)."""
    manifest = copy.deepcopy(PII)
    second = copy.deepcopy(manifest["components"]["pipelineTemplates"][0])
    second["name"] = "Strict PII"
    second["variables"].append({"name": "score", "type": "Float", "value": 0.5, "description": "Minimum score"})
    manifest["components"]["pipelineTemplates"].append(second)
    return manifest


def _tree(root: Path, pipeline: str = PIPELINE, manifest: dict | None = None, **more: str) -> Path:
    (root / ".git").mkdir(exist_ok=True)  # the project root: module sources must stay inside it
    files = {"pipelines/p.yaml": pipeline, MANIFEST: json.dumps(manifest or PII, indent=2),
             **{f"pipelines/{k.replace('__', '/')}.yaml": v for k, v in more.items()}}
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def _at(root: Path, text: str, *, before: int = 0) -> str:
    """`line:col` of the first character (not a space) of the line `before` lines above the first
    line of the manifest holding `text` (the manifest is the test's own JSON dump)."""
    lines = (root / MANIFEST).read_text().splitlines()
    line = next(i for i, line in enumerate(lines) if text in line) - before
    return f"{line + 1}:{len(lines[line]) - len(lines[line].lstrip()) + 1}"


def _report(root: Path) -> list[str]:
    result = load([root / "pipelines"])
    return [f"{Path(e.location.path).relative_to(root / 'pipelines')}:{e.location.line}: {e.message}"
            for e in result.errors]


def test_a_template_becomes_a_module_instance_with_its_variables_as_the_pipelines(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    result = load([root / "pipelines"])
    assert result.errors == []
    (spec_file,) = result.specs
    body = spec_file.spec.spec
    assert sorted(body.nodes) == ["done", "pii/dataset", "pii/pdf-to-chunks", "pii/presidio-anonymizer"]
    assert all(node.id is None for node in body.nodes.values())  # ids derive from the keys, not the template's
    wired = sorted((c.from_, tuple(c.to)) for c in body.connections)
    assert wired == [("pii/dataset", ("pii/pdf-to-chunks.item",)), ("pii/pdf-to-chunks", ("pii/presidio-anonymizer",)),
                     ("pii/presidio-anonymizer", ("done",))]
    assert [(v.name, v.type, v.value) for v in body.variables] == [("medical_dataset", "Dataset", "records")]
    assert body.root is None or body.root == "pii/dataset"
    assert spec_file.modules == {"vendor/pii/dataloop.json": hashlib.sha256((root / MANIFEST).read_bytes()).hexdigest()}


def test_a_template_instance_plans_applies_and_then_plans_no_change(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    with open_embedded(tmp_path / "state.db") as backend:
        first = plan([root / "pipelines"], backend, default_project="local")
        assert apply(first, backend).ok
        (created,) = first.pipelines
        live = backend.find_pipeline(created.project_id, "p")
        assert live is not None
        assert {v.name: v.value for v in live.variables if v.name == "medical_dataset"} == {"medical_dataset": "records"}
        ids = {n.name: n.id for n in live.nodes}
        assert not plan([root / "pipelines"], backend, default_project="local").has_changes
        # Another input value is an update of the variable only, the nodes keep their ids.
        (root / "pipelines/p.yaml").write_text(PIPELINE.replace("records", "other-records"))
        changed = plan([root / "pipelines"], backend, default_project="local")
        assert [c.path for p in changed.pipelines for c in p.changes] == ["variables.medical_dataset.value"]
        assert apply(changed, backend).ok
        again = backend.find_pipeline(created.project_id, "p")
        assert again is not None and {n.name: n.id for n in again.nodes} == ids


def test_two_instances_of_a_template_without_variables_get_distinct_keys(tmp_path: Path) -> None:
    manifest = json.loads((REAL_PIPELINES / "labeling_workflow_automatic_modalities_pipeline.json").read_text())
    pipeline = ("apiVersion: loopform/v1\nkind: Pipeline\nmetadata: {name: p}\nspec:\n  nodes:\n"
                "    a: {type: module, source: vendor/pii/dataloop.json}\n"
                "    b: {type: module, source: vendor/pii/dataloop.json}\n")
    root = _tree(tmp_path, pipeline, manifest)
    result = load([root / "pipelines"])
    keys = sorted(result.specs[0].spec.spec.nodes) if result.specs else []
    inner = sorted(k.partition("/")[2] for k in keys if k.startswith("a/"))
    assert inner and keys == sorted([*(f"a/{k}" for k in inner), *(f"b/{k}" for k in inner)])


def test_template_selects_one_of_several(tmp_path: Path) -> None:
    pipeline = PIPELINE.replace("      with:", "      template: Strict PII\n      with:")
    root = _tree(tmp_path, pipeline, _two_templates())
    result = load([root / "pipelines"])
    assert result.errors == []
    variables = {v.name: v.value for v in result.specs[0].spec.spec.variables}
    assert variables == {"medical_dataset": "records", "score": 0.5}  # a template's own value is the default


CASES = [
    ("unknown input", {"pipeline": PIPELINE.replace("{medical_dataset: records}", "{medical_dataset: records, sc: 1}")},
     ["p.yaml:9: module 'PII Anonymizer Pipeline' has no input 'sc' (its inputs: medical_dataset)"]),
    ("wrong type", {"pipeline": PIPELINE.replace("medical_dataset: records", "medical_dataset: 7")},
     ["p.yaml:9: input 'medical_dataset' of module 'PII Anonymizer Pipeline' is a string, got number 7 (declared at "
      "{root}/" + MANIFEST + ":{variable})"]),
    # the template's value is the installer's placeholder `$var(...)`: no default, so the input is required
    ("missing required input", {"pipeline": PIPELINE.replace("      with: {medical_dataset: records}\n", "")},
     ["p.yaml:6: module 'PII Anonymizer Pipeline' needs input 'medical_dataset' (declared at "
      "{root}/" + MANIFEST + ":{variable}); give it under `with:`"]),
    ("several templates, none chosen", {"manifest": "two"},
     ["p.yaml:8: module 'vendor/pii/dataloop.json': the manifest has 2 pipeline templates ('PII Anonymizer "
      "Pipeline', 'Strict PII'): choose one with `template:` (at {root}/" + MANIFEST + ":{templates})"]),
    ("unknown template", {"pipeline": PIPELINE.replace("      with:", "      template: Lax PII\n      with:")},
     ["p.yaml:9: module 'vendor/pii/dataloop.json': the manifest has no pipeline template 'Lax PII' (its "
      "templates: 'PII Anonymizer Pipeline') (at {root}/" + MANIFEST + ":{templates})"]),
    ("template of a module file",
     {"pipeline": PIPELINE.replace("vendor/pii/dataloop.json", "m.yaml").replace("      with:", "      template: x\n      with:"),
      "m": "apiVersion: loopform/v1\nkind: Module\nmetadata: {name: m}\nspec:\n  nodes: {a: {type: dataset, dataset: d}}\n"},
     ["p.yaml:9: `template` picks a pipeline template of a DPK manifest (dataloop.json); 'm.yaml' is not one"]),
    ("a variable the pipeline has with another value",
     {"pipeline": PIPELINE.replace("spec:\n", "spec:\n  variables: [{name: medical_dataset, type: Dataset, value: x}]\n")},
     ["p.yaml:10: the pipeline template's variable 'medical_dataset' is also a variable of this pipeline with "
      "another type or value (a pipeline holds one variable per name)"]),
]


@pytest.mark.parametrize("name,change,expected", CASES, ids=[c[0] for c in CASES])
def test_bad_template_use(name: str, change: dict, expected: list[str], tmp_path: Path) -> None:
    manifest = _two_templates() if change.get("manifest") == "two" else None
    root = _tree(tmp_path, change.get("pipeline", PIPELINE), manifest,
                 **{k: v for k, v in change.items() if k not in ("pipeline", "manifest")})
    places = {"root": str(root), "variable": _at(root, '"name": "medical_dataset"', before=1),  # its `{`
              "templates": _at(root, '"pipelineTemplates"')}
    assert _report(root) == [e.format(**places) for e in expected], name


def test_an_edited_manifest_stales_a_saved_plan_and_the_marker_records_it(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    manifest = root / MANIFEST
    with open_embedded(tmp_path / "state.db") as backend:
        planned = plan([root / "pipelines"], backend, default_project="local")
        assert apply(planned, backend).ok
        (created,) = planned.pipelines
        live = backend.find_pipeline(created.project_id, "p")
        marker = read_marker(live) if live is not None else None
        assert marker is not None
        assert marker.modules == {"vendor/pii/dataloop.json": hashlib.sha256(manifest.read_bytes()).hexdigest()}
        saved = plan([root / "pipelines"], backend, default_project="local")
        assert stale_reasons(saved, backend) == []
        manifest.write_text(manifest.read_text() + "\n")
        assert stale_reasons(saved, backend) == [f"spec {root / 'pipelines/p.yaml'} changed since the plan was made"]


def test_a_module_may_use_a_template_and_its_variables_reach_the_pipeline(tmp_path: Path) -> None:
    module = """\
apiVersion: loopform/v1
kind: Module
metadata: {name: wrap}
spec:
  inputs:
    records: {type: string}
  nodes:
    pii: {type: module, source: vendor/pii/dataloop.json, with: {medical_dataset: "${input.records}"}}
  ports:
    in: {to: pii.in}
    out: {from: pii.presidio-anonymizer}
"""
    pipeline = ("apiVersion: loopform/v1\nkind: Pipeline\nmetadata: {name: p}\nspec:\n  nodes:\n"
                "    outer: {type: module, source: wrap.yaml, with: {records: scans}}\n"
                "    done: {type: dataset, dataset: done}\n"
                "  connections:\n    - {from: outer.out, to: done}\n")
    root = _tree(tmp_path, pipeline, wrap=module)
    result = load([root / "pipelines"])
    assert result.errors == []
    body = result.specs[0].spec.spec
    assert "outer/pii/presidio-anonymizer" in body.nodes
    assert [(v.name, v.value) for v in body.variables] == [("medical_dataset", "scans")]


def test_a_template_s_text_is_never_read_as_a_reference(tmp_path: Path) -> None:
    """A marketplace manifest is someone else's text: `${env.X}` in it stays literal, it does not
    reach into the environment loopform runs in."""
    manifest = copy.deepcopy(PII)
    node = manifest["components"]["pipelineTemplates"][0]["nodes"][1]
    node["name"] = "Chunks ${env.LOOPFORM_TEST_SECRET}"
    root = _tree(tmp_path, manifest=manifest)
    result = load([root / "pipelines"], context=Context(env={"LOOPFORM_TEST_SECRET": "hunter2"}))
    assert result.errors == []
    names = {n.name for n in result.specs[0].spec.spec.nodes.values()}
    assert "Chunks ${env.LOOPFORM_TEST_SECRET}" in names and not any("hunter2" in (n or "") for n in names)


def test_a_template_that_is_not_a_pipeline_is_a_located_error(tmp_path: Path) -> None:
    manifest = copy.deepcopy(PII)
    manifest["components"]["pipelineTemplates"][0]["nodes"] = "none"
    root = _tree(tmp_path, manifest=manifest)
    (problem,) = load([root / "pipelines"]).errors
    assert problem.location.path.endswith("pipelines/p.yaml") and problem.location.line == 8  # the use's source
    assert "template 'PII Anonymizer Pipeline' is not a pipeline document Loopform can read (see its 'nodes')" \
        in problem.message
    nodes = _at(root, '"nodes": "none"')
    assert f"{root / MANIFEST}:{nodes}" in problem.message


def test_every_real_template_is_a_module_that_applies_and_then_plans_no_change(tmp_path: Path) -> None:
    """All 16 fixtures, each given its required inputs (a dataset node the template leaves to the
    installer is one: a variable of its own), as one pipeline each."""
    (tmp_path / ".git").mkdir()
    fixtures = sorted(REAL_PIPELINES.glob("*.json"))
    assert len(fixtures) == 16
    for path in fixtures:
        manifest = json.loads(path.read_text())
        inputs = template_module(manifest, None).data["spec"]["inputs"]
        given = {name: f"id-of-{name}" for name, spec in inputs.items() if "default" not in spec}
        (tmp_path / "pipelines" / "vendor").mkdir(parents=True, exist_ok=True)
        (tmp_path / "pipelines" / "vendor" / path.name).write_text(path.read_text())
        (tmp_path / "pipelines" / f"{path.stem}.yaml").write_text(json.dumps({
            "apiVersion": "loopform/v1", "kind": "Pipeline", "metadata": {"name": path.stem[:60]},
            "spec": {"nodes": {"t": {"type": "module", "source": f"vendor/{path.name}", "with": given}}}}))
    loaded = load([tmp_path / "pipelines"])
    assert loaded.errors == []
    with open_embedded(tmp_path / "state.db") as backend:
        first = plan([tmp_path / "pipelines"], backend, default_project="local")
        assert apply(first, backend).ok
        assert not plan([tmp_path / "pipelines"], backend, default_project="local").has_changes


def test_a_dataset_node_the_template_leaves_empty_is_a_required_input_of_its_own(tmp_path: Path) -> None:
    manifest = json.loads((REAL_PIPELINES / "labeling_workflow_qa_sampling_workflow.json").read_text())
    module = template_module(manifest, None).data["spec"]
    assert {k: v["type"] for k, v in module["inputs"].items()} == {"dataset": "string", "dataset-2": "string"}
    assert all("default" not in v for v in module["inputs"].values())
    assert module["nodes"]["dataset"]["datasetVariable"] == "dataset"
    assert module["nodes"]["dataset-2"]["datasetVariable"] == "dataset-2"
