"""Modules (reconciler.spec.modules): a sub-graph written once, used as a node of pipelines.

Expansion happens while loading, so the specs that come out hold plain nodes named
`<instance>/<node>`; problems are located at their line, in the module when they are written there,
naming the use that brought them in.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import jsonschema
import pytest
from spec_helpers import REPO, run_cli

from reconciler.connection import open_embedded
from reconciler.library import apply, plan
from reconciler.marker import read_marker
from reconciler.planfile import stale_reasons
from reconciler.spec import load
from reconciler.spec.schema import module_schema_text, schema
from reconciler.spec.source import parse_text

MODULE = """\
apiVersion: loopform/v1
kind: Module
metadata: {name: label-review}
spec:
  inputs:
    dataset: {type: string, description: Dataset the tasks work in}
    recipe: {type: string, default: default}
    batch: {type: integer, default: 10}
  nodes:
    label:
      type: task
      name: Label
      task: {type: annotation, dataset: "${input.dataset}", recipe: "${input.recipe}", assignees: [a@example.com], batchSize: "${input.batch}"}
    review:
      type: task
      name: Review ${input.dataset}
      task: {type: qa, dataset: "${input.dataset}", recipe: "${input.recipe}", assignees: [b@example.com]}
  connections:
    - {from: label, to: review}
  ports:
    in: {to: label}
    approved: {from: review, action: approve}
"""

PIPELINE = """\
apiVersion: loopform/v1
kind: Pipeline
metadata: {name: p, project: local}
spec:
  nodes:
    src: {type: dataset, dataset: raw}
    stage:
      type: module
      source: modules/label-review.yaml
      with: {dataset: raw, recipe: boxes}
    done: {type: dataset, dataset: done}
  connections:
    - {from: src, to: stage.in}
    - {from: stage.approved, to: done}
"""


def _tree(root: Path, files: dict[str, str]) -> Path:
    (root / ".git").mkdir(exist_ok=True)  # the project root: modules must stay inside it
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def _report(root: Path) -> list[str]:
    result = load([root / "pipelines"])
    return [f"{Path(e.location.path).relative_to(root / 'pipelines')}:{e.location.line}:{e.location.col}: "
            f"{e.message}" for e in result.errors]


def _files(module: str = MODULE, pipeline: str = PIPELINE, **more: str) -> dict[str, str]:
    return {"pipelines/modules/label-review.yaml": module, "pipelines/p.yaml": pipeline,
            **{f"pipelines/{k.replace('__', '/')}.yaml": v for k, v in more.items()}}


def test_a_use_becomes_the_modules_nodes_under_the_instance_key(tmp_path: Path) -> None:
    root = _tree(tmp_path, _files())
    result = load([root / "pipelines"])
    assert result.errors == []
    (spec_file,) = result.specs  # the module file is not a pipeline
    body = spec_file.spec.spec
    assert sorted(body.nodes) == ["done", "src", "stage/label", "stage/review"]
    label = body.nodes["stage/label"].model_dump(by_alias=True, exclude_none=True)
    assert label["task"]["recipe"] == "boxes"
    assert label["task"]["batchSize"] == 10  # a whole reference keeps the input's type (the default)
    assert body.nodes["stage/review"].name == "Review raw"
    wired = [(c.from_, c.to, c.action) for c in body.connections]
    assert wired == [("src", ["stage/label"], None), ("stage/review", ["done"], "approve"),
                     ("stage/label", ["stage/review"], None)]
    assert list(spec_file.modules) == ["modules/label-review.yaml"]


def test_two_instances_and_nested_modules_get_distinct_stable_keys(tmp_path: Path) -> None:
    outer = """\
apiVersion: loopform/v1
kind: Module
metadata: {name: twice}
spec:
  inputs:
    dataset: {type: string}
  nodes:
    first: {type: module, source: label-review.yaml, with: {dataset: "${input.dataset}"}}
    second: {type: module, source: label-review.yaml, with: {dataset: "${input.dataset}", recipe: r2}}
  connections:
    - {from: first.approved, to: second.in}
  ports:
    in: {to: first.in}
    approved: {from: second.approved}
