"""Loopback servers that count every TCP connection they accept, for tests proving none arrived."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Handler(BaseHTTPRequestHandler):
    server: CountingServer

    def _answer(self) -> None:
        self.server.paths.append(f"{self.command} {self.path}")
        body = b"<p>fetched</p>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_HEAD = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


class CountingServer(ThreadingHTTPServer):
    """An HTTP server on 127.0.0.1 counting connections as they are accepted, before any byte."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.accepted: list[tuple[str, int]] = []
        self.paths: list[str] = []
        self._sentinels: set[tuple[str, int]] = set()

    def verify_request(self, request: Any, client_address: Any) -> bool:
        self.accepted.append((str(client_address[0]), int(client_address[1])))
        return True

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def hits(self) -> int:
        """Connections accepted so far, once every connection already queued has been accepted.

        A connection of our own goes to the back of the accept queue; once the server has seen
        it, it has seen everything that came before it.
        """
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sentinel:
            mine = sentinel.getsockname()[:2]
            self._sentinels.add((str(mine[0]), int(mine[1])))
            deadline = time.monotonic() + 10
            while (str(mine[0]), int(mine[1])) not in self.accepted and time.monotonic() < deadline:
                time.sleep(0.01)
        return len([a for a in self.accepted if a not in self._sentinels])


@contextmanager
def counting_servers(count: int) -> Iterator[list[CountingServer]]:
    """``count`` servers, each on its own port, so a hit says which case made it."""
    servers = [CountingServer() for _ in range(count)]
    for server in servers:
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield servers
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
