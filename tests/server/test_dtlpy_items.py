"""Dataset items through dtlpy's own calls: upload (a file, bytes, a JSON file, a folder), get,
download, list and DQL queries, metadata updates, move, clone and delete."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from harness import DtlpySdk, items_of


@pytest.fixture(scope="module")
def sdk(dtlpy_sdk: DtlpySdk) -> DtlpySdk:
    return dtlpy_sdk


@pytest.fixture(scope="module")
def dataset(sdk: DtlpySdk) -> object:
    return sdk.project.datasets.create(dataset_name="items")


def test_upload_returns_the_item_and_its_bytes_come_back(sdk: DtlpySdk, dataset, tmp_path: Path) -> None:
    picture = tmp_path / "frame.jpg"
    picture.write_bytes(b"\xff\xd8\xff" + bytes(range(256)) * 40)
    item = dataset.items.upload(local_path=str(picture), remote_path="/incoming",
                                item_metadata={"user": {"camera": "north"}})
    assert item is not None  # dtlpy turns a missing route into None, far from its cause
    assert item.filename == "/incoming/frame.jpg" and item.dir == "/incoming" and item.name == "frame.jpg"
    assert item.metadata["system"]["size"] == picture.stat().st_size
    assert item.metadata["system"]["mimetype"] == "image/jpeg"
    assert item.metadata["user"] == {"camera": "north"}
    fetched = dataset.items.get(item_id=item.id)
    assert fetched.filename == item.filename
    assert fetched.download(save_locally=False).getvalue() == picture.read_bytes()
    # mode skip: the same path again keeps the first item
    again = dataset.items.upload(local_path=str(picture), remote_path="/incoming")
    assert again.id == item.id


def test_upload_bytes_and_a_json_item(sdk: DtlpySdk, dataset) -> None:
    buffer = io.BytesIO(json.dumps({"prompt": "hello"}).encode())
    buffer.name = "prompt.json"
    item = dataset.items.upload(local_path=buffer, remote_path="/json")
    assert item.metadata["system"]["mimetype"] == "application/json"
    assert json.loads(item.download(save_locally=False).getvalue()) == {"prompt": "hello"}
    folder = dataset.items.make_dir(directory="/made")
    assert folder.type == "dir" and folder.filename == "/made"


def test_a_dataset_counts_its_items(sdk: DtlpySdk) -> None:
    counted = sdk.project.datasets.create(dataset_name="counted")
    assert counted.items_count == 0
    for name in ("a.txt", "b.txt"):
        counted.items.upload(local_path=io.BytesIO(b"1"), remote_name=name)
    assert sdk.project.datasets.get(dataset_id=counted.id).items_count == 2


def test_list_and_query_with_dql(sdk: DtlpySdk, dataset) -> None:
    dl = sdk.dl
    for index in range(5):
        dataset.items.upload(local_path=io.BytesIO(b"x" * (index + 1)), remote_name=f"n{index}.txt",
                             remote_path="/many")
    filters = dl.Filters(field="dir", values="/many")
    listed = items_of(dataset.items.list(filters=filters, page_size=2), max_pages=4)  # keyset paging by id
    assert sorted(i.name for i in listed) == [f"n{i}.txt" for i in range(5)]
    filters.add(field="metadata.system.size", values=3, operator=dl.FiltersOperations.GREATER_THAN)
    assert sorted(i.name for i in dataset.items.list(filters=filters).all()) == ["n3.txt", "n4.txt"]
    assert dataset.items.get(filepath="/many/n0.txt").metadata["system"]["size"] == 1


def test_update_metadata_move_clone_and_delete(sdk: DtlpySdk, dataset) -> None:
    item = dataset.items.upload(local_path=io.BytesIO(b"payload"), remote_name="moving.txt", remote_path="/a")
    item.metadata["user"] = {"reviewed": True}
    updated = item.update()
    assert dataset.items.get(item_id=item.id).metadata["user"] == {"reviewed": True}
    moved = updated.move(new_path="/b/moved.txt")
    assert moved.filename == "/b/moved.txt" and dataset.items.get(item_id=item.id).dir == "/b"
    other = sdk.project.datasets.create(dataset_name="clones")
    copy = moved.clone(dst_dataset_id=other.id, remote_filepath="/copied.txt")
    assert copy.dataset_id == other.id and copy.filename == "/copied.txt" and copy.id != item.id
    assert copy.metadata["user"] == {"reviewed": True}
    assert copy.download(save_locally=False).getvalue() == b"payload"
    assert dataset.items.delete(item_id=item.id) is True
    with pytest.raises(sdk.dl.exceptions.NotFound):
        dataset.items.get(item_id=item.id)
    assert other.items.get(item_id=copy.id).id == copy.id  # the copy is its own item


def test_bulk_update_by_filter(sdk: DtlpySdk, dataset) -> None:
    dl = sdk.dl
    for name in ("p.txt", "q.txt"):
        dataset.items.upload(local_path=io.BytesIO(b"1"), remote_name=name, remote_path="/bulk")
    dataset.items.update(filters=dl.Filters(field="dir", values="/bulk"), update_values={"batch": 7})
    assert {i.metadata["user"]["batch"] for i in dataset.items.list(
        filters=dl.Filters(field="dir", values="/bulk")).all()} == {7}


def test_items_of_another_project_are_not_found(sdk: DtlpySdk, dataset) -> None:
    dl = sdk.dl
    item = dataset.items.upload(local_path=io.BytesIO(b"secret"), remote_name="secret.txt")
    dl.client_api.token = sdk.server.control_plane.mint_token("stranger@example.com")
    try:
        with pytest.raises(dl.exceptions.NotFound):
            dl.items.get(item_id=item.id)
    finally:
        dl.client_api.token = sdk.server.token
