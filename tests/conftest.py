"""Suite-wide guards: no test may reach a host other than loopback."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.postgres_server import PostgresServer, PostgresUnavailable, running_postgres, skip_or_fail

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


def _is_loopback(host: Any) -> bool:
    if not isinstance(host, str):
        return True  # AF_UNIX paths (PostgreSQL's socket) are local by definition
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _guard(address: Any) -> None:
    host = address[0] if isinstance(address, tuple) else address
    if not _is_loopback(host):
        raise RuntimeError(f"test tried to reach {host!r}: only loopback is allowed in tests")


def _connect(self: socket.socket, address: Any) -> None:
    _guard(address)
    _real_connect(self, address)


def _connect_ex(self: socket.socket, address: Any) -> int:
    _guard(address)
    return _real_connect_ex(self, address)


def _getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if isinstance(host, str) and not _is_loopback(host):
        raise RuntimeError(f"test tried to resolve {host!r}: only loopback is allowed in tests")
    return _real_getaddrinfo(host, *args, **kwargs)


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Any connection or DNS lookup to a non-loopback host fails the test."""
    monkeypatch.setattr(socket.socket, "connect", _connect)
    monkeypatch.setattr(socket.socket, "connect_ex", _connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", _getaddrinfo)
    yield


@pytest.fixture(autouse=True)
def _no_ambient_orchestrator_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests choose their environment explicitly; a developer's shell settings must not leak in."""
    ambient = ("ORCHESTRATOR_ENV", "ORCHESTRATOR_PROJECT", "ORCHESTRATOR_NOW", "ORCHESTRATOR_TRUSTED_HOSTS", "NO_COLOR")
    for name in ambient:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _own_cache_folder(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Each test keeps its audience counts in a folder of its own, never in the user's cache."""
    folder = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("ORCHESTRATOR_CACHE_DIR", str(folder))
    return folder


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL 15 server for the whole session; missing binaries FAIL unless opted out."""
    try:
        with running_postgres() as server:
            yield server
    except PostgresUnavailable as exc:
        skip_or_fail(exc)


@pytest.fixture(scope="session")
def postgres_dsn(postgres_server: PostgresServer) -> str:
    """The superuser DSN of the session's server (it carries a real password)."""
    return postgres_server.dsn
