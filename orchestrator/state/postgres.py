"""The PostgreSQL state store: for teams whose applies run from several machines (CI, laptops).

Choices, and why:

* Every write locks the one ``orchestrator_meta`` row (``FOR UPDATE``) first, so writers queue
  in one order, serials never collide, and no two writes can deadlock.
* ``synchronous_commit = on`` for our sessions whatever the server default: a commit that
  returns is on disk, because an intent written before an API call must survive a crash.
* The put/journal/lock sequence is :mod:`orchestrator.state.skeleton`'s; this module supplies
  the SQL. The state lock is a row *and* a session-level advisory lock held on a connection of its own.
  If the holder dies, the server ends its session and drops the advisory lock; the next
  ``lock()`` finds the row left behind, takes over and journals ``lock-takeover``.
* The DSN is a secret: it is never shown, and every error is scrubbed of its password
  (see :mod:`orchestrator.state.dsn`).
* A plan reads through indexes only (:mod:`orchestrator.state.planning`), in one REPEATABLE
  READ transaction. Schema 2 (each record's content digest, the planning indexes, the archive
  count) is made in place by the first write-capable open of a schema-1 database (the role must
  own the tables, as the one that created them does); a read-only role still plans on an older
  one, scanning where a column is missing. ``orchestrator_sends_archive`` is created by the first
  ``state archive``: a read-only role needs SELECT on it from then on.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.rows import TupleRow

from orchestrator.errors import StateError
from orchestrator.state.codec import UNREAD, LazyJson, dump_actor, dump_json, load_actor, load_json
from orchestrator.state.dsn import describe_dsn, dsn_secrets, scrub
from orchestrator.state.locking import holder_is_dead, locked_error, new_lock
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
from orchestrator.state.planning import OPEN_STATUSES, PlanningReads, planning_view, scanned_view
from orchestrator.state.skeleton import StoreSkeleton, no_lineage_error

__all__ = ["SCHEMA_VERSION", "PostgresStateStore"]

logger = logging.getLogger(__name__)

#: 2: ``content_digest``, the planning indexes, ``orchestrator_meta.archived`` (and the archive).
#: 3: ``orchestrator_templates``, the email templates the project owns.
SCHEMA_VERSION = 3

#: Schema 3's table: one row per owned template, what the last apply made of it.
_TEMPLATES = """
CREATE TABLE IF NOT EXISTS orchestrator_templates (
    name text PRIMARY KEY,
    template_id bigint NOT NULL,
    fingerprint text NOT NULL,
    remote_fingerprint text NOT NULL,
    applied_at timestamptz NOT NULL
);
"""

Connection = psycopg.Connection[TupleRow]

#: Advisory lock keys (two int4: "ORCH", then "LOCK" for the state lock, "DDL" for schema setup).
_LOCK_KEY = (0x4F524348, 0x4C4F434B)
_SCHEMA_KEY = (0x4F524348, 0x0044444C)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS orchestrator_meta (
    id integer PRIMARY KEY CHECK (id = 1),
    lineage text NOT NULL,
    serial bigint NOT NULL,
    schema_version integer NOT NULL,
    archived bigint NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS orchestrator_sends (
    key text PRIMARY KEY,
    campaign text NOT NULL,
    environment text NOT NULL,
    fingerprint text NOT NULL,
    payload json NOT NULL,
    status text NOT NULL CHECK (status IN
        ('intent', 'sent', 'scheduled', 'failed', 'unknown', 'not-sent')),
    email_id bigint,
    scheduled_time timestamptz,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    applied_by json NOT NULL,
    error text,
    content_digest text
);
CREATE TABLE IF NOT EXISTS orchestrator_journal (
    seq bigint PRIMARY KEY,
    at timestamptz NOT NULL,
    key text,
    action text NOT NULL,
    detail json NOT NULL,
    actor json NOT NULL
);
CREATE INDEX IF NOT EXISTS orchestrator_journal_by_key ON orchestrator_journal (key, seq);
CREATE OR REPLACE FUNCTION orchestrator_journal_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'the journal is append-only'; END $$;
CREATE OR REPLACE TRIGGER orchestrator_journal_append_only
BEFORE UPDATE OR DELETE OR TRUNCATE ON orchestrator_journal
FOR EACH STATEMENT EXECUTE FUNCTION orchestrator_journal_append_only();
CREATE TABLE IF NOT EXISTS orchestrator_lock (
    id integer PRIMARY KEY CHECK (id = 1),
    lock_id text NOT NULL,
    operation text NOT NULL,
    actor json NOT NULL,
    pid integer NOT NULL,
    acquired_at timestamptz NOT NULL
);
"""

