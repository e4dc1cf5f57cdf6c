"""The suite's own guard: a non-loopback connection attempt fails loudly."""

import socket

import pytest


def test_non_loopback_connect_is_refused() -> None:
    with socket.socket() as s, pytest.raises(RuntimeError, match="only loopback"):
        s.connect(("192.0.2.1", 443))  # TEST-NET-1: never routable, never contacted


def test_non_loopback_dns_is_refused() -> None:
    with pytest.raises(RuntimeError, match="only loopback"):
        socket.getaddrinfo("pi.pardot.com", 443)


def test_loopback_is_allowed() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.socket() as client:
            client.connect(server.getsockname())
