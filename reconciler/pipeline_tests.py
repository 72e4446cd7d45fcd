"""`loopform test`: unit tests for pipelines, run in a fresh embedded sandbox per case.

The test files (their format and checks: reconciler.test_files) are read here as the spec loader
reads them beside the specs, so `loopform test` and `loopform validate` report the same problems.
The sandbox is an embedded control plane in a temporary directory: seeded with the datasets, the
spec applied to it (plan + apply, as the CLI does), the items uploaded over HTTP, the engine drained
between steps (never a sleep). The comparison covers only what a case expects; a failure shows
expected and actual as a unified diff.
"""

from __future__ import annotations

import difflib
import json
import posixpath
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml

from reconciler.errors import SpecErrors
from reconciler.spec.loader import checked_test_file
from reconciler.spec.source import read_source
from reconciler.test_files import EXPECTED, Case, Expect, PipelineTestFile

Doc = dict[str, Any]


def load_test_file(path: Path) -> PipelineTestFile:
    """The test file at `path`, read like a spec (the same safe reader and limits); every problem
    at once as `file:line:col: message` (SpecErrors)."""
    doc, _ = read_source(path, shown=str(path), expected=EXPECTED)
    test, errors = checked_test_file(path, doc)
    if errors:
        raise SpecErrors(errors)
    assert test is not None
    return test


# -- running ----------------------------------------------------------------------------------------

@dataclass
class CaseResult:
    file: Path
    case: str
    passed: bool
    seconds: float
    diff: str = ""
    error: str | None = None
    sandbox: Path | None = None

    @property
    def node_id(self) -> str:
        return f"{self.file}::{self.case}"


@dataclass
class _Sandbox:
    plane: Any
    session: requests.Session
    base: str
    pipeline: Doc
    items: dict[str, str] = field(default_factory=dict)  # input item name -> id

    def call(self, method: str, path: str, **kw: Any) -> Any:
        response = self.session.request(method, self.base + path, timeout=60, **kw)
        if response.status_code != 200:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response.json() if response.content else None

    def settle(self) -> None:
        self.plane.engine.drain()

    def cycles(self) -> list[Doc]:
        return list(self.plane.store.executions_of(self.pipeline["id"]))


@contextmanager
def _sandbox(test: PipelineTestFile, file: Path, keep: Path | None) -> Iterator[_Sandbox]:
    from reconciler.connection import open_embedded
    from reconciler.library import apply, plan
    from reconciler.server.seed import ProjectSeed, SeedFile, apply_seed

    folder = Path(tempfile.mkdtemp(prefix="loopform-test-")) if keep is None else keep
    backend = open_embedded(folder / "state.db")
    try:
        plane = backend.control_plane
        assert plane is not None
        spec_path = (file.parent / test.pipeline).resolve()
        spec = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
        project = ((spec or {}).get("metadata") or {}).get("project") or "local"
        seeded = {"name": project, "datasets": test.datasets,
                  "models": [m.model_dump(exclude_none=True) for m in test.models]}
        apply_seed(plane, SeedFile(projects=[ProjectSeed.model_validate(seeded)]), base_dir=file.parent)
        result = apply(plan([spec_path], backend), backend)
        if not result.ok:
            raise RuntimeError(f"applying {test.pipeline} to the sandbox failed")
        name = test.name or spec["metadata"]["name"]
        found = [p for p in plane.store.pipelines_in({pid for pid in _project_ids(plane, project)})
                 if p["name"] == name]
        if len(found) != 1:
            raise RuntimeError(f"{test.pipeline} makes no pipeline named {name!r}" + (
                "" if test.name else " (a file with forEach makes several: name one with `name:`)"))
        (pipeline,) = found
        with requests.Session() as session:
            session.headers["authorization"] = f"Bearer {plane.mint_token()}"
            yield _Sandbox(plane=plane, session=session, base=plane.engine.api_url(), pipeline=pipeline)
    finally:
        backend.close()
        if keep is None:
            import shutil

            shutil.rmtree(folder, ignore_errors=True)


