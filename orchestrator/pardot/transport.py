"""Bounds on every exchange with a server we do not control: a wall-clock deadline and a size cap.

httpx only has per-operation timeouts: ``timeout_s`` bounds each socket read, so a server
that sends one byte every two seconds keeps a call alive forever (and, during ``apply``, the
state lock with it). Two pieces close that gap:

* :func:`deadline` sets an absolute wall-clock limit for the network I/O this thread does
  inside the block. :class:`DeadlineBackend`, installed under httpx by
  :func:`install_deadlines`, shortens every connect, read and write to the time left and fails
  with a timeout once it is gone, while the response headers arrive as much as while the body
  does. Checks between body chunks (:func:`check_deadline`) cover transports without sockets.
* :func:`read_capped` reads a streamed body and stops at a byte limit, so a 3 GB answer costs
  the limit, not 3 GB of memory.

Both fail with httpx's own exception types (``ReadTimeout``, ...), so the one mapping in
:mod:`orchestrator.pardot.errormap` decides what they mean: for a send whose request was
written, an unknown outcome, never "not sent".
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx

__all__ = [
    "BodyTooLarge",
    "DeadlineBackend",
    "check_deadline",
    "deadline",
    "install_deadlines",
    "read_capped",
]

_local = threading.local()


def _current() -> float | None:
    at: float | None = getattr(_local, "at", None)
    return at


@contextmanager
def deadline(seconds: float | None = None, *, at: float | None = None) -> Iterator[float | None]:
    """Network I/O in this thread must end by ``now + seconds`` (or the absolute ``at``).

    Nested blocks keep the earlier of the two deadlines; the previous one is restored on exit.
    Yields the deadline in force (a :func:`time.monotonic` value), None when there is none.
    """
    previous = _current()
    candidates = [t for t in (previous, at, None if seconds is None else time.monotonic() + seconds) if t is not None]
    _local.at = min(candidates) if candidates else None
    try:
        yield _local.at
    finally:
        _local.at = previous


def _left() -> float | None:
    at = _current()
    return None if at is None else at - time.monotonic()


def check_deadline() -> None:
    """Raise httpx.ReadTimeout when this thread's deadline has passed."""
    left = _left()
    if left is not None and left <= 0:
        raise httpx.ReadTimeout("the request's overall deadline passed")


def _bounded(timeout: float | None, expired: type[httpcore.TimeoutException]) -> tuple[float | None, bool]:
    """The timeout to use now, and whether it is the deadline (not ``timeout``) that bounds it."""
    left = _left()
    if left is None:
        return timeout, False
    if left <= 0:
        raise expired("the request's overall deadline passed")
    if timeout is None or left < timeout:
        return left, True
    return timeout, False


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every read and write ends by the thread's deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        bounded, by_deadline = _bounded(timeout, httpcore.ReadTimeout)
        try:
            return self._inner.read(max_bytes, bounded)
        except httpcore.ReadTimeout:
            if by_deadline:
                raise httpcore.ReadTimeout("the request's overall deadline passed") from None
            raise

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        bounded, by_deadline = _bounded(timeout, httpcore.WriteTimeout)
        try:
            self._inner.write(buffer, bounded)
        except httpcore.WriteTimeout:
            if by_deadline:
                raise httpcore.WriteTimeout("the request's overall deadline passed") from None
            raise

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        bounded, _ = _bounded(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, bounded))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's socket backend with the thread's deadline applied to every operation.

    A connection that cannot even start before the deadline fails with ConnectTimeout: nothing
    was written, which the error mapping knows is safe to retry, even for a send.
    """

    def __init__(self, inner: httpcore.NetworkBackend | None = None) -> None:
        self._inner = inner if inner is not None else httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        bounded, _ = _bounded(timeout, httpcore.ConnectTimeout)
        stream = self._inner.connect_tcp(host, port, bounded, local_address, socket_options)
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        bounded, _ = _bounded(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.connect_unix_socket(path, bounded, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def install_deadlines(client: httpx.Client) -> int:
    """Put :class:`DeadlineBackend` under every socket transport of ``client``; how many.

    httpx 0.28 has no public way to choose httpcore's network backend, so this sets the
    connection pool's ``_network_backend`` on the default transport and on the proxy
    transports httpx mounted from the environment. Transports without sockets (the sandbox's
    in-process one, MockTransport) are left alone: :func:`check_deadline` still runs between
    their chunks. ``tests/pardot/test_hostile_server.py`` fails if an httpx upgrade breaks this.
    """
    transports: list[object] = [getattr(client, "_transport", None)]
    transports.extend(getattr(client, "_mounts", {}).values())
    installed = 0
    for transport in transports:
        pool = getattr(transport, "_pool", None) if isinstance(transport, httpx.HTTPTransport) else None
        backend = getattr(pool, "_network_backend", None)
        if isinstance(backend, httpcore.NetworkBackend) and not isinstance(backend, DeadlineBackend):
            pool._network_backend = DeadlineBackend(backend)  # type: ignore[union-attr]
            installed += 1
    return installed


class BodyTooLarge(Exception):
    """A response body went past the size limit of its call; nothing more was read."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the answer is larger than the {limit:,}-byte limit for this call")
        self.limit = limit


def read_capped(response: httpx.Response, limit: int) -> bytes:
    """The (decoded) body of a streamed ``response``, refusing it beyond ``limit`` bytes.

    A ``Content-Length`` above the limit is refused before reading anything; otherwise the
    body is read chunk by chunk and abandoned as soon as it passes the limit. The deadline is
    checked between chunks. httpx exceptions are left for the caller's mapping.
    """
    declared = response.headers.get("content-length", "")
    if declared.strip().isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge(limit)
        check_deadline()
    return bytes(body)
