"""Item routes, as dtlpy 1.126.5's `items` repository and uploader call them (see `items`).

- `POST /datasets/{id}/items?mode=skip|overwrite`: upload a file (multipart) or make a folder
  (form-encoded or JSON `{type: "dir", path}`); answers the item, header `x-item-op`.
- `GET /items/{id}`, `GET /items/{id}/stream` (the bytes), `DELETE /items/{id}`.
- `PATCH /items/{id}[?system=true]`: dtlpy sends only what changed, nested (`{"metadata": {"user":
  {...}}}`, `{"filename": "/new/path.jpg"}`); a null removes the key. `metadata.system` changes
  only with `?system=true`; a new `filename` moves the item (dtlpy `item.move`).
- `POST /datasets/{id}/query`: DQL over the dataset's items (dtlpy's item listing, keyset paging
  by `id`); with `update: {metadata: ...}` or `delete: true` it changes the matched items instead.
- `POST /items/{id}/clone {targetDatasetId, remoteFileName, metadata, cloneDatasetParams}`: a
  finished command whose `spec.returnedModelId` names the copy (dtlpy waits on it, then GETs it).
- `PUT /datasets/{id}/items/{folderId}` `[itemId, ...]`: move items into a folder item.
Items are visible to members of their dataset's project only; 404 otherwise.
"""

from __future__ import annotations

import copy
import posixpath
from typing import TYPE_CHECKING, Any

from reconciler.server import dql, objects
from reconciler.server.http import HttpError, Request, Response, Router, typed_field
from reconciler.server.ids import now_iso, object_id
from reconciler.server.items import (
    KIND,
    UPLOAD_MODES,
    clone_item,
    delete_binary,
    item_doc,
    normalise_path,
    read_binary,
    read_upload,
    save_item,
    with_links,
    write_binary,
)
from reconciler.server.objects import finished_command

if TYPE_CHECKING:
    from pathlib import Path

    from reconciler.server.app import ControlPlane

Doc = dict[str, Any]


