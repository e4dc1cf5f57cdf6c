"""The SQLite state store: one file, shared safely by threads and by processes on one host.

Choices, and why:

* WAL journal with ``synchronous=FULL``: readers never block the writer, and a commit is on
  disk when it returns (``NORMAL`` could lose the last intents on power loss).
* Every write runs in ``BEGIN IMMEDIATE``: the writer takes the database's write lock before
  reading the serial, so two processes can never produce the same serial.
* One write connection per store object, behind a re-entrant mutex: the apply engine writes
  from a few threads, and SQLite serialises writers anyway. Reads use pooled connections of
  their own, so they never queue behind a commit's fsync.
* The put/journal/lock sequence is :mod:`orchestrator.state.skeleton`'s; this module supplies
  the SQL. The state lock is a row, taken in a ``BEGIN IMMEDIATE`` transaction. A holder that died on
  this host is detected by its pid and reported, but never broken automatically: pids are
  reused, and a wrongly broken lock could send an email twice.
* A plan reads through indexes only (:mod:`orchestrator.state.planning`): each record carries
  its content digest, and ``sends`` is indexed by campaign, status, times and digest.
* Schema 2 (those columns and indexes, and the archive count in ``meta``) is made in place by the
  first write-capable open of a schema-1 file; a read-only open of one still works, with a scan
  where a column is missing. The archive table is created by the first ``state archive``.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from orchestrator.errors import StateError, display_path
from orchestrator.sqlitefile import create_whole
from orchestrator.state.codec import (
    UNREAD,
    LazyJson,
    dump_actor,
    dump_json,
    dump_time,
    load_actor,
    load_json,
    load_time,
)
from orchestrator.state.models import (
    APPLIED_STATUSES,
    UNRESOLVED_STATUSES,
    Actor,
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
from orchestrator.state.planning import OPEN_STATUSES, PlanningReads, planning_view, scanned_view
from orchestrator.state.skeleton import StoreSkeleton, no_lineage_error

__all__ = ["SCHEMA_VERSION", "SqliteStateStore"]

#: Bumped when the tables change; a state written by a newer orchestrator is refused.
#: 2: ``sends.content_digest``, the planning indexes, ``meta.archived`` (and the archive table).
#: 3: ``owned_templates``, the email templates the project owns (orchestrator/templates_owned.py).
SCHEMA_VERSION = 3

#: Schema 3's table: one row per owned template, what the last apply made of it.
_TEMPLATES = """
CREATE TABLE IF NOT EXISTS owned_templates (
    name TEXT PRIMARY KEY,
    template_id INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    remote_fingerprint TEXT NOT NULL,
    applied_at TEXT NOT NULL
);
"""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    lineage TEXT NOT NULL,
    serial INTEGER NOT NULL,
    schema_version INTEGER NOT NULL,
    archived INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS sends (
    key TEXT PRIMARY KEY,
    campaign TEXT NOT NULL,
    environment TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN
        ('intent', 'sent', 'scheduled', 'failed', 'unknown', 'not-sent')),
    email_id INTEGER,
    scheduled_time TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    applied_by TEXT NOT NULL,
    error TEXT,
    content_digest TEXT
);
CREATE TABLE IF NOT EXISTS journal (
    seq INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    key TEXT,
    action TEXT NOT NULL,
    detail TEXT NOT NULL,
    actor TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS journal_by_key ON journal (key, seq);
CREATE TRIGGER IF NOT EXISTS journal_no_update BEFORE UPDATE ON journal
BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;
CREATE TRIGGER IF NOT EXISTS journal_no_delete BEFORE DELETE ON journal
BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;
CREATE TABLE IF NOT EXISTS state_lock (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    lock_id TEXT NOT NULL,
    operation TEXT NOT NULL,
    actor TEXT NOT NULL,
    pid INTEGER NOT NULL,
    acquired_at TEXT NOT NULL
);
"""

#: Schema 2's indexes: each read of a planning view is a lookup or a short range in one of them.
_INDEXES = """
CREATE INDEX IF NOT EXISTS sends_by_campaign_status ON sends (campaign, status, key);
CREATE INDEX IF NOT EXISTS sends_by_campaign_created ON sends (campaign, created_at, key);
CREATE INDEX IF NOT EXISTS sends_by_campaign_time ON sends (campaign, scheduled_time);
CREATE INDEX IF NOT EXISTS sends_by_content ON sends (content_digest);
CREATE INDEX IF NOT EXISTS sends_by_created ON sends (created_at, key);
"""

