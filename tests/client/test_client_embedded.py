"""The embedded default: the same client over the in-process WSGI transport, and its selection."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest

from reconciler.client import ApiSession, RestBackend, WsgiTransport
from reconciler.connection import add_backend_arguments, backend_from_args, open_embedded
from reconciler.document import Pipeline
from reconciler.errors import ConfigError, NotFound
from reconciler.server import ControlPlane
from reconciler.terminal import Terminal


def _term() -> Terminal:
    return Terminal(out=io.StringIO(), err=io.StringIO(), colour=False, unicode=True)


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_backend_arguments(parser)
    return parser.parse_args(list(argv))


def test_wsgi_transport_carries_method_path_body_and_headers(tmp_path: Path) -> None:
    plane = ControlPlane(tmp_path / "s.db")
    token = plane.mint_token()
    b = RestBackend(ApiSession("http://loopform.local/api/v1", token, transport=WsgiTransport(plane.wsgi_app)),
                    label="in-process")
    name = "données 100%/é x"  # quoted into one path segment; non-ASCII and % survive the environ
    project = b.project(name.replace("/", ""))  # a "/" does not: the server's route takes [^/]+
    assert b.project(project.name).id == project.id  # found by name (GET /projects/{name}/name)
    assert project.name == "données 100%é x"
    created = b.create_pipeline(Pipeline(name="p ✓", projectId=project.id, description="body"))
    found = b.find_pipeline(project.id, "p ✓")
    assert found is not None and (found.id, found.description) == (created.id, "body")
    with pytest.raises(NotFound):
        b.get_pipeline("ffffffffffffffffffffffff")
    paths = [(e.method, e.path, e.status) for e in plane.request_log.entries()]
    assert ("POST", "/api/v1/pipelines", 200) in paths
    assert paths[-1][2] == 404
    b.close()
    plane.close()


def test_wsgi_transport_without_token_is_unauthorized(tmp_path: Path) -> None:
    plane = ControlPlane(tmp_path / "s.db")
    b = RestBackend(ApiSession("http://loopform.local/api/v1", None, transport=WsgiTransport(plane.wsgi_app)),
                    label="x")
    from reconciler.errors import Unauthorized
    with pytest.raises(Unauthorized):
        b.project("local")
    b.close()
    plane.close()


def test_embedded_state_persists_in_the_working_directory(tmp_path: Path) -> None:
    db = tmp_path / ".loopform" / "state.db"
    first = open_embedded(db)
    project = first.project("local")
    first.create_pipeline(Pipeline(name="kept", projectId=project.id))
    first.close()
    second = open_embedded(db)
    assert [p.name for p in second.list_pipelines(project.id)] == ["kept"]
    second.close()


def test_backend_from_args_defaults_to_embedded_and_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    for var in ("LOOPFORM_API_URL", "LOOPFORM_TOKEN", "LOOPFORM_PROJECT", "DATALOOP_PATH"):
        monkeypatch.delenv(var, raising=False)
    # A dtlpy login to production is lying around: it must not be used.
    cookie = tmp_path / ".dataloop" / "cookie.json"
    cookie.parent.mkdir()
    url = "https://gate.dataloop.ai/api/v1"
    cookie.write_text(json.dumps({"url": url, "login_parameters": {url: {"token": "PRODTOKEN"}}}))
    term = _term()
    backend, project = backend_from_args(_args(), term)
    assert project == "local"
    assert backend.control_plane is not None
    assert (tmp_path / ".loopform" / "state.db").exists()
    banner = term.err.getvalue()  # type: ignore[attr-defined]
    assert "local control plane .loopform/state.db" in banner and "project: local" in banner
    assert "PRODTOKEN" not in banner
    backend.close()


def test_backend_from_args_remote_over_http(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from reconciler.server.testing import serve_in_thread

    monkeypatch.chdir(tmp_path)
    with serve_in_thread(tmp_path / "served.db") as server:
        monkeypatch.setenv("LOOPFORM_TOKEN", server.token)
        term = _term()
        backend, project = backend_from_args(_args("--url", server.base_url, "--project", "local"), term)
        assert project == "local"
        assert backend.project("local").name == "local"
        banner = term.err.getvalue()  # type: ignore[attr-defined]
        assert server.base_url in banner and "--url" in banner
        assert server.token not in banner
        # `loopform serve` has no separate console: links point at the server itself.
        assert backend.console_url == server.root_url
        backend.close()
    assert not (tmp_path / ".loopform").exists()


def test_remote_without_any_token_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("LOOPFORM_TOKEN", raising=False)
    monkeypatch.delenv("DATALOOP_PATH", raising=False)
    with pytest.raises(ConfigError, match="LOOPFORM_TOKEN"):
        backend_from_args(_args("--url", "http://127.0.0.1:9/api/v1"), _term())
