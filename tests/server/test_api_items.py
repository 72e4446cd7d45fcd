"""Item uploads over raw HTTP: bad input is a 400, paths stay inside the dataset, bytes stay under
the state directory and are bounded by the request body limit."""

from __future__ import annotations

from typing import TYPE_CHECKING

from reconciler.server.http import MAX_BODY_BYTES

if TYPE_CHECKING:
    from conftest import Api


def _dataset(api: Api, name: str) -> str:
    created = api.ok(api.post("/datasets", {"name": name, "projects": [api.project_id]}))
    return str(created["id"])


def test_upload_refuses_bad_input(api: Api) -> None:
    dataset = _dataset(api, "bad-input")
    files = {"file": ("a.txt", b"abc")}
    assert api.call("POST", f"/datasets/{dataset}/items?mode=sideways", files=files,
                     data={"path": "/a.txt"}).status_code == 400
    assert api.call("POST", f"/datasets/{dataset}/items", data={"type": "file", "path": "/a.txt"}).status_code == 400
    assert api.call("POST", f"/datasets/{dataset}/items", data={"type": "link", "path": "/x"}).status_code == 400
    assert api.call("POST", f"/datasets/{dataset}/items", files=files,
                    data={"path": "/a.txt", "metadata": "[1]"}).status_code == 400
    deep = "[" * 100_000 + "]" * 100_000
    assert api.call("POST", f"/datasets/{dataset}/items", files=files,
                    data={"path": "/a.txt", "metadata": deep}).status_code == 400
    assert api.post(f"/datasets/{dataset}/items", {"type": "dir", "path": "/"}).status_code == 400
    assert api.call("POST", "/datasets/000000000000000000000000/items", files=files).status_code == 404
    oversize = api.call("POST", f"/datasets/{dataset}/items", files={"file": ("big", b"x" * (MAX_BODY_BYTES + 1))})
    assert oversize.status_code == 413


def test_paths_are_normalised_inside_the_dataset_and_bytes_live_in_the_state_directory(api: Api) -> None:
    dataset = _dataset(api, "paths")
    response = api.call("POST", f"/datasets/{dataset}/items", files={"file": ("x.txt", b"hello")},
                        data={"path": "../../etc/./x.txt"})
    item = api.ok(response)
    assert response.headers["x-item-op"] == "created"
    assert item["filename"] == "/etc/x.txt" and item["dir"] == "/etc"
    state = api.server.control_plane.db_path.parent
    stored = list((state / "state-binaries").iterdir())
    assert [p.name for p in stored] == [item["id"]] and stored[0].read_bytes() == b"hello"
    overwritten = api.call("POST", f"/datasets/{dataset}/items?mode=overwrite", files={"file": ("x.txt", b"bye")},
                           data={"path": "/etc/x.txt"})
    assert overwritten.headers["x-item-op"] == "overwrite" and api.ok(overwritten)["id"] == item["id"]
    assert api.get(f"/items/{item['id']}/stream").content == b"bye"
    assert api.post(f"/datasets/{dataset}/query", {"filter": {"name": {"$bad": 1}}}).status_code == 400
