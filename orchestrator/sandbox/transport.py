"""Run the sandbox inside the client's process: an httpx transport, no socket.

Used by ``api: {kind: sandbox}`` and by most tests. A dropped connection (faults
``drop-before``/``drop-after``) surfaces exactly as it does over a real socket: as
``httpx.RemoteProtocolError("Server disconnected without sending a response.")``.
"""

from __future__ import annotations

import httpx

from orchestrator.sandbox.app import SandboxApp
from orchestrator.sandbox.faults import DropConnection


class _SandboxTransport(httpx.WSGITransport):
    """``httpx.WSGITransport`` that turns the app's drop signal into a transport error."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return super().handle_request(request)
        except DropConnection:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            ) from None


def inprocess_transport(app: SandboxApp) -> httpx.BaseTransport:
    """An httpx transport that calls ``app`` directly; pair it with ``SANDBOX_BASE_URL``."""
    return _SandboxTransport(app=app)
