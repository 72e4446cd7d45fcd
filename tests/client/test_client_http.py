"""The REST client against the real local control plane over real HTTP."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from faultkit import FAST, DroppingProxy, FaultInjector
from harness import cli, isolate

from reconciler.client import ApiSession, RestBackend
from reconciler.document import Pipeline
from reconciler.errors import (
    AmbiguousWrite,
    Conflict,
    NotFound,
    RateLimited,
    ServerError,
    TransportError,
    Unauthorized,
    Unreachable,
)
from reconciler.server.testing import ServerHandle, serve_in_thread


def _names(backend: RestBackend, project_id: str) -> list[str]:
    return sorted(p.name for p in backend.list_pipelines(project_id))


ViaProxy = tuple[DroppingProxy, RestBackend]


@pytest.fixture
def via_proxy(server: ServerHandle) -> Iterator[ViaProxy]:
    """A DroppingProxy in front of `server`, and a backend that connects through it."""
    proxy = DroppingProxy(server.port)
    b = RestBackend(ApiSession(proxy.base_url(), server.token, options=FAST), label="via proxy")
    yield proxy, b
    b.close()
    proxy.close()


def _timing_out_after(read_timeout: float, server: ServerHandle) -> RestBackend:
    """A backend with the FAST retries but its own read timeout (the slow-answer faults exceed it)."""
    options = FAST.__class__(**{**FAST.__dict__, "read_timeout": read_timeout})
    return RestBackend(ApiSession(server.base_url, server.token, options=options), label="x")


def test_pages_are_followed_to_the_end(backend: RestBackend, server: ServerHandle) -> None:
    project = backend.project("local")
    for i in range(15):
        backend.create_pipeline(Pipeline(name=f"p{i:02d}", projectId=project.id))
    server.control_plane.request_log.clear()
    query = {"filter": {"$and": [{"projectId": project.id}]}, "resource": "pipeline"}
    items = list(backend.session.pages("/pipelines/query", query, page_size=4))
    assert sorted(i["name"] for i in items) == [f"p{i:02d}" for i in range(15)]
    queries = [e for e in server.control_plane.request_log.entries() if e.path.endswith("/pipelines/query")]
    assert len(queries) == 4  # 4 + 4 + 4 + 3, the last one says hasNextPage: false
    assert len(_names(backend, project.id)) == 15


def test_errors_carry_the_server_message_and_class(backend: RestBackend) -> None:
    project = backend.project("local")
    with pytest.raises(NotFound) as info:
        backend.get_pipeline("0123456789abcdef01234567")
    assert info.value.status == 404
    assert info.value.server_message
    assert "GET /pipelines/0123456789abcdef01234567" in str(info.value)
    backend.create_pipeline(Pipeline(name="twice", projectId=project.id))
    with pytest.raises(Conflict) as conflict:
        backend.create_pipeline(Pipeline(name="twice", projectId=project.id))
    assert conflict.value.status == 409


def test_unknown_project_is_not_found_in_strict_mode_and_created_in_the_sandbox(
        backend: RestBackend, tmp_path: Path) -> None:
    assert backend.project("fresh").name == "fresh"  # sandbox: the examples need no setup
    assert backend.project("fresh").id == backend.project("fresh").id
    with serve_in_thread(tmp_path / "strict.db", strict=True) as strict:
        b = RestBackend(ApiSession(strict.base_url, strict.token, options=FAST), label="strict")
        with pytest.raises(NotFound, match="project 'nope' not found"):
            b.project("nope")
        b.close()


def test_bad_token_is_unauthorized_and_the_token_never_shows(server: ServerHandle,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    secret = server.token[:-4] + "AAAA"  # a forged signature
    caplog.set_level(logging.DEBUG)
    b = RestBackend(ApiSession(server.base_url, secret, options=FAST), label="x")
    with pytest.raises(Unauthorized) as info:
        b.list_pipelines("whatever")
    assert secret not in str(info.value)
    assert secret not in repr(b.session)
    assert secret not in caplog.text
    assert server.token not in caplog.text
    b.close()


def test_idempotent_reads_are_retried_through_5xx(backend: RestBackend, faults: FaultInjector) -> None:
    project = backend.project("local")
    created = backend.create_pipeline(Pipeline(name="p", projectId=project.id))
    faults.add("GET", r"/pipelines/[0-9a-f]+$", "status", times=2, status=503)
    assert backend.get_pipeline(created.id or "").name == "p"
    gets = [p for m, p in faults.seen if m == "GET" and p.endswith(created.id or "")]
    assert len(gets) == 3


def test_retries_give_up_with_the_last_answer(backend: RestBackend, faults: FaultInjector) -> None:
    faults.add("POST", r"/pipelines/query$", "status", times=10, status=500)
    with pytest.raises(ServerError, match="injected 500"):
        backend.list_pipelines("p")
    assert len([1 for m, p in faults.seen if p.endswith("/query")]) == 1 + FAST.attempts


def test_429_with_retry_after_is_retried_even_for_create(backend: RestBackend, faults: FaultInjector) -> None:
    project = backend.project("local")
    faults.add("POST", r"/pipelines$", "status", times=2, status=429, headers=[("Retry-After", "3600")])
    created = backend.create_pipeline(Pipeline(name="limited", projectId=project.id))
    assert created.id
    assert _names(backend, project.id) == ["limited"]


def test_429_past_the_retries_is_rate_limited_with_retry_after(backend: RestBackend, faults: FaultInjector) -> None:
    faults.add("GET", r"/projects/", "status", times=10, status=429, headers=[("Retry-After", "7")])
    with pytest.raises(RateLimited) as info:
        backend.project("local")
    assert info.value.retry_after == 7


@pytest.mark.parametrize(("header", "expected"), [("Thu, 01 Jan 1970 00:00:00 GMT", 0.0), ("soon", None)])
def test_retry_after_as_an_http_date_or_garbage(backend: RestBackend, faults: FaultInjector,
                                                header: str, expected: float | None) -> None:
    rule = faults.add("GET", r"/projects/", "status", times=10, status=429, headers=[("Retry-After", header)])
    with pytest.raises(RateLimited) as info:
        backend.project("local")
    assert info.value.retry_after == expected
    assert rule.fired == 1 + FAST.attempts  # retried all the same, however the header reads


def test_create_is_not_resent_after_a_5xx_that_did_not_commit(backend: RestBackend, faults: FaultInjector) -> None:
    project = backend.project("local")
    faults.add("POST", r"/pipelines$", "status", times=1, status=500)
    with pytest.raises(ServerError):
        backend.create_pipeline(Pipeline(name="p", projectId=project.id))
    assert [p for m, p in faults.seen if m == "POST" and p.endswith("/pipelines")] == ["/api/v1/pipelines"]
    assert _names(backend, project.id) == []


def test_create_whose_5xx_hid_a_commit_finds_it_by_name(backend: RestBackend, faults: FaultInjector) -> None:
    project = backend.project("local")
    faults.add("POST", r"/pipelines$", "status-after-commit", times=1, status=502)
    created = backend.create_pipeline(Pipeline(name="p", projectId=project.id))
    assert created.id and created.name == "p"
    assert _names(backend, project.id) == ["p"]


def test_create_whose_answer_was_lost_after_commit_is_found_not_duplicated(via_proxy: ViaProxy) -> None:
    proxy, b = via_proxy
    project = b.project("local")
    proxy.drop("POST", r"/pipelines$", when="after")
    created = b.create_pipeline(Pipeline(name="lost", projectId=project.id))
    assert proxy.dropped == 1
    assert created.id
    assert _names(b, project.id) == ["lost"]


def test_create_reset_before_reaching_the_server_reports_it_cleanly(via_proxy: ViaProxy) -> None:
    proxy, b = via_proxy
    project = b.project("local")
    proxy.drop("POST", r"/pipelines$", when="before")
    with pytest.raises(AmbiguousWrite) as info:
        b.create_pipeline(Pipeline(name="never", projectId=project.id))
    assert "connection" in str(info.value)
    assert _names(b, project.id) == []


def test_ambiguous_create_with_failing_lookup_is_ambiguous_write(via_proxy: ViaProxy) -> None:
    proxy, b = via_proxy
    project = b.project("local")
    proxy.drop("POST", r"/pipelines$", when="after")
    proxy.drop("POST", r"/pipelines/query$", when="before", times=1 + FAST.attempts)
    with pytest.raises(AmbiguousWrite, match="may or may not"):
        b.create_pipeline(Pipeline(name="maybe", projectId=project.id))
    assert _names(b, project.id) == ["maybe"]  # it did commit; the next plan sees it


def _closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return int(probe.getsockname()[1])  # closed again on return: nothing listens there


@pytest.mark.parametrize("retry", [True, False])
def test_nothing_listening_is_one_transport_error_naming_the_url_without_retries(
        retry: bool, caplog: pytest.LogCaptureFixture) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/api/v1"
    session = ApiSession(url, "t", options=FAST)
    with caplog.at_level(logging.DEBUG, logger="urllib3"), pytest.raises(TransportError) as info:
        session.call("GET", "/projects/local", retry=retry)
    session.close()
    assert str(info.value) == f"cannot reach {url}: connection refused"
    # Not retried: urllib3 logs each retry of a failed connection, and none happened.
    assert not [r for r in caplog.records if "Retrying" in r.getMessage()]


def test_an_unreachable_url_is_named_without_its_password() -> None:
    port = _closed_port()
    session = ApiSession(f"http://me:hunter2-secret@127.0.0.1:{port}/api/v1", "t", options=FAST)
    with pytest.raises(TransportError) as info:
        session.call("GET", "/projects/local")
    session.close()
    assert str(info.value) == f"cannot reach http://***@127.0.0.1:{port}/api/v1: connection refused"


def test_an_unknown_host_is_one_transport_error_without_retries(caplog: pytest.LogCaptureFixture) -> None:
    url = "http://no-such-host.invalid/api/v1"  # .invalid never resolves (RFC 2606)
    session = ApiSession(url, "t", options=FAST)
    with caplog.at_level(logging.DEBUG, logger="urllib3"), pytest.raises(TransportError) as info:
        session.call("GET", "/projects/local")
    session.close()
    assert str(info.value) == f"cannot reach {url}: unknown host 'no-such-host.invalid'"
    assert not [r for r in caplog.records if "Retrying" in r.getMessage()]


def test_the_cli_says_once_that_nothing_listens(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate(tmp_path, monkeypatch)
    monkeypatch.setenv("LOOPFORM_TOKEN", "a-token-of-some-length")
    url = f"http://127.0.0.1:{_closed_port()}/api/v1"
    run = cli("status", "--url", url, "--project", "p")
    assert run.code == 1
    assert run.err == f"Error: cannot reach {url}: connection refused\n"


def test_reads_survive_connection_resets(via_proxy: ViaProxy) -> None:
    proxy, b = via_proxy
    proxy.drop("GET", r"/projects/", when="before", times=2)
    assert b.project("local").name == "local"
    assert proxy.dropped == 2


def test_slow_reads_time_out_and_are_retried(server: ServerHandle, faults: FaultInjector) -> None:
    b = _timing_out_after(0.3, server)
    rule = faults.add("GET", r"/projects/", "slow", times=1)  # held until the test ends
    assert b.project("local").name == "local"
    assert rule.fired == 1
    b.close()


def test_reads_slow_on_every_try_report_a_timeout_not_a_connection_failure(
        server: ServerHandle, faults: FaultInjector) -> None:
    b = _timing_out_after(0.2, server)
    rule = faults.add("GET", r"/projects/", "slow", times=1 + FAST.attempts)
    with pytest.raises(TransportError) as info:
        b.project("local")
    assert rule.fired == 1 + FAST.attempts
    assert f"no answer within 0.2s on each of {1 + FAST.attempts} tries" in str(info.value)
    b.close()


def test_slow_create_times_out_then_is_found_not_duplicated(server: ServerHandle, faults: FaultInjector) -> None:
    b = _timing_out_after(0.3, server)
    project = b.project("local")
    create = faults.add("POST", r"/pipelines$", "slow-after-commit", times=1)
    # The lookup after the timeout reaches the server only once the create has committed.
    faults.add("POST", r"/pipelines/query$", "wait", times=1, until=create.handled)
    created = b.create_pipeline(Pipeline(name="slow", projectId=project.id))
    assert created.name == "slow"
    assert _names(b, project.id) == ["slow"]
    b.close()


def test_create_that_commits_after_the_timeout_is_ambiguous_then_seen_once(
        server: ServerHandle, faults: FaultInjector) -> None:
    b = _timing_out_after(0.2, server)
    project = b.project("local")
    create = faults.add("POST", r"/pipelines$", "slow", times=1)  # commits only after we gave up
    with pytest.raises(AmbiguousWrite, match="run again"):
        b.create_pipeline(Pipeline(name="late", projectId=project.id))
    assert _names(b, project.id) == []
    faults.release()
    assert create.handled.wait(60)  # the late commit landed
    assert _names(b, project.id) == ["late"]
    b.close()


def test_a_create_nobody_received_is_not_ambiguous() -> None:
    url = f"http://127.0.0.1:{_closed_port()}/api/v1"
    b = RestBackend(ApiSession(url, "t", options=FAST), label="x")
    with pytest.raises(Unreachable) as info:
        b.create_pipeline(Pipeline(name="never-sent", projectId="p"))
    b.close()
    assert not isinstance(info.value, AmbiguousWrite)
    assert str(info.value) == f"cannot reach {url}: connection refused"


def test_read_ahead_answers_the_project_and_one_listing_and_never_writes(
        backend: RestBackend, server: ServerHandle) -> None:
    project = backend.project("local")
    backend.create_pipeline(Pipeline(name="before", projectId=project.id))
    log = server.control_plane.request_log
    log.clear()
    backend.read_ahead("local")
    backend.read_ahead("local")  # asked twice (two specs of one project): fetched once
    backend.read_ahead("nobody-has-this")  # a sandbox creates a missing project, reading ahead never does
    assert backend.project("local") == project
    assert _names(backend, project.id) == ["before"]  # the listing read ahead
    fetched = [(e.method, e.path) for e in log.entries()]
    assert fetched.count(("POST", "/api/v1/pipelines/query")) == 1
    assert fetched.count(("GET", "/api/v1/projects/local/name")) == 1
    backend.create_pipeline(Pipeline(name="after", projectId=project.id))
    assert _names(backend, project.id) == ["after", "before"]  # handed out once: then listed afresh
    backend.close()  # waits for what is still in flight
    assert not [e for e in log.entries() if e.method == "POST" and e.path == "/api/v1/projects"]


def test_a_failed_read_ahead_is_asked_again_and_reported_by_the_call_that_needs_it(
        backend: RestBackend, server: ServerHandle, faults: FaultInjector) -> None:
    project = backend.project("local")
    faults.add("GET", r"/projects/local/name$", "status", status=401, times=1)
    backend.read_ahead("local")
    assert backend.project("local") == project  # the lookup is made again, and succeeds
    faults.add("GET", r"/projects/local/name$", "status", status=401, times=100)
    fresh = RestBackend(ApiSession(server.base_url, server.token, options=FAST), label="x")
    try:
        fresh.read_ahead("local")
        with pytest.raises(Unauthorized):
            fresh.project("local")
    finally:
        fresh.close()


def test_what_was_read_ahead_and_not_used_is_dropped_when_its_plan_is_done(
        backend: RestBackend, server: ServerHandle) -> None:
    """reconcile's loop keeps one backend: a cycle whose specs failed to load must not leave its
    listing to answer the next cycle."""
    project = backend.project("local")
    backend.read_ahead("local")
    backend.project("local")  # the lookup is used; its listing waits for list_pipelines...
    backend.read_ahead("other")
    backend.drop_read_ahead()  # ...but the plan failed
    backend.create_pipeline(Pipeline(name="later", projectId=project.id))
    assert _names(backend, project.id) == ["later"]