"""
    pipeline = PIPELINE.replace("source: modules/label-review.yaml", "source: modules/twice.yaml").replace(
        ", recipe: boxes", "")
    root = _tree(tmp_path, _files(pipeline=pipeline, modules__twice=outer))
    result = load([root / "pipelines"])
    assert result.errors == []
    body = result.specs[0].spec.spec
    assert sorted(body.nodes) == ["done", "src", "stage/first/label", "stage/first/review",
                                  "stage/second/label", "stage/second/review"]
    assert sorted((c.from_, c.to[0], c.action) for c in body.connections) == [
        ("src", "stage/first/label", None),
        ("stage/first/label", "stage/first/review", None),
        ("stage/first/review", "stage/second/label", "approve"),
        ("stage/second/label", "stage/second/review", None),
        ("stage/second/review", "done", "approve"),
    ]


def _broken(module: str = MODULE, pipeline: str = PIPELINE, **more: str) -> list[str]:
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        return _report(_tree(Path(scratch), _files(module, pipeline, **more)))


USE = "module instance 'stage' at {root}/pipelines/p.yaml:7:5"

# The bad-input corpus of modules: each case one mistake, with its located messages.
MODULE_CASES = [
    ("missing required input",
     {"pipeline": PIPELINE.replace("dataset: raw, ", "")},
     ["p.yaml:7:5: module 'label-review' needs input 'dataset' (declared at "
      "{root}/pipelines/modules/label-review.yaml:6:5); give it under `with:`"]),
    ("unknown input",
     {"pipeline": PIPELINE.replace("recipe: boxes", "recipe: boxes, colour: red")},
     ["p.yaml:10:43: module 'label-review' has no input 'colour' (its inputs: batch, dataset, recipe)"]),
    ("wrong input type",
     {"pipeline": PIPELINE.replace("recipe: boxes", "recipe: 7")},
     ["p.yaml:10:28: input 'recipe' of module 'label-review' is a string, got number 7 (declared at "
      "{root}/pipelines/modules/label-review.yaml:7:5)"]),
    ("unknown exposed port",
     {"pipeline": PIPELINE.replace("stage.approved", "stage.rejected")},
     ["p.yaml:14:8: module instance 'stage' has no output port 'rejected' (its output ports: "
      "'stage.approved')"]),
    ("input port used as an output",
     {"pipeline": PIPELINE.replace("from: stage.approved", "from: stage.in")},
     ["p.yaml:14:8: module instance 'stage' has 'in' as an input port, not an output port (its output "
      "ports: 'stage.approved')"]),
    ("instance without a port",
     {"pipeline": PIPELINE.replace("to: stage.in", "to: stage")},
     ["p.yaml:13:19: 'stage' is a module instance: name one of its input ports ('stage.in')"]),
    ("unknown field in a module node",
     {"module": MODULE.replace("type: qa,", "type: qa, bogus: 1,")},
     ["modules/label-review.yaml:17:24: unknown field 'bogus' (in the module used by " + USE + ")"]),
    ("undeclared input used in the module",
     {"module": MODULE.replace("Review ${input.dataset}", "Review ${input.nope}")},
     ["modules/label-review.yaml:16:7: '${input.nope}' names no input of module 'label-review' (its "
      "inputs: batch, dataset, recipe) (in the module used by " + USE + ")"]),
    ("port leading nowhere",
     {"module": MODULE.replace("{from: review, action", "{from: reviewer, action")},
     ["modules/label-review.yaml:22:5: port 'approved' leads to node 'reviewer', which the module does "
      "not have (in the module used by " + USE + ")"]),
    ("default of the wrong type",
     {"module": MODULE.replace("batch: {type: integer, default: 10}", "batch: {type: integer, default: ten}")},
     ["modules/label-review.yaml:8:5: the default 'ten' is not an integer",
      "modules/label-review.yaml:8:5: the default 'ten' is not an integer (in the module used by " + USE + ")"]),
    ("port type mismatch across the boundary",
     {"pipeline": PIPELINE.replace("src: {type: dataset, dataset: raw}",
                                   "src: {type: code, code: 'print(1)', outputs: [{name: n, type: String}]}")
      .replace("from: src,", "from: src.n,")},
     ["p.yaml:13:21: port type mismatch: 'src.n' (String) cannot feed 'stage/label.item' (Item) "
      "('stage.in' is 'stage/label')"]),
    ("a written key that an instance's node also has",
     {"pipeline": PIPELINE.replace("done: {type", "stage/label: {type").replace("to: done", "to: stage/label")},
     ["p.yaml:11:5: node key 'stage/label' is also the key of a node of module instance 'stage'; rename one"]),
    ("not a module",
     {"pipeline": PIPELINE.replace("source: modules/label-review.yaml", "source: other.yaml"),
      "other": "apiVersion: loopform/v1\nkind: Pipeline\nmetadata: {name: other}\nspec:\n"
               "  nodes: {a: {type: dataset, dataset: raw}}\n"},
     ["p.yaml:9:7: 'other.yaml' is not a module (kind: Module) nor a DPK manifest with pipeline templates"]),
    ("missing module file",
     {"pipeline": PIPELINE.replace("modules/label-review.yaml", "modules/nope.yaml")},
     ["p.yaml:9:7: module 'modules/nope.yaml': no such file or directory"]),
    ("module outside the project",
     {"pipeline": PIPELINE.replace("modules/label-review.yaml", "../../outside.yaml")},
     ["p.yaml:9:7: module '../../outside.yaml' is outside the project ({root}); keep modules in the "
      "repository, next to the specs"]),
]


@pytest.mark.parametrize("name,change,expected", MODULE_CASES, ids=[c[0] for c in MODULE_CASES])
def test_bad_module_input(name: str, change: dict[str, str], expected: list[str], tmp_path: Path) -> None:
    files = _files(change.get("module", MODULE), change.get("pipeline", PIPELINE),
                   **{k: v for k, v in change.items() if k not in ("module", "pipeline")})
    root = _tree(tmp_path, files)
    assert _report(root) == [e.replace("{root}", str(root)) for e in expected], name


def test_a_cycle_of_uses_is_an_error_at_the_use_that_closes_it(tmp_path: Path) -> None:
    loop = """\
