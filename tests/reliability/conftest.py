from __future__ import annotations

from collections.abc import Iterator

import pytest

from orchestrator.sandbox import FaultConfig, SandboxApp, SandboxServer, serve


@pytest.fixture
def server_factory() -> Iterator[object]:
    started: list[SandboxServer] = []

    def start(faults: FaultConfig = FaultConfig()) -> SandboxServer:
        server = serve(SandboxApp(faults=faults), host="127.0.0.1", port=0)
        started.append(server)
        return server

    yield start
    for server in started:
        server.shutdown()