def _project_ids(plane: Any, name: str) -> set[str]:
    return {p["id"] for p in plane.store.projects_named(name)}


def _dataset_id(box: _Sandbox, name: str) -> str:
    found = [d for d in box.plane.store.resources("dataset", project_ids={box.pipeline["projectId"]}) if d["name"] == name]
    if not found:
        raise RuntimeError(f"no dataset {name!r} in the sandbox (list it under `datasets:`)")
    return str(found[0]["id"])


def _file_content(here: Path, name: str) -> bytes:
    try:
        return (here / name).read_bytes()
    except OSError:
        raise RuntimeError(f"cannot read the item file {name!r} (a path relative to the test file)") from None


def _play(box: _Sandbox, case: Case, here: Path) -> None:
    if case.variables:
        listed = box.pipeline.get("variables") or []
        unknown = sorted(set(case.variables) - {v.get("name") for v in listed})
        if unknown:
            raise RuntimeError(f"the pipeline has no variable {unknown[0]!r}")
        box.call("PATCH", f"/pipelines/{box.pipeline['id']}/variables", json={"variables": [
            {**v, "value": case.variables[v["name"]]} if v.get("name") in case.variables else v for v in listed]})
    for item in case.items:
        content = _file_content(here, item.file) if item.file is not None else item.content.encode()
        fields = {"type": "file", "path": posixpath.join(item.folder, item.name),
                  "metadata": json.dumps({"user": item.metadata})}
        made = box.call("POST", f"/datasets/{_dataset_id(box, item.dataset)}/items",
                        files={"file": (item.name, content)}, data=fields)
        box.items[item.name] = made["id"]
        if case.start == "execute":
            box.call("POST", f"/pipelines/{box.pipeline['id']}/execute", json={"pipeline": {"input": {"item": made["id"]}}})
    box.settle()
    nodes = {n["name"]: n for n in box.pipeline["nodes"]}
    for decision in case.decisions:
        node = nodes.get(decision.node)
        if node is None:
            raise RuntimeError(f"the pipeline has no node named {decision.node!r}")
        tasks = [t for t in box.plane.store.resources("task", project_ids={box.pipeline["projectId"]})
                 if (t["metadata"].get("system") or {}).get("nodeId") == node["id"]]
        if not tasks:
            raise RuntimeError(f"node {decision.node!r} has no task")
        wanted = {e["input"].get("item") for c in box.cycles() for e in c["executions"].get(node["id"], [])
                  if e["status"] == "in-progress"}
        if decision.item is not None:
            wanted &= {i["id"] for i in box.plane.store.resources("item") if i["name"] == decision.item}
        if wanted:
            box.call("POST", f"/assignments/items/tasks/{tasks[0]['id']}/status",
                     json={"itemIds": sorted(wanted), "statusPayload": {"operation": "create", "status": decision.action}})
        box.settle()


