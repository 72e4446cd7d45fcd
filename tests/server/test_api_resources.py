"""Name lookups with dtlpy's routes, creation through them, and provisioning (sandbox vs strict)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
import requests

if TYPE_CHECKING:
    from conftest import Api

DATASET_ID = "5f0000000000000000000001"


def _by_name_query(resource: str, name: str, project_id: str) -> dict[str, Any]:
    # The body dtlpy's Filters.prepare() builds for `project.<things>.get(<thing>_name=...)`.
    return {"filter": {"$and": [{"name": name}, {"projectId": project_id}]}, "page": 0,
            "pageSize": 1000, "resource": resource}


def test_provision_then_find_each_kind_by_dtlpy_routes(api: Api) -> None:
    pid = api.project_id
    for kind, name, rid, scope in [
        ("dataset", "frames", DATASET_ID, None),
        ("recipe", "default", "5f0000000000000000000002", DATASET_ID),
        ("model", "yolo", "5f0000000000000000000003", None),
        ("service", "cutter", "5f0000000000000000000004", None),
    ]:
        body = {"kind": kind, "name": name, "id": rid, "projectId": pid, "scope": scope}
        first = api.ok(api.post("/loopform/provision", body))
        assert first["id"] == rid
        assert api.ok(api.post("/loopform/provision", body))["id"] == rid  # idempotent

    datasets = api.ok(api.post("/datasets/query", {
        "filter": {"$and": [{"name": "frames"}]}, "page": 0, "pageSize": 1000,
        "resource": "datasets", "context": {"projects": [pid]}}))
    assert [d["id"] for d in datasets["items"]] == [DATASET_ID]
    dataset = api.ok(api.get(f"/datasets/{DATASET_ID}"))
    assert dataset["metadata"]["system"]["recipes"] == ["5f0000000000000000000002"]
    recipe = api.ok(api.get("/recipes/5f0000000000000000000002"))
    assert recipe["title"] == "default" and recipe["projectIds"] == [pid]
    listed = api.ok(api.get(f"/recipes?projects={pid}&&pageOffset=0&pageSize=1000"))
    assert [r["id"] for r in listed["items"]] == ["5f0000000000000000000002"]

    models = api.ok(api.post("/ml/models/query", _by_name_query("models", "yolo", pid)))
    assert [m["id"] for m in models["items"]] == ["5f0000000000000000000003"]
    assert api.ok(api.get("/ml/models/5f0000000000000000000003"))["name"] == "yolo"
    services = api.ok(api.post("/query/faas", _by_name_query("services", "cutter", pid)))
    assert [s["id"] for s in services["items"]] == ["5f0000000000000000000004"]
    assert api.ok(api.get("/services/5f0000000000000000000004"))["projectId"] == pid


def test_unknown_names_find_nothing_and_unknown_ids_are_404(api: Api) -> None:
    pid = api.project_id
    empty = api.ok(api.post("/ml/models/query", _by_name_query("models", "nope", pid)))
    assert empty["totalItemsCount"] == 0 and empty["items"] == []
    for path in ("/datasets/x", "/recipes/x", "/ml/models/x", "/services/x"):
        response = api.get(path)
        assert response.status_code == 404 and set(response.json()) == {"status", "message"}


def test_provision_rejects_bad_input(api: Api) -> None:
    pid = api.project_id
    assert api.post("/loopform/provision", {"kind": "robot", "name": "r", "id": "1",
                                            "projectId": pid}).status_code == 400
    assert api.post("/loopform/provision", {"kind": "dataset", "name": "", "id": "1",
                                            "projectId": pid}).status_code == 400
    assert api.post("/loopform/provision", {"kind": "recipe", "name": "r", "id": "2",
                                            "projectId": pid, "scope": "no-dataset"}).status_code == 404
    api.ok(api.post("/loopform/provision", {"kind": "model", "name": "m", "id": "3", "projectId": pid}))
    clash = api.post("/loopform/provision", {"kind": "model", "name": "other", "id": "3", "projectId": pid})
    assert clash.status_code == 409


def test_strict_mode_refuses_provisioning_but_allows_dtlpy_creation(strict_api: Api) -> None:
    api = strict_api
    pid = api.project_id
    assert api.session.get(api.server.base_url + "/loopform/info").json()["strict"] is True
    response = api.post("/loopform/provision", {"kind": "dataset", "name": "frames", "id": DATASET_ID,
                                                "projectId": pid})
    assert response.status_code == 400 and "strict" in response.json()["message"]
    assert api.ok(api.post("/datasets/query", {"filter": {"name": "frames"},
                                               "resource": "datasets"}))["totalItemsCount"] == 0
    # dtlpy's datasets.create body; the default recipe comes with it
    created = api.ok(api.post("/datasets", {"name": "frames", "projects": [pid],
                                            "createDefaultRecipe": True}))
    recipe_ids = created["metadata"]["system"]["recipes"]
    assert len(recipe_ids) == 1
    assert api.ok(api.get(f"/recipes/{recipe_ids[0]}"))["title"] == "Default Recipe"
    assert api.post("/datasets", {"name": "frames", "projects": [pid]}).status_code == 409


def test_projects_create_form_encoded_like_dtlpy_and_members(api: Api) -> None:
    response = api.call("POST", "/projects", data={"name": "second"})
    project = api.ok(response)
    assert project["name"] == "second"
    assert [p["name"] for p in api.ok(api.get("/projects"))] == ["local", "second"]
    assert api.ok(api.get(f"/projects/{project['id']}"))["id"] == project["id"]
    assert api.call("POST", "/projects", data={"name": "second"}).status_code == 409
    api.ok(api.post(f"/projects/{project['id']}/members/ann@example.com", {"role": "annotator"}))
    members = api.ok(api.get(f"/projects/{project['id']}/members"))
    assert [(m["email"], m["role"]) for m in members] == [
        ("local@loopform.dev", "owner"), ("ann@example.com", "annotator")]
    assert api.post(f"/projects/{project['id']}/members/x@example.com",
                    {"role": "king"}).status_code == 400


def test_other_users_cannot_see_resources(api: Api) -> None:
    pid = api.project_id
    api.ok(api.post("/loopform/provision", {"kind": "dataset", "name": "frames", "id": DATASET_ID,
                                            "projectId": pid}))
    eve = api.server.control_plane.mint_token("eve@example.com")
    assert api.get(f"/datasets/{DATASET_ID}", token=eve).status_code == 404
    page = api.post("/datasets/query", {"filter": {}, "resource": "datasets"}, token=eve).json()
    assert page["totalItemsCount"] == 0
    assert api.post("/loopform/provision", {"kind": "model", "name": "m", "id": "9",
                                            "projectId": pid}, token=eve).status_code == 404


def test_project_names_with_unicode_and_percent_round_trip(api: Api) -> None:
    from urllib.parse import quote

    name = "Ünïcode 100%41 project"
    created = api.ok(api.post("/projects", {"name": name}))
    found = api.ok(api.get(f"/projects/{quote(name.encode('utf-8'))}/name"))
    assert [p["id"] for p in found] == [created["id"]]


def test_dtlpy_finds_provisioned_objects_by_name(dtlpy_sdk: Any) -> None:
    # The shared dtlpy fixture, and the lookups Loopform's client copies, through the SDK itself.
    sdk = dtlpy_sdk
    project = sdk.activate()
    api_call = sdk.server.base_url + "/loopform/provision"
    for body in ({"kind": "dataset", "name": "frames", "id": DATASET_ID},
                 {"kind": "recipe", "name": "default", "id": "5f0000000000000000000002", "scope": DATASET_ID},
                 {"kind": "model", "name": "yolo", "id": "5f0000000000000000000003"},
                 {"kind": "service", "name": "cutter", "id": "5f0000000000000000000004"}):
        response = requests.post(api_call, json={**body, "projectId": project.id},
                                 headers={"authorization": f"Bearer {sdk.server.token}"}, timeout=30)
        assert response.status_code == 200, response.text
    dataset = project.datasets.get(dataset_name="frames")
    assert dataset.id == DATASET_ID
    assert [r.title for r in dataset.recipes.list()] == ["default"]
    assert project.models.get(model_name="yolo").id == "5f0000000000000000000003"
    assert project.services.get(service_name="cutter").id == "5f0000000000000000000004"
    assert [m.email for m in project.list_members()] == ["local@loopform.dev"]
    with pytest.raises(sdk.dl.exceptions.NotFound):
        project.datasets.get(dataset_name="missing")


def test_provision_never_shows_or_confirms_another_users_object(api: Api) -> None:
    alice_project = api.project_id
    secret = api.ok(api.post("/loopform/provision", {"kind": "dataset", "name": "secret-frames",
                                                     "id": DATASET_ID, "projectId": alice_project}))
    eve = api.server.control_plane.mint_token("eve@example.com")
    eve_project = api.ok(api.post("/projects", {"name": "eve-only"}, token=eve))["id"]
    unseen = api.get(f"/datasets/{DATASET_ID}", token=eve)
    assert unseen.status_code == 404
    for name in ("secret-frames", "a-guess"):  # the right name, or a wrong one: the same answer
        response = api.post("/loopform/provision", {"kind": "dataset", "name": name, "id": DATASET_ID,
                                                    "projectId": eve_project}, token=eve)
        assert response.status_code == 404, response.text
        assert response.json() == unseen.json()
    # Alice, who sees the dataset, is told the id is taken in another project of hers.
    alice_other = api.ok(api.post("/projects", {"name": "alice-second"}))["id"]
    clash = api.post("/loopform/provision", {"kind": "dataset", "name": "secret-frames", "id": DATASET_ID,
                                             "projectId": alice_other})
    assert clash.status_code == 409 and "another project" in clash.json()["message"]
    assert api.ok(api.get(f"/datasets/{DATASET_ID}"))["projects"] == secret["projects"] == [alice_project]
