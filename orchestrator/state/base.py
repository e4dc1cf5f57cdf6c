"""The one protocol every state backend implements (SQLite, PostgreSQL, in-memory).

The contract, which ``tests/state/test_state_contract.py`` checks against every backend (the
parts every backend does alike are written once, in :mod:`orchestrator.state.skeleton`):

* The state has a ``lineage`` (a uuid4 chosen once, when the state is created) and a ``serial``
  that every write increments by one. A saved plan records both, so apply can tell a stale plan.
* A store opened read-only (``open_store(..., read_only=True)``, for plan, validate, show and
  preview) never creates, changes or locks the state: a state that does not exist yet reads as
  an empty snapshot without a lineage, and every write is refused with a ``StateError``.
* A write (:meth:`StateStore.put` or :meth:`StateStore.append_journal`) upserts at most one
  record, appends exactly one journal entry and bumps the serial in ONE transaction, and is
  durable when it returns: the apply engine writes an ``intent`` before calling the API, and a
  crash must never lose it. So ``serial`` always equals the number of journal entries, and each
  entry's ``seq`` is the serial its write produced.
* The journal is append-only.
* Reads return private copies: mutating them never changes the store.
* One store object may be used from many threads; many store objects (and processes, for the
  database backends) may use the same state.
* :meth:`StateStore.lock` is an exclusive lock on the whole state, released on exit, normal or
  not. Taking and releasing it is not a write (the serial stays put); breaking it
  (``unlock``) or taking over a dead holder's lock (``lock-takeover``, PostgreSQL) is journaled,
  and so is a write. While a store holds the lock, its writes check that the lock is still theirs, so a lock
  broken with :meth:`StateStore.force_unlock` stops the old holder before it sends anything more.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from orchestrator.state.models import Actor, JournalEntry, LockInfo, SendRecord, StateSnapshot

__all__ = ["StateStore"]


@runtime_checkable
class StateStore(Protocol):
    """The orchestrator's memory of what was sent (see the module docstring for the contract)."""

    def snapshot(self) -> StateSnapshot:
        """Lineage, serial and every record, read consistently at one serial."""
        ...

    def get(self, key: str) -> SendRecord | None:
        """The record stored under ``key``, or None."""
        ...

    def put(
        self,
        record: SendRecord,
        *,
        action: str,
        detail: Mapping[str, Any] | None = None,
        actor: Actor | None = None,
    ) -> int:
        """Upsert ``record`` and journal ``action`` atomically; return the new serial."""
        ...

    def append_journal(
        self,
        *,
        key: str | None,
        action: str,
        detail: Mapping[str, Any] | None = None,
        actor: Actor | None = None,
    ) -> int:
        """Journal ``action`` without changing a record; return the new serial."""
        ...

    def journal(self, key: str | None = None) -> list[JournalEntry]:
        """Journal entries in ``seq`` order: all of them, or only those about ``key``."""
        ...

    def last_entry(self, action: str) -> JournalEntry | None:
        """The newest journal entry whose action is ``action``, or None (read from the newest end,
        so it costs little however long the journal is)."""
        ...

    def lock(
        self, operation: str, *, timeout: float = 0.0
    ) -> contextlib.AbstractContextManager[LockInfo]:
        """Hold the exclusive state lock for ``operation``; wait up to ``timeout`` seconds.

        Raises :class:`orchestrator.errors.StateLocked` describing the holder when it stays busy.
        """
        ...

    def current_lock(self) -> LockInfo | None:
        """Who holds the lock now, or None."""
        ...

    def force_unlock(self, lock_id: str) -> None:
        """Break the lock ``lock_id`` (journaled); StateError naming the current lock otherwise."""
        ...

    def close(self) -> None:
        """Release connections; the store cannot be used afterwards."""
        ...
