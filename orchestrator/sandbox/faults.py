"""Deterministic fault injection for ``/api/`` calls.

For API request number ``n`` (counted from 1 in arrival order) and each kind in
:data:`FAULT_KINDS` order, a draw ``u = hash(seed, n, kind)`` in [0, 1) triggers the kind when
``u < rate``; the first kind triggered wins. The same seed and the same request order therefore
give the same faults, which makes a flaky-looking failure replayable.
"""

from __future__ import annotations

import hashlib
import threading

from orchestrator.sandbox.config import FAULT_KINDS, FaultConfig


class DropConnection(Exception):
    """Raised inside the app to close the connection without any answer.

    The real server shuts the socket; the in-process transport turns it into the
    ``httpx.RemoteProtocolError`` a real client would see.
    """


def draw(seed: int, sequence: int, kind: str) -> float:
    """A uniform number in [0, 1) that depends only on its arguments."""
    digest = hashlib.blake2b(f"{seed}:{sequence}:{kind}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


class FaultPlan:
    """Hands out the fault (or None) for each API request, in arrival order; thread-safe."""

    def __init__(self, config: FaultConfig) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._sequence = 0

    def next_fault(self) -> str | None:
        """The fault for the next API request, or None."""
        with self._lock:
            self._sequence += 1
            sequence = self._sequence
        for kind in FAULT_KINDS:
            rate = self._config.rates.get(kind, 0.0)
            if rate > 0 and draw(self._config.seed, sequence, kind) < rate:
                return kind
        return None