#: Schema 2's indexes: each read of a planning view is a lookup or a short range in one of them.
_INDEXES = """
CREATE INDEX IF NOT EXISTS orchestrator_sends_by_campaign_status ON orchestrator_sends (campaign, status, key);
CREATE INDEX IF NOT EXISTS orchestrator_sends_by_campaign_created
    ON orchestrator_sends (campaign, created_at, key);
CREATE INDEX IF NOT EXISTS orchestrator_sends_by_campaign_time ON orchestrator_sends (campaign, scheduled_time);
CREATE INDEX IF NOT EXISTS orchestrator_sends_by_content ON orchestrator_sends (content_digest);
CREATE INDEX IF NOT EXISTS orchestrator_sends_by_created ON orchestrator_sends (created_at, key);
"""
#: Made by the first ``state archive``: records that went out long ago, out of every plan's way.
_ARCHIVE = """
CREATE TABLE IF NOT EXISTS orchestrator_sends_archive (
    key text PRIMARY KEY,
    campaign text NOT NULL,
    environment text NOT NULL,
    fingerprint text NOT NULL,
    payload json NOT NULL,
    status text NOT NULL CHECK (status IN ('sent', 'scheduled')),
    email_id bigint,
    scheduled_time timestamptz,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    applied_by json NOT NULL,
    error text,
    content_digest text NOT NULL,
    archived_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS orchestrator_sends_archive_by_campaign_created
    ON orchestrator_sends_archive (campaign, created_at);
CREATE INDEX IF NOT EXISTS orchestrator_sends_archive_by_campaign_key ON orchestrator_sends_archive (campaign, key);
CREATE INDEX IF NOT EXISTS orchestrator_sends_archive_by_content ON orchestrator_sends_archive (content_digest);
CREATE INDEX IF NOT EXISTS orchestrator_sends_archive_by_created ON orchestrator_sends_archive (created_at, key);
"""
_STORED = (
    "key, campaign, environment, fingerprint, payload, status, email_id, scheduled_time, "
    "created_at, updated_at, applied_by, error"
)
_COLUMNS = (
    "key, campaign, environment, fingerprint, payload::text, status, email_id, "
    "scheduled_time, created_at, updated_at, applied_by::text, error"
)
_RECORD_SELECT = f"SELECT {_COLUMNS} FROM orchestrator_sends"
_UPSERT = """
INSERT INTO orchestrator_sends (key, campaign, environment, fingerprint, payload, status,
    email_id, scheduled_time, created_at, updated_at, applied_by, error, content_digest)
VALUES (%s, %s, %s, %s, %s::json, %s, %s, %s, %s, %s, %s::json, %s, %s)
ON CONFLICT (key) DO UPDATE SET
    campaign = excluded.campaign, environment = excluded.environment,
    fingerprint = excluded.fingerprint, payload = excluded.payload, status = excluded.status,
    email_id = excluded.email_id, scheduled_time = excluded.scheduled_time,
    created_at = excluded.created_at, updated_at = excluded.updated_at,
    applied_by = excluded.applied_by, error = excluded.error, content_digest = excluded.content_digest
"""
#: A record went out before %(before)s: sent (at its scheduled time, else when it was recorded),
#: or scheduled for a time before it (``before`` is never after now).
_WENT_OUT = (
    "((status = 'sent' AND coalesce(scheduled_time, created_at) < %(before)s) "
    "OR (status = 'scheduled' AND scheduled_time < %(before)s))"
)
#: Every campaign with a record, one index step each.
_CAMPAIGNS = """
WITH RECURSIVE seen(campaign) AS (
    SELECT MIN(campaign) FROM orchestrator_sends
    UNION ALL
    SELECT (SELECT MIN(campaign) FROM orchestrator_sends WHERE campaign > seen.campaign) FROM seen
    WHERE seen.campaign IS NOT NULL
)
SELECT campaign FROM seen WHERE campaign IS NOT NULL
"""
#: The columns of ours a table has (pg_attribute needs no grant, unlike information_schema).
_HAS_COLUMN = """
SELECT count(*) FROM pg_attribute
WHERE attrelid = to_regclass(%s) AND attname = %s AND attnum > 0 AND NOT attisdropped
"""
_OPEN = [s.value for s in OPEN_STATUSES]
_APPLIED = [s.value for s in APPLIED_STATUSES]
_UNRESOLVED = [s.value for s in UNRESOLVED_STATUSES]
_JOURNAL_SELECT = "SELECT seq, at, key, action, detail::text, actor::text FROM orchestrator_journal"
_LOCK_SELECT = (
    "SELECT lock_id, operation, actor::text, pid, acquired_at FROM orchestrator_lock WHERE id = 1"
)
#: How many of the state's tables exist: any means a state was created here before.
_STATE_TABLES = """
SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()
  AND tablename IN ('orchestrator_meta', 'orchestrator_sends', 'orchestrator_journal', 'orchestrator_lock')
"""
_HOLDER_SESSIONS = """
SELECT pid FROM pg_locks
WHERE locktype = 'advisory' AND granted AND classid = %s::oid AND objid = %s::oid
  AND objsubid = 2 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""


def _listed_from_row(row: TupleRow) -> SendRecord:
    """A record as listed: its payload decoded only if something reads it (not read at all: NULL)."""
    return _record_from_row(row, payload=UNREAD if row[4] is None else LazyJson(row[4], what="payload"))


def _record_from_row(row: TupleRow, payload: Mapping[str, Any] | None = None) -> SendRecord:
    return SendRecord(
        key=row[0],
        campaign=row[1],
        environment=row[2],
        fingerprint=row[3],
        payload=load_json(row[4], what="payload") if payload is None else payload,
        status=SendStatus(row[5]),
        email_id=row[6],
        scheduled_time=row[7],
        created_at=row[8],
        updated_at=row[9],
        applied_by=load_actor(row[10]),
        error=row[11],
    )


def _entry_from_row(row: TupleRow) -> JournalEntry:
    return JournalEntry(
        seq=row[0],
        at=row[1],
        key=row[2],
        action=row[3],
        detail=load_json(row[4], what="detail"),
        actor=load_actor(row[5]),
    )


def _lock_from_row(row: TupleRow | None) -> LockInfo | None:
    if row is None:
        return None
    return LockInfo(
        lock_id=row[0], operation=row[1], actor=load_actor(row[2]), pid=row[3], acquired_at=row[4]
    )


def _filter_sql(where: RecordFilter) -> tuple[str, list[Any]]:
    """The WHERE clause (empty, or starting with a space) and parameters selecting ``where``."""
    clauses: list[str] = []
    params: list[Any] = []
    if where.campaigns:
        clauses.append("campaign = ANY(%s)")
        params.append(sorted(where.campaigns))
    if where.statuses:
        clauses.append("status = ANY(%s)")
        params.append(sorted(s.value for s in where.statuses))
    if where.since is not None:
        clauses.append("created_at >= %s")
        params.append(where.since)
    if where.until is not None:
        clauses.append("created_at < %s")
        params.append(where.until)
    if where.prefix:
        clauses.append("starts_with(key, %s)")
        params.append(where.prefix)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


class _Reads(PlanningReads):
    """A planning view's reads on one REPEATABLE READ transaction."""

    def __init__(self, conn: Connection, *, archived: bool, has_digest: bool) -> None:
        self._conn = conn
        self.archived = archived
        self._has_digest = has_digest

    def _records(self, sql: str, params: Sequence[Any]) -> list[SendRecord]:
        return [_record_from_row(row) for row in self._conn.execute(sql, params).fetchall()]

    @staticmethod
    def _table(archive: bool) -> str:
        return "orchestrator_sends_archive" if archive else "orchestrator_sends"

    def by_keys(self, keys: list[str], *, archive: bool) -> list[SendRecord]:
        if not keys:
            return []
        return self._records(f"SELECT {_COLUMNS} FROM {self._table(archive)} WHERE key = ANY(%s)", (keys,))

    def first_created(self, campaign: str, *, archive: bool) -> datetime | None:
        row = self._conn.execute(
            f"SELECT MIN(created_at) FROM {self._table(archive)} WHERE campaign = %s", (campaign,)
        ).fetchone()
        return None if row is None else row[0]

    def recent(self, campaigns: list[str], since: datetime) -> list[SendRecord]:
        out: list[SendRecord] = []
        for column in ("scheduled_time", "created_at"):  # two ranges, each on its own index
            out += self._records(
                f"SELECT {_COLUMNS} FROM orchestrator_sends WHERE campaign = ANY(%s) AND {column} > %s "
                "AND status = ANY(%s)",
                (campaigns, since, _OPEN),
            )
        return out

    def campaigns(self) -> list[str]:
        return [row[0] for row in self._conn.execute(_CAMPAIGNS).fetchall()]

    def open_of(self, campaign: str) -> list[SendRecord]:
        return self._records(
            f"SELECT {_COLUMNS} FROM orchestrator_sends WHERE campaign = %s AND status = ANY(%s)", (campaign, _OPEN)
        )

    def lowest_open(self, campaign: str, count: int, *, archive: bool) -> list[SendRecord]:
        if archive:  # the archive holds applied records only
            sql = f"SELECT {_COLUMNS} FROM orchestrator_sends_archive WHERE campaign = %s ORDER BY key LIMIT %s"
            return self._records(sql, (campaign, count))
        found: list[SendRecord] = []
        for status in _OPEN:  # one short range of (campaign, status, key) each
            sql = (
                f"SELECT {_COLUMNS} FROM orchestrator_sends WHERE campaign = %s AND status = %s "
                "ORDER BY key LIMIT %s"
            )
            found += self._records(sql, (campaign, status, count))
        return sorted(found, key=lambda r: r.key)[:count]

    def highest_applied(self, campaign: str, count: int, *, archive: bool) -> list[SendRecord]:
        if archive:  # the archive holds applied records only
            sql = f"SELECT {_COLUMNS} FROM orchestrator_sends_archive WHERE campaign = %s ORDER BY key DESC LIMIT %s"
            return self._records(sql, (campaign, count))
        found: list[SendRecord] = []
        for status in _APPLIED:  # one short range of (campaign, status, key) each
            sql = (
                f"SELECT {_COLUMNS} FROM orchestrator_sends WHERE campaign = %s AND status = %s "
                "ORDER BY key DESC LIMIT %s"
            )
            found += self._records(sql, (campaign, status, count))
        return sorted(found, key=lambda r: r.key, reverse=True)[:count]

    def journal_of(self, keys: list[str]) -> list[JournalEntry]:
        rows = self._conn.execute(f"{_JOURNAL_SELECT} WHERE key = ANY(%s) ORDER BY seq", (keys,)).fetchall()
        return [_entry_from_row(row) for row in rows]

    def applied_by_digests(self, digests: list[str], *, archive: bool) -> list[SendRecord]:
        table = self._table(archive)
        if not self._has_digest:  # a schema-1 database read by a read-only role: scan
            wanted = set(digests)
            every = self._records(f"SELECT {_COLUMNS} FROM {table} WHERE status = ANY(%s)", (_APPLIED,))
            return [r for r in every if content_digest(r.payload) in wanted]
        return self._records(
            f"SELECT {_COLUMNS} FROM {table} WHERE content_digest = ANY(%s) AND status = ANY(%s)", (digests, _APPLIED)
        )


