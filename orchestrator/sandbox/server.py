"""Run the sandbox as a real threaded HTTP server on loopback, in a background thread.

Needed where sockets matter: concurrency (error 66 across threads), dropped connections, and
people pointing a real client or curl at it. Werkzeug's development server does the HTTP; its
request logging is silenced (it would print query strings) and routed to ``logging`` at debug.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import TracebackType
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from orchestrator.sandbox.app import SandboxApp

_log = logging.getLogger("orchestrator.sandbox.server")


class _QuietHandler(WSGIRequestHandler):
    """Request handler that logs at debug level only, and never the request line's query."""

    def log(self, type: str, message: str, *args: Any) -> None:
        _log.debug("%s: %s", type, message % args if args else message)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        _log.debug("%s %s -> %s", self.command, self.path.split("?", 1)[0], code)


#: The signals that stop a process: only the thread that started the server takes them.
_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


class SandboxServer:
    """A running sandbox server; ``url`` is its base URL. Stop it with :meth:`shutdown`."""

    def __init__(self, app: SandboxApp, host: str, port: int) -> None:
        self.app = app
        self._server: BaseWSGIServer = make_server(
            host, port, app, threaded=True, request_handler=_QuietHandler
        )
        self.host = host
        self.port = self._server.port
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"sandbox-{self.port}", daemon=True
        )
        # The serving thread, and every request thread it starts (they inherit its mask), never
        # take Ctrl-C or SIGTERM: the kernel hands a process signal to any thread that does not
        # block it, and one taken by a thread other than the main one leaves the main thread
        # asleep in a lock's wait (CPython runs signal handlers on the main thread only).
        if not hasattr(signal, "pthread_sigmask"):  # Windows: no per-thread signal mask to set
            self._thread.start()
            return
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
        try:
            self._thread.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)

    def shutdown(self) -> None:
        """Stop accepting requests and wait for the serving thread to end."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> SandboxServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown()


def serve(app: SandboxApp, host: str = "127.0.0.1", port: int = 0) -> SandboxServer:
    """Start ``app`` on ``host:port`` (0 = a free port) in a background thread."""
    return SandboxServer(app, host, port)
