"""A minimal WSGI request/response layer and router for the local control plane.

Contract: handlers take a `Request` (plus path parameters as keyword arguments) and return a JSON-ready
value (status 200), a `Response`, or raise `HttpError`. Every error leaves the app as
`{"status": int, "message": str}` — the shape dtlpy reads (reference 1.6) — and nothing else; an
unexpected exception becomes a 500 with a generic message (the traceback goes to the log only).
No framework: the API is ~40 routes of JSON in, JSON out, and a framework would add a dependency
without removing much code.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

MAX_BODY_BYTES = 16 * 1024 * 1024


class HttpError(Exception):
    """An error answer: `status` and a message safe to show to the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


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
                    self._json = json.loads(self.body, parse_constant=_reject_constant)
                except (ValueError, RecursionError) as exc:
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
    except (UnicodeEncodeError, UnicodeDecodeError):
        pass
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