def _migrate(conn: Connection) -> None:
    """Schema 1 or 2 to 3, in place, inside the open transaction (which holds the schema lock):
    the owned templates' table, then, from 1, the archive count, each record's content digest
    (from its payload, a batch at a time) and the indexes."""
    conn.execute(_TEMPLATES)
    if _one(conn.execute("SELECT schema_version FROM orchestrator_meta").fetchone())[0] >= 2:
        conn.execute("UPDATE orchestrator_meta SET schema_version = %s", (SCHEMA_VERSION,))
        return
    conn.execute("ALTER TABLE orchestrator_meta ADD COLUMN IF NOT EXISTS archived bigint NOT NULL DEFAULT 0")
    conn.execute("ALTER TABLE orchestrator_sends ADD COLUMN IF NOT EXISTS content_digest text")
    after = ""
    while rows := conn.execute(
        "SELECT key, payload::text FROM orchestrator_sends WHERE key > %s ORDER BY key LIMIT 1000", (after,)
    ).fetchall():
        with conn.cursor() as cursor:
            cursor.executemany(
                "UPDATE orchestrator_sends SET content_digest = %s WHERE key = %s",
                [(content_digest(load_json(payload, what="payload")), key) for key, payload in rows],
            )
        after = rows[-1][0]
    conn.execute(_INDEXES)
    conn.execute("UPDATE orchestrator_meta SET schema_version = %s", (SCHEMA_VERSION,))