#: Made by the first ``state archive``: records that went out long ago, out of every plan's way.
_ARCHIVE = """
CREATE TABLE IF NOT EXISTS sends_archive (
    key TEXT PRIMARY KEY,
    campaign TEXT NOT NULL,
    environment TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('sent', 'scheduled')),
    email_id INTEGER,
    scheduled_time TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    applied_by TEXT NOT NULL,
    error TEXT,
    content_digest TEXT NOT NULL,
    archived_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sends_archive_by_campaign_created ON sends_archive (campaign, created_at);
CREATE INDEX IF NOT EXISTS sends_archive_by_campaign_key ON sends_archive (campaign, key);
CREATE INDEX IF NOT EXISTS sends_archive_by_content ON sends_archive (content_digest);
CREATE INDEX IF NOT EXISTS sends_archive_by_created ON sends_archive (created_at, key);
"""

_COLUMNS = (
    "key, campaign, environment, fingerprint, payload, status, email_id, scheduled_time, "
    "created_at, updated_at, applied_by, error"
)
_RECORD_SELECT = f"SELECT {_COLUMNS} FROM sends"
_UPSERT = """
INSERT INTO sends (key, campaign, environment, fingerprint, payload, status, email_id,
    scheduled_time, created_at, updated_at, applied_by, error, content_digest)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (key) DO UPDATE SET
    campaign = excluded.campaign, environment = excluded.environment,
    fingerprint = excluded.fingerprint, payload = excluded.payload, status = excluded.status,
    email_id = excluded.email_id, scheduled_time = excluded.scheduled_time,
    created_at = excluded.created_at, updated_at = excluded.updated_at,
    applied_by = excluded.applied_by, error = excluded.error, content_digest = excluded.content_digest
"""
#: A record went out before :before: sent (at its scheduled time, else when it was recorded), or
#: scheduled for a time before it (``before`` is never after now).
_WENT_OUT = (
    "((status = 'sent' AND coalesce(scheduled_time, created_at) < :before) "
    "OR (status = 'scheduled' AND scheduled_time < :before))"
)
#: Every campaign with a record, one index step each (SQLite has no skip scan without ANALYZE).
_CAMPAIGNS = """
WITH RECURSIVE seen(campaign) AS (
    SELECT MIN(campaign) FROM sends
    UNION ALL
    SELECT (SELECT MIN(campaign) FROM sends WHERE campaign > seen.campaign) FROM seen
    WHERE seen.campaign IS NOT NULL
)
SELECT campaign FROM seen WHERE campaign IS NOT NULL
"""
#: SQLite allows 32,766 parameters; lists are sent in chunks well under that.
_CHUNK = 500
_OPEN = tuple(s.value for s in OPEN_STATUSES)
_APPLIED = tuple(s.value for s in APPLIED_STATUSES)
_UNRESOLVED = tuple(s.value for s in UNRESOLVED_STATUSES)
_LOCK_SELECT = "SELECT lock_id, operation, actor, pid, acquired_at FROM state_lock"
_LOCK_INSERT = (
    "INSERT INTO state_lock (id, lock_id, operation, actor, pid, acquired_at) "
    "VALUES (1, ?, ?, ?, ?, ?)"
)
_JOURNAL_SELECT = "SELECT seq, at, key, action, detail, actor FROM journal"


def _record_row(record: SendRecord, payload: str) -> tuple[Any, ...]:
    scheduled = None if record.scheduled_time is None else dump_time(record.scheduled_time)
    return (
        record.key,
        record.campaign,
        record.environment,
        record.fingerprint,
        payload,
        record.status.value,
        record.email_id,
        scheduled,
        dump_time(record.created_at),
        dump_time(record.updated_at),
        dump_actor(record.applied_by),
        record.error,
        content_digest(record.payload),
    )


def _listed_from_row(row: tuple[Any, ...]) -> SendRecord:
    """A record as listed: its payload decoded only if something reads it (not read at all: NULL)."""
    return _record_from_row(row, payload=UNREAD if row[4] is None else LazyJson(row[4], what="payload"))


def _record_from_row(row: tuple[Any, ...], payload: Mapping[str, Any] | None = None) -> SendRecord:
    return SendRecord(
        key=row[0],
        campaign=row[1],
        environment=row[2],
        fingerprint=row[3],
        payload=load_json(row[4], what="payload") if payload is None else payload,
        status=SendStatus(row[5]),
        email_id=row[6],
        scheduled_time=None if row[7] is None else load_time(row[7]),
        created_at=load_time(row[8]),
        updated_at=load_time(row[9]),
        applied_by=load_actor(row[10]),
        error=row[11],
    )


def _marks(count: int) -> str:
    return ", ".join("?" * count)


