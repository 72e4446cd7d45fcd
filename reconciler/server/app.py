"""`ControlPlane`: the local Dataloop control plane as one WSGI application over one SQLite file.

Every behaviour lives here (not in the HTTP server wrapper), because the CLI's embedded default
calls `wsgi_app` in-process and `loopform serve` serves the same callable with waitress.
"""

from __future__ import annotations

import html
import logging
import re
import stat
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from reconciler import __version__
from reconciler.server import (
    routes_bots,
    routes_integrations,
    routes_items,
    routes_packages,
    routes_pipelines,
    routes_projects,
    routes_recipes,
    routes_resources,
    routes_tasks,
)
from reconciler.server.auth import TokenAuthority
from reconciler.server.engine import Engine
from reconciler.server.http import (
    HttpError,
    Request,
    Response,
    Router,
    error_body,
    read_request,
    start_response_with,
)
from reconciler.server.ids import new_uuid, now_iso, object_id
from reconciler.server.resources import BINARIES_DATASET, create_resource
from reconciler.server.store import Store, StoreError

log = logging.getLogger("loopform.server")

API_PREFIX = "/api/v1"
# Routes that answer without a token: the client probes them to detect a local control plane.
_PUBLIC = frozenset({("GET", "/loopform/info")})


class LoggedRequest(NamedTuple):
    method: str
    path: str  # the full path, e.g. /api/v1/pipelines/query
    status: int

    @property
    def is_write(self) -> bool:
        """Any non-GET request except the read-only query routes: `POST .../query` (pipelines,
        datasets, models) and `POST /query/faas` (services). A validate is a read too."""
        if self.method in ("GET", "HEAD", "OPTIONS"):
            return False
        path = self.path.rstrip("/")
        read_only = path.endswith("/query") or path.endswith("/query/faas") or path.endswith(
            "/pipelines/validate")
        return not (self.method == "POST" and read_only)


class RequestLog:
    """A thread-safe record of the requests served, in order: the last `limit` of them, so that a
    long-running `loopform serve` does not grow without bound."""

    def __init__(self, limit: int = 100_000) -> None:
        self._lock = threading.Lock()
        self._entries: deque[LoggedRequest] = deque(maxlen=limit)

    def append(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._entries)

    def writes(self) -> list[LoggedRequest]:
        return [e for e in self.entries() if e.is_write]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __iter__(self) -> Iterator[LoggedRequest]:
        return iter(self.entries())

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


STATE_DIR_NAME = ".loopform"
_DEFAULT_PROJECT_NAMESPACE = uuid.UUID("5d1f0c1e-7a59-4c35-9c1b-6f1e0b2f9a10")  # fixed forever
_CONSOLE_PATH = re.compile(r"^/projects/(?P<project>[^/]+)(?:/pipelines(?:/(?P<pipeline>[^/]+))?)?/?$")


def console_page(environ: dict[str, Any]) -> Response | None:
    """A plain page for the web-console URLs that dtlpy's `open_in_web` and `loopform open` build
    (`/projects/{pid}/pipelines/{id}`), instead of a JSON 404 in the user's browser.

    There is no console here, and a browser carries no token, so the page shows no data: only the
    ids already in the URL (escaped) and the commands that show the pipeline. None for any other
    request.
    """
    if environ.get("REQUEST_METHOD", "GET").upper() != "GET":
        return None
    found = _CONSOLE_PATH.match(environ.get("PATH_INFO", ""))
    if found is None:
        return None
    project, pipeline = found.group("project"), found.group("pipeline")
    what = f"pipeline <code>{html.escape(pipeline)}</code> of project " if pipeline else "project "
    page = (
        "<!doctype html><meta charset=utf-8><title>Loopform local control plane</title>"
        "<h1>Loopform local control plane</h1>"
        f"<p>This link names {what}<code>{html.escape(project)}</code>. The local control plane has "
        "no web console: it serves Dataloop's API under <code>/api/v1</code>.</p>"
        "<p>See the pipelines with <code>loopform status --all</code>, a pipeline's runs with "
        "<code>loopform executions NAME</code> and <code>loopform stats NAME</code>, "
        "or use dtlpy: <code>project.pipelines.get(pipeline_id=...)</code>.</p>"
    )
    return Response(200, html=page)




