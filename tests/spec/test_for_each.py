"""For-each (reconciler.spec.for_each): one spec file, one pipeline per entry of `forEach:`."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest

from reconciler.connection import open_embedded
from reconciler.library import apply, plan
from reconciler.plan import Action
from reconciler.spec import load
from reconciler.spec.schema import schema
from reconciler.spec.source import parse_text

SPEC = """\
apiVersion: loopform/v1
kind: Pipeline
forEach:
  cars: {dataset: cars-raw, batch: 5}
  bikes: {dataset: bikes-raw, batch: 6}
  boats: {dataset: boats-raw, batch: 7}
metadata:
  name: label-${each.key}
  project: local
spec:
  nodes:
    src: {type: dataset, dataset: "${each.value.dataset}"}
    label:
      type: task
      name: Label ${each.key}
      task: {type: annotation, dataset: "${each.value.dataset}", recipe: default, assignees: [a@example.com],
             batchSize: "${each.value.batch}"}
  connections:
    - {from: src, to: label}
"""


def _write(root: Path, text: str) -> Path:
    (root / ".git").mkdir(exist_ok=True)
    (root / "pipelines").mkdir(exist_ok=True)
    (root / "pipelines" / "labels.yaml").write_text(text)
    return root / "pipelines"


def test_each_entry_is_a_pipeline_with_its_values(tmp_path: Path) -> None:
    result = load([_write(tmp_path, SPEC)])
    assert result.errors == []
    by_name = {s.spec.metadata.name: s.spec for s in result.specs}
    assert sorted(by_name) == ["label-bikes", "label-boats", "label-cars"]
    bikes = by_name["label-bikes"].spec.nodes["label"].model_dump(by_alias=True, exclude_none=True)
    assert bikes["name"] == "Label bikes"
    assert bikes["task"]["dataset"] == "bikes-raw"
    assert bikes["task"]["batchSize"] == 6  # a whole reference keeps the value's type
    # one digest per file, as a saved plan records it; any entry's change changes it
    assert len({s.digest for s in result.specs}) == 1
    (tmp_path / "pipelines" / "labels.yaml").write_text(SPEC.replace("batch: 7", "batch: 8"))
    assert load([tmp_path / "pipelines"]).specs[0].digest != result.specs[0].digest


def test_a_list_of_strings_gives_key_and_value(tmp_path: Path) -> None:
    text = SPEC.replace(SPEC[SPEC.index("forEach:"):SPEC.index("metadata:")], "forEach: [cars, bikes]\n")
    text = text.replace('"${each.value.dataset}"', '"${each.value}-raw"').replace('"${each.value.batch}"', "5")
    result = load([_write(tmp_path, text)])
    assert result.errors == []
    assert sorted(s.spec.metadata.name for s in result.specs) == ["label-bikes", "label-cars"]


@pytest.mark.parametrize("change,expected", [
    (("forEach:\n  cars: {dataset: cars-raw, batch: 5}\n  bikes: {dataset: bikes-raw, batch: 6}\n"
      "  boats: {dataset: boats-raw, batch: 7}\n", "forEach: {}\n"), None),
    (("  cars: {dataset: cars-raw, batch: 5}\n  bikes: {dataset: bikes-raw, batch: 6}\n"
      "  boats: {dataset: boats-raw, batch: 7}\n", "  - cars\n  - {a: 1}\n"),
     ["5:5: a forEach list holds strings (each is its entry's key and value), got a mapping; use a mapping "
      "for entries with fields"]),
    (("name: Label ${each.key}", "name: Label ${each.value.colour}"),
     ["15:7: '${each.value.colour}' is not in any forEach entry (use ${each.key}, ${each.value} or "
      "${each.value.FIELD})"]),
    (("name: label-${each.key}", "name: label"),
     ["8:3: pipeline 'label' in project 'local' is already defined in {path}"]),
])
def test_bad_for_each(change: tuple[str, str], expected: list[str] | None, tmp_path: Path) -> None:
    directory = _write(tmp_path, SPEC.replace(*change))
    result = load([directory])
    shown = [f"{e.location.line}:{e.location.col}: {e.message}" for e in result.errors]
    if expected is None:  # an empty forEach
        assert shown == ["3:1: forEach is empty: give at least one entry"]
    else:
        assert shown == [e.replace("{path}", str(directory / "labels.yaml")) for e in expected]


def test_adding_an_entry_plans_one_create_and_removing_one_deletes_only_with_prune(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the spec set is the directory's
    directory = _write(tmp_path, SPEC.replace("  boats: {dataset: boats-raw, batch: 7}\n", ""))
    with open_embedded(tmp_path / "state.db") as backend:
        assert apply(plan([directory], backend), backend).ok
        _write(tmp_path, SPEC)
        added = plan([directory], backend)
        assert [(p.name, p.actions) for p in added.pipelines if p.has_changes] == [("label-boats", [Action.CREATE, Action.RESUME])]
        assert apply(added, backend).ok
        _write(tmp_path, SPEC.replace("  bikes: {dataset: bikes-raw, batch: 6}\n", ""))
        assert not plan([directory], backend).has_changes
        pruned = plan([directory], backend, prune=True)
    assert [(p.name, p.actions) for p in pruned.pipelines if p.has_changes] == [("label-bikes", [Action.DELETE])]


def test_the_pipeline_schema_takes_for_each() -> None:
    # like `${var.X}`, a whole `${each.X}` in a number field is the schema's exception
    jsonschema.validate(parse_text(SPEC.replace('"${each.value.batch}"', "5"), "labels.yaml").data, schema())


def test_entries_multiplying_a_large_template_stop_at_the_expansion_budget(tmp_path: Path) -> None:
    # 55 kB: 2,000 entries of a 300-node pipeline would be 600,000 nodes (11 s and 1.2 GB to say valid).
    nodes = "".join(f"    n{i}: {{type: code, code: 'x = \"${{each.key}} {i}\"'}}\n" for i in range(300))
    links = "".join(f"    - {{from: n{i}, to: n{i + 1}}}\n" for i in range(299))
    entries = "".join(f"  e{i}: {{}}\n" for i in range(2000))
    text = (f"apiVersion: loopform/v1\nkind: Pipeline\nforEach:\n{entries}"
            f"metadata: {{name: 'fe-${{each.key}}', project: local}}\nspec:\n  root: n0\n  nodes:\n{nodes}"
            f"  connections:\n{links}")
    result = load([_write(tmp_path, text)])
    assert result.specs == []
    [error] = result.errors
    assert "more than 250000 values" in error.message and "of 2000 entries" in error.message
    assert (error.location.line, error.location.col) == (3, 1)
