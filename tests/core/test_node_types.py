"""The node type registry (`reconciler.nodes`) and the round-trip law per node type.

For every registered type: a spec node with its typed fields set is compiled, applied, exported and
compiled again; the second compile equals the live pipeline (`compile(export(x)) == x`, no
changes planned) and export gives back the same typed fields the spec wrote.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from coretools import applied, build, pipeline_spec
from reconciler import nodes
from reconciler.backend import Resolved, ResourceKind
from reconciler.diff import diff_pipeline
from reconciler.errors import NotFound
from reconciler.export import export_pipeline
from reconciler.normalize import essence
from reconciler.plan import Action
from reconciler.spec import load
from reconciler.spec.models import NODE_MODELS, TYPED_NODE_TYPES

# One spec node per type, with as many typed fields set as read back exactly.
NODES: dict[str, dict[str, Any]] = {
    "dataset": {"type": "dataset", "dataset": "frames", "folder": "/in", "operation": "clone",
                "loadExisting": {"filter": {"dir": "/in"}}},
    "code": {"type": "code", "function": "handle", "code": "def handle(item):\n    return item\n"},
    "function": {"type": "function", "service": "frames", "function": "extract", "module": "m",
                 "package": "p", "project": "other"},
    "task": {"type": "task", "task": {"type": "qa", "dataset": "frames", "recipe": "strict", "priority": "high",
                                      "dueDate": "2026-12-01", "batchSize": 5, "maxBatchWorkload": 8,
                                      "actions": ["approve", "discard", "hold"]}},
    "ml": {"type": "ml", "model": "yolo", "function": "train", "mlType": "genAi", "modelConfig": {"a": 1}},
    "custom": {"type": "custom", "app": "scoring", "dpk": "scoring-dpk", "function": "agree",
               "nodeConfig": {"t": 0.7}},
    # The platform's form (Dataloop's own templates): no metadata; each input port is named after the
    # variable it sets, with its type, and an output of the same name passes the value on.
    "updateVariable": {"type": "updateVariable", "inputs": [{"name": "threshold", "type": "Float"}],
                       "outputs": [{"name": "threshold", "type": "Float"}]},
    "generic": {"type": "merge", "metadata": {"mergeMode": "all"}},
}


SINKS: dict[str, tuple[dict[str, Any], str]] = {
    "updateVariable": ({"type": "code", "code": "def run(threshold):\n    return threshold\n",
                        "inputs": [{"name": "threshold", "type": "Float"}]}, "node.threshold"),
}


class Names:
    """A project where every name has an id and back (the Resolver export and compile both take)."""

    IDS = {(ResourceKind.DATASET, "frames"): "d" * 24, (ResourceKind.RECIPE, "strict"): "e" * 24,
           (ResourceKind.MODEL, "yolo"): "f" * 24, (ResourceKind.SERVICE, "frames"): "s" * 24}

    def resolve(self, kind: ResourceKind, name: str, *, scope: str | None = None) -> Resolved:
        if (kind, name) not in self.IDS:
            raise NotFound(f"{kind.value} {name} not found", status=404)
        return Resolved(kind=kind, name=name, id=self.IDS[(kind, name)])

    def name_of(self, kind: ResourceKind, ident: str) -> str | None:
        return next((n for (k, n), i in self.IDS.items() if k is kind and i == ident), None)


def test_every_spec_node_model_has_one_type_module() -> None:
    assert [t.spec_type for t in nodes.TYPES] + ["generic"] == list(NODE_MODELS)
    assert tuple(t.spec_type for t in nodes.TYPES) == TYPED_NODE_TYPES  # the spec union's tags
    assert {t.model for t in nodes.ALL} == set(NODE_MODELS.values())
    assert set(NODES) == {t.spec_type for t in nodes.ALL}


@pytest.mark.parametrize("spec_type", list(NODES))
def test_compile_of_export_is_the_pipeline_for_each_type(spec_type: str, tmp_path: Path) -> None:
    written = NODES[spec_type]
    # The node under test is the root (a dataset node loading existing data must be one), feeding a
    # node that takes what it passes on (an updateVariable node passes its variable's value).
    sink, source = SINKS.get(spec_type, ({"type": "dataset", "dataset": "frames"}, "node.item"))
    spec = pipeline_spec({"node": written, "sink": sink}, [{"from": source, "to": "sink"}], root="node")
    resolver = Names()
    live = applied(build(spec, resolver=resolver))

    exported = export_pipeline(live, project="local", resolver=resolver, code_dir=None)
    assert exported.residue == []
    (tmp_path / exported.filename).write_text(exported.text)
    loaded = load([tmp_path / exported.filename])
    assert loaded.ok, [str(e) for e in loaded.errors]
    [spec_file] = loaded.specs

    again = build(spec_file.spec, live, resolver=resolver)
    keys = {v: k for k, v in again.keys.items()}
    assert essence(again.desired, keys=keys, owned=again.owned) == essence(live, keys=keys, owned=again.owned)
    found = diff_pipeline(again.desired, live, owned=again.owned, status=again.status,
                          reset_token=again.reset_token)
    assert found.actions == [Action.NO_OP], found.changes
    node = yaml.safe_load(exported.text)["spec"]["nodes"]["node"]
    assert {k: v for k, v in node.items() if k != "id"} == written
