"""The SQLite state store: one file, shared safely by threads and by processes on one host.

Choices, and why:

* WAL journal with ``synchronous=FULL``: readers never block the writer, and a commit is on
  disk when it returns (``NORMAL`` could lose the last intents on power loss).
* Every write runs in ``BEGIN IMMEDIATE``: the writer takes the database's write lock before
  reading the serial, so two processes can never produce the same serial.
* One connection per store object, behind a re-entrant mutex: the apply engine writes from a
  few threads, and serialising them costs nothing next to an API call.
* The state lock is a row, taken in a ``BEGIN IMMEDIATE`` transaction. A holder that died on
  this host is detected by its pid and reported, but never broken automatically: pids are
  reused, and a wrongly broken lock could send an email twice.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from orchestrator.errors import StateError, display_path
from orchestrator.state.codec import dump_actor, dump_json, dump_time, load_actor, load_json, load_time
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

__all__ = ["SCHEMA_VERSION", "SqliteStateStore"]

logger = logging.getLogger(__name__)

#: Bumped when the tables change; a state written by a newer orchestrator is refused.
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    lineage TEXT NOT NULL,
    serial INTEGER NOT NULL,
    schema_version INTEGER NOT NULL
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
    error TEXT
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

_RECORD_SELECT = (
    "SELECT key, campaign, environment, fingerprint, payload, status, email_id, scheduled_time, "
    "created_at, updated_at, applied_by, error FROM sends"
)
_UPSERT = """
INSERT INTO sends (key, campaign, environment, fingerprint, payload, status, email_id,
    scheduled_time, created_at, updated_at, applied_by, error)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (key) DO UPDATE SET
    campaign = excluded.campaign, environment = excluded.environment,
    fingerprint = excluded.fingerprint, payload = excluded.payload, status = excluded.status,
    email_id = excluded.email_id, scheduled_time = excluded.scheduled_time,
    created_at = excluded.created_at, updated_at = excluded.updated_at,
    applied_by = excluded.applied_by, error = excluded.error
