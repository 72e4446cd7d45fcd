"""Backend selection: flags > environment > loopform.yaml > the embedded default."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.config import (
    DEFAULT_API_URL,
    BackendKind,
    Flags,
    resolve_settings,
)
from reconciler.errors import ConfigError


def _cookie(home: Path, url: str, token: str) -> Path:
    path = home / ".dataloop" / "cookie.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"url": url, "login_parameters": {url: {"alias": "prod", "token": token}}}))
    return path


def test_nothing_configured_is_the_embedded_default(tmp_path: Path) -> None:
    s = resolve_settings(Flags(), env={}, cwd=tmp_path, home=tmp_path)
    assert s.kind is BackendKind.LOCAL
    assert s.selected_by == "default"
    assert s.state_db == tmp_path / ".loopform" / "state.db"
    assert s.project == "local"


def test_a_dtlpy_login_alone_never_selects_production(tmp_path: Path) -> None:
    _cookie(tmp_path, DEFAULT_API_URL, "prod-secret-token")
    s = resolve_settings(Flags(), env={}, cwd=tmp_path, home=tmp_path)
    assert s.kind is BackendKind.LOCAL
    assert s.token is None


def test_a_stray_loopform_token_alone_does_not_select_a_remote(tmp_path: Path) -> None:
    s = resolve_settings(Flags(), env={"LOOPFORM_TOKEN": "t0k"}, cwd=tmp_path, home=tmp_path)
    assert s.kind is BackendKind.LOCAL
    assert any("LOOPFORM_TOKEN is set" in n for n in s.notes)
    assert not any("t0k" in n for n in s.notes)


def test_env_url_selects_remote_and_token_comes_from_env(tmp_path: Path) -> None:
    env = {"LOOPFORM_API_URL": "http://127.0.0.1:9/api/v1", "LOOPFORM_TOKEN": "t0k", "LOOPFORM_PROJECT": "p-env"}
    s = resolve_settings(Flags(), env=env, cwd=tmp_path, home=tmp_path)
    assert (s.kind, s.url, s.token, s.project, s.selected_by) == (
        BackendKind.DATALOOP, "http://127.0.0.1:9/api/v1", "t0k", "p-env", "LOOPFORM_API_URL")
    assert "t0k" not in repr(s)


def test_flags_beat_env_and_env_beats_file(tmp_path: Path) -> None:
    (tmp_path / "loopform.yaml").write_text("backend: dataloop\nurl: http://file.example/api/v1\nproject: p-file\n")
    env = {"LOOPFORM_API_URL": "http://env.example/api/v1", "LOOPFORM_TOKEN": "t", "LOOPFORM_PROJECT": "p-env"}
    from_env = resolve_settings(Flags(), env=env, cwd=tmp_path, home=tmp_path)
    assert (from_env.url, from_env.project) == ("http://env.example/api/v1", "p-env")
    from_flags = resolve_settings(Flags(url="http://flag.example/api/v1", project="p-flag"), env=env,
                                  cwd=tmp_path, home=tmp_path)
    assert (from_flags.url, from_flags.project, from_flags.selected_by) == (
        "http://flag.example/api/v1", "p-flag", "--url")
    from_file = resolve_settings(Flags(), env={"LOOPFORM_TOKEN": "t"}, cwd=tmp_path, home=tmp_path)
    assert (from_file.url, from_file.project, from_file.selected_by) == (
        "http://file.example/api/v1", "p-file", "loopform.yaml")


def test_backend_local_flag_overrides_an_env_url(tmp_path: Path) -> None:
    env = {"LOOPFORM_API_URL": "http://env.example/api/v1", "LOOPFORM_TOKEN": "t"}
    s = resolve_settings(Flags(backend=BackendKind.LOCAL), env=env, cwd=tmp_path, home=tmp_path)
    assert s.kind is BackendKind.LOCAL


def test_file_can_pin_local(tmp_path: Path) -> None:
    (tmp_path / "loopform.yaml").write_text("backend: local\nproject: demo\n")
    s = resolve_settings(Flags(), env={}, cwd=tmp_path, home=tmp_path)
    assert (s.kind, s.project, s.selected_by) == (BackendKind.LOCAL, "demo", "loopform.yaml")


def test_remote_token_falls_back_to_the_dtlpy_cookie_of_the_same_environment(tmp_path: Path) -> None:
    _cookie(tmp_path, DEFAULT_API_URL, "cookie-token")
    s = resolve_settings(Flags(backend=BackendKind.DATALOOP), env={}, cwd=tmp_path, home=tmp_path)
    assert (s.url, s.token) == (DEFAULT_API_URL, "cookie-token")
    assert s.console_url == "https://console.dataloop.ai"


def test_cookie_under_dataloop_path_is_used(tmp_path: Path) -> None:
    dlp = tmp_path / "dlp"
    dlp.mkdir()
    url = "http://127.0.0.1:5/api/v1"
    (dlp / "cookie.json").write_text(json.dumps({"url": url, "login_parameters": {url: {"token": "x"}}}))
    s = resolve_settings(Flags(url=url), env={"DATALOOP_PATH": str(dlp)}, cwd=tmp_path, home=tmp_path)
    assert s.token == "x"


def test_a_production_token_is_not_sent_to_another_url(tmp_path: Path) -> None:
    _cookie(tmp_path, DEFAULT_API_URL, "prod-token")
    with pytest.raises(ConfigError, match="no token for http://other.example/api/v1") as info:
        resolve_settings(Flags(url="http://other.example/api/v1"), env={}, cwd=tmp_path, home=tmp_path)
    assert "prod-token" not in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("backend: cloud\n", "loopform.yaml:1:1: invalid project file: backend"),
        ("- a\n- b\n", "expected a mapping"),
        ("backend: [\n", "loopform.yaml:2:1: invalid YAML"),
    ],
)
def test_malformed_project_file_is_a_located_config_error(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "loopform.yaml").write_text(text)
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("[", r"\[")):
        resolve_settings(Flags(), env={}, cwd=tmp_path, home=tmp_path)


def test_strict_is_for_local_only(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--strict"):
        resolve_settings(Flags(url="http://x.example/api/v1", strict=True), env={"LOOPFORM_TOKEN": "t"},
                         cwd=tmp_path, home=tmp_path)


def test_bad_url_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not an http"):
        resolve_settings(Flags(url="gate.dataloop.ai"), env={"LOOPFORM_TOKEN": "t"}, cwd=tmp_path, home=tmp_path)
