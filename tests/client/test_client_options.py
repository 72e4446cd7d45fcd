"""Client tuning from the environment (LOOPFORM_TIMEOUT, LOOPFORM_MAX_RETRIES) and how the CLI names
the backend it talks to, through the CLI against a served control plane with injected faults."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from faultkit import FaultInjector
from harness import cli, isolate

from reconciler.client import ClientOptions, options_from_env
from reconciler.config import BackendKind, Settings
from reconciler.connection import connect
from reconciler.errors import ConfigError
from reconciler.server.testing import ServerHandle, serve_in_thread


def test_options_from_env_overrides_only_what_is_set() -> None:
    assert options_from_env({}) == ClientOptions()
    tuned = options_from_env({"LOOPFORM_TIMEOUT": "2.5", "LOOPFORM_MAX_RETRIES": "0"})
    assert (tuned.read_timeout, tuned.connect_timeout, tuned.attempts) == (2.5, 2.5, 0)
    assert tuned.backoff_max == ClientOptions().backoff_max
    long = options_from_env({"LOOPFORM_TIMEOUT": "300"})
    assert (long.read_timeout, long.connect_timeout) == (300.0, ClientOptions().connect_timeout)


@pytest.mark.parametrize(("name", "value"), [
    ("LOOPFORM_TIMEOUT", "soon"), ("LOOPFORM_TIMEOUT", "0"), ("LOOPFORM_TIMEOUT", "-1"),
    ("LOOPFORM_TIMEOUT", "nan"), ("LOOPFORM_TIMEOUT", "inf"),
    ("LOOPFORM_MAX_RETRIES", "-1"), ("LOOPFORM_MAX_RETRIES", "2.5"), ("LOOPFORM_MAX_RETRIES", "1000"),
])
def test_a_bad_value_is_a_config_error_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"^{name}="):
        options_from_env({name: value})


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, faults: FaultInjector) -> Iterator[ServerHandle]:
    """A control plane behind `faults`, selected for the CLI through the environment."""
    isolate(tmp_path, monkeypatch)
    with serve_in_thread(tmp_path / "served.db", wrap=faults) as server:
        monkeypatch.setenv("LOOPFORM_API_URL", server.base_url)
        monkeypatch.setenv("LOOPFORM_TOKEN", server.token)
        monkeypatch.setenv("LOOPFORM_PROJECT", "local")
        try:
            yield server
        finally:
            faults.release()


def test_max_retries_from_the_environment(served: ServerHandle, faults: FaultInjector,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOPFORM_MAX_RETRIES", "0")
    rule = faults.add("GET", r"/projects/local/name$", "status", times=1, status=503)
    failed = cli("status")
    assert failed.code != 0 and "injected 503" in failed.err
    assert rule.fired == 1
    monkeypatch.setenv("LOOPFORM_MAX_RETRIES", "1")
    rule = faults.add("GET", r"/projects/local/name$", "status", times=1, status=503)
    retried = cli("status")
    assert retried.code == 0, retried.err
    assert rule.fired == 1  # the fault happened, and one retry got through it


def test_timeout_from_the_environment(served: ServerHandle, faults: FaultInjector,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOPFORM_TIMEOUT", "0.2")
    monkeypatch.setenv("LOOPFORM_MAX_RETRIES", "0")
    rule = faults.add("GET", r"/projects/local/name$", "slow", times=1)
    r = cli("status")
    assert r.code != 0
    assert "no answer within 0.2s (set LOOPFORM_TIMEOUT to wait longer)" in r.err
    assert rule.fired == 1


def test_a_bad_value_stops_the_command_before_any_request(served: ServerHandle,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOPFORM_MAX_RETRIES", "many")
    served.control_plane.request_log.clear()
    r = cli("status")
    assert r.code != 0 and "LOOPFORM_MAX_RETRIES='many'" in r.err
    assert len(served.control_plane.request_log) == 0


@pytest.mark.parametrize("status", [404, 401, 403])
def test_a_remote_that_is_not_a_loopform_control_plane_is_named_the_dataloop_api(
        server: ServerHandle, faults: FaultInjector, status: int) -> None:
    # What a real gate may answer for a route it does not have (before or after checking the token).
    faults.add("GET", r"/loopform/info$", "status", times=1, status=status)
    settings = Settings(kind=BackendKind.DATALOOP, project="local", selected_by="--url", url=server.base_url,
                        token=server.token)
    backend = connect(settings)
    assert backend.description == f"Dataloop API {server.base_url}"
    backend.close()
    control_plane = connect(settings)
    assert control_plane.description == f"local control plane at {server.base_url} (sandbox)"
    control_plane.close()


def test_the_variables_are_in_every_backend_commands_help(capsys: pytest.CaptureFixture[str]) -> None:
    for verb in ("apply", "plan", "status"):
        assert cli(verb, "--help").code == 0
        text = " ".join(capsys.readouterr().out.split())
        assert "LOOPFORM_TIMEOUT seconds to wait for an answer (default 60)" in text
        assert "LOOPFORM_MAX_RETRIES retries of a failed request that is safe to repeat (default 5)" in text
