"""The JSON Schema and the pydantic models: published copy in sync, documented, and in agreement."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from pydantic import ValidationError
from spec_corpus import CASES, VALID
from spec_helpers import FIXTURES, REPO

from reconciler.spec.for_each import FOR_EACH
from reconciler.spec.models import PipelineSpec
from reconciler.spec.modules import uses_modules
from reconciler.spec.schema import schema, schema_text
from reconciler.spec.source import parse_text

VALIDATOR = jsonschema.Draft202012Validator(schema())
EXAMPLES = sorted((REPO / "pipelines").glob("*.yaml")) + sorted(FIXTURES.glob("*.yaml"))


def _data(path: Path) -> Any:
    return parse_text(path.read_text(), str(path)).data


def _models_accept(data: Any) -> bool:
    try:
        PipelineSpec.model_validate(data)
    except ValidationError:
        return False
    return True


def test_published_schema_is_the_generated_one() -> None:
    published = REPO / "schemas" / "pipeline.schema.json"
    assert published.read_text() == schema_text(), "run: loopform schema > schemas/pipeline.schema.json"


def test_schema_is_valid_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(schema())
    assert schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def _properties(node: Any, where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        for name, prop in (node.get("properties") or {}).items():
            if isinstance(prop, dict) and "$ref" not in prop or (
                isinstance(prop, dict) and "description" in prop
            ):
                yield f"{where}.{name}", prop
        for key, value in node.items():
            if key != "properties":
                yield from _properties(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _properties(value, f"{where}/{i}")


def test_every_field_has_a_description_and_an_example() -> None:
    missing = [
        where
        for where, prop in _properties(schema())
        if not prop.get("description") or not prop.get("examples")
    ]
    # the few subschemas added for cross-field rules only restate types
    missing = [m for m in missing if "/allOf/" not in m and "/not" not in m]
    assert missing == []


def test_every_definition_and_reference_is_described() -> None:
    published = schema()
    defs = published["$defs"]
    assert [name for name, d in defs.items() if not d.get("description")] == []
    # a field that is a reference still carries its own description and example (editor hover)
    referencing = [
        (name, field)
        for name, holder in [("(root)", published), *defs.items()]
        for field, prop in (holder.get("properties") or {}).items()
        if "$ref" in prop and not (prop.get("description") and prop.get("examples"))
    ]
    assert referencing == []


# Every node type and (almost) every field once, compactly: the base of the mutation corpus.
EVERY_FIELD = """\
apiVersion: loopform/v1
kind: Pipeline
metadata: {name: all, project: p, description: d}
spec:
  status: paused
  resetToken: t1
  settings: {defaultResumeOption: resumeExistingCycles, keepTriggersActive: false}
  variables: [{name: v, type: Dataset, value: ds, description: d, id: i}]
  root: d
  nodes:
    d:
      type: dataset
      name: D
      id: n1
      position: {x: 1, y: 2}
      dataset: ds
      folder: /f
      loadExisting: {filter: {dir: /f}}
      operation: clone
      trigger: {name: t, event: {resource: Item, actions: [Created], filter: {a: 1}, executionMode: Once}}
      namespace: {a: 1}
      metadata: {a: 1}
      config: {a: 1}
      raw: {a: 1}
    c: {type: code, function: run, source: s.py, packageName: p, description: d}
    f: {type: function, service: s, function: f, module: m, package: p, project: p}
    t:
      type: task
      inputs: [{name: item, type: Item, id: p1, displayName: i, defaultValue: 1, variableName: v, description: d, color: c, actionIcon: a, portPercentage: 50}]
      task:
        type: qa
        dataset: ds
        recipe: r
        workload: [{assignee: a@b.c, load: 100}]
        owner: o@b.c
        priority: high
        dueDate: "2026-12-31"
        batchSize: 5
        maxBatchWorkload: 7
        consensus: {type: consensus, percentage: 50, assignees: 2}
        groups: [g]
        actions: [approve, discard]
    m: {type: ml, model: m, function: embed, mlType: x, modelConfig: {a: 1}}
    u: {type: custom, app: a, dpk: d, function: f, service: s, module: m, package: p, nodeConfig: {a: 1}}
    v: {type: updateVariable, trigger: {cron: "0 * * * *"}}
    g: {type: merge}
  connections:
    - {from: d, to: c}
    - {from: c.item, to: [f, t.item], action: a, filter: {a: 1}}