def _guard_state_folder(folder: Path) -> None:
    """Make Loopform's own state folder private (0700) and give it a `.gitignore` of `*`, as pytest
    does for its cache.

    The embedded default lives in `.loopform/` inside the user's repository; its database holds the
    token secret and must be neither readable by other users of the machine (the Store creates the
    file 0600) nor committed by a careless `git add .`. Only a folder with that name is touched (a
    `--db` elsewhere is the user's business), and an existing `.gitignore` is kept.
    """
    if folder.name != STATE_DIR_NAME:
        return
    try:
        if stat.S_IMODE(folder.stat().st_mode) & 0o077:
            folder.chmod(0o700)
    except OSError:  # not ours to change: the database file itself is private anyway
        pass
    ignore = folder / ".gitignore"
    try:
        with ignore.open("x") as fh:
            fh.write("# Created by loopform: local state (with the token secret), not for version control.\n*\n")
    except OSError:  # already there (FileExistsError), or a read-only folder: nothing to do
        pass


class ControlPlane:
    """The local control plane over the SQLite file `db_path` (created if missing).

    `strict=True` answers like the real platform: no provisioning of unknown datasets, recipes,
    models or services. A fresh database gets one project, `default_project`, owned by
    `default_user`; the per-database token secret is created on first open.
    """

    def __init__(
        self,
        db_path: Path,
        *,
        strict: bool = False,
        default_project: str = "local",
        default_user: str = "local@loopform.dev",
    ) -> None:
        self.db_path = Path(db_path)
        self.strict = strict
        self.default_user = default_user
        self.store = Store(self.db_path)
        # Item bytes, beside the database (in `.loopform/` for the embedded default).
        self.binaries_dir = self.db_path.with_name(self.db_path.stem + "-binaries")
        _guard_state_folder(self.db_path.parent)
        self.tokens = TokenAuthority(self.store)
        self.request_log = RequestLog()
        self._router = Router()
        self._router.add("GET", "/loopform/info", self._info)
        routes_projects.register(self._router, self)
        routes_pipelines.register(self._router, self)
        routes_resources.register(self._router, self)
        routes_recipes.register(self._router, self)
        routes_items.register(self._router, self)
        routes_tasks.register(self._router, self)
        routes_packages.register(self._router, self)
        routes_bots.register(self._router, self)
        routes_integrations.register(self._router, self)
        self.engine = Engine(self, api_prefix=API_PREFIX)
        self.ensure_user(default_user)
        if default_project:
            # The same id in every fresh database: a plan saved against a database that did not
            # exist yet (reading commands see an empty one in memory) applies to the one apply
            # then creates.
            self.create_project(default_project, owner=default_user, unless_named=True,
                                project_id=str(uuid.uuid5(_DEFAULT_PROJECT_NAMESPACE, default_project)))

    # --- public API -------------------------------------------------------------------------

    def mint_token(self, email: str | None = None, ttl_seconds: int = 3600 * 24, *, cycle: str | None = None) -> str:
        """A bearer token for `email` (default: the default user), valid for `ttl_seconds`; with
        `cycle`, the cycles its requests start are caused by that one (auth.Caller)."""
        return self.tokens.mint(email or self.default_user, ttl_seconds=ttl_seconds, cycle=cycle)

    def close(self, *, finish_work: bool = True) -> None:
        """Close the database; `finish_work`: see `Engine.close` (False for a served plane)."""
        self.engine.close(finish=finish_work)
        self.store.close()

    def wsgi_app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        response = self._respond(environ)
        self.request_log.append(
            LoggedRequest(environ.get("REQUEST_METHOD", "GET").upper(), environ.get("PATH_INFO", ""),
                          response.status)
        )
        return start_response_with(start_response, response)

    # --- helpers shared by the route modules -------------------------------------------------

    def ensure_user(self, email: str) -> dict[str, Any]:
        user = self.store.user(email)
        if user is None:
            now = now_iso()
            user = {"id": email, "email": email, "username": email.split("@")[0],
                    "firstName": email.split("@")[0], "lastName": "", "createdAt": now,
                    "updatedAt": now, "type": "human"}
            self.store.put_user(user)
        return user

    def create_project(
        self, name: str, *, owner: str, project_id: str | None = None, unless_named: bool = False
    ) -> dict[str, Any]:
        """Create a project owned by `owner` (with `unless_named`, only if no project has the name)."""
        now = now_iso()
        org_id = self.store.meta_setdefault("org_id", new_uuid())
        project: dict[str, Any] = {
            "id": project_id or new_uuid(), "name": name, "creator": owner,
            "org": {"id": org_id, "name": "local"}, "orgId": org_id, "account": org_id,
            "createdAt": now, "updatedAt": now, "archived": False, "isBlocked": False,
            "contributors": [], "groups": [], "guests": [], "featureConstraints": {},
        }
        if self.store.insert_project(project, owner=owner, unless_named=unless_named):
            # Every platform project has a system dataset "Binaries" (code packages live there);
            # dtlpy's create-project flow waits for it and `packages.push` uploads into it.
            create_resource(self.store, "dataset", name=BINARIES_DATASET, project_id=str(project["id"]),
                            resource_id=object_id(), creator=owner)
        return project

    def visible_project(self, request: Request, project_id: str) -> dict[str, Any]:
        """The project if the caller belongs to it; 404 otherwise (no hint that it exists)."""
        project = self.store.project(project_id)
        if project is None or not self.store.is_member(project_id, request.user or ""):
            raise HttpError(404, f"Project not found: {project_id}")
        return project

    def body_project(self, request: Request, body: Mapping[str, Any], what: str) -> dict[str, Any]:
        """The project a create body names in `projectId`, as `visible_project` finds it; 400 when
        the body names none (`what`: the object created, for the message)."""
        project_id = body.get("projectId")
        if not isinstance(project_id, str):
            raise HttpError(400, f"{what} 'projectId' is required")
        return self.visible_project(request, project_id)

    def visible_project_ids(self, request: Request) -> set[str]:
        return self.store.project_ids_of(request.user or "")

    def base_url(self, environ: dict[str, Any]) -> str:
        host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME', 'localhost')}:{environ.get('SERVER_PORT', '80')}"
        return f"{environ.get('wsgi.url_scheme', 'http')}://{host}{API_PREFIX}"

    # --- dispatch ---------------------------------------------------------------------------

    def _info(self, request: Request) -> dict[str, Any]:
        return {"server": "loopform-local", "version": __version__, "strict": self.strict}

    def _respond(self, environ: dict[str, Any]) -> Response:
        console = console_page(environ)
        if console is not None:
            return console
        try:
            request = read_request(environ, API_PREFIX)
            request.base_url = self.base_url(environ)
            # Authenticate before routing, so that without a token nothing (not even which
            # routes exist) is revealed.
            if (request.method, request.path) not in _PUBLIC:
                caller = self.tokens.caller(request.headers.get("authorization"))
                request.user, request.cycle = caller.email, caller.cycle
            handler, params = self._router.match(request.method, request.path)
            result = handler(request, **params)
        except HttpError as exc:
            return Response(exc.status, error_body(exc.status, exc.message))
        except StoreError as exc:
            log.error("state database error: %s", exc)
            return Response(500, error_body(500, "Internal error: the state database failed"))
        except Exception:  # noqa: BLE001 - the one boundary: no stack trace ever reaches a client
            log.exception("unhandled error serving %s %s", environ.get("REQUEST_METHOD"),
                          environ.get("PATH_INFO"))
            return Response(500, error_body(500, "Internal error"))
        if isinstance(result, Response):
            return result
        return Response(200, result)
