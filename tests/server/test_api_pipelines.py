"""Pipeline CRUD over real HTTP: fidelity rules of reference sections 3-5."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests
from harness import cli, isolate

if TYPE_CHECKING:
    from conftest import Api


def test_create_keeps_client_ids_and_fills_server_fields(api: Api) -> None:
    sent = api.sample("fidelity")
    got = api.ok(api.post("/pipelines", sent))
    assert len(got["id"]) == 24 and int(got["id"], 16) >= 0
    assert got["projectId"] == api.project_id and got["status"] == "Created"
    # the platform names the composition at create; the server's own change count stays inside
    assert len(got["compositionId"]) == 24 and "revision" not in got
    assert got["url"] == f"{api.server.base_url}/pipelines/{got['id']}"
    assert [n["id"] for n in got["nodes"]] == [n["id"] for n in sent["nodes"]]
    assert [[p["portId"] for p in n["inputs"] + n["outputs"]] for n in got["nodes"]] == [
        [p["portId"] for p in n["inputs"] + n["outputs"]] for n in sent["nodes"]
    ]
    # every node has a position; given positions are kept
    assert got["nodes"][0]["metadata"]["position"] == {"x": 100, "y": 87, "z": 0}
    assert set(got["nodes"][1]["metadata"]["position"]) == {"x", "y", "z"}
    # condition: a JSON string, "{}" when the client omitted it
    assert got["connections"][0]["condition"] == "{}"
    assert json.loads(got["connections"][1]["condition"]) == {"metadata.system.mimetype": "image*"}
    start = got["startNodes"][0]
    # start-node ids are the server's, UUIDs as in the platform's exports
    assert start["nodeId"] == api.node_ids["videos"] and uuid.UUID(start["id"]).version == 4
    assert api.ok(api.get(f"/pipelines/{got['id']}")) == got


def test_create_requires_name_and_project(api: Api) -> None:
    assert api.post("/pipelines", {"projectId": api.project_id}).status_code == 400
    assert api.post("/pipelines", {"name": "x"}).status_code == 400
    bad = api.post("/pipelines", {"name": "x", "projectId": api.project_id, "nodes": [{"name": "no id"}]})
    assert bad.status_code == 400 and "nodes/0/id" in bad.json()["message"]
    assert api.post("/pipelines", [1, 2]).status_code == 400
    malformed = api.call("POST", "/pipelines", data=b"{not json", headers={"content-type": "application/json"})
    assert malformed.status_code == 400 and set(malformed.json()) == {"status", "message"}
    nan = api.call("POST", "/pipelines", data=b'{"name": "x", "projectId": "p", "description": NaN}',
                   headers={"content-type": "application/json"})
    assert nan.status_code == 400 and "NaN" in nan.json()["message"]


def test_duplicate_name_in_a_project_conflicts(api: Api) -> None:
    api.create_pipeline("twice")
    again = api.post("/pipelines", {"name": "twice", "projectId": api.project_id})
    assert again.status_code == 409 and again.json() == {"status": 409, "message": again.json()["message"]}


def test_patch_is_the_whole_document_and_ignores_read_only_fields(api: Api) -> None:
    created = api.ok(api.post("/pipelines", api.sample("patched")))
    body = dict(created)
    body["nodes"] = created["nodes"][:2]
    body["connections"] = created["connections"][:1]
    body.update(status="Installed", creator="mallory@example.com", createdAt="1999-01-01T00:00:00Z",
                projectId="someone-else", compositionId="c0ffee", revision=99, unknownKey=1,
                description="now with two nodes")
    got = api.ok(api.patch(f"/pipelines/{created['id']}", body))
    assert [n["name"] for n in got["nodes"]] == ["videos", "cut"]
    assert len(got["connections"]) == 1
    assert got["status"] == "Created" and got["creator"] == created["creator"]
    assert got["createdAt"] == created["createdAt"] and got["projectId"] == created["projectId"]
    assert got["compositionId"] == created["compositionId"] and "unknownKey" not in got
    assert got["description"] == "now with two nodes"
    assert "revision" not in got and got["updatedAt"] >= created["updatedAt"]
    assert got["startNodes"] == created["startNodes"]  # round-tripped start node ids are kept


def test_patch_settings_only_tolerates_the_sdk_bug(api: Api) -> None:
    created = api.ok(api.post("/pipelines", api.sample("settings")))
    settings = {"defaultResumeOption": "terminateExistingCycles",
                "keepTriggersActive": "terminateExistingCycles", "lastUpdate": "terminateExistingCycles"}
    got = api.ok(api.patch(f"/pipelines/{created['id']}", {"settings": settings}))
    assert got["settings"] == settings
    assert got["nodes"] == created["nodes"]


def test_patch_variables_replaces_them_and_keeps_ids_by_name(api: Api) -> None:
    created = api.create_pipeline("vars")
    pid = created["id"]
    first = api.ok(api.patch(f"/pipelines/{pid}/variables", {"variables": [
        {"name": "threshold", "value": 0.5, "type": "Float", "reference": pid}]}))
    var = first["variables"][0]
    assert var["reference"] == pid and var["value"] == 0.5 and var["id"]
    second = api.ok(api.patch(f"/pipelines/{pid}/variables", {"variables": [
        {"name": "threshold", "value": 0.7, "type": "Float", "reference": pid}]}))
    assert second["variables"][0]["id"] == var["id"] and second["variables"][0]["value"] == 0.7
    assert api.patch(f"/pipelines/{pid}/variables", {"variables": "nope"}).status_code == 400


def test_rename_to_a_taken_name_conflicts(api: Api) -> None:
    api.create_pipeline("taken")
    other = api.create_pipeline("other")
    response = api.patch(f"/pipelines/{other['id']}", {"name": "taken"})
    assert response.status_code == 409
    assert api.ok(api.get(f"/pipelines/{other['id']}"))["name"] == "other"


def test_delete_then_not_found(api: Api) -> None:
    created = api.create_pipeline("doomed")
    response = api.delete(f"/pipelines/{created['id']}")
    assert response.status_code == 200
    missing = api.get(f"/pipelines/{created['id']}")
    assert missing.status_code == 404 and missing.json()["status"] == 404
    assert api.delete(f"/pipelines/{created['id']}").status_code == 404
    assert api.patch(f"/pipelines/{created['id']}", {"name": "x"}).status_code == 404


def test_unknown_route_and_method(api: Api) -> None:
    assert api.get("/no/such/route").status_code == 404
    assert api.call("PUT", "/pipelines/query").status_code == 405


def test_request_log_counts_writes(api: Api) -> None:
    log = api.server.control_plane.request_log
    created = api.create_pipeline("logged")
    log.clear()
    api.create_pipeline("logged-too")
    api.get(f"/pipelines/{created['id']}")
    api.post("/pipelines/query", {"filter": {}})
    api.patch(f"/pipelines/{created['id']}", {"description": "d"})
    assert [(e.method, e.path.rsplit("/", 1)[-1], e.status) for e in log.writes()] == [
        ("POST", "pipelines", 200), ("PATCH", created["id"], 200)]
    assert len(log) == 5  # the project lookup inside create_pipeline, then the four calls


def test_lookups_and_validate_are_not_writes(api: Api) -> None:
    log = api.server.control_plane.request_log
    log.clear()
    api.post("/datasets/query", {"filter": {}, "resource": "datasets"})
    api.post("/ml/models/query", {"filter": {}, "resource": "models"})
    api.post("/query/faas", {"filter": {}, "resource": "services"})
    api.post("/pipelines/validate", {"name": "x"})
    api.post("/pipelines/query", {"filter": {}})
    assert len(log) == 5 and log.writes() == []


def test_patch_without_server_owned_values_keeps_them(api: Api) -> None:
    # Loopform's client may send neither positions nor start-node ids: the stored ones stay.
    created = api.ok(api.post("/pipelines", api.sample("stable")))
    body = {"nodes": [dict(n, metadata={k: v for k, v in n["metadata"].items() if k != "position"})
                      for n in created["nodes"]],
            "startNodes": [{"nodeId": s["nodeId"], "type": s["type"]} for s in created["startNodes"]]}
    got = api.ok(api.patch(f"/pipelines/{created['id']}", body))
    assert [n["metadata"]["position"] for n in got["nodes"]] == [
        n["metadata"]["position"] for n in created["nodes"]]
    assert got["startNodes"] == created["startNodes"]


def test_malformed_ids_and_names_in_a_patch_are_400_not_500(api: Api) -> None:
    created = api.ok(api.post("/pipelines", api.sample("odd")))
    pid = created["id"]
    for bad in ({}, [], [1], None, 5):
        nodes = [dict(created["nodes"][0], id=bad), *created["nodes"][1:]]
        starts = [dict(created["startNodes"][0], id=bad)]
        for body in ({"nodes": nodes}, {"startNodes": starts},
                     {"variables": [{"name": bad, "type": "String", "value": "v"}]}):
            response = api.patch(f"/pipelines/{pid}", body)
            if not bad and "startNodes" in body:
                assert response.status_code == 200, response.text  # an empty id: the server's stays
                assert response.json()["startNodes"] == created["startNodes"]
                continue
            assert response.status_code == 400, (body, response.text)
            assert response.json()["message"].startswith("Invalid pipeline document")
        variables = api.patch(f"/pipelines/{pid}/variables", {"variables": [{"name": bad, "value": 1}]})
        assert variables.status_code == 400, variables.text
    assert api.ok(api.get(f"/pipelines/{pid}"))["nodes"] == created["nodes"]


def test_the_console_page_names_only_commands_that_exist(api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    page = requests.get(f"{api.server.root_url}/projects/{api.project_id}/pipelines/abc", timeout=30)
    assert page.status_code == 200
    named = re.findall(r"<code>loopform ([a-z-]+)((?: [A-Z]+| --[a-z-]+)*)</code>", page.text)
    assert len(named) == 3, page.text
    isolate(tmp_path, monkeypatch)
    for command, args in named:
        # Run as written (NAME standing for a pipeline that is not there): not a usage error (2).
        argv = [command, *[("flow" if a == "NAME" else a) for a in args.split()]]
        assert cli(*argv).code in (0, 1), argv
        capsys.readouterr()
        assert cli(command, "--help").code == 0
        positionals = re.sub(r"\[[^\]]*\]", "", capsys.readouterr().out.split("\n\n")[0])  # options dropped
        assert ("NAME" in positionals) == ("NAME" in args), (command, positionals)  # `show FILE` is no `show NAME`
    assert cli("no-such-command").code == 2  # what a command that does not exist gives
