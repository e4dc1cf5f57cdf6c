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
* :meth:`StateStore.planning_view` reads, in one read transaction and by index only, the records
  a :class:`~orchestrator.state.models.PlanningQuery` names: a plan's cost follows what the files
  ask for and the recent past, never the length of the history. For the same query it selects
  exactly the records a scan of :meth:`StateStore.snapshot` would (``tests/state`` checks it).
* :meth:`StateStore.archive` moves the records that went out before a date into an archive, in
  one write with one journal entry: they stay sends that happened (a plan still finds them under
  their keys) but are no longer listed, browsed by default or taken for orphans.
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
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from orchestrator.state.models import (
    Actor,
    Archived,
    Browse,
    JournalEntry,
    LockInfo,
    PlanningQuery,
    RecordFilter,
    SendRecord,
    StateSnapshot,
    TemplateRecord,
)

__all__ = ["StateStore"]


@runtime_checkable
class StateStore(Protocol):
    """The orchestrator's memory of what was sent (see the module docstring for the contract)."""

    def snapshot(self) -> StateSnapshot:
        """Lineage, serial and every record (archived ones too, named in ``archived``), read
        consistently at one serial. It reads the whole history: plans use :meth:`planning_view`."""
        ...

    def planning_view(self, query: PlanningQuery) -> StateSnapshot:
        """Lineage, serial and only the records ``query`` names, with first-seen times, read by
        index in one read transaction (see :class:`~orchestrator.state.models.PlanningQuery`)."""
        ...

    def browse(
        self, where: RecordFilter = RecordFilter(), *, payloads: bool = True
    ) -> contextlib.AbstractContextManager[Browse]:
        """The records ``where`` selects, streamed newest first from one read transaction; without
        ``payloads`` their payloads are not read (a listing that shows none is twice as quick),
        and reading one raises StateError."""
        ...

    def get(self, key: str) -> SendRecord | None:
        """The record stored under ``key``, or None."""
        ...

    def templates(self) -> dict[str, TemplateRecord]:
        """The owned email templates the applies recorded, by name (none before schema 3)."""
        ...

    def put_template(self, record: TemplateRecord, *, actor: Actor | None = None) -> int:
        """Record an owned template after an apply made or changed it, journalled; the new serial."""
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

    def iter_journal(self, key: str | None = None) -> Iterator[JournalEntry]:
        """Like :meth:`journal`, streamed from one read transaction (close it to end early)."""
        ...

    def journal_tail(self, key: str | None, count: int) -> tuple[list[JournalEntry], int]:
        """The last ``count`` entries (of ``key``, or all) in ``seq`` order, and how many precede them."""
        ...

    def archive(self, before: datetime, *, now: datetime, actor: Actor | None = None) -> Archived:
        """Move every record that went out before ``before`` into the archive (journaled as
        ``archive``). Refused (StateError) when ``before`` is after ``now``, or while a record from
        before it is unresolved: nobody knows yet whether that one went out."""
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
