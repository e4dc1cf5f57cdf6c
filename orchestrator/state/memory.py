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
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

from orchestrator.errors import StateError
from orchestrator.state.codec import load_json
from orchestrator.state.models import JournalEntry, LockInfo, SendRecord, StateSnapshot
from orchestrator.state.skeleton import StoreSkeleton

__all__ = ["InMemoryStateStore"]


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


class InMemoryStateStore(StoreSkeleton[_Shared]):
    """A :class:`~orchestrator.state.base.StateStore` that lives in this process only.

    Its transaction is the shared mutex: the skeleton encodes everything before a write
    opens one, so nothing can fail half-way through changing the state.
    """

    def __init__(self, *, _shared: _Shared | None = None) -> None:
        super().__init__()
        self._shared = _shared if _shared is not None else _Shared()
        self._closed = False

    def __repr__(self) -> str:
        return f"InMemoryStateStore(lineage={self._shared.lineage!r})"

    @property
    def location(self) -> str:
        return "memory (forgotten when the process ends)"

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

    def last_entry(self, action: str) -> JournalEntry | None:
        with self._state() as state:
            found = next((e for e in reversed(state.journal) if e.entry.action == action), None)
            return None if found is None else found.thaw()

    def current_lock(self) -> LockInfo | None:
        with self._state() as state:
            return state.lock

    # -- the skeleton's primitives -------------------------------------------------------

    def _write_txn(self, doing: str) -> contextlib.AbstractContextManager[_Shared]:
        return self._state()

    def _read_lock(self, txn: _Shared) -> LockInfo | None:
        return txn.lock

    def _upsert(self, txn: _Shared, record: SendRecord, payload: str) -> None:
        txn.records[record.key] = _Stored(record, payload)

    def _serial(self, txn: _Shared) -> int:
        return txn.serial

    def _append(self, txn: _Shared, entry: JournalEntry, detail: str) -> None:
        txn.journal.append(_StoredEntry(entry, detail))
        txn.serial = entry.seq

    def _insert_lock(self, txn: _Shared, info: LockInfo) -> None:
        txn.lock = info

    def _delete_lock(self, txn: _Shared, lock_id: str) -> bool:
        if txn.lock is None or txn.lock.lock_id != lock_id:
            return False
        txn.lock = None
        return True

    def close(self) -> None:
        self._closed = True
