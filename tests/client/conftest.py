from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from faultkit import FAST, FaultInjector

from reconciler.client import ApiSession, RestBackend
from reconciler.server.testing import ServerHandle, serve_in_thread


@pytest.fixture
def faults() -> FaultInjector:
    return FaultInjector()


@pytest.fixture
def server(tmp_path: Path, faults: FaultInjector) -> Iterator[ServerHandle]:
    with serve_in_thread(tmp_path / "state.db", wrap=faults) as handle:
        yield handle


@pytest.fixture
def backend(server: ServerHandle) -> Iterator[RestBackend]:
    b = RestBackend(ApiSession(server.base_url, server.token, options=FAST), label="test server")
    yield b
    b.close()
