"""`RestBackend`: the `reconciler.backend.Backend` protocol over the Dataloop REST API.

Routes are exactly the ones dtlpy 1.126.5 calls (reference sections 2 and 6), so the same code talks
to the real gate, to `loopform serve`, and to the embedded control plane.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from enum import Enum
from typing import Any

from pydantic import ValidationError

from reconciler.backend import Project, Resolved
from reconciler.client.models import Item, PipelineExecution, PipelineStats, ServerInfo, Task
from reconciler.client.resolver import ApiResolver
from reconciler.client.transport import ApiSession, quote_segment
from reconciler.document import Pipeline
from reconciler.errors import (AmbiguousWrite, ApiError, ClientError, NotFound, ServerError, TransportError,
                               Unreachable)

log = logging.getLogger(__name__)

# Fields the server owns; a create body carrying them would at best be ignored.
_SERVER_OWNED = ("id", "status", "creator", "orgId", "url", "createdAt", "updatedAt", "updatedBy",
                 "compositionId", "revisions")


class _Unasked(Enum):
    UNASKED = "unasked"  # the server's info was not asked for yet


def fetch_server_info(session: ApiSession) -> ServerInfo | None:
    """The local control plane's info, or None on a real Dataloop (which has no such route)."""
    try:
        data = session.call("GET", "/loopform/info")
        return ServerInfo.model_validate(data) if isinstance(data, dict) else None
    except ValidationError:
        return None  # some other server's answer: not a Loopform control plane
    except ClientError:
        # A control plane answers this route to anyone (no token needed); any refusal (404, or a
        # gate's 401/403 before routing) means a real Dataloop, and the user's first real request
        # reports a bad token in its own words.
        return None


