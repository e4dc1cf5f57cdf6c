"""A local, Pardot-compatible sandbox: the API surface the orchestrator uses, on SQLite.

Two ways to run it: in process (:func:`inprocess_transport`, no socket) or as a real threaded
HTTP server on loopback (:func:`serve`). Both enforce Pardot's rules and error codes, and both
inject the same deterministic faults (:class:`FaultConfig`). See docs/wire-format.md.

The face is lazy (PEP 562): the constants and settings load without werkzeug, httpx or the
application, which load when :class:`SandboxApp`, :func:`serve` or the transport is first named.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestrator.lazy import lazy_getattr
from orchestrator.sandbox.config import (
    FAULT_KINDS,
    SANDBOX_BASE_URL,
    SANDBOX_BUSINESS_UNIT,
    SANDBOX_TOKEN,
    ExportConfig,
    FaultConfig,
)

if TYPE_CHECKING:
    from orchestrator.sandbox.app import SandboxApp
    from orchestrator.sandbox.server import SandboxServer, serve
    from orchestrator.sandbox.transport import inprocess_transport

__all__ = [
    "FAULT_KINDS",
    "SANDBOX_BASE_URL",
    "SANDBOX_BUSINESS_UNIT",
    "SANDBOX_TOKEN",
    "ExportConfig",
    "FaultConfig",
    "SandboxApp",
    "SandboxServer",
    "inprocess_transport",
    "serve",
]

_LAZY = {
    "SandboxApp": "orchestrator.sandbox.app",
    "SandboxServer": "orchestrator.sandbox.server",
    "serve": "orchestrator.sandbox.server",
    "inprocess_transport": "orchestrator.sandbox.transport",
}


__getattr__ = lazy_getattr(__name__, _LAZY, globals())