def _chunks(items: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _after_prefix(prefix: str) -> str | None:
    """The least string above every string starting with ``prefix`` (None: there is none)."""
    while prefix:
        last = ord(prefix[-1])
        if last < 0x10FFFF:
            return prefix[:-1] + chr(last + 1)
        prefix = prefix[:-1]
    return None


def _filter_sql(where: RecordFilter) -> tuple[str, list[Any]]:
    """The WHERE clause (empty, or starting with a space) and parameters selecting ``where``."""
    clauses: list[str] = []
    params: list[Any] = []
    if where.campaigns:
        clauses.append(f"campaign IN ({_marks(len(where.campaigns))})")
        params.extend(sorted(where.campaigns))
    if where.statuses:
        clauses.append(f"status IN ({_marks(len(where.statuses))})")
        params.extend(sorted(s.value for s in where.statuses))
    if where.since is not None:
        clauses.append("created_at >= ?")
        params.append(dump_time(where.since))
    if where.until is not None:
        clauses.append("created_at < ?")
        params.append(dump_time(where.until))
    if where.prefix:
        clauses.append("key >= ? AND substr(key, 1, ?) = ?")
        params.extend([where.prefix, len(where.prefix), where.prefix])
        upper = _after_prefix(where.prefix)
        if upper is not None:
            clauses.append("key < ?")
            params.append(upper)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


class _Reads(PlanningReads):
    """A planning view's reads on one SQLite read transaction."""

    def __init__(self, conn: sqlite3.Connection, *, archived: bool, has_digest: bool) -> None:
        self._conn = conn
        self.archived = archived
        self._has_digest = has_digest

    def _records(self, sql: str, params: Sequence[Any]) -> list[SendRecord]:
        return [_record_from_row(row) for row in self._conn.execute(sql, params).fetchall()]

    def by_keys(self, keys: list[str], *, archive: bool) -> list[SendRecord]:
        table = "sends_archive" if archive else "sends"
        out: list[SendRecord] = []
        for chunk in _chunks(keys):
            out += self._records(f"SELECT {_COLUMNS} FROM {table} WHERE key IN ({_marks(len(chunk))})", chunk)
        return out

    def first_created(self, campaign: str, *, archive: bool) -> datetime | None:
        table = "sends_archive" if archive else "sends"
        row = self._conn.execute(f"SELECT MIN(created_at) FROM {table} WHERE campaign = ?", (campaign,)).fetchone()
        return None if row is None or row[0] is None else load_time(row[0])

    def recent(self, campaigns: list[str], since: datetime) -> list[SendRecord]:
        out: list[SendRecord] = []
        for chunk in _chunks(campaigns):
            for column in ("scheduled_time", "created_at"):  # two ranges, each on its own index
                out += self._records(
                    f"SELECT {_COLUMNS} FROM sends WHERE campaign IN ({_marks(len(chunk))}) AND {column} > ? "
                    f"AND status IN ({_marks(len(_OPEN))})",
                    [*chunk, dump_time(since), *_OPEN],
                )
        return out

    def campaigns(self) -> list[str]:
        return [row[0] for row in self._conn.execute(_CAMPAIGNS).fetchall()]

    def open_of(self, campaign: str) -> list[SendRecord]:
        return self._records(
            f"SELECT {_COLUMNS} FROM sends WHERE campaign = ? AND status IN ({_marks(len(_OPEN))})",
            [campaign, *_OPEN],
        )

    def lowest_open(self, campaign: str, count: int, *, archive: bool) -> list[SendRecord]:
        if archive:  # the archive holds applied records only
            sql = f"SELECT {_COLUMNS} FROM sends_archive WHERE campaign = ? ORDER BY key LIMIT ?"
            return self._records(sql, (campaign, count))
        found: list[SendRecord] = []
        for status in _OPEN:  # one short range of (campaign, status, key) each
            sql = f"SELECT {_COLUMNS} FROM sends WHERE campaign = ? AND status = ? ORDER BY key LIMIT ?"
            found += self._records(sql, (campaign, status, count))
        return sorted(found, key=lambda r: r.key)[:count]

    def highest_applied(self, campaign: str, count: int, *, archive: bool) -> list[SendRecord]:
        if archive:  # the archive holds applied records only
            sql = f"SELECT {_COLUMNS} FROM sends_archive WHERE campaign = ? ORDER BY key DESC LIMIT ?"
            return self._records(sql, (campaign, count))
        found: list[SendRecord] = []
        for status in _APPLIED:  # one short range of (campaign, status, key) each
            sql = f"SELECT {_COLUMNS} FROM sends WHERE campaign = ? AND status = ? ORDER BY key DESC LIMIT ?"
            found += self._records(sql, (campaign, status, count))
        return sorted(found, key=lambda r: r.key, reverse=True)[:count]

    def journal_of(self, keys: list[str]) -> list[JournalEntry]:
        rows: list[Any] = []
        for chunk in _chunks(keys):
            rows += self._conn.execute(f"{_JOURNAL_SELECT} WHERE key IN ({_marks(len(chunk))})", chunk).fetchall()
        return sorted((_entry_from_row(row) for row in rows), key=lambda e: e.seq)

    def applied_by_digests(self, digests: list[str], *, archive: bool) -> list[SendRecord]:
        table = "sends_archive" if archive else "sends"
        applied = f"status IN ({_marks(len(_APPLIED))})"
        if not self._has_digest:  # a schema-1 file opened read-only: no column to look up, so scan
            wanted = set(digests)
            every = self._records(f"SELECT {_COLUMNS} FROM {table} WHERE {applied}", _APPLIED)
            return [r for r in every if content_digest(r.payload) in wanted]
        out: list[SendRecord] = []
        for chunk in _chunks(digests):
            out += self._records(
                f"SELECT {_COLUMNS} FROM {table} WHERE content_digest IN ({_marks(len(chunk))}) AND {applied}",
                [*chunk, *_APPLIED],
            )
        return out


def _entry_from_row(row: tuple[Any, ...]) -> JournalEntry:
    return JournalEntry(
        seq=row[0],
        at=load_time(row[1]),
        key=row[2],
        action=row[3],
        detail=load_json(row[4], what="detail"),
        actor=load_actor(row[5]),
    )


def _lock_from_row(row: tuple[Any, ...] | None) -> LockInfo | None:
    if row is None:
        return None
    return LockInfo(
        lock_id=row[0],
        operation=row[1],
        actor=load_actor(row[2]),
        pid=row[3],
        acquired_at=load_time(row[4]),
    )


@dataclass
class _Queued:
    """One write waiting for the next group commit, and, once committed, its outcome."""

    doing: str
    key: str | None
    action: str
    detail: str
    actor: Actor
    record: tuple[SendRecord, str] | None
    done: bool = False
    serial: int = 0
    error: BaseException | None = None


class SqliteStateStore(StoreSkeleton[sqlite3.Connection]):
    """A :class:`~orchestrator.state.base.StateStore` in a SQLite file.

    A missing file is created, with a new state in it (:attr:`created` says so). An existing
    file that holds no state (0 bytes, or no lineage) is refused unless ``create`` asks for a
    new state explicitly: it is far more likely a state that was emptied than a new one, and
    a new state would plan every email already sent again.

    ``read_only`` opens an existing file with SQLite's ``mode=ro`` and never writes to it (no
    WAL switch, no folder, no tables); :func:`orchestrator.state.open_store` answers a missing
    file with :class:`~orchestrator.state.empty.NoStateYet` instead.
    """

    #: Nothing but force_unlock frees a dead holder's lock row: waiting for it would be in vain.
    dead_holder_blocks = True

    def __init__(
        self, path: Path, *, busy_timeout: float = 30.0, create: bool = False, read_only: bool = False
    ) -> None:
        super().__init__()
        if create and read_only:
            raise ValueError("a state cannot be created read-only")
        self._path = Path(path)
        self.read_only = read_only
        self._mutex = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._busy_timeout = busy_timeout
        self._queue_lock = threading.Lock()
        self._queue: list[_Queued] = []
        self._readers_lock = threading.Lock()
        self._idle_readers: list[sqlite3.Connection] = []
        self._all_readers: list[sqlite3.Connection] = []
        # Schema 2's columns; a read-only open of a schema-1 file finds them missing.
        self._has_digest = self._has_archive_count = not read_only
        with self._errors("open"):
            existed = self._path.exists()
            self._was_empty = existed and self._path.is_file() and self._path.stat().st_size == 0
            if read_only and not existed:
                raise StateError(f"{self._shown} does not exist")
            made = None
            if not read_only:
                self._path.parent.mkdir(parents=True, exist_ok=True)
                made = None if existed else create_whole(self._path, _write_new_state)
                if made is not None:  # a finished state is there now, ours or a concurrent creator's
                    existed = True
            self._conn = conn = self._open_connection()
            try:
                if read_only:
                    self._check_schema()
                else:
                    mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                    if str(mode).lower() != "wal":
                        raise StateError(f"{self._shown}: SQLite refused WAL mode (got {mode!r})")
                    conn.execute("PRAGMA synchronous=FULL")
                    self.created = self._create_schema(allow_new=create or not existed) or bool(made)
            except BaseException:
                self.close()
                raise

    def _open_connection(self) -> sqlite3.Connection:
        """A connection to the file; read-only (``mode=ro``: SQLite itself refuses any write) for a
        store opened read-only."""
        if self.read_only:
            uri = f"{self._path.resolve().as_uri()}?mode=ro"
            return sqlite3.connect(
                uri, uri=True, timeout=self._busy_timeout, isolation_level=None, check_same_thread=False
            )
        return sqlite3.connect(self._path, timeout=self._busy_timeout, isolation_level=None, check_same_thread=False)

    @property
    def _shown(self) -> str:
        return f"state database {display_path(self._path)}"

    @property
    def location(self) -> str:
        return display_path(self._path)

    def __repr__(self) -> str:
        return f"SqliteStateStore({str(self._path)!r})"

    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        """Translate sqlite3 and OS errors into :class:`StateError` naming the file."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            hint = "another orchestrator process may be writing; try again" if (
                "locked" in str(exc) or "busy" in str(exc)
            ) else None
            raise StateError(f"{self._shown}: cannot {doing}: {exc}", hint=hint) from exc
        except (sqlite3.Error, OSError) as exc:
            raise StateError(f"{self._shown}: cannot {doing}: {exc}") from exc

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StateError(f"{self._shown}: the state store is closed")
        return self._conn

    @contextlib.contextmanager
    def _transaction(self, doing: str, *, write: bool) -> Iterator[sqlite3.Connection]:
        """One transaction on the shared connection; IMMEDIATE for writes. Rolls back on error."""
        with self._mutex, self._errors(doing):
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:  # also after a failed COMMIT, so the next BEGIN works
                    conn.rollback()
                raise

    @contextlib.contextmanager
    def _read(self, doing: str) -> Iterator[sqlite3.Connection]:
        """One read transaction on a connection of its own, without the writers' mutex.

        In WAL mode a reader sees the last commit and never waits for a writer, so a read
        (the apply engine reads each record before writing it) does not queue behind another
        thread's commit and its fsync. Idle read connections are kept for reuse.
        """
        with self._errors(doing):
            conn = self._take_reader()
            try:
                conn.execute("BEGIN")
                try:
                    yield conn
                finally:
                    if conn.in_transaction:
                        conn.rollback()  # read-only: ending it is all a rollback does
            finally:
                with self._readers_lock:
                    if self._conn is not None:
                        self._idle_readers.append(conn)

    def _take_reader(self) -> sqlite3.Connection:
        with self._readers_lock:
            if self._conn is None:
                raise StateError(f"{self._shown}: the state store is closed")
            if self._idle_readers:
                return self._idle_readers.pop()
            conn = self._open_connection()
            self._all_readers.append(conn)
            return conn

    def _check_schema(self) -> None:
        """Read-only: refuse a file that holds no state, or one of a newer orchestrator; note which
        of schema 2's columns an older file lacks (the reads then fall back to scanning)."""
        with self._read("read the state") as conn:
            has_meta = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
            ).fetchone()
            row = conn.execute("SELECT schema_version FROM meta").fetchone() if has_meta else None
            if row is not None:
                self._has_digest = "content_digest" in _columns(conn, "sends")
                self._has_archive_count = "archived" in _columns(conn, "meta")
        if row is None:
            raise no_lineage_error(self._shown, "a file of 0 bytes" if self._was_empty else "no lineage")
        self._check_version(row[0])

    def _check_version(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise StateError(
                f"{self._shown} was written by a newer orchestrator (schema {version}, "
                f"this one knows {SCHEMA_VERSION})",
                hint="upgrade the orchestrator",
            )

    def _create_schema(self, *, allow_new: bool) -> bool:
        """Check (or, where allowed, create) the state; whether a new state was created."""
        created = False
        with self._transaction("create the state tables", write=True) as conn:
            has_meta = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
            ).fetchone()
            row = conn.execute("SELECT schema_version FROM meta").fetchone() if has_meta else None
            if row is None:
                if not allow_new:
                    raise no_lineage_error(self._shown, "a file of 0 bytes" if self._was_empty else "no lineage")
                _write_new_state(conn)
                row, created = (SCHEMA_VERSION,), True
            version = row[0]
            if version < SCHEMA_VERSION:
                _migrate(conn)
        self._check_version(version)
        return created

    # -- reads ---------------------------------------------------------------------------

    def _meta(self, conn: sqlite3.Connection) -> tuple[str, int, int]:
        """Lineage, serial, and how many records were ever archived (0 before schema 2)."""
        archived = ", archived" if self._has_archive_count else ", 0"
        lineage, serial, count = conn.execute(f"SELECT lineage, serial{archived} FROM meta").fetchone()
        return lineage, serial, count

    def snapshot(self) -> StateSnapshot:
        with self._read("read the state") as conn:
            lineage, serial, archived = self._meta(conn)
            rows = conn.execute(f"{_RECORD_SELECT} ORDER BY key").fetchall()
            old = conn.execute(f"SELECT {_COLUMNS} FROM sends_archive").fetchall() if archived else []
        records = {row[0]: _record_from_row(row) for row in rows}
        gone = {row[0]: _record_from_row(row) for row in old if row[0] not in records}
        everything = {**records, **gone}
        return StateSnapshot(
            lineage=lineage,
            serial=serial,
            records={key: everything[key] for key in sorted(everything)},
            archived=frozenset(gone),
        )

    def planning_view(self, query: PlanningQuery) -> StateSnapshot:
        with self._read("read the state for a plan") as conn:
            lineage, serial, archived = self._meta(conn)
            reads = _Reads(conn, archived=archived > 0, has_digest=self._has_digest)
            if self._has_digest:
                return planning_view(reads, query, lineage, serial)
            # Schema 1, read-only: no planning index to look anything up by, so one pass over it all.
            found = reads.by_keys(sorted(query.keys), archive=False)
            every = _streamed(conn.execute(_RECORD_SELECT), _listed_from_row)
            return scanned_view(found, every, query, lineage, serial)

    @contextlib.contextmanager
    def browse(self, where: RecordFilter = RecordFilter(), *, payloads: bool = True) -> Iterator[Browse]:
        with self._read("list the records") as conn:
            lineage, serial, archived = self._meta(conn)
            if where.archived and not archived:
                yield Browse(lineage, serial, iter(()), lambda: 0)
                return
            table = "sends_archive" if where.archived else "sends"
            clause, params = _filter_sql(where)
            columns = _COLUMNS if payloads else _COLUMNS.replace("payload", "NULL")
            cursor = conn.execute(f"SELECT {columns} FROM {table}{clause} ORDER BY created_at DESC, key DESC", params)

            def count() -> int:
                total: int = conn.execute(f"SELECT count(*) FROM {table}{clause}", params).fetchone()[0]
                return total

            yield Browse(lineage, serial, _streamed(cursor, _listed_from_row), count)

    def get(self, key: str) -> SendRecord | None:
        with self._read("read a record") as conn:
            row = conn.execute(
                f"{_RECORD_SELECT} WHERE key = ?", (key,)
            ).fetchone()
        return None if row is None else _record_from_row(row)

    def journal(self, key: str | None = None) -> list[JournalEntry]:
        query = _JOURNAL_SELECT
        with self._read("read the journal") as conn:
            if key is None:
                rows = conn.execute(f"{query} ORDER BY seq").fetchall()
            else:
                rows = conn.execute(f"{query} WHERE key = ? ORDER BY seq", (key,)).fetchall()
        return [_entry_from_row(row) for row in rows]

    def iter_journal(self, key: str | None = None) -> Iterator[JournalEntry]:
        with self._read("read the journal") as conn:
            if key is None:
                cursor = conn.execute(f"{_JOURNAL_SELECT} ORDER BY seq")
            else:
                cursor = conn.execute(f"{_JOURNAL_SELECT} WHERE key = ? ORDER BY seq", (key,))
            yield from _streamed(cursor, _entry_from_row)

    def journal_tail(self, key: str | None, count: int) -> tuple[list[JournalEntry], int]:
        with self._read("read the journal") as conn:
            if key is None:
                rows = conn.execute(f"{_JOURNAL_SELECT} ORDER BY seq DESC LIMIT ?", (count,)).fetchall()
                total = conn.execute("SELECT coalesce(MAX(seq), 0) FROM journal").fetchone()[0]  # seq is 1..serial
            else:
                rows = conn.execute(
                    f"{_JOURNAL_SELECT} WHERE key = ? ORDER BY seq DESC LIMIT ?", (key, count)
                ).fetchall()
                total = conn.execute("SELECT count(*) FROM journal WHERE key = ?", (key,)).fetchone()[0]
        entries = [_entry_from_row(row) for row in reversed(rows)]
        return entries, total - len(entries)

    def last_entry(self, action: str) -> JournalEntry | None:
        with self._read("read the journal") as conn:
            row = conn.execute(f"{_JOURNAL_SELECT} WHERE action = ? ORDER BY seq DESC LIMIT 1", (action,)).fetchone()
        return None if row is None else _entry_from_row(row)

    def templates(self) -> dict[str, TemplateRecord]:
        with self._read("read the owned templates") as conn:
            present = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'owned_templates'"
            ).fetchone()
            rows = conn.execute(f"{_TEMPLATE_SELECT} ORDER BY name").fetchall() if present else []
        return {row[0]: _template_from_row(row) for row in rows}

    def current_lock(self) -> LockInfo | None:
        with self._read("read the lock") as conn:
            return self._read_lock(conn)

    # -- writes: group commit ---------------------------------------------------------------

    def _write(
        self,
        doing: str,
        key: str | None,
        action: str,
        detail: Mapping[str, Any] | None,
        actor: Actor | None,
        record: tuple[SendRecord, str] | None,
    ) -> int:
        """Like the skeleton's write, but writes queued by several threads share one commit.

        A commit costs an fsync (``synchronous=FULL``), and the apply engine writes from five
        threads at once. Each write joins a queue; whoever holds the writer mutex commits the
        whole queue in one transaction, each write inside a savepoint of its own, so a write
        that fails is undone alone. Every write still returns only once it is on disk, and
        each is still one journal entry and one serial.
        """
        job = _Queued(doing, key, action, dump_json(detail or {}, what="detail"), actor or Actor.current(), record)
        with self._queue_lock:
            self._queue.append(job)
        with self._mutex:
            if not job.done:  # nobody committed it while this thread waited: commit the queue
                with self._queue_lock:
                    batch, self._queue = self._queue, []
                self._commit(batch)
        if job.error is not None:
            raise job.error
        return job.serial

    def _commit(self, batch: list[_Queued]) -> None:
        """Commit ``batch`` in one transaction; every job ends done, with a serial or an error."""
        try:
            with self._transaction(batch[0].doing if len(batch) == 1 else "record writes", write=True) as conn:
                for job in batch:
                    self._apply_one(conn, job)
        except BaseException as exc:  # the transaction or its commit failed: nothing is stored
            for job in batch:
                if job.error is None:
                    job.error = exc if isinstance(exc, StateError) else StateError(
                        f"{self._shown}: cannot {job.doing}: the write was interrupted"
                    )
                    job.serial = 0
            if not isinstance(exc, Exception):
                raise  # KeyboardInterrupt and the like go on in the thread they hit
        finally:
            for job in batch:
                job.done = True

    def _apply_one(self, conn: sqlite3.Connection, job: _Queued) -> None:
        conn.execute("SAVEPOINT one_write")
        try:
            with self._errors(job.doing):
                self._check_fence(conn)
                if job.record is not None:
                    self._upsert(conn, *job.record)
                job.serial = self._journal(conn, job.key, job.action, job.detail, job.actor)
        except Exception as exc:
            job.error, job.serial = exc, 0
            if not conn.in_transaction:  # the failure took the whole transaction with it
                raise
            conn.execute("ROLLBACK TO one_write")
        conn.execute("RELEASE one_write")

    # -- the skeleton's primitives -------------------------------------------------------

    def _write_txn(self, doing: str) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        # BEGIN IMMEDIATE takes the database's write lock before the serial is read.
        return self._transaction(doing, write=True)

    def _read_lock(self, txn: sqlite3.Connection) -> LockInfo | None:
        return _lock_from_row(txn.execute(_LOCK_SELECT).fetchone())

    def _upsert(self, txn: sqlite3.Connection, record: SendRecord, payload: str) -> None:
        txn.execute(_UPSERT, _record_row(record, payload))
        if txn.execute("SELECT archived FROM meta").fetchone()[0]:  # one key, one place
            txn.execute("DELETE FROM sends_archive WHERE key = ?", (record.key,))

    def _upsert_template(self, txn: sqlite3.Connection, record: TemplateRecord) -> None:
        txn.execute(
            "INSERT OR REPLACE INTO owned_templates (name, template_id, fingerprint, remote_fingerprint, applied_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (
                record.name,
                record.template_id,
                record.fingerprint,
                record.remote_fingerprint,
                dump_time(record.applied_at),
            ),
        )

    def _unresolved_before(self, txn: sqlite3.Connection, before: datetime) -> list[str]:
        rows = txn.execute(
            f"SELECT key FROM sends WHERE status IN ({_marks(len(_UNRESOLVED))}) "
            "AND coalesce(scheduled_time, created_at) < ? ORDER BY key",
            (*_UNRESOLVED, dump_time(before)),
        ).fetchall()
        return [row[0] for row in rows]

    def _move_to_archive(self, txn: sqlite3.Connection, before: datetime, at: datetime) -> int:
        for statement in _split_statements(_ARCHIVE):
            txn.execute(statement)
        params = {"before": dump_time(before), "at": dump_time(at)}
        txn.execute(
            f"INSERT OR REPLACE INTO sends_archive ({_COLUMNS}, content_digest, archived_at) "
            f"SELECT {_COLUMNS}, content_digest, :at FROM sends WHERE {_WENT_OUT}",
            params,
        )
        moved: int = txn.execute(f"DELETE FROM sends WHERE {_WENT_OUT}", params).rowcount
        txn.execute("UPDATE meta SET archived = archived + ?", (moved,))
        return moved

    def _serial(self, txn: sqlite3.Connection) -> int:
        serial: int = txn.execute("SELECT serial FROM meta").fetchone()[0]
        return serial

    def _append(self, txn: sqlite3.Connection, entry: JournalEntry, detail: str) -> None:
        txn.execute(
            "INSERT INTO journal (seq, at, key, action, detail, actor) VALUES (?, ?, ?, ?, ?, ?)",
            (entry.seq, dump_time(entry.at), entry.key, entry.action, detail, dump_actor(entry.actor)),
        )
        txn.execute("UPDATE meta SET serial = ?", (entry.seq,))

    def _insert_lock(self, txn: sqlite3.Connection, info: LockInfo) -> None:
        txn.execute(
            _LOCK_INSERT,
            (info.lock_id, info.operation, dump_actor(info.actor), info.pid, dump_time(info.acquired_at)),
        )

    def _delete_lock(self, txn: sqlite3.Connection, lock_id: str) -> bool:
        return txn.execute("DELETE FROM state_lock WHERE lock_id = ?", (lock_id,)).rowcount > 0

    def close(self) -> None:
        with self._mutex, self._readers_lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            for reader in self._all_readers:
                reader.close()
            self._all_readers.clear()
            self._idle_readers.clear()


