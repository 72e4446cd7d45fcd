"""Scenario harness: a real local control plane over HTTP, the CLI as users run it, golden files.

Each scenario applies the base spec, changes one thing (the spec, or the live pipeline through
another client), then runs `loopform plan` and `loopform plan --json` and compares both with
`golden/<scenario>.txt|.json`. `UPDATE_GOLDEN=1` rewrites the golden files. Ids and timestamps the
server makes up are masked so golden output is deterministic.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from goldenfile import check_golden
from harness import Run, cli, isolate, serve_for_cli  # cli: the scenario modules import it from here

from reconciler.apply import apply_plan
from reconciler.client import ApiSession, RestBackend
from reconciler.planner import make_plan
from reconciler.server.testing import ServerHandle
from reconciler.spec import load
from reconciler.spec_set import find_spec_set

GOLDEN = Path(__file__).resolve().parent / "golden"

BASE_SPEC: dict[str, Any] = yaml.safe_load("""
apiVersion: loopform/v1
kind: Pipeline
metadata: {name: frames, project: local, description: Label frames and review them}
spec:
  resetToken: r1
  variables: [{name: threshold, type: Float, value: 0.5}]
  nodes:
    videos:
      type: dataset
      dataset: raw-videos
      trigger: {event: {resource: Item, actions: [Created], filter: {metadata.system.mimetype: video*}}}
    cut: {type: code, code: "def run(item):\\n    return item\\n"}
    label: {type: task, task: {dataset: frames, recipe: default, priority: medium}}
    review: {type: task, task: {type: qa, dataset: frames}}
    done: {type: dataset, dataset: frames, folder: /done}
  connections:
    - {from: videos, to: cut}
    - {from: cut, to: label}
    - {from: label, action: complete, to: review}
    - {from: review, action: approve, to: done, filter: {metadata.user.ok: true}}
""")

_MASKS = [
    (re.compile(r"\b[0-9a-f]{64}\b"), "<sha256>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<uuid>"),
    (re.compile(r"\b[0-9a-f]{24}\b"), "<id>"),
]


def mask(text: str) -> str:
    for pattern, placeholder in _MASKS:
        text = pattern.sub(placeholder, text)
    return text


def golden_json(out: str) -> str:
    """The plan JSON without what varies between runs: timestamps, the server URL, the spec set's
    directory, full documents."""
    data = json.loads(out)
    data.pop("created_at")
    data.pop("backend")
    data.pop("spec_set")  # the scenario's directory (no repository, no name in loopform.yaml)
    for p in data["pipelines"]:
        p.pop("desired", None)  # the full API document: covered by the compile tests
    return mask(json.dumps(data, indent=2, sort_keys=False)) + "\n"


class World:
    """The working directory of one scenario: specs under pipelines/, a served control plane."""

    def __init__(self, root: Path, server: ServerHandle) -> None:
        self.root = root
        self.server = server
        self.specs = root / "pipelines"
        self.specs.mkdir()

    def backend(self) -> RestBackend:
        return RestBackend(ApiSession(self.server.base_url, self.server.token), label="scenario")

    def write(self, data: dict[str, Any], name: str = "frames.yaml") -> None:
        (self.specs / name).write_text(yaml.safe_dump(data, sort_keys=False))

    def apply(self) -> None:
        """Converge live to the current specs (through the library: the apply command is D's)."""
        backend = self.backend()
        try:
            result = load([self.specs])
            assert result.ok, [str(e) for e in result.errors]
            plan = make_plan(result.specs, backend, default_project="local", prune=True,
                             spec_set=find_spec_set(Path.cwd(), [self.specs]))
            outcome = apply_plan(plan, backend, on_event=lambda event: None)
            assert all(r.outcome.value in ("done", "unchanged") for r in outcome.results), outcome
        finally:
            backend.close()

    def plan(self, name: str, *extra: str) -> tuple[Run, Run]:
        """`plan` text and JSON, checked against golden/<name>.txt and .json."""
        text = cli("plan", "pipelines", "--detailed-exitcode", *extra)
        as_json = cli("plan", "pipelines", "--json", *extra)
        assert text.code in (0, 2), text.err
        assert as_json.code == 0, as_json.err
        check_golden(GOLDEN / f"{name}.txt", mask(text.out))
        check_golden(GOLDEN / f"{name}.json", golden_json(as_json.out))
        return text, as_json


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    isolate(tmp_path, monkeypatch)
    with serve_for_cli(tmp_path / "served.db", monkeypatch) as server:
        w = World(tmp_path, server)
        w.write(BASE_SPEC)
        w.apply()
        yield w
