"""A local, Pardot-compatible sandbox: the API surface the orchestrator uses, on SQLite.

Two ways to run it: in process (:func:`inprocess_transport`, no socket) or as a real threaded
HTTP server on loopback (:func:`serve`). Both enforce Pardot's rules and error codes, and both
inject the same deterministic faults (:class:`FaultConfig`). See docs/wire-format.md.
"""

from orchestrator.sandbox.app import SandboxApp
from orchestrator.sandbox.config import (
    FAULT_KINDS,
    SANDBOX_BASE_URL,
    SANDBOX_BUSINESS_UNIT,
    SANDBOX_TOKEN,
    ExportConfig,
    FaultConfig,
)
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
