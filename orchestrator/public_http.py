"""HTTP to public addresses only, each request bounded by a wall-clock deadline.

A campaign pull request chooses the URLs that ``validate --check-links`` requests, so a URL is
hostile input: ``http://169.254.169.254/``, ``http://2130706433:8080/`` or a public page that
redirects to ``http://10.0.0.1/`` must not make the CI runner probe its own network. The guard
therefore sits where the socket is opened, below httpx and its redirects: every connection
resolves the name once, refuses it when any address is not public (loopback, private,
link-local, shared, reserved, multicast, unspecified, IPv4-mapped or 6to4 forms of those), and
connects to the very address it checked, so a second DNS answer cannot swap in another one. The
URL's name still goes in the ``Host`` header and the TLS SNI (httpcore passes them on apart from
the address). Numeric spellings the system resolver accepts (``127.1``, ``0x7f.1``,
``2130706433``) are read with ``inet_aton`` semantics, as the resolver would, without a lookup.

httpx's timeouts bound each read, so a server trickling a byte a second would hold a request
open for ever; the streams here also stop at a deadline set per request and per thread
(:func:`request_deadline`), which bounds the DNS lookup, the connect, TLS and every read/write.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_local = threading.local()


class RefusedAddress(Exception):
    """A host that is, or resolves to, an address that is not public: nothing was sent to it."""

    def __init__(self, host: str) -> None:
        super().__init__(f"{host} is a private/loopback address")
        self.host = host


def is_public(address: IPAddress) -> bool:
    """Whether ``address`` is a global unicast address (an IPv4 address inside IPv6 is judged as itself)."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = address.ipv4_mapped or (
            ipaddress.IPv4Address(int(address) & 0xFFFFFFFF) if address in _NAT64 else None
        )
        if inner is not None:
            return is_public(inner)
        if address.sixtofour is not None and not is_public(address.sixtofour):
            return False
        if address.is_site_local or address.teredo is not None:
            return False
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def literal_address(host: str) -> IPAddress | None:
    """The address a numeric host stands for, read as the system resolver reads it, else ``None``.

    ``inet_aton`` accepts ``127.1``, ``0x7f.1``, ``017700000001`` and ``2130706433``, all of them
    127.0.0.1; a trailing dot (``127.0.0.1.``) does not make a name of it.
    """
    bare = host.strip("[]").split("%")[0]
    with contextlib.suppress(ValueError):
        return ipaddress.ip_address(bare)
    try:
        return ipaddress.IPv4Address(socket.inet_aton(bare.removesuffix(".")))
    except (OSError, ValueError):
        return None


@dataclass(frozen=True)
class AddressGuard:
    """Which addresses a connection may reach: public ones, plus ``allowed`` loopback sockets.

    ``allowed`` exists for tests, which serve pages on loopback; it names exact (address, port)
    pairs and takes loopback addresses only, so it can open no other door.
    """

    allowed: frozenset[tuple[IPAddress, int]] = frozenset()

    def __post_init__(self) -> None:
        for address, _ in self.allowed:
            if not address.is_loopback:
                raise ValueError(f"only loopback sockets can be allowed, not {address}")

    @classmethod
    def allowing(cls, sockets: Iterable[tuple[str, int]]) -> AddressGuard:
        """A guard that also lets through these loopback ``(address, port)`` pairs."""
        return cls(frozenset((ipaddress.ip_address(host), port) for host, port in sockets))

    def permits(self, address: IPAddress, port: int) -> bool:
        return is_public(address) or (address, port) in self.allowed

    def addresses(self, host: str, port: int, timeout: float | None) -> list[IPAddress]:
        """Every address of ``host`` (one lookup), or :class:`RefusedAddress` if any is not permitted."""
        literal = literal_address(host)
        found = [literal] if literal is not None else resolve(host, port, timeout)
        if not found or not all(self.permits(address, port) for address in found):
            raise RefusedAddress(host)
        return found


def resolve(host: str, port: int, timeout: float | None) -> list[IPAddress]:
    """The addresses of ``host`` from the system resolver, waiting at most ``timeout`` seconds.

    ``getaddrinfo`` has no timeout of its own; the lookup runs in a daemon thread that is left
    behind (never waited for) when it takes too long.
    """
    answer: list[list[IPAddress] | BaseException] = []

    def lookup() -> None:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            answer.append(list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos)))
        except Exception as exc:  # whatever it is, the caller reports it (a thread must not die noisily)
            answer.append(exc)

    thread = threading.Thread(target=lookup, name="public-http-dns", daemon=True)
    thread.start()
    thread.join(timeout)
    if not answer:
        raise httpcore.ConnectTimeout(f"no DNS answer for {host} in time")
    found = answer[0]
    if isinstance(found, BaseException):
        raise httpcore.ConnectError(f"cannot resolve {host}: {found}")
    return found


@contextlib.contextmanager
def request_deadline(deadline: float) -> Iterator[None]:
    """Within the block, this thread's connections give up at ``deadline`` (``time.monotonic``)."""
    before = getattr(_local, "deadline", None)
    _local.deadline = deadline
    try:
        yield
    finally:
        _local.deadline = before


def _budget(timeout: float | None, expired: type[httpcore.TimeoutException]) -> float | None:
    """``timeout`` shortened to what is left before this thread's deadline; past it, ``expired``."""
    deadline: float | None = getattr(_local, "deadline", None)
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise expired("the request's time budget is spent")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A stream whose every operation ends by the thread's deadline (a trickling server included)."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _budget(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _budget(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        budget = _budget(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, budget))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _GuardedBackend(httpcore.NetworkBackend):
    """Opens TCP connections only to addresses the guard checked, by address (the name is not looked up again)."""

    def __init__(self, guard: AddressGuard) -> None:
        self.guard = guard
        self._sockets = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = self.guard.addresses(host, port, _budget(timeout, httpcore.ConnectTimeout))
        failure: httpcore.ConnectError | None = None
        for address in addresses:
            try:
                stream = self._sockets.connect_tcp(
                    str(address), port, _budget(timeout, httpcore.ConnectTimeout), local_address, socket_options
                )
            except httpcore.ConnectError as exc:
                failure = exc
                continue
            return _DeadlineStream(stream)
        assert failure is not None  # addresses is never empty
        raise failure

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise httpcore.UnsupportedProtocol("unix sockets are not reachable through the public-address guard")


class PublicTransport(httpx.HTTPTransport):
    """httpx's own transport with a connection pool whose sockets go through :class:`AddressGuard`.

    httpx offers no option for a network backend; its pool is replaced right after it is built
    (not yet opened), keeping httpx's request conversion and exception mapping. No proxy and no
    environment settings apply: a proxy would resolve the name itself, past the guard.
    """

    def __init__(
        self,
        guard: AddressGuard,
        *,
        ssl_context: ssl.SSLContext | None = None,
        limits: httpx.Limits = httpx.Limits(max_connections=4),
    ) -> None:
        context = ssl_context or httpx.create_ssl_context(trust_env=False)  # loading CAs takes a while: share it
        super().__init__(verify=context, trust_env=False, limits=limits)
        self._pool = httpcore.ConnectionPool(
            ssl_context=context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_GuardedBackend(guard),
        )
