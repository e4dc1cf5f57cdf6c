"""A state written by the previous orchestrator (schema 1) keeps working: a read-only open plans on
it as it is (scanning where a column is missing), and the first write-capable open migrates it in
place (each record's content digest, the planning indexes, the archive count)."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Sequence

import psycopg
import pytest

from orchestrator.state import SendRecord, StateStore, open_store
from orchestrator.state.codec import dump_actor, dump_json, dump_time
from orchestrator.state.models import content_digest
from orchestrator.state.sqlite import SCHEMA_VERSION as SCHEMA_VERSION_NOW
from tests.state.conftest import Backend
from tests.state.planning_helpers import full_scan, history
from tests.state.state_helpers import make_record
from tests.state.test_state_planning import query_for

pytestmark = pytest.mark.timeout(300)

#: The tables as orchestrator schema 1 made them (orchestrator/state/sqlite.py before schema 2).
SQLITE_V1 = """
CREATE TABLE meta (id INTEGER PRIMARY KEY CHECK (id = 1), lineage TEXT NOT NULL, serial INTEGER NOT NULL,
    schema_version INTEGER NOT NULL);
CREATE TABLE sends (key TEXT PRIMARY KEY, campaign TEXT NOT NULL, environment TEXT NOT NULL,
    fingerprint TEXT NOT NULL, payload TEXT NOT NULL, status TEXT NOT NULL CHECK (status IN
    ('intent', 'sent', 'scheduled', 'failed', 'unknown', 'not-sent')), email_id INTEGER, scheduled_time TEXT,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, applied_by TEXT NOT NULL, error TEXT);
CREATE TABLE journal (seq INTEGER PRIMARY KEY, at TEXT NOT NULL, key TEXT, action TEXT NOT NULL,
    detail TEXT NOT NULL, actor TEXT NOT NULL);
CREATE INDEX journal_by_key ON journal (key, seq);
CREATE TABLE state_lock (id INTEGER PRIMARY KEY CHECK (id = 1), lock_id TEXT NOT NULL, operation TEXT NOT NULL,
    actor TEXT NOT NULL, pid INTEGER NOT NULL, acquired_at TEXT NOT NULL);
"""
#: The same for PostgreSQL (orchestrator/state/postgres.py before schema 2).
POSTGRES_V1 = """
CREATE TABLE orchestrator_meta (id integer PRIMARY KEY CHECK (id = 1), lineage text NOT NULL,
    serial bigint NOT NULL, schema_version integer NOT NULL);
CREATE TABLE orchestrator_sends (key text PRIMARY KEY, campaign text NOT NULL, environment text NOT NULL,
    fingerprint text NOT NULL, payload json NOT NULL, status text NOT NULL, email_id bigint,
    scheduled_time timestamptz, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL,
    applied_by json NOT NULL, error text);
CREATE TABLE orchestrator_journal (seq bigint PRIMARY KEY, at timestamptz NOT NULL, key text,
    action text NOT NULL, detail json NOT NULL, actor json NOT NULL);
CREATE INDEX orchestrator_journal_by_key ON orchestrator_journal (key, seq);
CREATE TABLE orchestrator_lock (id integer PRIMARY KEY CHECK (id = 1), lock_id text NOT NULL,
    operation text NOT NULL, actor json NOT NULL, pid integer NOT NULL, acquired_at timestamptz NOT NULL);
