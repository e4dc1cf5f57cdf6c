"""An in-memory state store: the fake that planner and apply tests plug in.

It keeps the whole contract of :class:`~orchestrator.state.base.StateStore` except durability
and cross-process locking. Records and journal details are kept as encoded JSON, so the same
values are refused as by the database backends, and every read hands out a fresh copy. Records
are indexed by campaign and by content digest, so a planning view reads the desired campaigns'
records and the digests' matches, not the whole state.
:meth:`InMemoryStateStore.open_another` gives a second handle on the same state, the way a second
process opens the same database.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from orchestrator.errors import StateError
from orchestrator.state.codec import UNREAD, load_json
from orchestrator.state.models import (
    APPLIED_STATUSES,
    UNRESOLVED_STATUSES,
    Browse,
    JournalEntry,
    LockInfo,
    PlanningQuery,
    RecordFilter,
    SendRecord,
    SendStatus,
    StateSnapshot,
    TemplateRecord,
    content_digest,
)
from orchestrator.state.planning import OPEN_STATUSES, PlanningReads, planning_view
from orchestrator.state.skeleton import StoreSkeleton

__all__ = ["InMemoryStateStore"]


@dataclass
class _Stored:
    """A record with its payload kept as JSON text, so nobody outside holds a reference to it."""

    record: SendRecord
    payload: str
    digest: str = ""

    def thaw(self) -> SendRecord:
        return dataclasses.replace(self.record, payload=load_json(self.payload, what="payload"))


@dataclass
class _StoredEntry:
    entry: JournalEntry
    detail: str

    def thaw(self) -> JournalEntry:
        return dataclasses.replace(self.entry, detail=load_json(self.detail, what="detail"))


@dataclass
class _Table:
    """Records by key, with the two indexes a planning view reads: by campaign and by digest."""

    records: dict[str, _Stored] = field(default_factory=dict)
    by_campaign: dict[str, set[str]] = field(default_factory=dict)
    by_digest: dict[str, set[str]] = field(default_factory=dict)

    def put(self, stored: _Stored) -> None:
        self.remove(stored.record.key)
        self.records[stored.record.key] = stored
        self.by_campaign.setdefault(stored.record.campaign, set()).add(stored.record.key)
        self.by_digest.setdefault(stored.digest, set()).add(stored.record.key)

    def remove(self, key: str) -> _Stored | None:
        old = self.records.pop(key, None)
        if old is not None:
            for index, value in ((self.by_campaign, old.record.campaign), (self.by_digest, old.digest)):
                index[value].discard(key)
                if not index[value]:
                    del index[value]
        return old

    def of_campaign(self, campaign: str) -> list[_Stored]:
        return [self.records[key] for key in self.by_campaign.get(campaign, ())]


@dataclass
class _Shared:
    """The state itself, shared by every handle opened on it."""

    lineage: str = field(default_factory=lambda: str(uuid.uuid4()))
    serial: int = 0
    live: _Table = field(default_factory=_Table)
    archive: _Table = field(default_factory=_Table)
    journal: list[_StoredEntry] = field(default_factory=list)
    lock: LockInfo | None = None
    templates: dict[str, TemplateRecord] = field(default_factory=dict)
    mutex: threading.RLock = field(default_factory=threading.RLock)


class _Reads(PlanningReads):
    """A planning view's reads, under the shared mutex."""

    def __init__(self, state: _Shared) -> None:
        self._state = state
        self.archived = bool(state.archive.records)

    def _table(self, archive: bool) -> _Table:
        return self._state.archive if archive else self._state.live

    def by_keys(self, keys: list[str], *, archive: bool) -> list[SendRecord]:
        table = self._table(archive)
        return [table.records[key].thaw() for key in keys if key in table.records]

    def first_created(self, campaign: str, *, archive: bool) -> datetime | None:
        return min((s.record.created_at for s in self._table(archive).of_campaign(campaign)), default=None)

    def recent(self, campaigns: list[str], since: datetime) -> list[SendRecord]:
        return [
            s.thaw()
            for campaign in campaigns
            for s in self._state.live.of_campaign(campaign)
            if s.record.status in OPEN_STATUSES
            and (s.record.created_at > since or (s.record.scheduled_time or s.record.created_at) > since)
        ]

    def campaigns(self) -> list[str]:
        return sorted(self._state.live.by_campaign)

    def open_of(self, campaign: str) -> list[SendRecord]:
        return [s.thaw() for s in self._state.live.of_campaign(campaign) if s.record.status in OPEN_STATUSES]

    def lowest_open(self, campaign: str, count: int, *, archive: bool) -> list[SendRecord]:
        found = sorted(
            (s for s in self._table(archive).of_campaign(campaign) if s.record.status in OPEN_STATUSES),
            key=lambda s: s.record.key,
        )
        return [s.thaw() for s in found[:count]]

    def highest_applied(self, campaign: str, count: int, *, archive: bool) -> list[SendRecord]:
        found = sorted(
            (s for s in self._table(archive).of_campaign(campaign) if s.record.status in APPLIED_STATUSES),
            key=lambda s: s.record.key,
            reverse=True,
        )
        return [s.thaw() for s in found[:count]]

    def journal_of(self, keys: list[str]) -> list[JournalEntry]:
        wanted = set(keys)
        return [e.thaw() for e in self._state.journal if e.entry.key in wanted]

    def applied_by_digests(self, digests: list[str], *, archive: bool) -> list[SendRecord]:
        table = self._table(archive)
        keys = (key for digest in digests for key in table.by_digest.get(digest, ()))
        return [table.records[key].thaw() for key in keys if table.records[key].record.status in APPLIED_STATUSES]