"""
_LOCK_SELECT = "SELECT lock_id, operation, actor, pid, acquired_at FROM state_lock"
_LOCK_INSERT = (
    "INSERT INTO state_lock (id, lock_id, operation, actor, pid, acquired_at) "
    "VALUES (1, ?, ?, ?, ?, ?)"
)
_JOURNAL_SELECT = "SELECT seq, at, key, action, detail, actor FROM journal"


def _record_row(record: SendRecord) -> tuple[Any, ...]:
    scheduled = None if record.scheduled_time is None else dump_time(record.scheduled_time)
    return (
        record.key,
        record.campaign,
        record.environment,
        record.fingerprint,
        dump_json(record.payload, what="payload"),
        record.status.value,
        record.email_id,
        scheduled,
        dump_time(record.created_at),
        dump_time(record.updated_at),
        dump_actor(record.applied_by),
        record.error,
    )


def _record_from_row(row: tuple[Any, ...]) -> SendRecord:
    return SendRecord(
        key=row[0],
        campaign=row[1],
        environment=row[2],
        fingerprint=row[3],
        payload=load_json(row[4], what="payload"),
        status=row[5],
        email_id=row[6],
        scheduled_time=None if row[7] is None else load_time(row[7]),
        created_at=load_time(row[8]),
        updated_at=load_time(row[9]),
        applied_by=load_actor(row[10]),
        error=row[11],
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


class SqliteStateStore:
    """A :class:`~orchestrator.state.base.StateStore` in a SQLite file (created if missing)."""

    def __init__(self, path: Path, *, busy_timeout: float = 30.0) -> None:
        self._path = Path(path)
        self._mutex = threading.RLock()
        self._held: LockInfo | None = None
        self._conn: sqlite3.Connection | None = None
        with self._errors("open"):
            self._path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self._path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
            self._conn = conn
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StateError(f"{self._shown}: SQLite refused WAL mode (got {mode!r})")
            conn.execute("PRAGMA synchronous=FULL")
            self._create_schema()

    @property
    def _shown(self) -> str:
        return f"state database {display_path(self._path)}"

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

    def _create_schema(self) -> None:
        with self._transaction("create the state tables", write=True) as conn:
            for statement in _split_statements(_SCHEMA):
                conn.execute(statement)
            conn.execute(
                "INSERT OR IGNORE INTO meta (id, lineage, serial, schema_version) "
                "VALUES (1, ?, 0, ?)",
                (str(uuid.uuid4()), SCHEMA_VERSION),
            )
            version = conn.execute("SELECT schema_version FROM meta").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StateError(
                f"{self._shown} was written by a newer orchestrator (schema {version}, "
                f"this one knows {SCHEMA_VERSION})",
                hint="upgrade the orchestrator",
            )

    # -- reads ---------------------------------------------------------------------------

    def snapshot(self) -> StateSnapshot:
        with self._transaction("read the state", write=False) as conn:
            lineage, serial = conn.execute("SELECT lineage, serial FROM meta").fetchone()
            rows = conn.execute(f"{_RECORD_SELECT} ORDER BY key").fetchall()
        records = {row[0]: _record_from_row(row) for row in rows}
        return StateSnapshot(lineage=lineage, serial=serial, records=records)

    def get(self, key: str) -> SendRecord | None:
        with self._transaction("read a record", write=False) as conn:
            row = conn.execute(
                f"{_RECORD_SELECT} WHERE key = ?", (key,)
            ).fetchone()
        return None if row is None else _record_from_row(row)

    def journal(self, key: str | None = None) -> list[JournalEntry]:
        query = _JOURNAL_SELECT
        with self._transaction("read the journal", write=False) as conn:
            if key is None:
                rows = conn.execute(f"{query} ORDER BY seq").fetchall()
            else:
                rows = conn.execute(f"{query} WHERE key = ? ORDER BY seq", (key,)).fetchall()
        return [
            JournalEntry(
                seq=row[0],
                at=load_time(row[1]),
                key=row[2],
                action=row[3],
                detail=load_json(row[4], what="detail"),
                actor=load_actor(row[5]),
            )
            for row in rows
        ]

    def current_lock(self) -> LockInfo | None:
        with self._transaction("read the lock", write=False) as conn:
            return self._read_lock(conn)

    @staticmethod
    def _read_lock(conn: sqlite3.Connection) -> LockInfo | None:
        return _lock_from_row(conn.execute(_LOCK_SELECT).fetchone())

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
        check_action(action)
        with self._transaction(f"record {record.key}", write=True) as conn:
            self._check_fence(conn)
            conn.execute(_UPSERT, _record_row(record))
            return self._journal_and_bump(conn, record.key, action, detail, actor)

    def append_journal(
        self,
        *,
        key: str | None,
        action: str,
        detail: Mapping[str, Any] | None = None,
        actor: Actor | None = None,
    ) -> int:
        check_key(key)
        check_action(action)
        with self._transaction("append to the journal", write=True) as conn:
            self._check_fence(conn)
            return self._journal_and_bump(conn, key, action, detail, actor)

    def _check_fence(self, conn: sqlite3.Connection) -> None:
        """While this store holds the lock, refuse to write if someone broke it."""
        held = self._held
        if held is not None:
            current = self._read_lock(conn)
            if current is None or current.lock_id != held.lock_id:
                raise lock_broken_error(held, current)

    @staticmethod
    def _journal_and_bump(
        conn: sqlite3.Connection,
        key: str | None,
        action: str,
        detail: Mapping[str, Any] | None,
        actor: Actor | None,
    ) -> int:
        """Append one journal entry whose seq is the new serial, and store that serial."""
        serial: int = conn.execute("SELECT serial FROM meta").fetchone()[0] + 1
        conn.execute(
            "INSERT INTO journal (seq, at, key, action, detail, actor) VALUES (?, ?, ?, ?, ?, ?)",
            (
                serial,
                dump_time(datetime.now(UTC)),
                key,
                action,
                dump_json(detail or {}, what="detail"),
                dump_actor(actor or Actor.current()),
            ),
        )
        conn.execute("UPDATE meta SET serial = ?", (serial,))
        return serial

    # -- locking -------------------------------------------------------------------------

    def _try_lock(self, operation: str) -> LockInfo:
        with self._transaction("take the state lock", write=True) as conn:
            current = self._read_lock(conn)
            if current is not None:
                raise locked_error(current)
            info = new_lock(operation)
            conn.execute(
                _LOCK_INSERT,
                (
                    info.lock_id,
                    info.operation,
                    dump_actor(info.actor),
                    info.pid,
                    dump_time(info.acquired_at),
                ),
            )
            return info

    @contextlib.contextmanager
    def lock(self, operation: str, *, timeout: float = 0.0) -> Iterator[LockInfo]:
        # A dead holder's row never goes away by itself here: waiting for it would be in vain.
        info = acquire_with_timeout(
            lambda: self._try_lock(operation), timeout, give_up_if_holder_dead=True
        )
        self._held = info
        try:
            yield info
        except BaseException:
            self._held = None
            with contextlib.suppress(StateError):  # keep the original error; a stale row is
                self._release(info)  # reported to the next caller as a dead holder
            raise
        self._held = None
        self._release(info)

    def _release(self, info: LockInfo) -> None:
        with self._transaction("release the state lock", write=True) as conn:
            gone = conn.execute("DELETE FROM state_lock WHERE lock_id = ?", (info.lock_id,))
            if gone.rowcount == 0:
                logger.warning("state lock %s was broken while this process held it", info.lock_id)

    def force_unlock(self, lock_id: str) -> None:
        with self._transaction("break the state lock", write=True) as conn:
            current = self._read_lock(conn)
            if current is None or current.lock_id != lock_id:
                raise wrong_lock_error(lock_id, current)
            conn.execute("DELETE FROM state_lock WHERE lock_id = ?", (lock_id,))
            detail = {"lock": current.to_dict(), "holder_dead": holder_is_dead(current)}
            self._journal_and_bump(conn, None, "unlock", detail, None)

    def close(self) -> None:
        with self._mutex:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


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