"""


def _mutations(data: Any) -> Iterator[Any]:
    """Documents differing from `data` in one place: a key removed, or a value replaced."""
    replacements: list[Any] = [None, True, 3, "x", "", [], {"x": 1}]

    def walk(node: Any, path: tuple[Any, ...]) -> Iterator[tuple[Any, ...]]:
        yield path
        if isinstance(node, dict):
            for key, value in node.items():
                yield from walk(value, (*path, key))
        elif isinstance(node, list):
            for i, value in enumerate(node):
                yield from walk(value, (*path, i))

    for path in walk(data, ()):
        if not path:
            continue
        for replacement in [*replacements, _DELETE]:
            doc = copy.deepcopy(data)
            holder = doc
            for step in path[:-1]:
                holder = holder[step]
            if replacement is _DELETE:
                del holder[path[-1]]
            else:
                holder[path[-1]] = replacement
            yield doc
        if isinstance(path[-1], str) and len(path) >= 1:
            doc = copy.deepcopy(data)
            holder = doc
            for step in path[:-1]:
                holder = holder[step]
            holder[path[-1] + "x"] = holder.pop(path[-1])  # a misspelt key
            yield doc


_DELETE = object()


def _agreement_corpus() -> Iterator[Any]:
    yield parse_text(VALID, "valid").data
    for case in CASES:
        if isinstance(case.content, str):
            doc = parse_text(case.content, case.name)
            if not doc.fatal:
                yield doc.data
    for path in EXAMPLES:
        data = _data(path)
        # module uses and forEach are the loader's: the models see the pipelines they expand into
        # (test_modules, test_for_each); the schema takes them as written (test_examples_are_valid...)
        if not (uses_modules(data) or FOR_EACH in data):
            yield data
    yield from _mutations(parse_text(EVERY_FIELD, "every-field").data)


def test_schema_and_models_accept_the_same_documents() -> None:
    corpus = list(_agreement_corpus())
    assert len(corpus) > 1000
    disagreements = []
    accepted = 0
    for data in corpus:
        by_schema = VALIDATOR.is_valid(data)
        by_models = _models_accept(data)
        accepted += by_models
        if by_schema != by_models:
            disagreements.append((by_schema, by_models, json.dumps(data)[:300]))
    assert disagreements == []
    # the corpus exercises both sides
    assert 100 < accepted < len(corpus) - 100


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_examples_are_valid_for_the_schema(path: Path) -> None:
    assert list(VALIDATOR.iter_errors(_data(path))) == []


SPEC_FILES = sorted(
    [*(REPO / "pipelines").glob("*.yaml"), *FIXTURES.glob("*.yaml"), *(REPO / "examples").glob("*/pipelines/*.yaml")]
)


@pytest.mark.parametrize("path", SPEC_FILES, ids=[str(p.relative_to(REPO)) for p in SPEC_FILES])
def test_editor_schema_line_points_at_the_published_schema(path: Path) -> None:
    """yaml-language-server resolves `$schema=` relative to the file; checked by hand with
    yaml-language-server 1.x: these files get no diagnostics, and a misspelt key in a copy does."""
    first = path.read_text().splitlines()[0]
    prefix = "# yaml-language-server: $schema="
    assert first.startswith(prefix)
    target = (path.parent / first[len(prefix):]).resolve()
    assert target == (REPO / "schemas" / "pipeline.schema.json").resolve()
