"""Fixtures shared across the suites. Being the root conftest, this also puts tests/ on sys.path
(pytest's default `prepend` import mode), so `harness` and `faultkit` import from any suite.

Everything is per test (tmp_path, a free port) except `dtlpy_module`: one import per process.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from faultkit import FAST, FaultInjector
from harness import import_dtlpy

from reconciler.client import ApiSession, ClientOptions, RestBackend
from reconciler.server.testing import ServerHandle, serve_in_thread


@pytest.fixture
def faults() -> FaultInjector:
    return FaultInjector()


@pytest.fixture
def server(tmp_path: Path, faults: FaultInjector) -> Iterator[ServerHandle]:
    """A local control plane on a free loopback port, behind `faults` (which injects none until told)."""
    with serve_in_thread(tmp_path / "state.db", wrap=faults) as handle:
        try:
            yield handle
        finally:
            faults.release()  # held requests are answered (too late) before the server stops


@pytest.fixture
def client_options() -> ClientOptions:
    """The options `backend` uses; a module overrides this fixture to change its timeouts."""
    return FAST


@pytest.fixture
def backend(server: ServerHandle, client_options: ClientOptions) -> Iterator[RestBackend]:
    b = RestBackend(ApiSession(server.base_url, server.token, options=client_options), label="test server")
    yield b
    b.close()


@pytest.fixture(scope="session")
def dtlpy_module(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    """dtlpy, imported with DATALOOP_PATH in a temporary directory (see harness.import_dtlpy)."""
    return import_dtlpy(tmp_path_factory.mktemp("dataloop"))
