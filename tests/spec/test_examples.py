"""The example specs and the hand-written real templates validate, and hold what Dataloop holds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from spec_helpers import FIXTURES, REAL_PIPELINES, REPO

from reconciler.spec import load
from reconciler.spec.graph import edges, root_key
from reconciler.spec.models import CodeNode
from reconciler.nodes import node_ports


def test_examples_validate_without_warnings() -> None:
    result = load([REPO / "pipelines"])
    assert result.errors == []
    assert sorted(s.spec.metadata.name for s in result.specs) == [
        "customer-acme", "customer-globex", "customer-initech", "model-review", "nightly-quality",
        "scan-labeling", "street-labeling", "video-frames",
    ]
    assert {s.spec.metadata.project for s in result.specs} == {"local"}


def test_a_clean_load_never_reads_line_marks() -> None:
    """Line marks are read only for a message: the fast path leaves them to the event reader, which
    costs as much as the parse again (a plan of 300 module users once spent half its load there)."""
    result = load([REPO / "pipelines"])
    assert result.errors == []
    docs = [s.source for s in result.specs]
    docs += [graft.doc for doc in docs for graft in doc.grafts.values()]  # the modules' own files
    assert any(doc.path.endswith("label-review.yaml") for doc in docs)
    assert [doc.path for doc in docs if doc.marks_read] == []


def test_example_code_sources_are_read_and_digested() -> None:
    result = load([REPO / "pipelines" / "video-frames.yaml"])
    (spec_file,) = result.specs
    assert isinstance(spec_file.spec.spec.nodes["cut-frames"], CodeNode)
    expected = (REPO / "pipelines" / "snippets" / "cut_frames.py").read_text()
    assert spec_file.code == {"cut-frames": expected}
    assert len(spec_file.digest) == 64


def test_digest_covers_code_files(tmp_path: Path) -> None:
    spec_text = (REPO / "pipelines" / "video-frames.yaml").read_text()
    (tmp_path / "snippets").mkdir()
    (tmp_path / "video-frames.yaml").write_text(spec_text)
    (tmp_path / "snippets" / "cut_frames.py").write_text("v1")
    first = load([tmp_path]).specs[0].digest
    (tmp_path / "snippets" / "cut_frames.py").write_text("v2")
    assert load([tmp_path]).specs[0].digest != first


def test_one_load_finds_each_directory_s_project_root_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Every code file is checked against its spec's project root; the specs of one directory
    # share it, and each lookup walks up the tree.
    import reconciler.spec.loader as loader

    spec_text = (REPO / "pipelines" / "video-frames.yaml").read_text()
    (tmp_path / "snippets").mkdir()
    (tmp_path / "snippets" / "cut_frames.py").write_text("def run(item):\n    return item\n")
    for i in range(3):
        (tmp_path / f"video-{i}.yaml").write_text(spec_text.replace("name: video-frames", f"name: video-{i}", 1))
    looked_up: list[Path] = []
    real_project_root = loader.project_root
    monkeypatch.setattr(loader, "project_root", lambda path: looked_up.append(path) or real_project_root(path))

    result = load([tmp_path])

    assert result.errors == [] and sorted(s.code["cut-frames"] for s in result.specs) == ["def run(item):\n    return item\n"] * 3
    assert len(looked_up) == 1


def test_onboarding_example_shape() -> None:
    (spec_file,) = load([REPO / "pipelines" / "video-frames.yaml"]).specs
    spec = spec_file.spec
    assert root_key(spec) == "videos"
    routed = {(e.src, e.action, e.tgt) for e in edges(spec)}
    assert {("cut-frames", None, "label-a"), ("cut-frames", None, "label-b")} <= routed
    assert {("label-a", "complete", "review"), ("label-b", "discard", "discarded")} <= routed


def test_hand_written_fixtures_validate() -> None:
    result = load([FIXTURES])
    assert result.errors == []
    assert len(result.specs) == 2


@pytest.mark.skipif(not REAL_PIPELINES.is_dir(), reason="the shared fixtures are not present")
@pytest.mark.parametrize(
    ("spec_name", "template"),
    [
        ("consensus-with-agreement.yaml", "labeling_workflow_consensus_with_agreement.json"),
        ("model-agreement.yaml", "labeling_workflow_model_agreement.json"),
    ],
)
def test_hand_written_spec_matches_the_real_template(spec_name: str, template: str) -> None:
    """Same nodes (ids, names, types), same ports (ids, types, actions), same connections."""
    real = json.loads((REAL_PIPELINES / template).read_text())["components"]["pipelineTemplates"][0]
    (spec_file,) = load([FIXTURES / spec_name]).specs
    spec = spec_file.spec
    platform_type = {"dataset": "storage"}

    nodes = {n["id"]: n for n in real["nodes"]}
    by_key = {key: node.id for key, node in spec.spec.nodes.items()}
    assert set(by_key.values()) == set(nodes)
    port_ids: dict[tuple[str, str, str], str] = {}
    for key, node in spec.spec.nodes.items():
        live = nodes[node.id]
        assert node.display_name(key) == live["name"]
        assert platform_type.get(node.type, node.type) == live["type"]
        inputs, outputs = node_ports(node)
        for io, ports, live_ports in (("in", inputs, live["inputs"]), ("out", outputs, live["outputs"])):
            assert [(p.id, p.name, p.type, p.actions) for p in ports] == [
                (p["portId"], p["name"], p["type"], p.get("actions")) for p in live_ports
            ]
            for port in ports:
                assert port.id is not None
                port_ids[(key, io, port.name)] = port.id

    wanted = sorted(
        (c["src"]["nodeId"], c["src"]["portId"], c["tgt"]["nodeId"], c["tgt"]["portId"], c.get("action"))
        for c in real["connections"]
    )
    got = sorted(
        (by_key[e.src], port_ids[(e.src, "out", e.src_port)], by_key[e.tgt],
         port_ids[(e.tgt, "in", e.tgt_port)], e.action)
        for e in edges(spec)
    )
    assert got == wanted
    real_root = next(s["nodeId"] for s in real["startNodes"] if s["type"] == "root")
    assert by_key[root_key(spec)] == real_root
