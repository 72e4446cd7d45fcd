"""Dataset items: their documents in the platform's shape, uploads, and their bytes on disk.

An item is a file (`type: "file"`) or a folder (`type: "dir"`) of a dataset: `filename` is its full
path ("/folder/a.jpg"), `dir` its folder ("/folder"), `name` its last segment;
`metadata.system` holds `size`, `mimetype`, `originalname` and `refs` (the tasks and assignments
it is queued in); `metadata.user` is the user's own. dtlpy uploads a file as multipart form data
(`type`, `path`, `metadata` as JSON text, `description`, `file`) to `POST /datasets/{id}/items?mode=
skip|overwrite`, checks that the answer's `metadata.system.size` equals what it sent, and reads
`x-item-op` (`created`, `overwrite`, `skip`); it makes a folder with a form-encoded `type=dir,
path=/folder`. Bytes live in files under the state directory (one per item id, written to a
temporary name and renamed, so a reader never sees half a file); the request body limit bounds
them. Pure functions except `save_item` and `write_binary` / `read_binary` / `delete_binary`.
"""

from __future__ import annotations

import json
import mimetypes
import os
import posixpath
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from reconciler.server.http import HttpError, Request, parse_json
from reconciler.server.ids import now_iso
from reconciler.server.store import Store

Doc = dict[str, Any]
KIND = "item"
UPLOAD_MODES = frozenset({"skip", "overwrite"})


def normalise_path(path: Any) -> str:
    """An item path as the platform keeps it: absolute, no `..`, no trailing slash."""
    if not isinstance(path, str) or not path.strip() or "\0" in path:
        raise HttpError(400, "Item 'path' must be a non-empty path")
    clean = posixpath.normpath("/" + path.strip().replace("\\", "/"))
    if clean.startswith("//"):
        clean = "/" + clean.lstrip("/")
    if clean == "/":
        raise HttpError(400, "Item 'path' must name a file or folder, not the root")
    return clean


def item_doc(*, item_id: str, dataset: Doc, filename: str, item_type: str, creator: str, size: int = 0,
             metadata: Doc | None = None, description: str | None = None) -> Doc:
    now = now_iso()
    user_metadata = dict(metadata or {})
    system = {"size": size, "originalname": posixpath.basename(filename), "refs": []}
    if item_type == "file":
        system["mimetype"] = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    system.update(user_metadata.pop("system", {}) if isinstance(user_metadata.get("system"), dict) else {})
    return {
        "id": item_id, "datasetId": dataset["id"], "projectId": (dataset.get("projects") or [None])[0],
        "type": item_type, "filename": filename, "name": posixpath.basename(filename),
        "dir": posixpath.dirname(filename), "hidden": False, "annotated": False, "annotationsCount": 0,
        "metadata": {**user_metadata, "system": system}, "description": description, "creator": creator,
        "createdAt": now, "updatedAt": now, "updatedBy": creator,
    }


def with_links(doc: Doc, base_url: str) -> Doc:
    """The item as returned: its own URL, its bytes' URL and its dataset's."""
    own = f"{base_url}/items/{doc['id']}"
    return {**doc, "url": own, "stream": f"{own}/stream", "thumbnail": f"{own}/thumbnail",
            "annotations": f"{own}/annotations", "dataset": f"{base_url}/datasets/{doc['datasetId']}"}


def save_item(store: Store, doc: Doc) -> None:
    """Store a new item or replace one (its path, the name it is looked up by, may have changed)."""
    if store.resource(KIND, doc["id"]) is None:
        store.put_resource(KIND, doc, name=doc["filename"], project_id=doc["projectId"], scope=doc["datasetId"])
    else:
        store.rename_resource(KIND, doc["id"], name=doc["filename"], doc=doc)


class Upload:
    """What an upload request carries: the form fields and, for a file, its bytes."""

    def __init__(self, fields: dict[str, str], data: bytes | None, file_name: str | None) -> None:
        self.fields = fields
        self.data = data
        self.file_name = file_name

    @property
    def item_type(self) -> str:
        return self.fields.get("type") or ("file" if self.data is not None else "dir")

    def metadata(self) -> Doc:
        text = self.fields.get("metadata")
        if not text:
            return {}
        try:
            value = parse_json(text)
        except ValueError as exc:  # as Request.json: too deep is malformed, not a 500
            raise HttpError(400, f"Item 'metadata' must be a JSON object ({exc})") from None
        if not isinstance(value, dict):
            raise HttpError(400, "Item 'metadata' must be a JSON object")
        return value


def read_upload(request: Request) -> Upload:
    """The upload in a request: multipart form data (a file), a form-encoded or a JSON folder."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        return _multipart(content_type, request.body)
    if content_type.startswith("application/x-www-form-urlencoded"):
        form = parse_qs(request.body.decode("utf-8", "replace"))
        return Upload({k: v[0] for k, v in form.items()}, None, None)
    body = request.json_object()
    fields = {k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items() if v is not None}
    return Upload(fields, None, None)


def _multipart(content_type: str, body: bytes) -> Upload:
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body)
    if not message.is_multipart():
        raise HttpError(400, "Malformed multipart body")
    fields: dict[str, str] = {}
    data: bytes | None = None
    file_name: str | None = None
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if not isinstance(name, str) or not isinstance(payload, bytes):
            continue
        if name == "file":
            data = payload
            found = part.get_filename()
            file_name = found if isinstance(found, str) else None
        else:
            fields[name] = payload.decode("utf-8", "replace")
    return Upload(fields, data, file_name)


def binary_path(folder: Path, item_id: str) -> Path:
    if not item_id.isalnum():  # ids are ours (hex), never a path
        raise HttpError(404, f"Item not found: {item_id}")
    return folder / item_id


def write_binary(folder: Path, item_id: str, data: bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    target = binary_path(folder, item_id)
    partial = target.with_name(target.name + ".partial")
    partial.write_bytes(data)
    os.replace(partial, target)


def read_binary(folder: Path, item_id: str) -> bytes:
    try:
        return binary_path(folder, item_id).read_bytes()
    except FileNotFoundError:
        return b""


def delete_binary(folder: Path, item_id: str) -> None:
    binary_path(folder, item_id).unlink(missing_ok=True)
