"""A hostile HTTP server on a loopback socket, for the client's size caps and deadlines.

Each connection's request is read whole (headers and Content-Length body) and recorded, then a
*behaviour* writes whatever it likes to the socket: a huge body, one byte every so often, a
deeply nested document. Every behaviour is bounded (in bytes and time) and stops as soon as the
client hangs up or the server is closed, so a test against the old code ends too.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

Behaviour = Callable[[socket.socket, threading.Event], int]
"""Writes a response on the socket until done or the event is set; returns the bytes written."""


@dataclass
class Hit:
    """One request the server received: its request line and headers, and what it wrote back."""

    head: bytes
    written: int = 0


@dataclass
class HostileServer:
    behaviour: Behaviour
    hits: list[Hit] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self._listener.settimeout(0.1)
        self.port = int(self._listener.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            worker = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(worker)
            worker.start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            data = b""
            while b"\r\n\r\n" not in data and len(data) < 65536:
                piece = conn.recv(4096)
                if not piece:
                    return
                data += piece
            head, _, body = data.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            while len(body) < length:
                piece = conn.recv(4096)
                if not piece:
                    break
                body += piece
            hit = Hit(head)
            self.hits.append(hit)
            hit.written = self.behaviour(conn, self.stop)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self._accepting.join(timeout=5)
        self._listener.close()
        for worker in self._threads:
            worker.join(timeout=5)


@contextmanager
def hostile(behaviour: Behaviour) -> Iterator[HostileServer]:
    server = HostileServer(behaviour)
    try:
        yield server
    finally:
        server.close()


def _head(content_type: str, length: int | None) -> bytes:
    lines = ["HTTP/1.1 200 OK", f"Content-Type: {content_type}", "Connection: close"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _send(conn: socket.socket, data: bytes) -> int:
    try:
        conn.sendall(data)
    except OSError:
        return 0
    return len(data)


def answer(body: bytes, content_type: str = "application/json") -> Behaviour:
    """A complete, ordinary response."""

    def behave(conn: socket.socket, stop: threading.Event) -> int:
        return _send(conn, _head(content_type, len(body)) + body)

    return behave


def endless(*, declared: int | None, offered: int, content_type: str = "application/json") -> Behaviour:
    """A body of ``offered`` bytes (the server's own bound), claiming ``declared`` (None: no length)."""
    chunk = b'{"x": "' + b"a" * (64 * 1024 - 7)

    def behave(conn: socket.socket, stop: threading.Event) -> int:
        written = _send(conn, _head(content_type, declared))
        while written < offered and not stop.is_set():
            sent = _send(conn, chunk)
            if not sent:
                break
            written += sent
        return written

    return behave


def trickle(
    *, every_s: float, count: int, headers_too: bool = False, content_type: str = "application/json"
) -> Behaviour:
    """One byte every ``every_s`` seconds, ``count`` bytes at most; the headers too if asked."""
    body = b'{"@attributes": {"stat": "ok"}, "x": "' + b"a" * count + b'"}'

    def behave(conn: socket.socket, stop: threading.Event) -> int:
        head = _head(content_type, len(body))
        written = 0 if headers_too else _send(conn, head)
        slow = (head + body) if headers_too else body
        for byte in slow[:count]:
            if stop.wait(every_s) or not _send(conn, bytes([byte])):
                break
            written += 1
        return written

    return behave


def elapsed(start: float) -> float:
    return time.monotonic() - start