def _merge(target: Doc, change: Doc) -> None:
    """Apply dtlpy's nested partial update: dicts merge, a null removes, anything else replaces."""
    for key, value in change.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def register(router: Router, plane: ControlPlane) -> None:
    store = plane.store
    binaries: Path = plane.binaries_dir

    def dataset_of(request: Request, dataset_id: str) -> Doc:
        return objects.visible(plane, request, "dataset", dataset_id)

    def visible(request: Request, item_id: str) -> Doc:
        return objects.visible(plane, request, KIND, item_id)

    def shown(request: Request, doc: Doc) -> Doc:
        return with_links(doc, request.base_url)

    def at_path(dataset_id: str, filename: str) -> Doc | None:
        found = store.resources(KIND, scope=dataset_id, name=filename)
        return found[0] if found else None

    def save(doc: Doc) -> None:
        save_item(store, doc)

    def upload(request: Request, dataset_id: str) -> Response:
        dataset = dataset_of(request, dataset_id)
        mode = (request.query.get("mode") or ["skip"])[0]
        if mode not in UPLOAD_MODES:
            raise HttpError(400, f"Unknown mode {mode!r}; one of: {', '.join(sorted(UPLOAD_MODES))}")
        sent = read_upload(request)
        item_type = sent.item_type
        if item_type not in ("file", "dir"):
            raise HttpError(400, f"Unknown item type {item_type!r}; one of: dir, file")
        if item_type == "file" and sent.data is None:
            raise HttpError(400, "A file item needs its 'file' part")
        filename = normalise_path(sent.fields.get("path") or sent.file_name)
        existing = at_path(dataset_id, filename)
        if existing is not None and (mode == "skip" or existing["type"] != item_type):
            return Response(200, shown(request, existing), headers=[("x-item-op", "skip")])
        size = len(sent.data) if sent.data is not None else 0
        doc = item_doc(item_id=existing["id"] if existing else object_id(), dataset=dataset, filename=filename,
                       item_type=item_type, creator=request.user or "", size=size, metadata=sent.metadata(),
                       description=sent.fields.get("description"))
        if existing is not None:
            doc["createdAt"], doc["metadata"]["system"]["refs"] = existing["createdAt"], \
                existing["metadata"]["system"].get("refs", [])
        if sent.data is not None:
            write_binary(binaries, doc["id"], sent.data)
        save(doc)
        plane.engine.item_event(doc, "Updated" if existing else "Created", cause=request.cycle)
        return Response(200, shown(request, doc), headers=[("x-item-op", "overwrite" if existing else "created")])

    def get(request: Request, item_id: str) -> Doc:
        return shown(request, visible(request, item_id))

    def stream(request: Request, item_id: str) -> Response:
        doc = visible(request, item_id)
        mimetype = doc["metadata"]["system"].get("mimetype") or "application/octet-stream"
        return Response(200, content=read_binary(binaries, item_id), content_type=mimetype)

    def delete(request: Request, item_id: str) -> Response:
        visible(request, item_id)
        remove(item_id)
        return Response(200, None)

    def remove(item_id: str) -> None:
        store.delete_resource(KIND, item_id)
        delete_binary(binaries, item_id)

    def changed(request: Request, doc: Doc, change: Any, *, system: bool) -> Doc:
        if not isinstance(change, dict):
            raise HttpError(400, "Request body must be a JSON object")
        typed_field(change, "metadata", dict)
        new = copy.deepcopy(doc)
        for key in ("filename", "description", "hidden", "metadata", "name"):
            if key in change:
                _merge(new, {key: change[key]})
        if not system:
            new.setdefault("metadata", {})["system"] = doc["metadata"]["system"]
        elif not isinstance(new.get("metadata", {}).get("system"), dict):
            raise HttpError(400, "'metadata.system' must be an object")
        if "name" in change and "filename" not in change and isinstance(change["name"], str):
            new["filename"] = posixpath.join(doc["dir"], change["name"])
        filename = normalise_path(new.get("filename"))
        if filename != doc["filename"]:
            taken = at_path(doc["datasetId"], filename)
            if taken is not None and taken["id"] != doc["id"]:
                raise HttpError(409, f"An item already exists at {filename}")
        new.update(filename=filename, name=posixpath.basename(filename), dir=posixpath.dirname(filename),
                   updatedAt=now_iso(), updatedBy=request.user)
        return new

    def patch(request: Request, item_id: str) -> Doc:
        doc = visible(request, item_id)
        new = changed(request, doc, request.json_object(), system="true" in request.query.get("system", []))
        save(new)
        plane.engine.item_event(new, "Updated", cause=request.cycle)
        return shown(request, new)

    def query(request: Request, dataset_id: str) -> Doc:
        dataset_of(request, dataset_id)
        body = request.json_object()
        resource = body.get("resource", "items")
        if resource != "items":
            raise HttpError(400, f"Unknown resource {resource!r}: this route queries 'items'")
        docs = store.resources(KIND, scope=dataset_id)
        try:
            matches = dql.compile_filter(body.get("filter"))
            found = dql.sort_documents([d for d in docs if matches(d)], body.get("sort"))
            if body.get("delete") is True:
                for doc in found:
                    remove(doc["id"])
            elif "update" in body:
                update = body["update"]
                if not isinstance(update, dict):
                    raise HttpError(400, "'update' must be an object")
                metadata = update.get("metadata")
                system = isinstance(metadata, dict) and "system" in metadata
                found = [changed(request, d, update, system=system) for d in found]
                for doc in found:
                    save(doc)
                    plane.engine.item_event(doc, "Updated", cause=request.cycle)
            page = dql.paginate(found, body.get("page", 0), body.get("pageSize", dql.MAX_PAGE_SIZE))
        except dql.DqlError as exc:
            raise HttpError(400, str(exc)) from None
        return {**page, "items": [shown(request, d) for d in page["items"]]}

    def clone(request: Request, item_id: str) -> Doc:
        doc = visible(request, item_id)
        body = request.json_object()
        target = dataset_of(request, typed_field(body, "targetDatasetId", str) or doc["datasetId"])
        filename = normalise_path(body.get("remoteFileName") or doc["filename"])
        if at_path(target["id"], filename) is not None and body.get("allowMany") is not True:
            raise HttpError(409, f"An item already exists at {filename} in the target dataset")
        params = typed_field(body, "cloneDatasetParams", dict) or {}
        metadata = copy.deepcopy({k: v for k, v in doc["metadata"].items() if k != "system"}) \
            if params.get("withMetadata", True) else {}
        if isinstance(body.get("metadata"), dict):
            _merge(metadata, body["metadata"])
        copied = clone_item(store, binaries, doc, target, filename=filename, creator=request.user or "",
                            metadata=metadata)
        plane.engine.item_event(copied, "Created", cause=request.cycle)
        return finished_command(store, request, "item_clone",
                                {"returnedModelId": [copied["id"]], "itemId": doc["id"]})

    def move_into(request: Request, dataset_id: str, folder_id: str) -> Response:
        dataset_of(request, dataset_id)
        folder = visible(request, folder_id)
        if folder["type"] != "dir" or folder["datasetId"] != dataset_id:
            raise HttpError(400, "The destination must be a folder item of this dataset")
        ids = request.json(default=[])
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise HttpError(400, "Request body must be a list of item ids")
        for item_id in ids:
            doc = visible(request, item_id)
            save(changed(request, doc, {"filename": posixpath.join(folder["filename"], doc["name"])}, system=False))
        return Response(200, None)

    router.add("POST", "/datasets/{dataset_id}/items", upload)
    router.add("POST", "/datasets/{dataset_id}/query", query)
    router.add("PUT", "/datasets/{dataset_id}/items/{folder_id}", move_into)
    router.add("GET", "/items/{item_id}", get)
    router.add("GET", "/items/{item_id}/stream", stream)
    router.add("PATCH", "/items/{item_id}", patch)
    router.add("DELETE", "/items/{item_id}", delete)
    router.add("POST", "/items/{item_id}/clone", clone)
