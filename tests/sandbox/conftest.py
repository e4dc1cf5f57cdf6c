"""Fixtures for the sandbox tests: a controlled clock, an in-memory demo app, a client."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sandbox_helpers import AUTH, Clock

from orchestrator.sandbox import SANDBOX_BASE_URL, SandboxApp, inprocess_transport


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(clock: Clock) -> Iterator[SandboxApp]:
    sandbox = SandboxApp(clock=clock)
    yield sandbox
    sandbox.close()


@pytest.fixture
def client(app: SandboxApp) -> Iterator[httpx.Client]:
    with httpx.Client(
        transport=inprocess_transport(app), base_url=SANDBOX_BASE_URL, headers=AUTH
    ) as c:
        yield c


