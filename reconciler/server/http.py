"""A minimal WSGI request/response layer and router for the local control plane.

Contract: handlers take a `Request` (plus path parameters as keyword arguments) and return a JSON-ready
value (status 200), a `Response`, or raise `HttpError`. Input is checked at this edge, for every route
alike: the path must be UTF-8, and a JSON body (`Request.json`) is refused with 400 when it nests
deeper than MAX_JSON_DEPTH or holds a string that is not valid Unicode (a lone surrogate, which no
database or encoder downstream accepts). Handlers read single fields through `typed_field` / `one_of`,
which refuse a value of the wrong type with a 400 naming the field. Every error leaves the app as
`{"status": int, "message": str}` — the shape dtlpy reads (reference 1.6) — and nothing else; an
unexpected exception becomes a 500 with a generic message (the traceback goes to the log only).
No framework: the API is ~40 routes of JSON in, JSON out, and a framework would add a dependency
without removing much code.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, overload
from urllib.parse import parse_qs

MAX_BODY_BYTES = 16 * 1024 * 1024
MAX_JSON_DEPTH = 100
"""Deepest nesting of objects and lists accepted in a request body, so in any stored document.

Above what a spec can say (64 levels: reconciler.spec.source.MAX_DEPTH) plus the levels of the
pipeline document around it, and far below the depth at which the server's own recursion fails
(pydantic serialises at most 255 levels; Python recurses ~1000 deep): a stored document can always
be validated, copied and serialised again, so deep input is a 400 here rather than a 500 anywhere.
"""


class HttpError(Exception):
    """An error answer: `status` and a message safe to show to the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class UnsafeJson(ValueError):
    """JSON that parses but is not kept: nested too deep, or holding a string that is not Unicode."""


def parse_json(text: str | bytes) -> Any:
    """`text` parsed as JSON that is safe to keep (see `check_json`); ValueError, with a message fit
    for the client, when it is not JSON or not safe (UnsafeJson). For request bodies and for the
    JSON that clients send inside strings (an item's metadata, a task's query, a trigger filter, a
    connection's condition): a string passes the edge unexamined."""
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise UnsafeJson(f"nests deeper than {MAX_JSON_DEPTH} levels") from None
    check_json(value)
    return value


def check_json(value: Any) -> None:
    """UnsafeJson unless `value` (parsed JSON) nests at most MAX_JSON_DEPTH levels and every string
    in it, object keys included, is valid Unicode. Iterative: no input can exhaust the stack here."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _check_text(item)
        elif isinstance(item, (dict, list)):
            if depth >= MAX_JSON_DEPTH:
                raise UnsafeJson(f"nests deeper than {MAX_JSON_DEPTH} levels")
            if isinstance(item, dict):
                for key in item:
                    _check_text(key)
                stack.extend((child, depth + 1) for child in item.values())
            else:
                stack.extend((child, depth + 1) for child in item)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # JSON's \ud800 escapes decode to lone surrogates, which are not Unicode text.
        raise UnsafeJson("holds a string that is not valid Unicode (a lone surrogate)") from None


def typed_field(body: Mapping[str, Any], key: str, kind: type | tuple[type, ...], *, default: Any = None,
                where: str = "") -> Any:
    """`body[key]` when it is of `kind`; `default` when absent or null; 400 naming the field otherwise.

    A boolean is not an int here (JSON keeps them apart). `where` prefixes nested keys ("pipeline.").
    """
    value = body.get(key)
    if value is None:
        return default
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        names = " or ".join(_JSON_NAMES.get(k, k.__name__) for k in kinds)
        raise HttpError(400, f"'{where}{key}' must be {names}")
    return value


@overload
def one_of(body: Mapping[str, Any], key: str, options: Collection[str], *, default: str,
           where: str = "") -> str: ...
@overload
def one_of(body: Mapping[str, Any], key: str, options: Collection[str], *, default: None = None,
           where: str = "") -> str | None: ...
def one_of(body: Mapping[str, Any], key: str, options: Collection[str], *, default: str | None = None,
           where: str = "") -> str | None:
    """`body[key]` when it is one of the strings `options`; `default` when absent or null; else 400."""
    value = typed_field(body, key, str, default=default, where=where)
    if value is not None and value not in options:
        raise HttpError(400, f"'{where}{key}' must be one of: {', '.join(sorted(options))} (got {value!r})")
    return value


_JSON_NAMES: dict[type, str] = {str: "a string", bool: "a boolean", int: "an integer", float: "a number",
                                dict: "an object", list: "a list"}


def _reject_constant(name: str) -> None:
    # Python's json accepts NaN / Infinity, which are not JSON: stored, they would make every later
    # response unparseable for strict clients.
    raise ValueError(f"{name} is not valid JSON")


@dataclass
class Request:
    method: str
    path: str  # below the API prefix, e.g. "/pipelines/query"
    headers: dict[str, str]
    query: dict[str, list[str]]
    body: bytes
    user: str | None = None  # the authenticated email, set by the app
    cycle: str | None = None  # the cycle whose node execution's code sent it (its token says), set by the app
    base_url: str = ""  # http://host:port/api/v1 as the client reached us, set by the app
    _json: Any = field(default=None, repr=False)
    _parsed: bool = field(default=False, repr=False)

    def json(self, *, default: Any = None) -> Any:
        """The body parsed as JSON; `default` for an empty body; 400 for malformed JSON."""
        if not self._parsed:
            self._parsed = True
            if not self.body.strip():
                self._json = default
            else:
                try:
                    self._json = parse_json(self.body)
                except UnsafeJson as exc:
                    raise HttpError(400, f"Request body {exc}") from None
                except ValueError as exc:
                    raise HttpError(400, f"Request body is not valid JSON: {exc}") from None
        return self._json

    def json_object(self) -> dict[str, Any]:
        """The body as a JSON object ({} when empty); 400 when it is another JSON type."""
        value = self.json(default={})
        if not isinstance(value, dict):
            raise HttpError(400, "Request body must be a JSON object")
        return value


@dataclass
class Response:
    status: int = 200
    body: Any = None  # JSON-ready value; None means an empty body
    headers: list[tuple[str, str]] = field(default_factory=list)
    html: str | None = None  # a page for a browser instead of JSON (the console landing page)
    content: bytes | None = None  # raw bytes instead of JSON (an item's file), with `content_type`
    content_type: str = "application/octet-stream"


Handler = Callable[..., Any]


class Router:
    """Maps (method, path template) to handlers. Templates use `{name}` for one path segment."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def add(self, method: str, template: str, handler: Handler) -> None:
        pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
        self._routes.append((method.upper(), re.compile(f"^{pattern}$"), handler))

    def match(self, method: str, path: str) -> tuple[Handler, dict[str, str]]:
        """The handler and its path parameters; 404 / 405 otherwise.

        PATH_INFO is already percent-decoded by the WSGI server (PEP 3333), so the parameters are
        taken as they are: decoding again would turn a literal "%41" in a name into "A".
        """
        allowed = False
        for route_method, pattern, handler in self._routes:
            found = pattern.match(path)
            if found is None:
                continue
            if route_method == method:
                return handler, found.groupdict()
            allowed = True
        if allowed:
            raise HttpError(405, f"Method {method} not allowed on {path}")
        raise HttpError(404, f"Route not found: {method} {path}")