"""
_V1_COLUMNS = (
    "key, campaign, environment, fingerprint, payload, status, email_id, scheduled_time, created_at, "
    "updated_at, applied_by, error"
)


def _v1_row(record: SendRecord, *, text_times: bool) -> tuple[object, ...]:
    def when(value: object) -> object:
        return dump_time(value) if text_times and value is not None else value  # type: ignore[arg-type]

    return (
        record.key, record.campaign, record.environment, record.fingerprint, dump_json(record.payload, what="p"),
        record.status.value, record.email_id, when(record.scheduled_time), when(record.created_at),
        when(record.updated_at), dump_actor(record.applied_by), record.error,
    )


def make_v1_state(backend: Backend, records: Sequence[SendRecord]) -> None:
    if backend.kind == "sqlite":
        assert backend.path is not None
        backend.path.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(backend.path) as conn:
            conn.executescript(SQLITE_V1)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("INSERT INTO meta VALUES (1, ?, 0, 1)", (str(uuid.uuid4()),))
            conn.executemany(
                f"INSERT INTO sends ({_V1_COLUMNS}) VALUES ({', '.join('?' * 12)})",
                (_v1_row(r, text_times=True) for r in records),
            )
        conn.close()
        return
    assert backend.dsn is not None
    with psycopg.connect(backend.dsn) as pg:
        pg.execute(POSTGRES_V1)
        pg.execute("INSERT INTO orchestrator_meta VALUES (1, %s, 0, 1)", (str(uuid.uuid4()),))
        with pg.cursor() as cursor, cursor.copy(f"COPY orchestrator_sends ({_V1_COLUMNS}) FROM STDIN") as copy:
            for record in records:
                copy.write_row(_v1_row(record, text_times=False))


def schema(backend: Backend) -> tuple[int, set[str], dict[str, str | None]]:
    """The schema version, the names of the indexes on the sends table, each record's digest."""
    if backend.kind == "sqlite":
        assert backend.path is not None
        with sqlite3.connect(backend.path) as conn:
            version = conn.execute("SELECT schema_version FROM meta").fetchone()[0]
            indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'sends'")}
            columns = {r[1] for r in conn.execute("PRAGMA table_info(sends)")}
            select = "content_digest" if "content_digest" in columns else "NULL"
            digests = dict(conn.execute(f"SELECT key, {select} FROM sends").fetchall())
        conn.close()
        return version, indexes, digests
    assert backend.dsn is not None
    with psycopg.connect(backend.dsn) as pg:
        row = pg.execute("SELECT schema_version FROM orchestrator_meta").fetchone()
        assert row is not None
        indexes = {r[0] for r in pg.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'orchestrator_sends'")}
        has = pg.execute(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'orchestrator_sends' "
            "AND column_name = 'content_digest'"
        ).fetchone()
        select = "content_digest" if has and has[0] else "NULL"
        found: dict[str, str | None] = dict(pg.execute(f"SELECT key, {select} FROM orchestrator_sends").fetchall())
        return row[0], indexes, found


def assert_plans_read_the_same(store: StateStore, records: Sequence[SendRecord]) -> None:
    query = query_for(records, campaigns=35)
    view = store.planning_view(query)
    expected = full_scan(store.snapshot(), query)
    assert dict(view.records) == dict(expected.records) and view.first_seen == expected.first_seen


def test_a_schema_1_state_is_read_as_it_is_then_migrated_in_place_on_the_first_write_capable_open(
    db_backend: Backend,
) -> None:
    records = history(3_000, campaigns=40, seed=21)
    make_v1_state(db_backend, records)
    before = schema(db_backend)
    assert before[0] == 1 and set(before[2].values()) == {None}

    reader = open_store(db_backend.kind, path=db_backend.path, dsn=db_backend.dsn, read_only=True)
    try:
        assert_plans_read_the_same(reader, records)  # no digest column: repeats found by scanning
        with reader.browse() as listing:
            assert listing.count() == len(records)
    finally:
        reader.close()
    assert schema(db_backend) == before  # read-only: nothing migrated

    writer = db_backend.open()
    version, indexes, digests = schema(db_backend)
    assert version == SCHEMA_VERSION_NOW
    assert {"sends_by_content", "sends_by_campaign_created"} <= {i.removeprefix("orchestrator_") for i in indexes}
    assert digests == {r.key: content_digest(r.payload) for r in records}
    assert_plans_read_the_same(writer, records)
    lineage = writer.snapshot().lineage
    writer.put(make_record("new-key"), action="intent")
    assert schema(db_backend)[2]["new-key"] == content_digest(make_record("new-key").payload)
    assert db_backend.open().snapshot().lineage == lineage  # reopening finds schema 2: nothing to do