class RestBackend:
    """A live Dataloop (or local control plane) reached through an `ApiSession`.

    `console_url` is the web console's base (for `open`); `label` is how the user is told which
    backend this is, and what a saved plan records to refuse being applied elsewhere (so it names
    the backend, not how it was selected). Thread-safe: apply calls it from several worker threads.
    """

    def __init__(self, session: ApiSession, *, label: str, console_url: str | None = None,
                 on_close: Callable[[], None] | None = None, control_plane: Any = None,
                 on_pipeline: Callable[[Pipeline], None] | None = None,
                 server_info: ServerInfo | None | _Unasked = _Unasked.UNASKED) -> None:
        self.session = session
        self._label = label
        self._console_url = (console_url or "").rstrip("/") or None
        self._control_plane = control_plane
        self._on_close = on_close
        self._info: ServerInfo | None = None if isinstance(server_info, _Unasked) else server_info
        self._info_known = not isinstance(server_info, _Unasked)  # `connect` asks before it names the backend
        self._lock = threading.Lock()
        # Read ahead while a command loads its specs (`read_ahead`): project name -> its lookup and
        # listing; and project id -> a listing not handed out yet (each is handed out once).
        self._ahead: dict[str, Future[tuple[Project, list[Pipeline]] | None]] = {}
        self._listed_ahead: dict[str, list[Pipeline]] = {}
        self._ahead_pool: ThreadPoolExecutor | None = None
        # Called with every pipeline document read from the API (the CLI hides the secrets the
        # document's marker says it holds, before anything can print them).
        self._on_pipeline = on_pipeline

    # What the backend is, fixed at construction (read-only: `connect` decides all of it first).
    @property
    def label(self) -> str:
        return self._label

    @property
    def console_url(self) -> str | None:
        return self._console_url

    @property
    def control_plane(self) -> Any:
        """The embedded ControlPlane, when this backend is in-process (else None)."""
        return self._control_plane

    @property
    def on_pipeline(self) -> Callable[[Pipeline], None] | None:
        return self._on_pipeline

    @property
    def description(self) -> str:
        return self.label

    def close(self) -> None:
        with self._lock:
            pool, self._ahead_pool = self._ahead_pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        self.session.close()
        if self._on_close is not None:
            self._on_close()
            self._on_close = None

    def __enter__(self) -> RestBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the server itself -------------------------------------------------------------------

    def server_info(self) -> ServerInfo | None:
        """The local control plane's info, or None on a real Dataloop (which has no such route)."""
        with self._lock:
            if not self._info_known:
                self._info = fetch_server_info(self.session)
                self._info_known = True
            return self._info

    @property
    def sandbox(self) -> bool:
        """True on a local control plane that provisions unknown names (not --strict)."""
        info = self.server_info()
        return info is not None and not info.strict

    # -- projects ------------------------------------------------------------------------------

    def project(self, name: str) -> Project:
        """The project by name. On a sandbox local control plane a missing one is created
        (dtlpy's `projects.create` route), so the examples apply on a fresh machine."""
        ahead = self._read_ahead_result(name)
        if ahead is not None:
            return ahead
        found = self._find_project(name)
        if found is None and self.sandbox:
            # Not retried: a lost answer plus a retry could make two projects of one name.
            return Project.model_validate(self.session.call("POST", "/projects", body={"name": name}, retry=False))
        if found is None:
            raise NotFound(f"project {name!r} not found (or you are not a member)",
                           status=404, method="GET", path=f"/projects/{name}/name")
        return found

    def _find_project(self, name: str) -> Project | None:
        try:
            data = self.session.call("GET", f"/projects/{quote_segment(name)}/name")
        except NotFound:
            data = []
        items = data if isinstance(data, list) else []
        if len(items) > 1:
            raise ClientError(f"more than one project is named {name!r}; use its id",
                              method="GET", path=f"/projects/{name}/name")
        return Project.model_validate(items[0]) if items else None

    # -- reading ahead -------------------------------------------------------------------------

    def read_ahead(self, project_name: str) -> None:
        """Start looking project `project_name` up and listing its pipelines in the background, so
        that `project` and the next `list_pipelines` of it answer without waiting (plan and apply
        call this while they load the specs: the round trips and the server's work overlap the
        loading). Only against a remote API: in-process the work would just take turns with the
        loading for the interpreter. Never writes (a missing project is left to `project`, which
        may create it), and a failure is dropped: the call that needs the answer meets it again."""
        if self._control_plane is not None:
            return
        with self._lock:
            if project_name in self._ahead:
                return
            if self._ahead_pool is None:
                self._ahead_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="loopform-ahead")
            self._ahead[project_name] = self._ahead_pool.submit(self._look_ahead, project_name)

    def drop_read_ahead(self) -> None:
        """Forget what was read ahead and not asked for (the plan it was for is made, or failed):
        a long-lived backend (reconcile's loop) must never answer a later plan from it."""
        with self._lock:
            self._ahead.clear()
            self._listed_ahead.clear()

    def _look_ahead(self, name: str) -> tuple[Project, list[Pipeline]] | None:
        found = self._find_project(name)
        return None if found is None else (found, self._list_pipelines(found.id))

    def _read_ahead_result(self, name: str) -> Project | None:
        with self._lock:
            future = self._ahead.get(name)
        try:
            ahead = future.result() if future is not None else None
        except Exception:  # noqa: BLE001 - asked again by the caller, which reports it
            log.debug("reading project %r ahead failed; asking again", name, exc_info=True)
            return None
        if ahead is None:
            return None
        project, listed = ahead
        with self._lock:
            if self._ahead.pop(name, None) is not None:  # the listing is handed out once
                self._listed_ahead[project.id] = listed
        return project

    # -- pipelines -----------------------------------------------------------------------------

    def list_pipelines(self, project_id: str) -> list[Pipeline]:
        with self._lock:
            listed = self._listed_ahead.pop(project_id, None)
        return listed if listed is not None else self._list_pipelines(project_id)

    def _list_pipelines(self, project_id: str) -> list[Pipeline]:
        query = {"filter": {"$and": [{"projectId": project_id}]}, "resource": "pipeline"}
        return [self._pipeline(item) for item in self.session.pages("/pipelines/query", query)]

    def find_pipeline(self, project_id: str, name: str) -> Pipeline | None:
        # dtlpy's pipelines.get(pipeline_name=) body, projectId twice included.
        query = {"filter": {"$and": [{"name": name}, {"projectId": project_id}, {"projectId": project_id}]},
                 "resource": "pipeline"}
        found = [self._pipeline(i) for i in self.session.pages("/pipelines/query", query)]
        if len(found) > 1:
            # Never pick one at random: the caller would update one twin and leave the other.
            raise ClientError(f"{len(found)} pipelines are named {name!r} in project {project_id}",
                              method="POST", path="/pipelines/query")
        return found[0] if found else None

    def get_pipeline(self, pipeline_id: str) -> Pipeline:
        return self._pipeline(self.session.call("GET", f"/pipelines/{quote_segment(pipeline_id)}"))

    def _pipeline(self, data: Any) -> Pipeline:
        doc = Pipeline.model_validate(data)
        if self.on_pipeline is not None:
            self.on_pipeline(doc)
        return doc

    def create_pipeline(self, doc: Pipeline) -> Pipeline:
        """POST once; after an ambiguous failure, look the pipeline up by name instead of resending.

        A timeout, a reset connection or a 5xx after the body was sent may hide a committed create;
        a blind retry could make a twin. If the lookup finds it, that is our pipeline (the plan said
        none existed). If the lookup also fails, `AmbiguousWrite`: a re-run plans from live state.
        """
        if not doc.projectId:
            raise ClientError("a pipeline to create needs a projectId")
        body = {k: v for k, v in doc.wire().items() if k not in _SERVER_OWNED}
        try:
            return self._pipeline(self.session.call("POST", "/pipelines", body=body, retry=False))
        except Unreachable:
            raise  # nothing was sent: not ambiguous
        except (TransportError, ServerError) as exc:
            log.info("create of %r failed ambiguously (%s); looking it up by name", doc.name, exc)
            try:
                found = self.find_pipeline(doc.projectId, doc.name)
            except ApiError as lookup_exc:
                raise AmbiguousWrite(
                    f"create of pipeline {doc.name!r} may or may not have happened ({exc.server_message}); "
                    f"the lookup failed too ({lookup_exc.server_message}). Run again: the plan will tell.",
                    method="POST", path="/pipelines") from exc
            if found is not None:
                return found
            if isinstance(exc, ServerError):
                raise  # the server answered: that create did not happen
            # No answer, and not there (yet): it may still commit. Only a later look can tell.
            raise AmbiguousWrite(
                f"create of pipeline {doc.name!r} got no answer ({exc.server_message}) and it is not "
                "there yet; run again: the plan will show whether it was created.",
                method="POST", path="/pipelines") from exc

    def update_pipeline(self, doc: Pipeline) -> Pipeline:
        # PATCH carries the whole document (reference 5.1): sending it twice leaves the same state,
        # so it is retried like any idempotent call.
        if not doc.id:
            raise ClientError("a pipeline to update needs its id")
        data = self.session.call("PATCH", f"/pipelines/{quote_segment(doc.id)}", body=doc.wire())
        return self._pipeline(data) if isinstance(data, dict) else self.get_pipeline(doc.id)

    def delete_pipeline(self, pipeline_id: str) -> None:
        self.session.call("DELETE", f"/pipelines/{quote_segment(pipeline_id)}")

    def install(self, pipeline_id: str, *, resume_option: str | None = None) -> Pipeline:
        # Installing an installed pipeline leaves it installed: idempotent in effect, retried.
        body: dict[str, Any] = {"resumeOption": resume_option} if resume_option else {}
        data = self.session.call("POST", f"/pipelines/{quote_segment(pipeline_id)}/install", body=body)
        return Pipeline.model_validate(data) if isinstance(data, dict) else self.get_pipeline(pipeline_id)

    def uninstall(self, pipeline_id: str, *, keep_triggers_active: bool | None = None) -> None:
        # Pausing a paused pipeline changes nothing: retried.
        body: dict[str, Any] = {} if keep_triggers_active is None else {"keepTriggersActive": keep_triggers_active}
        self.session.call("POST", f"/pipelines/{quote_segment(pipeline_id)}/uninstall", body=body)

    def reset(self, pipeline_id: str) -> None:
        # A second reset of a just-reset pipeline finds nothing left to reset: retried.
        self.session.call("POST", f"/pipelines/{quote_segment(pipeline_id)}/reset")

    # -- names ---------------------------------------------------------------------------------

    def resolver(self, project_id: str) -> ApiResolver:
        return ApiResolver(self.session, project_id, sandbox=self.sandbox)

    def provision(self, project_id: str, resolved: Resolved) -> None:
        """Create a local object with exactly the planned id (the server makes this idempotent)."""
        body: dict[str, Any] = {"kind": resolved.kind.value, "name": resolved.name, "id": resolved.id,
                                "projectId": project_id}
        scope = resolved.extra.get("scope")
        if scope:
            body["scope"] = scope
        self.session.call("POST", "/loopform/provision", body=body)

    # -- the imperative operations --------------------------------------------------------------

    def execute(self, pipeline_id: str, inputs: dict[str, Any], *, node_id: str | None = None,
                test_mode: bool | None = None) -> PipelineExecution:
        # Not idempotent (each call starts a cycle): never retried after the request was sent.
        spec: dict[str, Any] = {"input": inputs}
        if node_id:
            spec["nodeId"] = node_id
        if test_mode is not None:
            spec["testMode"] = test_mode
        data = self.session.call("POST", f"/pipelines/{quote_segment(pipeline_id)}/execute",
                                 body={"pipeline": spec}, retry=False)
        return PipelineExecution.model_validate(data)

    def executions(self, pipeline_id: str, *, limit: int | None = None) -> list[PipelineExecution]:
        query = {"filter": {"$and": [{"pipelineId": pipeline_id}]}, "resource": "pipelineState",
                 "sort": {"createdAt": "descending"}}
        found: list[PipelineExecution] = []
        for item in self.session.pages("/pipelines/query", query, page_size=100):
            found.append(PipelineExecution.model_validate(item))
            if limit is not None and len(found) >= limit:
                break
        return found

    def statistics(self, pipeline_id: str) -> PipelineStats:
        data = self.session.call("GET", f"/pipelines/{quote_segment(pipeline_id)}/statistics")
        return PipelineStats.model_validate(data or {})

    # -- tasks and items (dtlpy's `tasks.list(task_name=)`, `items.get`, `item.update_status`) ----

    def tasks_named(self, project_id: str, name: str) -> list[Task]:
        query = {"filter": {"$and": [{"name": name}]}, "context": {"projectIds": [project_id]}}
        return [Task.model_validate(t) for t in self.session.pages("/annotationtasks/query", query, page_size=500)]

    def item(self, item_id: str) -> Item:
        return Item.model_validate(self.session.call("GET", f"/items/{quote_segment(item_id)}"))

    def set_item_status(self, task_id: str, item_id: str, status: str) -> bool:
        """The item's status in the task set (an action a person takes); False when the server
        did not take it (the item is not in the task)."""
        data = self.session.call("POST", f"/assignments/items/tasks/{quote_segment(task_id)}/status",
                                 body={"itemIds": [item_id], "statusPayload": {"operation": "create", "status": status}},
                                 retry=False)  # a second status is a second action in the task's history
        return isinstance(data, dict) and item_id in data

    def web_url(self, pipeline: Pipeline) -> str | None:
        """The console page of a pipeline (what dtlpy's open_in_web opens), if a console is known."""
        if not self.console_url:
            return None
        return f"{self.console_url}/projects/{pipeline.projectId}/pipelines/{pipeline.id}"
