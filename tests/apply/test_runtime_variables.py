"""A variable an updateVariable node sets is the running pipeline's state: once the pipeline has
run, a plan neither reports its new value as drift nor sends the spec's value back (the spec's value
is the first one); apply of another change keeps the value the pipeline learned."""

from __future__ import annotations

from pathlib import Path

import pytest
from harness import isolate

from reconciler.connection import open_embedded
from reconciler.library import apply, plan

SPEC = """\
apiVersion: loopform/v1
kind: Pipeline
metadata: {{name: learner, project: local, description: {description}}}
spec:
  variables:
    - {{name: best, type: String, value: first}}
    - {{name: threshold, type: Float, value: 0.5}}
  nodes:
    inbox: {{type: dataset, dataset: photos}}
    remember:
      type: updateVariable
      inputs: [{{name: best, type: Item}}]
      outputs: [{{name: best, type: Item}}]
  connections:
    - {{from: inbox, to: remember.best}}
"""


def test_a_variable_an_update_variable_node_sets_is_kept_by_plan_and_apply(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate(tmp_path, monkeypatch)
    specs = tmp_path / "pipelines"
    specs.mkdir()
    (specs / "learner.yaml").write_text(SPEC.format(description="one"))
    with open_embedded(tmp_path / "state.db") as backend:
        assert apply(plan([specs], backend, default_project="local"), backend).ok
        store = backend.control_plane.store
        (pipeline,) = [p for p in store.pipelines_in({backend.project("local").id}) if p["name"] == "learner"]

        def learned(doc: dict) -> dict:  # what running the node does (the engine's set_variables)
            return {**doc, "variables": [{**v, "value": "item-42"} if v["name"] == "best" else
                                         {**v, "value": 0.9} for v in doc["variables"]]}

        store.update_pipeline(pipeline["id"], learned)
        (found,) = plan([specs], backend, default_project="local").pipelines
        # `threshold` is no node's to set: its live change is drift, and the plan puts it back
        paths = [c.path for c in found.changes]
        assert any("threshold" in p for p in paths) and not any("best" in p for p in paths), paths
        (specs / "learner.yaml").write_text(SPEC.format(description="two"))
        assert apply(plan([specs], backend, default_project="local"), backend).ok
        after = {v["name"]: v["value"] for v in store.pipeline(pipeline["id"])["variables"]}
        assert after["best"] == "item-42" and after["threshold"] == 0.5
        assert not plan([specs], backend, default_project="local").has_changes
