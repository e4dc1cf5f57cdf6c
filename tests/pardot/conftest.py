"""Fixtures for the Pardot client tests.

An autouse guard makes sure no socket of these tests reaches beyond loopback (127.0.0.0/8,
::1): it refuses the connection and the DNS lookup before any packet leaves.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import tenacity

from orchestrator.pardot.client import PardotClient
from orchestrator.pardot.settings import ApiSettings, is_loopback_host

from .fakes import ClientFactory, FakePardot, Recorder, make_settings


def _address_host(address: Any) -> str | None:
    if isinstance(address, tuple) and address:
        return str(address[0])
    return None  # AF_UNIX paths and the like


@pytest.fixture(autouse=True)
def _pardot_loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test that tries to open a connection (or resolve a name) off this machine."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def check(address: Any) -> None:
        host = _address_host(address)
        if host is not None and not is_loopback_host(host):
            raise RuntimeError(f"test tried to reach non-loopback address {host!r}")

    def connect(self: socket.socket, address: Any) -> None:
        check(address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        check(address)
        return real_connect_ex(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and not is_loopback_host(str(host)):
            raise RuntimeError(f"test tried to resolve non-loopback host {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def make_client(recorder: Recorder) -> Iterator[ClientFactory]:
    """Build clients over a FakePardot; backoff waits are recorded, never slept."""
    made: list[PardotClient] = []

    def factory(
        fake: FakePardot,
        settings: ApiSettings | None = None,
        *,
        env: dict[str, str] | None = None,
        retry_wait: tenacity.wait.wait_base | None = None,
    ) -> PardotClient:
        client = PardotClient(
            settings or make_settings(),
            transport=httpx.MockTransport(fake),
            env=env if env is not None else {},
            tracer=recorder.tracer,
            retry_wait=retry_wait if retry_wait is not None else tenacity.wait_none(),
            sleep=recorder.sleep,
        )
        made.append(client)
        return client

    yield factory
    for client in made:
        client.close()