apiVersion: loopform/v1
kind: Module
metadata: {name: NAME}
spec:
  nodes:
    inner: {type: module, source: OTHER.yaml}
  ports:
    in: {to: inner.in}
"""
    pipeline = ("apiVersion: loopform/v1\nkind: Pipeline\nmetadata: {name: p}\nspec:\n  nodes:\n"
                "    stage: {type: module, source: modules/a.yaml}\n")
    root = _tree(tmp_path, {"pipelines/p.yaml": pipeline,
                            "pipelines/modules/a.yaml": loop.replace("NAME", "a").replace("OTHER", "b"),
                            "pipelines/modules/b.yaml": loop.replace("NAME", "b").replace("OTHER", "a")})
    modules = root / "pipelines" / "modules"
    assert _report(root) == [
        f"modules/b.yaml:6:27: module 'a.yaml' uses itself: {modules}/a.yaml -> {modules}/b.yaml -> "
        f"{modules}/a.yaml (in the module used by module instance 'inner' at {modules}/a.yaml:6:5, "
        f"module instance 'stage' at {root}/pipelines/p.yaml:6:5)"
    ]


def test_a_code_file_is_named_relative_to_its_module(tmp_path: Path) -> None:
    module = MODULE.replace("  connections:", "    run: {type: code, source: snippets/run.py}\n  connections:\n"
                                               "    - {from: label, to: run}")
    root = _tree(tmp_path, _files(module))
    (root / "pipelines/modules/snippets").mkdir()
    (root / "pipelines/modules/snippets/run.py").write_text("def run(item):\n    return item\n")
    result = load([root / "pipelines"])
    assert [str(e) for e in result.errors if e.severity == "error"] == []
    assert result.specs[0].code["stage/run"].startswith("def run(item)")


def test_the_spec_digest_covers_the_module_files(tmp_path: Path) -> None:
    root = _tree(tmp_path, _files())
    before = load([root / "pipelines"]).specs[0].digest
    (root / "pipelines/modules/label-review.yaml").write_text(MODULE + "# a comment\n")
    assert load([root / "pipelines"]).specs[0].digest != before


def test_applied_instances_keep_their_ids_and_a_module_input_change_updates_only_its_nodes(
        tmp_path: Path) -> None:
    second = PIPELINE.replace("name: p,", "name: p2,").replace("recipe: boxes", "recipe: polygons")
    root = _tree(tmp_path, _files(p2=second))
    with open_embedded(tmp_path / "state.db") as backend:
        first = plan([root / "pipelines"], backend, default_project="local")
        assert apply(first, backend).ok
        assert not plan([root / "pipelines"], backend, default_project="local").has_changes
        module = root / "pipelines/modules/label-review.yaml"
        module.write_text(MODULE.replace("assignees: [b@example.com]", "assignees: [c@example.com]"))
        changed = plan([root / "pipelines"], backend, default_project="local")
    updates = {(p.name, c.path) for p in changed.pipelines for c in p.changes}
    assert {name for name, _ in updates} == {"p", "p2"}
    assert all(path.startswith("nodes.stage/review.") for _, path in updates), updates


def test_the_published_module_schema_is_the_generated_one() -> None:
    published = REPO / "schemas" / "module.schema.json"
    assert published.read_text() == module_schema_text(), \
        "run: loopform schema --module > schemas/module.schema.json"


def test_module_files_and_uses_match_the_schemas(tmp_path: Path) -> None:
    module_schema = json.loads(module_schema_text())
    jsonschema.Draft202012Validator.check_schema(module_schema)
    # like `${var.X}` in a pipeline, a whole `${input.X}` in a number field is the schema's exception
    jsonschema.validate(parse_text(MODULE.replace('"${input.batch}"', "10"), "m.yaml").data, module_schema)
    jsonschema.validate(parse_text(PIPELINE, "p.yaml").data, schema())
    with pytest.raises(jsonschema.ValidationError):  # a use has no fields of other nodes
        jsonschema.validate(parse_text(PIPELINE.replace("with:", "dataset: x\n      with:"), "p.yaml").data,
                            schema())


def test_the_marker_records_the_modules_and_a_saved_plan_goes_stale_when_one_changes(tmp_path: Path) -> None:
    root = _tree(tmp_path, _files())
    module = root / "pipelines/modules/label-review.yaml"
    with open_embedded(tmp_path / "state.db") as backend:
        planned = plan([root / "pipelines"], backend, default_project="local")
        assert apply(planned, backend).ok
        (created,) = planned.pipelines
        live = backend.find_pipeline(created.project_id, "p")
        assert live is not None
        marker = read_marker(live)
        assert marker is not None
        assert marker.modules == {"modules/label-review.yaml": hashlib.sha256(module.read_bytes()).hexdigest()}
        saved = plan([root / "pipelines"], backend, default_project="local")
        assert stale_reasons(saved, backend) == []
        module.write_text(MODULE + "# only a comment\n")
        assert stale_reasons(saved, backend) == [f"spec {root / 'pipelines/p.yaml'} changed since the plan was made"]


def test_export_of_a_pipeline_built_from_modules_is_plain_and_plans_no_change(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _tree(tmp_path, _files())
    monkeypatch.chdir(root)
    assert run_cli("apply", "--auto-approve", "pipelines").code == 0
    assert run_cli("export", "-o", "exported", "p").code == 0
    text = (root / "exported" / "p.yaml").read_text()
    assert "type: module" not in text and "stage/label:" in text and "stage/review:" in text
    (root / "pipelines" / "p.yaml").unlink()  # the exported file is now the pipeline's one spec
    again = run_cli("plan", "exported")
    assert again.code == 0 and "No changes" in again.out, again.out + again.err


def test_changing_an_input_default_of_the_example_module_updates_exactly_its_users(tmp_path: Path) -> None:
    """The README's examples: label-review is used by two pipelines and by the three for-each ones;
    street-labeling sets `priority` itself, so a new default reaches only the other four."""
    shutil.copytree(REPO / "pipelines", tmp_path / "pipelines")
    (tmp_path / ".git").mkdir()
    with open_embedded(tmp_path / "state.db") as backend:
        assert apply(plan([tmp_path / "pipelines"], backend), backend).ok
        assert not plan([tmp_path / "pipelines"], backend).has_changes  # a second apply changes nothing
        module = tmp_path / "pipelines" / "modules" / "label-review.yaml"
        module.write_text(module.read_text().replace("default: medium,", "default: low,"))
        changed = plan([tmp_path / "pipelines"], backend)
    updates = {p.name: sorted(c.path for c in p.changes) for p in changed.pipelines if p.has_changes}
    expected = ["nodes.stage/label.task.priority", "nodes.stage/review.task.priority"]
    assert updates == {name: expected for name in
                       ("customer-acme", "customer-globex", "customer-initech", "scan-labeling")}


def test_a_spec_without_a_file_cannot_use_modules_or_for_each() -> None:
    from reconciler.spec.loader import SpecFile

    data = parse_text(PIPELINE, "p.yaml").data
    plain = {**data, "spec": {"nodes": {"src": {"type": "dataset", "dataset": "raw"}}}}
    assert SpecFile.from_data(plain)[1] == []
    for body in (data, {**plain, "forEach": ["a"]}):
        spec_file, errors = SpecFile.from_data(body)
        assert spec_file is None
        assert [e.message for e in errors] == ["module uses and forEach need a spec file; send the expanded "
                                               "pipeline (as `loopform export` writes it)"]


def test_a_root_naming_an_instance_is_the_node_behind_its_input_port(tmp_path: Path) -> None:
    pipeline = PIPELINE.replace("spec:\n", "spec:\n  root: stage\n").replace(
        "    - {from: src, to: stage.in}\n", "")
    root = _tree(tmp_path, _files(pipeline=pipeline.replace("    src: {type: dataset, dataset: raw}\n", "")))
    result = load([root / "pipelines"])
    assert result.errors == []
    assert result.specs[0].spec.spec.root == "stage/label"


def _chain(prefix: str, count: int, source: str | None, width: int = 1) -> str:
    """A module of `count` nodes in a chain: code nodes, or uses of `source`."""
    node = ("{type: module, source: " + source + "}") if source else "{type: code, code: 'def run(item): return item'}"
    ends = (".in", ".out") if source else ("", "")
    nodes = "".join(f"    {prefix}{i}: {node}\n" for i in range(count))
    links = "".join(f"    - {{from: {prefix}{i}{ends[1]}, to: {prefix}{i + 1}{ends[0]}}}\n" for i in range(count - 1))
    return (f"apiVersion: loopform/v1\nkind: Module\nmetadata: {{name: {prefix}}}\nspec:\n  nodes:\n{nodes}"
            f"  connections:\n{links}  ports:\n    in: {{to: {prefix}0{ends[0]}}}\n"
            f"    out: {{from: {prefix}{count - 1}{ends[1]}}}\n")


def test_uses_multiplying_uses_stop_at_the_expansion_budget_with_one_located_error(tmp_path: Path) -> None:
    # 3 kB of files: 100 uses of a module of 100 uses of a 30-node module would be 300,000 nodes
    # (it took 10 s and 1.4 GB to report the file valid).
    uses = "".join(f"    v{i}: {{type: module, source: modules/b.yaml}}\n" for i in range(100))
    links = "".join(f"    - {{from: v{i}.out, to: v{i + 1}.in}}\n" for i in range(99))
    pipeline = ("apiVersion: loopform/v1\nkind: Pipeline\nmetadata: {name: bomb, project: local}\nspec:\n"
                f"  root: src\n  nodes:\n    src: {{type: dataset, dataset: raw}}\n{uses}"
                f"  connections:\n    - {{from: src, to: v0.in}}\n{links}")
    root = _tree(tmp_path, {"pipelines/modules/a.yaml": _chain("n", 30, None),
                            "pipelines/modules/b.yaml": _chain("u", 100, "a.yaml"), "pipelines/bomb.yaml": pipeline})
    result = load([root / "pipelines"])
    assert result.specs == []
    [error] = result.errors
    assert "more than 250000 values" in error.message and "module instance 'v" in error.message
    assert error.location.path.endswith("b.yaml")


def test_a_module_input_referenced_many_times_is_charged_for_every_copy(tmp_path: Path) -> None:
    # A small module naming one list input 200 times, given a 2,000-item list: 400,000 values.
    module = ("apiVersion: loopform/v1\nkind: Module\nmetadata: {name: wide}\nspec:\n"
              "  inputs:\n    items: {type: list}\n  nodes:\n"
              + "".join(f"    n{i}: {{type: code, code: x, config: {{list: '${{input.items}}'}}}}\n" for i in range(200))
              + "  ports:\n    in: {to: n0}\n")
    pipeline = ("apiVersion: loopform/v1\nkind: Pipeline\nmetadata: {name: p, project: local}\nspec:\n  nodes:\n"
                "    src: {type: dataset, dataset: raw}\n"
                "    use: {type: module, source: modules/wide.yaml, with: {items: [" + ", ".join(["1"] * 2000) + "]}}\n"
                "  connections:\n    - {from: src, to: use.in}\n")
    root = _tree(tmp_path, {"pipelines/modules/wide.yaml": module, "pipelines/p.yaml": pipeline})
    [error] = load([root / "pipelines"]).errors
    assert "more than 250000 values" in error.message
    assert (error.location.path, error.location.line) == (str(root / "pipelines" / "p.yaml"), 7)
