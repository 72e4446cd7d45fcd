from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from faultkit import FaultInjector

from reconciler.client import ApiSession, ClientOptions, RestBackend
from reconciler.server.testing import ServerHandle, serve_in_thread

# Real retries and timeouts, shrunk so a test with five retries still takes milliseconds.
FAST = ClientOptions(connect_timeout=2.0, read_timeout=2.0, attempts=3, backoff_factor=0.001,
                     backoff_max=0.01, backoff_jitter=0.001, retry_after_max=0.01)


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