_TEMPLATE_SELECT = "SELECT name, template_id, fingerprint, remote_fingerprint, applied_at FROM owned_templates"


def _template_from_row(row: tuple[Any, ...]) -> TemplateRecord:
    name, template_id, fingerprint, remote, applied_at = row
    return TemplateRecord(name, int(template_id), fingerprint, remote, load_time(applied_at))


def _write_new_state(conn: sqlite3.Connection) -> None:
    """The tables, indexes and meta row (a new lineage, serial 0) of a new, empty state."""
    for statement in _split_statements(_SCHEMA + _INDEXES + _TEMPLATES):
        conn.execute(statement)
    conn.execute(
        "INSERT INTO meta (id, lineage, serial, schema_version) VALUES (1, ?, 0, ?)",
        (str(uuid.uuid4()), SCHEMA_VERSION),
    )


_Row = TypeVar("_Row")


def _streamed(cursor: sqlite3.Cursor, decode: Callable[[tuple[Any, ...]], _Row]) -> Iterator[_Row]:
    """Decoded rows, fetched a batch at a time: memory stays flat however many there are."""
    while batch := cursor.fetchmany(256):
        for row in batch:
            yield decode(row)


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})").fetchall()}


def _migrate(conn: sqlite3.Connection) -> None:
    """Schema 1 or 2 to 3, in place, inside the open write transaction: the owned templates'
    table (empty: no template was owned before schema 3), then, from 1, the archive count, each
    record's content digest (computed from its payload, in one pass over the table), the indexes."""
    for statement in _split_statements(_TEMPLATES):
        conn.execute(statement)
    if "content_digest" in _columns(conn, "sends") and "archived" in _columns(conn, "meta"):
        conn.execute("UPDATE meta SET schema_version = ?", (SCHEMA_VERSION,))  # 2 to 3: the table alone
        return
    if "archived" not in _columns(conn, "meta"):
        conn.execute("ALTER TABLE meta ADD COLUMN archived INTEGER NOT NULL DEFAULT 0")
    if "content_digest" not in _columns(conn, "sends"):
        conn.execute("ALTER TABLE sends ADD COLUMN content_digest TEXT")
    conn.create_function(
        "orchestrator_content_digest", 1, lambda text: content_digest(load_json(text, what="payload")),
        deterministic=True,
    )
    conn.execute("UPDATE sends SET content_digest = orchestrator_content_digest(payload)")  # one pass, in place
    for statement in _split_statements(_INDEXES):
        conn.execute(statement)
    conn.execute("UPDATE meta SET schema_version = ?", (SCHEMA_VERSION,))


def _split_statements(script: str) -> list[str]:
    """The schema's statements one by one (``executescript`` would commit our transaction).

    ``sqlite3.complete_statement`` tells where a statement ends, triggers' inner ``;`` included.
    """
    statements: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    return [s for s in statements if s]