def _actual(box: _Sandbox, expect: Expect) -> tuple[Doc, Doc]:
    names = {n["id"]: n["name"] for n in box.pipeline["nodes"]}
    datasets = {d["id"]: d["name"] for d in box.plane.store.resources("dataset")}
    expected: Doc = {"cycles": {}, "items": {}}
    actual: Doc = {"cycles": {}, "items": {}}
    for item_name, wanted in expect.cycles.items():
        item_id = box.items.get(item_name)
        cycle = next((c for c in box.cycles() if (c.get("input") or {}).get("item") == item_id), None)
        shown: Doc = {}
        if wanted.visited is not None:
            shown["visited"] = [names.get(n["id"], n["id"]) for n in cycle["nodes"]] if cycle else []
        if wanted.status is not None:
            shown["status"] = cycle["status"] if cycle else "(no cycle)"
        want = wanted.model_dump(exclude_none=True)
        for status, wanted_messages in (("failed", wanted.failed), ("pending", wanted.pending)):
            if wanted_messages is None:
                continue
            messages = {names.get(e["pipeline"]["nodeId"]): str(e["latestStatus"].get("message", ""))
                        for listed in (cycle or {}).get("executions", {}).values() for e in listed
                        if e["status"] == status}
            shown[status] = {node: (text if text in messages.get(node, "") else messages.get(node, f"(not {status})"))
                             for node, text in wanted_messages.items()}
        expected["cycles"][item_name] = want
        actual["cycles"][item_name] = shown
    for item_name, where in expect.items.items():
        listed = where if isinstance(where, list) else [where]
        found = sorted((i for i in box.plane.store.resources("item") if i["name"] == item_name and i["type"] == "file"),
                       key=lambda i: (datasets.get(i["datasetId"], ""), i["dir"]))
        want_docs = [w.model_dump(exclude_none=True) for w in listed]
        got_docs = []
        for index, item in enumerate(found):
            keys = want_docs[min(index, len(want_docs) - 1)] if want_docs else {}
            user = (item["metadata"].get("user") or {})
            doc = {"dataset": datasets.get(item["datasetId"]), "folder": item["dir"],
                   "metadata": {k: user.get(k) for k in keys.get("metadata", {})}}
            got_docs.append({k: v for k, v in doc.items() if k in keys})
        expected["items"][item_name] = want_docs if isinstance(where, list) else want_docs[0]
        actual["items"][item_name] = got_docs if isinstance(where, list) else (got_docs[0] if len(got_docs) == 1 else got_docs)
    if expect.variables:
        current = box.plane.store.pipeline(box.pipeline["id"]) or box.pipeline
        values = {v.get("name"): v.get("value") for v in current.get("variables") or []}
        names = {i["id"]: i["name"] for i in box.plane.store.resources("item")}
        expected["variables"] = dict(expect.variables)
        def by_name(value: Any) -> Any:  # an item id as the item's name
            return names.get(value, value) if isinstance(value, str) else value

        actual["variables"] = {name: by_name(values[name]) if name in values else "(no variable)"
                               for name in expect.variables}
    return expected, actual


def _diff(expected: Doc, actual: Doc) -> str:
    dump = lambda d: yaml.safe_dump(d, sort_keys=True, default_flow_style=False).splitlines()  # noqa: E731
    return "\n".join(difflib.unified_diff(dump(expected), dump(actual), "expected", "actual", lineterm=""))


def run_case(file: Path, test: PipelineTestFile, case: Case, *, keep: Path | None = None) -> CaseResult:
    started = time.monotonic()
    try:
        with _sandbox(test, file, keep) as box:
            _play(box, case, file.parent)
            expected, actual = _actual(box, case.expect)
    except Exception as exc:  # noqa: BLE001 - a case that cannot run is reported, the others still run
        return CaseResult(file, case.name, passed=False, seconds=time.monotonic() - started,
                          error=f"{type(exc).__name__}: {exc}", sandbox=keep)
    passed = expected == actual
    return CaseResult(file, case.name, passed=passed, seconds=time.monotonic() - started,
                      diff="" if passed else _diff(expected, actual), sandbox=keep)


def junit_xml(results: list[CaseResult]) -> str:
    from xml.etree import ElementTree as ET

    suite = ET.Element("testsuite", name="loopform", tests=str(len(results)),
                       failures=str(sum(1 for r in results if not r.passed and r.error is None)),
                       errors=str(sum(1 for r in results if r.error is not None)),
                       time=f"{sum(r.seconds for r in results):.3f}")
    for result in results:
        case = ET.SubElement(suite, "testcase", classname=str(result.file), name=result.case, time=f"{result.seconds:.3f}")
        if result.error is not None:
            ET.SubElement(case, "error", message=result.error).text = result.error
        elif not result.passed:
            ET.SubElement(case, "failure", message="expectations not met").text = result.diff
    return ET.tostring(suite, encoding="unicode")
