"""Pipeline test files (`kind: PipelineTest`, beside the specs, e.g. `pipelines/tests/*.yaml`): their
models (the published `schemas/pipeline-test.schema.json`), finding them, and every check a file gets
before any case runs. `loopform test` (reconciler.pipeline_tests) runs them; the spec loader checks
them beside the specs (reconciler.spec.loader.checked_test_file), so `loopform validate` reports a
broken test file. Nothing here runs a case: no HTTP, no control plane.

A test file names one pipeline spec, the datasets a sandbox needs, and cases. Each case: the items it
uploads (they fire the pipeline's item triggers) or executes the pipeline with (`start: execute`),
the decisions people make in task nodes (an action per waiting item, in order), and what is expected
per input item: the nodes its cycle visited, the cycle's status, where items ended (dataset, folder)
with which metadata, and which node failed with what.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from reconciler.errors import SpecError
from reconciler.spec.messages import translate, vocabulary
from reconciler.spec.source import Expected, SourceDocument
from reconciler.spec.suggest import Hints
from reconciler.spec.values import pointer_escape

if TYPE_CHECKING:  # only named: its field names are no words of a test file (vocabulary)
    from reconciler.spec.models import PipelineSpec


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ItemInput(_Strict):
    """An item uploaded in the case (a file of `content`, default one byte)."""

    name: str = Field(min_length=1, description="File name.", examples=["cat.jpg"])
    dataset: str = Field(min_length=1, description="Dataset it is uploaded to.", examples=["photos"])
    folder: str = Field(default="/", description="Folder in the dataset.", examples=["/incoming"])
    metadata: dict[str, Any] = Field(default_factory=dict, description="User metadata (`metadata.user`).")
    content: str = Field(default="x", description="The file's text content.")
    file: str | None = Field(default=None, description="A file uploaded as the item's content instead of `content` "
                                                        "(a video, an image), relative to the test file.",
                             examples=["files/clip.mp4"])


class Decision(_Strict):
    """What a person does in a task node: this action on the items waiting there (all, or `item`)."""

    node: str = Field(min_length=1, description="Task node (its name in the pipeline).", examples=["label"])
    action: str = Field(min_length=1, description="Item status set, e.g. completed, discard.", examples=["completed"])
    item: str | None = Field(default=None, description="Only the item of this name.")


class ItemExpectation(_Strict):
    dataset: str | None = Field(default=None, description="Dataset the item is in.")
    folder: str | None = Field(default=None, description="Folder the item is in.")
    metadata: dict[str, Any] | None = Field(default=None, description="User metadata values (only these keys).")


class CycleExpectation(_Strict):
    visited: list[str] | None = Field(default=None, description="Node names with an execution, in first-visit order.")
    status: Literal["success", "failed", "in-progress"] | None = Field(default=None, description="The cycle's status.")
    failed: dict[str, str] | None = Field(
        default=None, description="Node name -> text its failure message contains.")
    pending: dict[str, str] | None = Field(
        default=None, description="Node name -> text its pending message contains (an ml node with no local "
                                  "runner: the cycle waits there).")


class Expect(_Strict):
    cycles: dict[str, CycleExpectation] = Field(
        default_factory=dict, description="Per input item name: the cycle it started.")
    items: dict[str, ItemExpectation | list[ItemExpectation]] = Field(
        default_factory=dict, description="Per item name: where it (or each copy, a list) ended.")
    variables: dict[str, Any] = Field(
        default_factory=dict, description="Pipeline variable values at the end (as `pipeline.variables` shows "
                                          "them; an item's value is its name).")


class Case(_Strict):
    name: str = Field(min_length=1)
    start: Literal["trigger", "execute"] = Field(
        default="trigger", description="Cycles start by the items' upload firing the pipeline's triggers, or "
                                       "`execute`: besides, one cycle per item executed from the root.")
    variables: dict[str, Any] = Field(
        default_factory=dict, description="Pipeline variable values set before the items are uploaded.")
    items: list[ItemInput] = Field(default_factory=list)
    decisions: list[Decision] = Field(default_factory=list)
    expect: Expect = Field(default_factory=Expect)


class ModelInput(_Strict):
    """A model made in every case's sandbox, with a local adapter that runs its ml nodes."""

    name: str = Field(min_length=1, description="Model name (what the spec's ml nodes name).", examples=["tagger"])
    adapter: str | None = Field(
        default=None, pattern=r"^[^:]+\.py:[A-Za-z_][A-Za-z0-9_]*$",
        description="FILE:CLASS, FILE relative to this file: a dtlpy model adapter class (BaseModelAdapter's "
                    "methods) that runs the model's functions locally.", examples=["adapters/tagger.py:Tagger"])