_TEMPLATE_SELECT = (
    "SELECT name, template_id, fingerprint, remote_fingerprint, applied_at FROM orchestrator_templates ORDER BY name"
)


def _one(row: TupleRow | None) -> TupleRow:
    if row is None:
        raise StateError("the PostgreSQL state tables are damaged: orchestrator_meta is empty")
    return row


def _scrub_chain(exc: BaseException, secrets: list[str]) -> None:
    """Scrub the password out of ``exc`` and every exception chained to it, in place."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        current.args = tuple(scrub(a, secrets) if isinstance(a, str) else a for a in current.args)
        current = current.__cause__ or current.__context__


class PostgresStateStore(StoreSkeleton[Connection]):
    """A :class:`~orchestrator.state.base.StateStore` in a PostgreSQL database (tables created
    if missing, all named ``orchestrator_*``).

    A database without any ``orchestrator_*`` table gets a new state (:attr:`created` says so).
    One whose state tables exist but hold no lineage row is refused unless ``create`` asks for
    a new state explicitly: it is far more likely a state that was emptied than a new one.

    ``read_only`` needs nothing but ``SELECT`` on the four tables (and nothing at all while they
    do not exist): no DDL, no advisory lock, every session ``default_transaction_read_only``.
    Where the tables do not exist, :attr:`exists` is False and
    :func:`orchestrator.state.open_store` answers with
    :class:`~orchestrator.state.empty.NoStateYet` instead.
    """

    #: False when opened read-only where no state tables exist.
    exists: bool = True

    def __init__(
        self, dsn: str, *, connect_timeout: int = 10, create: bool = False, read_only: bool = False
    ) -> None:
        super().__init__()
        if create and read_only:
            raise ValueError("a state cannot be created read-only")
        self.read_only = read_only
        self._dsn = dsn
        self._secrets = dsn_secrets(dsn)
        self._where = describe_dsn(dsn)
        self._connect_timeout = connect_timeout
        self._mutex = threading.RLock()
        self._closed = False
        # Schema 2's columns; a read-only open of a schema-1 database finds them missing.
        self._has_digest = self._has_archive_count = not read_only
        self._conn: Connection | None = None
        self._conn = self._connect()
        try:
            if read_only:
                self.exists = self._check_schema()
            else:
                self.created = self._create_schema(create=create)
        except BaseException:
            self.close()
            raise

    def __repr__(self) -> str:
        return f"PostgresStateStore({self._where})"

    @property
    def location(self) -> str:
        return f"PostgreSQL {self._where}"

    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        """Translate psycopg errors into :class:`StateError`, with the password scrubbed out."""
        try:
            yield
        except psycopg.Error as exc:
            _scrub_chain(exc, self._secrets)
            message = scrub(str(exc).strip(), self._secrets)
            raise StateError(f"PostgreSQL state ({self._where}): cannot {doing}: {message}") from exc

    def _connect(self) -> Connection:
        with self._errors("connect"):
            conn = psycopg.connect(
                self._dsn,
                autocommit=True,
                connect_timeout=self._connect_timeout,
                application_name="orchestrator-state",
            )
            conn.execute("SET synchronous_commit = on")
            conn.execute("SET TIME ZONE 'UTC'")
            if self.read_only:  # the server refuses any write these sessions might attempt
                conn.execute("SET default_transaction_read_only = on")
            return conn

    def _connection(self) -> Connection:
        if self._closed:
            raise StateError(f"PostgreSQL state ({self._where}): the state store is closed")
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = self._connect()  # the next call after a dropped connection reconnects
        return self._conn

    @contextlib.contextmanager
    def _transaction(self, doing: str) -> Iterator[Connection]:
        with self._mutex, self._errors(doing):
            conn = self._connection()
            with conn.transaction():
                yield conn

    def _check_schema(self) -> bool:
        """Read-only: whether a state exists here; refuse tables without a lineage, or of a newer
        orchestrator. Reads the catalog (which needs no grant) before any of our tables."""
        with self._transaction("read the state") as conn:
            tables = _one(conn.execute(_STATE_TABLES).fetchone())[0]
            if not tables:
                return False
            has_meta = _one(conn.execute("SELECT to_regclass('orchestrator_meta') IS NOT NULL").fetchone())[0]
            row = conn.execute("SELECT schema_version FROM orchestrator_meta").fetchone() if has_meta else None
            for table, column, attribute in (
                ("orchestrator_sends", "content_digest", "_has_digest"),
                ("orchestrator_meta", "archived", "_has_archive_count"),
            ):
                setattr(self, attribute, bool(_one(conn.execute(_HAS_COLUMN, (table, column)).fetchone())[0]))
        if row is None:
            raise no_lineage_error(f"PostgreSQL state ({self._where})", "its tables hold no lineage row")
        self._check_version(row[0])
        return True

    def _check_version(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise StateError(
                f"PostgreSQL state ({self._where}) was written by a newer orchestrator "
                f"(schema {version}, this one knows {SCHEMA_VERSION})",
                hint="upgrade the orchestrator",
            )

    def _create_schema(self, *, create: bool) -> bool:
        """Check (or, where allowed, create) the state; whether a new state was created."""
        with self._transaction("create the state tables") as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", _SCHEMA_KEY)
            tables = _one(conn.execute(_STATE_TABLES).fetchone())[0]
            has_meta = _one(conn.execute("SELECT to_regclass('orchestrator_meta') IS NOT NULL").fetchone())[0]
            row = conn.execute("SELECT schema_version FROM orchestrator_meta").fetchone() if has_meta else None
            created = False
            if row is None:
                if tables and not create:
                    raise no_lineage_error(
                        f"PostgreSQL state ({self._where})", "its tables hold no lineage row"
                    )
                conn.execute(_SCHEMA)
                conn.execute(_INDEXES)
                conn.execute(_TEMPLATES)
                conn.execute(
                    "INSERT INTO orchestrator_meta (id, lineage, serial, schema_version) "
                    "VALUES (1, %s, 0, %s)",
                    (str(uuid.uuid4()), SCHEMA_VERSION),
                )
                row, created = (SCHEMA_VERSION,), True
            version = row[0]
            if version < SCHEMA_VERSION:
                _migrate(conn)
        self._check_version(version)
        return bool(created)

    # -- reads ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _consistent(self, doing: str) -> Iterator[tuple[Connection, str, int, int]]:
        """One REPEATABLE READ, READ ONLY transaction, with the lineage, serial and archive count."""
        with self._transaction(doing) as conn:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            archived = ", archived" if self._has_archive_count else ", 0"
            meta = conn.execute(f"SELECT lineage, serial{archived} FROM orchestrator_meta").fetchone()
            lineage, serial, count = _one(meta)
            yield conn, lineage, serial, count

    def snapshot(self) -> StateSnapshot:
        with self._consistent("read the state") as (conn, lineage, serial, archived):
            rows = conn.execute(f"{_RECORD_SELECT} ORDER BY key").fetchall()
            old = conn.execute(f"SELECT {_COLUMNS} FROM orchestrator_sends_archive").fetchall() if archived else []
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
        with self._consistent("read the state for a plan") as (conn, lineage, serial, archived):
            reads = _Reads(conn, archived=archived > 0, has_digest=self._has_digest)
            if self._has_digest:
                return planning_view(reads, query, lineage, serial)
            # Schema 1, read-only: no planning index to look anything up by, so one pass over it all.
            found = reads.by_keys(sorted(query.keys), archive=False)
            with conn.cursor(name="orchestrator_plan_scan") as cursor:
                cursor.itersize = 500
                cursor.execute(_RECORD_SELECT)
                return scanned_view(found, (_listed_from_row(row) for row in cursor), query, lineage, serial)

    @contextlib.contextmanager
    def browse(self, where: RecordFilter = RecordFilter(), *, payloads: bool = True) -> Iterator[Browse]:
        with self._consistent("list the records") as (conn, lineage, serial, archived):
            if where.archived and not archived:
                yield Browse(lineage, serial, iter(()), lambda: 0)
                return
            table = "orchestrator_sends_archive" if where.archived else "orchestrator_sends"
            clause, params = _filter_sql(where)

            def count() -> int:
                total: int = _one(conn.execute(f"SELECT count(*) FROM {table}{clause}", params).fetchone())[0]
                return total

            with conn.cursor(name="orchestrator_browse") as cursor:  # server-side: a batch per round trip
                cursor.itersize = 500
                columns = _COLUMNS if payloads else _COLUMNS.replace("payload::text", "NULL")
                cursor.execute(f"SELECT {columns} FROM {table}{clause} ORDER BY created_at DESC, key DESC", params)
                yield Browse(lineage, serial, (_listed_from_row(row) for row in cursor), count)

    def get(self, key: str) -> SendRecord | None:
        with self._transaction("read a record") as conn:
            row = conn.execute(f"{_RECORD_SELECT} WHERE key = %s", (key,)).fetchone()
        return None if row is None else _record_from_row(row)

    def journal(self, key: str | None = None) -> list[JournalEntry]:
        with self._transaction("read the journal") as conn:
            if key is None:
                rows = conn.execute(f"{_JOURNAL_SELECT} ORDER BY seq").fetchall()
            else:
                rows = conn.execute(f"{_JOURNAL_SELECT} WHERE key = %s ORDER BY seq", (key,)).fetchall()
        return [_entry_from_row(row) for row in rows]

    def iter_journal(self, key: str | None = None) -> Iterator[JournalEntry]:
        with (
            self._consistent("read the journal") as (conn, _lineage, _serial, _archived),
            conn.cursor(name="orchestrator_journal_read") as cursor,
        ):
            cursor.itersize = 500
            if key is None:
                cursor.execute(f"{_JOURNAL_SELECT} ORDER BY seq")
            else:
                cursor.execute(f"{_JOURNAL_SELECT} WHERE key = %s ORDER BY seq", (key,))
            for row in cursor:
                yield _entry_from_row(row)

    def journal_tail(self, key: str | None, count: int) -> tuple[list[JournalEntry], int]:
        with self._consistent("read the journal") as (conn, _lineage, serial, _archived):
            if key is None:
                rows = conn.execute(f"{_JOURNAL_SELECT} ORDER BY seq DESC LIMIT %s", (count,)).fetchall()
                total = serial  # every write is one entry
            else:
                rows = conn.execute(
                    f"{_JOURNAL_SELECT} WHERE key = %s ORDER BY seq DESC LIMIT %s", (key, count)
                ).fetchall()
                found = conn.execute("SELECT count(*) FROM orchestrator_journal WHERE key = %s", (key,)).fetchone()
                total = _one(found)[0]
        entries = [_entry_from_row(row) for row in reversed(rows)]
        return entries, total - len(entries)

    def last_entry(self, action: str) -> JournalEntry | None:
        with self._transaction("read the journal") as conn:
            row = conn.execute(
                f"{_JOURNAL_SELECT} WHERE action = %s ORDER BY seq DESC LIMIT 1", (action,)
            ).fetchone()
        return None if row is None else _entry_from_row(row)

    def templates(self) -> dict[str, TemplateRecord]:
        with self._transaction("read the owned templates") as conn:
            present = _one(conn.execute("SELECT to_regclass('orchestrator_templates') IS NOT NULL").fetchone())[0]
            rows = conn.execute(_TEMPLATE_SELECT).fetchall() if present else []
        return {
            name: TemplateRecord(name, int(template_id), fingerprint, remote, applied_at.astimezone(UTC))
            for name, template_id, fingerprint, remote, applied_at in rows
        }

    def current_lock(self) -> LockInfo | None:
        with self._transaction("read the lock") as conn:
            return _lock_from_row(conn.execute(_LOCK_SELECT).fetchone())

    # -- the skeleton's primitives -------------------------------------------------------

    @contextlib.contextmanager
    def _write_txn(self, doing: str) -> Iterator[Connection]:
        """A write transaction that first queues on the meta row, so serials never collide."""
        with self._transaction(doing) as conn:
            conn.execute("SELECT serial FROM orchestrator_meta WHERE id = 1 FOR UPDATE")
            yield conn

    def _read_lock(self, txn: Connection) -> LockInfo | None:
        return _lock_from_row(txn.execute(_LOCK_SELECT).fetchone())

    def _upsert(self, txn: Connection, record: SendRecord, payload: str) -> None:
        txn.execute(
            _UPSERT,
            (
                record.key,
                record.campaign,
                record.environment,
                record.fingerprint,
                payload,
                record.status.value,
                record.email_id,
                record.scheduled_time,
                record.created_at,
                record.updated_at,
                dump_actor(record.applied_by),
                record.error,
                content_digest(record.payload),
            ),
        )
        if _one(txn.execute("SELECT archived FROM orchestrator_meta").fetchone())[0]:  # one key, one place
            txn.execute("DELETE FROM orchestrator_sends_archive WHERE key = %s", (record.key,))

    def _upsert_template(self, txn: Connection, record: TemplateRecord) -> None:
        txn.execute(
            "INSERT INTO orchestrator_templates (name, template_id, fingerprint, remote_fingerprint, applied_at)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (name) DO UPDATE SET template_id = excluded.template_id,"
            " fingerprint = excluded.fingerprint, remote_fingerprint = excluded.remote_fingerprint,"
            " applied_at = excluded.applied_at",
            (record.name, record.template_id, record.fingerprint, record.remote_fingerprint, record.applied_at),
        )

    def _unresolved_before(self, txn: Connection, before: datetime) -> list[str]:
        rows = txn.execute(
            "SELECT key FROM orchestrator_sends WHERE status = ANY(%s) "
            "AND coalesce(scheduled_time, created_at) < %s ORDER BY key",
            (_UNRESOLVED, before),
        ).fetchall()
        return [row[0] for row in rows]

    def _move_to_archive(self, txn: Connection, before: datetime, at: datetime) -> int:
        txn.execute(_ARCHIVE)
        txn.execute(
            "DELETE FROM orchestrator_sends_archive WHERE key IN "
            f"(SELECT key FROM orchestrator_sends WHERE {_WENT_OUT})",
            {"before": before},
        )
        txn.execute(
            f"INSERT INTO orchestrator_sends_archive ({_STORED}, content_digest, archived_at) "
            f"SELECT {_STORED}, content_digest, %(at)s FROM orchestrator_sends WHERE {_WENT_OUT}",
            {"before": before, "at": at},
        )
        moved = txn.execute(f"DELETE FROM orchestrator_sends WHERE {_WENT_OUT}", {"before": before}).rowcount
        txn.execute("UPDATE orchestrator_meta SET archived = archived + %s", (moved,))
        return moved

    def _serial(self, txn: Connection) -> int:
        serial: int = _one(txn.execute("SELECT serial FROM orchestrator_meta").fetchone())[0]
        return serial

    def _append(self, txn: Connection, entry: JournalEntry, detail: str) -> None:
        txn.execute(
            "INSERT INTO orchestrator_journal (seq, at, key, action, detail, actor) "
            "VALUES (%s, %s, %s, %s, %s::json, %s::json)",
            (entry.seq, entry.at, entry.key, entry.action, detail, dump_actor(entry.actor)),
        )
        txn.execute("UPDATE orchestrator_meta SET serial = %s", (entry.seq,))

    def _insert_lock(self, txn: Connection, info: LockInfo) -> None:
        txn.execute(
            "INSERT INTO orchestrator_lock (id, lock_id, operation, actor, pid, acquired_at) "
            "VALUES (1, %s, %s, %s::json, %s, %s)",
            (info.lock_id, info.operation, dump_actor(info.actor), info.pid, info.acquired_at),
        )

    def _delete_lock(self, txn: Connection, lock_id: str) -> bool:
        gone = txn.execute("DELETE FROM orchestrator_lock WHERE lock_id = %s", (lock_id,))
        return gone.rowcount > 0

    # -- locking: a row, plus an advisory lock held by a session of its own ---------------

    @contextlib.contextmanager
    def _lock_attempts(self) -> Iterator[Callable[[str], LockInfo]]:
        self._connection()  # a closed store says so before opening anything
        lock_conn = self._connect()
        try:
            yield lambda operation: self._try_lock_with(operation, lock_conn)
        finally:
            lock_conn.close()  # ends the session, so the server drops the advisory lock

    def _try_lock_with(self, operation: str, lock_conn: Connection) -> LockInfo:
        with self._errors("take the state lock"):
            got = _one(
                lock_conn.execute("SELECT pg_try_advisory_lock(%s, %s)", _LOCK_KEY).fetchone()
            )[0]
        if not got:
            raise locked_error(self.current_lock())
        try:
            return self._claim_lock_row(operation)
        except BaseException:
            with contextlib.suppress(psycopg.Error):
                lock_conn.execute("SELECT pg_advisory_unlock(%s, %s)", _LOCK_KEY)
            raise

    def _claim_lock_row(self, operation: str) -> LockInfo:
        """Write our lock row; a row already there belongs to a holder whose session ended."""
        info = new_lock(operation)
        with self._write_txn("take the state lock") as conn:
            stale = self._read_lock(conn)
            if stale is not None:
                conn.execute("DELETE FROM orchestrator_lock")
                detail = {
                    "stale_lock": stale.to_dict(),
                    "holder_dead": holder_is_dead(stale),
                    "reason": "the holder's database session ended without releasing the lock",
                    "new_lock_id": info.lock_id,
                }
                self._journal(conn, None, "lock-takeover", dump_json(detail, what="detail"), info.actor)
                logger.warning("took over the stale state lock %s", stale.lock_id)
            self._insert_lock(conn, info)
        return info

    def _after_force_unlock(self, lock_id: str) -> None:
        self._end_holder_sessions(lock_id)

    def _end_holder_sessions(self, lock_id: str) -> None:
        """End the database session still holding the advisory lock, if the holder lives on.

        Without this a live (say, hung) holder would keep everybody out even after its row is
        gone; its own later writes are refused by the fence in :meth:`_write`.
        """
        with self._mutex:
            conn = self._connection()
            with self._errors("find the session holding the state lock"):
                pids = [row[0] for row in conn.execute(_HOLDER_SESSIONS, _LOCK_KEY).fetchall()]
            for pid in pids:
                try:
                    with self._errors(f"end database session {pid}"):
                        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
                except StateError as exc:
                    raise StateError(
                        f"lock {lock_id} was removed, but database session {pid} still holds "
                        f"the state lock: {exc.message}",
                        hint=f"ask a database administrator to run "
                        f"`SELECT pg_terminate_backend({pid})`",
                    ) from exc

    def close(self) -> None:
        with self._mutex:
            self._closed = True
            if self._conn is not None:
                self._conn.close()
                self._conn = None
