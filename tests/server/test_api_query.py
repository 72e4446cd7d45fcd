"""`POST /pipelines/query`: every filter operator through the route, sort, and paging edges."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from reconciler.server.dql import MAX_STRING_CHARS, MAX_TERMS

if TYPE_CHECKING:
    from conftest import Api


def _query(api: Api, flt: Any = None, **extra: Any) -> dict[str, Any]:
    body = {"filter": flt if flt is not None else {"$and": [{"projectId": api.project_id}]},
            "resource": "pipeline", **extra}
    return api.ok(api.post("/pipelines/query", body))


def _names(page: dict[str, Any]) -> list[str]:
    return [p["name"] for p in page["items"]]


@pytest.fixture
def three(api: Api) -> Api:
    api.create_pipeline("alpha", description="first", settings={"weight": 1})
    api.create_pipeline("beta", description="second", settings={"weight": 5})
    api.create_pipeline("gamma-ray", settings={"weight": 9})
    return api


def test_the_sdk_get_by_name_body_with_projectid_twice(three: Api) -> None:
    pid = three.project_id
    page = _query(three, {"$and": [{"name": "beta"}, {"projectId": pid}, {"projectId": pid}]},
                  page=0, pageSize=1000)
    assert page["totalItemsCount"] == 1 and _names(page) == ["beta"]
    assert page["totalPagesCount"] == 1 and page["hasNextPage"] is False


@pytest.mark.parametrize(("flt", "expected"), [
    ({"name": "gamma*"}, ["gamma-ray"]),
    ({"name": {"$eq": "alpha"}}, ["alpha"]),
    ({"name": {"$ne": "alpha"}}, ["beta", "gamma-ray"]),
    ({"name": {"$in": ["alpha", "beta"]}}, ["alpha", "beta"]),
    ({"name": {"$nin": ["alpha", "beta"]}}, ["gamma-ray"]),
    ({"settings.weight": {"$gt": 1}}, ["beta", "gamma-ray"]),
    ({"settings.weight": {"$gte": 5}}, ["beta", "gamma-ray"]),
    ({"settings.weight": {"$lt": 5}}, ["alpha"]),
    ({"settings.weight": {"$lte": 5}}, ["alpha", "beta"]),
    ({"description": {"$exists": True}}, ["alpha", "beta", "gamma-ray"]),
    ({"compositionId": {"$exists": False}}, []),
    ({"compositionId": {"$exists": True}}, ["alpha", "beta", "gamma-ray"]),
    ({"$or": [{"name": "alpha"}, {"settings.weight": 9}]}, ["alpha", "gamma-ray"]),
    ({"$and": [{"status": "Created"}, {"$or": [{"name": "beta"}, {"name": "nope"}]}]}, ["beta"]),
    ({}, ["alpha", "beta", "gamma-ray"]),
])
def test_each_filter_operator(three: Api, flt: dict[str, Any], expected: list[str]) -> None:
    assert _names(_query(three, flt)) == expected


def test_sort_both_directions(three: Api) -> None:
    assert _names(_query(three, sort={"name": "descending"})) == ["gamma-ray", "beta", "alpha"]
    assert _names(_query(three, sort={"settings.weight": "ascending"})) == ["alpha", "beta", "gamma-ray"]


def test_bad_filter_and_bad_paging_are_400(three: Api) -> None:
    bad = three.post("/pipelines/query", {"filter": {"name": {"$regex": "x"}}, "resource": "pipeline"})
    assert bad.status_code == 400 and "$regex" in bad.json()["message"]
    assert three.post("/pipelines/query", {"filter": {}, "page": -1}).status_code == 400
    assert three.post("/pipelines/query", {"filter": {}, "pageSize": 0}).status_code == 400
    assert three.post("/pipelines/query", {"filter": {}, "page": "x"}).status_code == 400
    # no quiet coercion: 1.5, true and "1" are not page numbers
    for page in (1.5, True, "1"):
        assert three.post("/pipelines/query", {"filter": {}, "page": page}).status_code == 400, page
        assert three.post("/datasets/query", {"filter": {}, "page": page}).status_code == 400, page
    assert three.post("/pipelines/query", {"filter": {}, "pageSize": 10.0}).status_code == 400
    assert three.post("/pipelines/query", {"filter": {}, "resource": "items"}).status_code == 400


@pytest.mark.parametrize("path", ["/pipelines/query", "/datasets/query", "/ml/models/query", "/query/faas"])
def test_oversized_filters_are_400_with_a_message(api: Api, path: str) -> None:
    for flt, words in [({"name": "*" + "a" * MAX_STRING_CHARS}, f"longer than {MAX_STRING_CHARS} characters"),
                       ({"name": {"$in": ["a"] * (MAX_TERMS + 1)}}, f"more than {MAX_TERMS} conditions")]:
        response = api.post(path, {"filter": flt})
        assert response.status_code == 400 and words in response.json()["message"], response.text


def test_paging_with_no_items(api: Api) -> None:
    page = _query(api, page=0, pageSize=10)
    assert page == {"totalItemsCount": 0, "items": [], "totalPagesCount": 0, "hasNextPage": False}


def test_paging_exact_multiple_and_last_page(api: Api) -> None:
    for i in range(6):
        api.create_pipeline(f"p{i}")
    pages = [_query(api, page=n, pageSize=3) for n in range(3)]
    assert [_names(p) for p in pages] == [["p0", "p1", "p2"], ["p3", "p4", "p5"], []]
    assert [p["hasNextPage"] for p in pages[:2]] == [True, False]
    assert all(p["totalItemsCount"] == 6 and p["totalPagesCount"] == 2 for p in pages)
    uneven = [_query(api, page=n, pageSize=4) for n in range(2)]
    assert [_names(p) for p in uneven] == [["p0", "p1", "p2", "p3"], ["p4", "p5"]]
    assert uneven[1]["hasNextPage"] is False and uneven[1]["totalPagesCount"] == 2


def test_query_pipeline_states(api: Api) -> None:
    pipeline = api.ok(api.post("/pipelines", api.sample("runs")))
    api.ok(api.post(f"/pipelines/{pipeline['id']}/install", {}))
    for _ in range(2):
        api.ok(api.post(f"/pipelines/{pipeline['id']}/execute", {"pipeline": {"input": {"item": "i"}}}))
    page = api.ok(api.post("/pipelines/query", {
        "filter": {"$and": [{"pipelineId": pipeline["id"]}]}, "page": 0, "pageSize": 100,
        "resource": "pipelineState"}))
    assert page["totalItemsCount"] == 2
    assert {e["pipelineId"] for e in page["items"]} == {pipeline["id"]}
    everything = api.ok(api.post("/pipelines/query", {"filter": {}, "resource": "pipelineState"}))
    assert everything["totalItemsCount"] == 2