def read_request(environ: dict[str, Any], prefix: str) -> Request:
    """Build a Request from a WSGI environ; 404 outside `prefix`, 413 over MAX_BODY_BYTES."""
    raw_path = environ.get("PATH_INFO", "") or "/"
    # PEP 3333 hands PATH_INFO as latin-1-decoded bytes; re-decode as UTF-8 for non-ASCII names.
    try:
        raw_path = raw_path.encode("latin-1").decode("utf-8")
    except UnicodeEncodeError:
        pass  # not bytes-as-latin-1 but text already (a caller outside PEP 3333): taken as it is
    except UnicodeDecodeError:
        # No name is made of invalid UTF-8; looked up as latin-1 it would only ever be "not found".
        raise HttpError(400, "Request path is not valid UTF-8") from None
    if raw_path != prefix and not raw_path.startswith(prefix + "/"):
        raise HttpError(404, f"Route not found: {raw_path}")
    path = raw_path[len(prefix):] or "/"
    if len(path) > 1:
        path = path.rstrip("/")
    headers = {
        key[5:].replace("_", "-").lower(): value
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    body = _read_body(environ)
    return Request(
        method=environ.get("REQUEST_METHOD", "GET").upper(),
        path=path,
        headers=headers,
        query=parse_qs(environ.get("QUERY_STRING", "")),
        body=body,
    )


def _read_body(environ: dict[str, Any]) -> bytes:
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    length_text = environ.get("CONTENT_LENGTH") or ""
    if length_text:
        try:
            length = int(length_text)
        except ValueError:
            raise HttpError(400, "Malformed Content-Length") from None
        if length > MAX_BODY_BYTES:
            raise HttpError(413, f"Request body larger than {MAX_BODY_BYTES} bytes")
        return stream.read(length) if length > 0 else b""
    # No length (e.g. chunked): read at most one byte past the limit to detect an oversize body.
    if environ.get("HTTP_TRANSFER_ENCODING", "").lower() != "chunked":
        return b""
    data = stream.read(MAX_BODY_BYTES + 1)
    if len(data) > MAX_BODY_BYTES:
        raise HttpError(413, f"Request body larger than {MAX_BODY_BYTES} bytes")
    return data


def error_body(status: int, message: str) -> dict[str, Any]:
    return {"status": status, "message": message}


def start_response_with(
    start_response: Callable[..., Any], response: Response
) -> Iterable[bytes]:
    """Serialise `response` as JSON and hand it to the WSGI server."""
    if response.content is not None:
        payload = response.content
    elif response.html is not None:
        payload = response.html.encode()
    else:
        payload = b"" if response.body is None else json.dumps(response.body).encode()
    try:
        reason = HTTPStatus(response.status).phrase
    except ValueError:
        reason = ""
    headers = [("Content-Length", str(len(payload)))]
    if response.content is not None:
        headers.append(("Content-Type", response.content_type))
    elif response.html is not None:
        headers.append(("Content-Type", "text/html; charset=utf-8"))
    elif response.body is not None:
        headers.append(("Content-Type", "application/json"))
    headers.extend(response.headers)
    start_response(f"{response.status} {reason}".rstrip(), headers)
    return [payload]