def _newest_first(stored: Iterable[_Stored], where: RecordFilter) -> list[SendRecord]:
    chosen = [s for s in stored if where.matches(s.record)]
    chosen.sort(key=lambda s: (s.record.created_at, s.record.key), reverse=True)
    return [s.thaw() for s in chosen]


def _went_out(record: SendRecord, before: datetime) -> bool:
    if record.status is SendStatus.SENT:
        return (record.scheduled_time or record.created_at) < before
    when = record.scheduled_time
    return record.status is SendStatus.SCHEDULED and when is not None and when < before


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
            every = {**state.archive.records, **state.live.records}
            records = {key: every[key].thaw() for key in sorted(every)}
            gone = frozenset(key for key in state.archive.records if key not in state.live.records)
            return StateSnapshot(lineage=state.lineage, serial=state.serial, records=records, archived=gone)

    def planning_view(self, query: PlanningQuery) -> StateSnapshot:
        with self._state() as state:
            return planning_view(_Reads(state), query, state.lineage, state.serial)

    @contextlib.contextmanager
    def browse(self, where: RecordFilter = RecordFilter(), *, payloads: bool = True) -> Iterator[Browse]:
        with self._state() as state:
            table = state.archive if where.archived else state.live
            chosen = _newest_first(table.records.values(), where)
            if not payloads:
                chosen = [dataclasses.replace(r, payload=UNREAD) for r in chosen]
            lineage, serial = state.lineage, state.serial
        yield Browse(lineage, serial, iter(chosen), lambda: len(chosen))

    def get(self, key: str) -> SendRecord | None:
        with self._state() as state:
            stored = state.live.records.get(key)
            return None if stored is None else stored.thaw()

    def journal(self, key: str | None = None) -> list[JournalEntry]:
        with self._state() as state:
            return [e.thaw() for e in state.journal if key is None or e.entry.key == key]

    def iter_journal(self, key: str | None = None) -> Iterator[JournalEntry]:
        yield from self.journal(key)

    def journal_tail(self, key: str | None, count: int) -> tuple[list[JournalEntry], int]:
        entries = self.journal(key)
        tail = entries[-count:]
        return tail, len(entries) - len(tail)

    def last_entry(self, action: str) -> JournalEntry | None:
        with self._state() as state:
            found = next((e for e in reversed(state.journal) if e.entry.action == action), None)
            return None if found is None else found.thaw()

    def current_lock(self) -> LockInfo | None:
        with self._state() as state:
            return state.lock

    def templates(self) -> dict[str, TemplateRecord]:
        with self._state() as state:
            return dict(sorted(state.templates.items()))

    # -- the skeleton's primitives -------------------------------------------------------

    def _write_txn(self, doing: str) -> contextlib.AbstractContextManager[_Shared]:
        return self._state()

    def _read_lock(self, txn: _Shared) -> LockInfo | None:
        return txn.lock

    def _upsert(self, txn: _Shared, record: SendRecord, payload: str) -> None:
        txn.live.put(_Stored(record, payload, content_digest(record.payload)))
        txn.archive.remove(record.key)  # one key, one place

    def _upsert_template(self, txn: _Shared, record: TemplateRecord) -> None:
        txn.templates[record.name] = record

    def _unresolved_before(self, txn: _Shared, before: datetime) -> list[str]:
        return sorted(
            key
            for key, s in txn.live.records.items()
            if s.record.status in UNRESOLVED_STATUSES and (s.record.scheduled_time or s.record.created_at) < before
        )

    def _move_to_archive(self, txn: _Shared, before: datetime, at: datetime) -> int:
        going = [key for key, s in txn.live.records.items() if _went_out(s.record, before)]
        for key in going:
            stored = txn.live.remove(key)
            assert stored is not None
            txn.archive.put(stored)
        return len(going)

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
