"""Run the sandbox inside the client's process: an httpx transport, no socket.

No web page can reach it, so its requests skip the Host checks a served sandbox makes
(:mod:`orchestrator.sandbox.control`); the token is still required where it is.

Used by ``api: {kind: sandbox}`` and by most tests. A dropped connection (faults
``drop-before``/``drop-after``) surfaces exactly as it does over a real socket: as
``httpx.RemoteProtocolError("Server disconnected without sending a response.")``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import TYPE_CHECKING

import httpx

from orchestrator.sandbox.app import SandboxApp
from orchestrator.sandbox.control import IN_PROCESS
from orchestrator.sandbox.faults import DropConnection

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment


class _SandboxTransport(httpx.WSGITransport):
    """``httpx.WSGITransport`` that turns the app's drop signal into a transport error, and that
    closes the app with the client when it owns it."""

    def __init__(self, app: SandboxApp, *, owns_app: bool = False) -> None:
        super().__init__(app=functools.partial(_in_process, app))
        self._sandbox = app
        self._owns_app = owns_app

    def close(self) -> None:
        if self._owns_app:
            self._sandbox.close()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return super().handle_request(request)
        except DropConnection:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            ) from None


def _in_process(app: SandboxApp, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """Call ``app``, marking the request as one no socket carried (see sandbox.control)."""
    environ[IN_PROCESS] = True
    return app(environ, start_response)


def inprocess_transport(app: SandboxApp, *, owns_app: bool = False) -> httpx.BaseTransport:
    """An httpx transport that calls ``app`` directly; pair it with ``SANDBOX_BASE_URL``.

    With ``owns_app`` closing the client closes the app too (its database checkpointed and
    released): for a client that is the app's only user, as a command's is.
    """
    return _SandboxTransport(app=app, owns_app=owns_app)
