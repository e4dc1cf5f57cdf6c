"""An in-memory state store: the fake that planner and apply tests plug in.

It keeps the whole contract of :class:`~orchestrator.state.base.StateStore` except durability
and cross-process locking. Records and journal details are kept as encoded JSON, so the same
values are refused as by the database backends, and every read hands out a fresh copy.
:meth:`InMemoryStateStore.open_another` gives a second handle on the same state, the way a second
process opens the same database.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from orchestrator.errors import StateError
from orchestrator.state.codec import dump_json, load_json
from orchestrator.state.locking import (
    acquire_with_timeout,
    holder_is_dead,
    lock_broken_error,
    locked_error,
    new_lock,
    wrong_lock_error,
)
from orchestrator.state.models import Actor, JournalEntry, LockInfo, SendRecord, StateSnapshot
from orchestrator.state.validation import check_action, check_key

__all__ = ["InMemoryStateStore"]

logger = logging.getLogger(__name__)


@dataclass
class _Stored:
    """A record with its payload kept as JSON text, so nobody outside holds a reference to it."""

    record: SendRecord
    payload: str

    def thaw(self) -> SendRecord:
        return dataclasses.replace(self.record, payload=load_json(self.payload, what="payload"))


@dataclass
class _StoredEntry:
    entry: JournalEntry
    detail: str

    def thaw(self) -> JournalEntry:
        return dataclasses.replace(self.entry, detail=load_json(self.detail, what="detail"))


@dataclass
class _Shared:
    """The state itself, shared by every handle opened on it."""

    lineage: str = field(default_factory=lambda: str(uuid.uuid4()))
    serial: int = 0
    records: dict[str, _Stored] = field(default_factory=dict)
    journal: list[_StoredEntry] = field(default_factory=list)
    lock: LockInfo | None = None
    mutex: threading.RLock = field(default_factory=threading.RLock)


class InMemoryStateStore:
    """A :class:`~orchestrator.state.base.StateStore` that lives in this process only."""

    def __init__(self, *, _shared: _Shared | None = None) -> None:
        self._shared = _shared if _shared is not None else _Shared()
        self._held: LockInfo | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"InMemoryStateStore(lineage={self._shared.lineage!r})"

    def open_another(self) -> InMemoryStateStore:
        """A second handle on the same state, with its own lock ownership."""
        return InMemoryStateStore(_shared=self._shared)

    @contextlib.contextmanager
    def _state(self) -> Iterator[_Shared]:
        if self._closed:
            raise StateError("the state store is closed")
        with self._shared.mutex:
            yield self._shared

    # -- reads ---------------------------------------------------------------------------

    def snapshot(self) -> StateSnapshot:
        with self._state() as state:
            records = {key: state.records[key].thaw() for key in sorted(state.records)}
            return StateSnapshot(lineage=state.lineage, serial=state.serial, records=records)

    def get(self, key: str) -> SendRecord | None:
        with self._state() as state:
            stored = state.records.get(key)
            return None if stored is None else stored.thaw()

    def journal(self, key: str | None = None) -> list[JournalEntry]:
        with self._state() as state:
            return [e.thaw() for e in state.journal if key is None or e.entry.key == key]

    def current_lock(self) -> LockInfo | None:
        with self._state() as state:
            return state.lock

    # -- writes --------------------------------------------------------------------------

    def put(
        self,
        record: SendRecord,
        *,
        action: str,
        detail: Mapping[str, Any] | None = None,
        actor: Actor | None = None,
    ) -> int:
        if not isinstance(record, SendRecord):
            raise TypeError(f"put() takes a SendRecord, not {type(record).__name__}")
        return self._write(record.key, action, detail, actor, record=record)

    def append_journal(
        self,
        *,
        key: str | None,
        action: str,
        detail: Mapping[str, Any] | None = None,
        actor: Actor | None = None,
    ) -> int:
        return self._write(key, action, detail, actor, record=None)

    def _write(
        self,
        key: str | None,
        action: str,
        detail: Mapping[str, Any] | None,
        actor: Actor | None,
        *,
        record: SendRecord | None,
        fenced: bool = True,
    ) -> int:
        check_key(key)
        check_action(action)
        with self._state() as state:
            if fenced and self._held is not None and state.lock != self._held:
                raise lock_broken_error(self._held, state.lock)
            # Encode everything before changing anything: that is this store's transaction.
            stored = None
            if record is not None:
                stored = _Stored(record, dump_json(record.payload, what="payload"))
            entry = JournalEntry(
                seq=state.serial + 1,
                at=datetime.now(UTC),
                key=key,
                action=action,
                detail={},
                actor=actor or Actor.current(),
            )
            encoded_detail = dump_json(detail or {}, what="detail")
            if stored is not None and record is not None:
                state.records[record.key] = stored
            state.journal.append(_StoredEntry(entry, encoded_detail))
            state.serial = entry.seq
            return state.serial

    # -- locking -------------------------------------------------------------------------

    def _try_lock(self, operation: str) -> LockInfo:
        with self._state() as state:
            if state.lock is not None:
                raise locked_error(state.lock)
            state.lock = new_lock(operation)
            return state.lock

    @contextlib.contextmanager
    def lock(self, operation: str, *, timeout: float = 0.0) -> Iterator[LockInfo]:
        info = acquire_with_timeout(lambda: self._try_lock(operation), timeout)
        self._held = info
        try:
            yield info
        finally:
            self._held = None
            self._release(info)

    def _release(self, info: LockInfo) -> None:
        with self._shared.mutex:
            if self._shared.lock == info:
                self._shared.lock = None
            else:
                logger.warning("state lock %s was broken while this process held it", info.lock_id)

    def force_unlock(self, lock_id: str) -> None:
        with self._state() as state:
            current = state.lock
            if current is None or current.lock_id != lock_id:
                raise wrong_lock_error(lock_id, current)
            state.lock = None
            detail = {"lock": current.to_dict(), "holder_dead": holder_is_dead(current)}
            self._write(None, "unlock", detail, None, record=None, fenced=False)

    def close(self) -> None:
        self._closed = True
