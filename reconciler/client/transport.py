"""HTTP to the Dataloop API: sessions, retries, timeouts, error mapping and paging.

Two retry policies, because urllib3's `Retry` decides by method and a POST may be either harmless
(`/pipelines/query`, install) or not (`POST /pipelines` creates):

- `retry=True` (idempotent in effect): connect timeouts, resets of established connections, read
  timeouts, 429 and 500/502/503/504 are retried with exponential backoff, jitter, and the server's
  `Retry-After` (capped).
- `retry=False` (create, execute): only what certainly was not processed is retried — a connect
  timeout (nothing was sent) and 429 (the server refused the request). Anything after the request
  was sent surfaces as `TransportError` / `ServerError`, and the caller decides (create looks the
  pipeline up by name before trying again).

Neither retries a refused connection or an unknown host: nobody is listening at that address, and
16 s of backoff only delays the one line that says so (`cannot reach URL: connection refused`).

`requests` exceptions never leave this module: they become `reconciler.errors` classes carrying the
server's `message`. The bearer token lives only in the session headers; no message, log line or
repr here contains it.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from requests.adapters import BaseAdapter, HTTPAdapter
from urllib3.exceptions import (InvalidHeader, MaxRetryError, NameResolutionError, NewConnectionError,
                                ReadTimeoutError)
from urllib3.connectionpool import ConnectionPool
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import Retry

from reconciler.config import shown_url
from reconciler.errors import ApiError, ConfigError, RateLimited, TransportError, Unreachable, error_for_status

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://gate.dataloop.ai/api/v1"
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class ClientOptions:
    """Timeouts and retry tuning. Tests shrink the delays; users tune the timeout and the number of
    retries through the environment (`options_from_env`)."""

    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    attempts: int = 5  # retries after the first try
    backoff_factor: float = 0.5  # sleep factor * 2**n seconds before retry n (capped by backoff_max)
    backoff_max: float = 30.0
    backoff_jitter: float = 0.5  # plus uniform [0, jitter) seconds so parallel clients spread out
    retry_after_max: float = 60.0  # never sleep longer than this on a server's Retry-After
    pool_size: int = 16


ENV_TIMEOUT = "LOOPFORM_TIMEOUT"
ENV_MAX_RETRIES = "LOOPFORM_MAX_RETRIES"
_MAX_RETRIES_CEILING = 100


def options_from_env(env: Mapping[str, str], base: ClientOptions | None = None) -> ClientOptions:
    """`base` (default: the defaults) with the user's overrides from `env` (the CLI passes os.environ):

    - LOOPFORM_TIMEOUT: seconds to wait for an answer (and at most that long to connect);
    - LOOPFORM_MAX_RETRIES: retries after the first try of a retryable call (0 disables them).

    Raises ConfigError naming the variable when a value is not a usable number.
    """
    options = base or ClientOptions()
    changes: dict[str, Any] = {}
    raw = env.get(ENV_TIMEOUT, "").strip()
    if raw:
        try:
            timeout = float(raw)
        except ValueError:
            timeout = math.nan
        if not (math.isfinite(timeout) and timeout > 0):
            raise ConfigError(f"{ENV_TIMEOUT}={raw!r}: expected a number of seconds greater than 0, e.g. 30")
        changes.update(read_timeout=timeout, connect_timeout=min(options.connect_timeout, timeout))
    raw = env.get(ENV_MAX_RETRIES, "").strip()
    if raw:
        if not raw.isdigit() or int(raw) > _MAX_RETRIES_CEILING:
            raise ConfigError(f"{ENV_MAX_RETRIES}={raw!r}: expected a whole number from 0 to "
                              f"{_MAX_RETRIES_CEILING}, e.g. 5")
        changes["attempts"] = int(raw)
    return replace(options, **changes) if changes else options


class _Retry(Retry):
    """urllib3's Retry, except that a malformed Retry-After header is ignored (the backoff applies)
    instead of failing the request with InvalidHeader, which would end the retries early, and that
    a refused connection or an unknown host is not retried (see the module docstring)."""

    def increment(self, method: str | None = None, url: str | None = None,
                  response: BaseHTTPResponse | None = None, error: Exception | None = None,
                  _pool: ConnectionPool | None = None, _stacktrace: TracebackType | None = None) -> _Retry:
        # NewConnectionError covers refused, unreachable and (NameResolutionError) unknown host;
        # a plain ConnectTimeoutError (its base) is a slow network and stays retried.
        if isinstance(error, NewConnectionError):
            raise MaxRetryError(_pool, url or "", reason=error) from error  # type: ignore[arg-type]
        return super().increment(method, url, response, error, _pool, _stacktrace)

    def parse_retry_after(self, retry_after: str) -> float:
        try:
            return super().parse_retry_after(retry_after)
        except InvalidHeader:
            return 0.0  # falsy: urllib3 then sleeps its own backoff


def quote_segment(value: str) -> str:
    """A value as one URL path segment (project names may contain spaces or slashes)."""
    return quote(value, safe="")


class ApiSession:
    """JSON over HTTP against one API base URL (`.../api/v1`), with a bearer token."""

    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        options: ClientOptions | None = None,
        transport: BaseAdapter | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.options = options or ClientOptions()
        self._pool_size = self.options.pool_size
        self._retrying = self._session(token, self._retry(idempotent=True), transport)
        self._once = self._session(token, self._retry(idempotent=False), transport)
        self._over_http = transport is None

    def __repr__(self) -> str:  # never the token
        return f"ApiSession({self.base_url!r})"

    def _retry(self, *, idempotent: bool) -> _Retry:
        o = self.options
        common: dict[str, Any] = dict(
            total=None,
            connect=o.attempts,
            status=o.attempts,
            other=0,
            redirect=0,
            backoff_factor=o.backoff_factor,
            backoff_max=o.backoff_max,
            backoff_jitter=o.backoff_jitter,
            retry_after_max=o.retry_after_max,
            respect_retry_after_header=True,
            # The last response comes back as a response, so its `message` reaches the user.
            raise_on_status=False,
            allowed_methods=None,  # the caller chose the session; any verb it sends may retry
        )
        if idempotent:
            return _Retry(read=o.attempts, status_forcelist=_RETRY_STATUSES, **common)
        return _Retry(read=False, status_forcelist=frozenset({429}), **common)

    def _session(self, token: str | None, retry: Retry, transport: BaseAdapter | None) -> requests.Session:
        session = requests.Session()
        session.trust_env = False  # no ~/.netrc credentials or proxy surprises for the token
        if token:
            session.headers["Authorization"] = f"Bearer {token}"
        session.headers["User-Agent"] = "loopform"
        if transport is not None:
            session.mount(self.base_url + "/", transport)
        else:
            self._mount(session, retry)
        return session

    def _mount(self, session: requests.Session, retry: Retry) -> None:
        # pool_block: a caller beyond the pool waits for a free connection instead of opening one
        # that urllib3 then throws away with a warning on stderr.
        adapter = HTTPAdapter(max_retries=retry, pool_connections=2, pool_maxsize=self._pool_size,
                              pool_block=True)
        session.mount("http://", adapter)
        session.mount("https://", adapter)

    def reserve(self, connections: int) -> None:
        """Keep at least `connections` connections per host, one per thread that will call at once
        (apply's `--parallelism`), so that no worker waits for another's connection."""
        if not self._over_http or connections <= self._pool_size:
            return
        self._pool_size = connections
        for session, idempotent in ((self._retrying, True), (self._once, False)):
            for adapter in set(session.adapters.values()):
                adapter.close()
            self._mount(session, self._retry(idempotent=idempotent))

    def close(self) -> None:
        self._retrying.close()
        self._once.close()

    def call(self, method: str, path: str, *, body: Any = None, retry: bool = True) -> Any:
        """Send one request; return the decoded JSON body (None when empty).

        Raises the `reconciler.errors.ApiError` subclass for the status (with the server's
        `message`), or `TransportError` when no usable answer came back.
        """
        session = self._retrying if retry else self._once
        url = self.base_url + path
        kwargs: dict[str, Any] = {"timeout": (self.options.connect_timeout, self.options.read_timeout)}
        if body is not None:
            kwargs["json"] = body
        try:
            response = session.request(method, url, **kwargs)
        except requests.exceptions.ConnectTimeout as exc:
            raise TransportError(f"could not connect within {self.options.connect_timeout:g}s",
                                 method=method, path=path) from exc
        except requests.exceptions.Timeout as exc:
            raise TransportError(f"no answer within {self.options.read_timeout:g}s "
                                 f"(set {ENV_TIMEOUT} to wait longer)", method=method, path=path) from exc
        except requests.exceptions.RequestException as exc:
            if _timed_out_on_every_try(exc):
                tries = self.options.attempts + 1
                each = f" on each of {tries} tries" if tries > 1 else ""
                raise TransportError(f"no answer within {self.options.read_timeout:g}s{each} "
                                     f"(set {ENV_TIMEOUT} to wait longer)", method=method, path=path) from exc
            unreachable = _unreachable(exc)
            if unreachable:
                # About the address, not the request: the one line names the URL the user chose.
                raise Unreachable(f"cannot reach {shown_url(self.base_url)}: {unreachable}") from exc
            raise TransportError(_describe(exc), method=method, path=path) from exc
        return _decode(response, method, path)

    def pages(self, path: str, query: dict[str, Any], *, page_size: int = 1000) -> Iterator[dict[str, Any]]:
        """Every item of a paged query route (`{items, hasNextPage, ...}`), page by page.

        Read-only, so retried. Stops on `hasNextPage: false` or an empty page — a server that
        omits `hasNextPage` would otherwise be asked forever.
        """
        page = 0
        while True:
            body = {**query, "page": page, "pageSize": page_size}
            result = self.call("POST", path, body=body, retry=True)
            if not isinstance(result, dict):
                raise TransportError("malformed page (not a JSON object)", method="POST", path=path)
            items = result.get("items") or []
            yield from items
            if not items or result.get("hasNextPage") is False:
                return
            page += 1


def _timed_out_on_every_try(exc: requests.exceptions.RequestException) -> bool:
    # Once retries are used up, requests reports a read timeout as a ConnectionError wrapping
    # urllib3's MaxRetryError; only its `reason` says the server was slow, not unreachable.
    reason = getattr(exc.args[0] if exc.args else None, "reason", None)
    return isinstance(exc, requests.exceptions.ConnectionError) and isinstance(reason, ReadTimeoutError)


def _unreachable(exc: requests.exceptions.RequestException) -> str | None:
    """Why nobody answers at the address ("connection refused", "unknown host 'x'"), or None when
    the failure was something else."""
    reason = getattr(exc.args[0] if exc.args else None, "reason", None)
    if not isinstance(exc, requests.exceptions.ConnectionError) or not isinstance(reason, NewConnectionError):
        return None
    if isinstance(reason, NameResolutionError):
        host = urlsplit(exc.request.url or "").hostname if exc.request is not None else None
        return f"unknown host {host!r}" if host else "unknown host"
    cause = reason.__cause__ or reason.__context__
    why = getattr(cause, "strerror", None)
    return why.lower() if isinstance(why, str) and why else "connection refused or unreachable"


def _describe(exc: requests.exceptions.RequestException) -> str:
    if isinstance(exc, requests.exceptions.ConnectionError):
        return "connection failed or was reset"
    if isinstance(exc, requests.exceptions.RetryError):
        return "gave up after retries"
    return f"request failed ({type(exc).__name__})"


# A JSON `\\udXXX` escape: json.loads joins a valid pair into one character and leaves a lone one
# as a lone surrogate, which no encoding can write.
_SURROGATE_ESCAPE = re.compile(rb"\\[uU][dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _without_lone_surrogates(value: Any) -> Any:
    """`value` with each lone surrogate as U+FFFD, as a UTF-8 decoder reads an invalid sequence.

    Live text is hostile: any project member can name a node with a lone `\\ud800` (the local
    control plane keeps JSON text; Dataloop keeps UTF-8, where it cannot exist). Left in, it makes
    every later step that encodes text fail (digests, the JSON plan, output), so one odd name would
    stop plan, apply, export and the reconcile daemon for every pipeline.
    """
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_without_lone_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {_without_lone_surrogates(k): _without_lone_surrogates(v) for k, v in value.items()}
    return value


def _decode(response: requests.Response, method: str, path: str) -> Any:
    try:
        content = response.content
    except requests.exceptions.RequestException as exc:
        raise TransportError(_describe(exc), method=method, path=path) from exc
    data: Any = None
    if content:
        try:
            data = json.loads(content)
        except ValueError:
            data = None
        if _SURROGATE_ESCAPE.search(content):
            data = _without_lone_surrogates(data)
    if response.status_code >= 400:
        message = ""
        if isinstance(data, dict) and data.get("message"):
            message = str(data["message"])
        elif content and data is None:
            message = content[:300].decode("utf-8", "replace").strip()
        message = message or response.reason or "request failed"
        cls = error_for_status(response.status_code)
        if cls is RateLimited:
            raise RateLimited(message, retry_after=_retry_after(response), status=response.status_code,
                              method=method, path=path)
        error: ApiError = cls(message, status=response.status_code, method=method, path=path)
        raise error
    if content and data is None:
        raise TransportError("malformed response (not JSON)", status=response.status_code,
                             method=method, path=path)
    return data


def _retry_after(response: requests.Response) -> float | None:
    """The server's Retry-After in seconds: a number, or an HTTP date (as urllib3 reads it)."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return Retry().parse_retry_after(value)
    except InvalidHeader:
        return None