class PipelineTestFile(_Strict):
    """A file of tests for one pipeline spec."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="Loopform pipeline test")

    apiVersion: Literal["loopform/v1"]
    kind: Literal["PipelineTest"]
    pipeline: str = Field(min_length=1, description="The spec file, relative to this file.",
                          examples=["../video-frames.yaml"])
    name: str | None = Field(default=None, description="Which pipeline of the spec file the cases run (a file with "
                                                        "`forEach` makes one per entry); default: its `metadata.name`.",
                             examples=["customer-acme"])
    datasets: list[str] = Field(default_factory=list, description="Datasets made in every case's sandbox.")
    models: list[ModelInput] = Field(default_factory=list, description="Models made in every case's sandbox.")
    cases: list[Case] = Field(min_length=1)


def schema() -> dict[str, Any]:
    return PipelineTestFile.model_json_schema()


def find_test_files(paths: list[Path]) -> list[Path]:
    """The test files under `paths` (files as given; directories: their `*.yaml`/`*.yml` holding
    `kind: PipelineTest`, recursively)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            for candidate in sorted([*path.rglob("*.yaml"), *path.rglob("*.yml")]):
                if "kind: PipelineTest" in candidate.read_text(encoding="utf-8", errors="replace"):
                    found.append(candidate)
        else:
            found.append(path)
    return found


# What a test file is meant to hold, for the reader's messages about one that holds something else.
EXPECTED = Expected("a test file", "a PipelineTest file", "apiVersion, kind, pipeline, datasets, cases")

# The pipelines the spec file at a path defines (each `forEach` entry one; those that load without
# schema errors), or why that file is not read as one (a test file itself, outside the repository).
# The spec loader supplies it, as it loads specs (this module cannot import the loader, which
# imports this one).
Pipelines = Callable[[Path], "Sequence[PipelineSpec] | str"]


def check(path: Path, doc: SourceDocument, pipelines: Pipelines) -> tuple[PipelineTestFile | None, list[SpecError]]:
    """The test file read from `path` into `doc`, and every problem of it at once, each located:
    the reader's, the schema's, and what a case would only find when it runs (`_findings`)."""
    errors = list(doc.errors)
    test: PipelineTestFile | None = None
    if not doc.fatal and not errors:
        try:
            test = PipelineTestFile.model_validate(doc.data)
        except ValidationError as exc:
            errors += translate(exc, doc, words=_words())
    if test is not None:
        errors += _findings(path, test, doc, pipelines)
    return test, errors


@functools.cache
def _words() -> list[str]:
    """The field names of a test file: what an unknown field may have meant."""
    return vocabulary(sys.modules[__name__])


def _findings(path: Path, test: PipelineTestFile, doc: SourceDocument, pipelines: Pipelines) -> list[SpecError]:
    """What a valid test file gets wrong that a case would only find when it runs: a pipeline spec
    that is not there (or is a test file), node names the pipeline lacks, items uploaded to a dataset
    the sandbox does not make."""
    found = []
    spec_path = path.parent / test.pipeline
    names = None
    if not spec_path.is_file():
        found.append(SpecError(f"no pipeline spec {test.pipeline!r} beside this file", doc.locate("/pipeline")))
    else:
        defined = pipelines(spec_path)
        if isinstance(defined, str):
            found.append(SpecError(f"{test.pipeline!r} {defined}", doc.locate("/pipeline")))
        else:
            names = _node_names(defined, test.name)
    if names is not None:
        hints = Hints()
        for pointer, name in _named_nodes(test):
            if name not in names:
                found.append(SpecError(f"the pipeline has no node named {name!r}{hints.hint(name, sorted(names))}",
                                       doc.locate(pointer)))
    for c, case in enumerate(test.cases):
        for i, item in enumerate(case.items):
            if item.dataset not in test.datasets:
                found.append(SpecError(f"dataset {item.dataset!r} is not one the sandbox makes: list it under "
                                       "`datasets:`", doc.locate(f"/cases/{c}/items/{i}/dataset")))
    return found


def _node_names(defined: Sequence[PipelineSpec], name: str | None) -> set[str] | None:
    """The node names of the pipeline the spec defines (the one `name`d, of a forEach file), as
    compile names them; None when that is not one pipeline that loads (its own problems show when
    a case applies it)."""
    chosen = [spec for spec in defined if name is None or spec.metadata.name == name]
    if len(chosen) != 1:
        return None
    return {node.name or key for key, node in chosen[0].spec.nodes.items()}


def _named_nodes(test: PipelineTestFile) -> Iterator[tuple[str, str]]:
    """(pointer, node name) of every node a test file names: decisions, visited and failed nodes."""
    for c, case in enumerate(test.cases):
        for d, decision in enumerate(case.decisions):
            yield f"/cases/{c}/decisions/{d}/node", decision.node
        for item, cycle in case.expect.cycles.items():
            base = f"/cases/{c}/expect/cycles/{pointer_escape(item)}"
            for v, name in enumerate(cycle.visited or []):
                yield f"{base}/visited/{v}", name
            for name in cycle.failed or {}:
                yield f"{base}/failed/{pointer_escape(name)}", name
