"""The sandbox's SQLite database: schema, seeding, and serialized access from many threads.

One connection is shared by every request thread behind one re-entrant lock. SQLite would
serialize writers anyway; a single lock keeps the code simple and makes every multi-statement
change (a send and its recipients) atomic. Long reads (CSV downloads) take the lock per chunk,
never for the whole download.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from itertools import islice
from pathlib import Path

from orchestrator.errors import display_path
from orchestrator.sandbox.dates import format_wire
from orchestrator.sandbox.errors import SandboxStorageError
from orchestrator.sandbox.seed import Prospect, Seed, generate_prospects, prospect_times
from orchestrator.sqlitefile import create_whole

#: First id handed to a recorded email: far from the seed's ids, so a client that mixes ids up
#: gets "not found" instead of a plausible answer.
FIRST_EMAIL_ID = 70_001

_BATCH = 10_000

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS campaigns (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY, email TEXT NOT NULL, first_name TEXT, last_name TEXT);
CREATE TABLE IF NOT EXISTS lists (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS templates (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, subject TEXT NOT NULL,
    html TEXT NOT NULL, text TEXT NOT NULL,
    is_list_email INTEGER NOT NULL, is_one_to_one_email INTEGER NOT NULL,
    is_drip_email INTEGER NOT NULL, is_autoresponder_email INTEGER NOT NULL,
    archived INTEGER NOT NULL, reply_to_address TEXT, send_from TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS prospects (
    id INTEGER PRIMARY KEY, email TEXT NOT NULL, first_name TEXT, last_name TEXT,
    company TEXT, opted_out INTEGER NOT NULL, deleted INTEGER NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS prospects_email ON prospects (email);
CREATE TABLE IF NOT EXISTS list_members (
    id INTEGER PRIMARY KEY, list_id INTEGER NOT NULL, prospect_id INTEGER NOT NULL,
    opted_out INTEGER NOT NULL, deleted INTEGER NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS list_members_list ON list_members (list_id, prospect_id);
CREATE TABLE IF NOT EXISTS emails (
    id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, name TEXT NOT NULL,
    subject TEXT NOT NULL, text TEXT, html TEXT, campaign_id INTEGER NOT NULL,
    template_id INTEGER, list_ids TEXT NOT NULL, suppression_list_ids TEXT NOT NULL,
    tags TEXT NOT NULL, operational INTEGER NOT NULL, scheduled_time TEXT,
    created_at TEXT NOT NULL, sender TEXT NOT NULL, stats TEXT, deleted_at TEXT, updated_at TEXT);
CREATE TABLE IF NOT EXISTS email_recipients (
    id INTEGER PRIMARY KEY, email_id INTEGER NOT NULL, prospect_id INTEGER NOT NULL,
    UNIQUE (email_id, prospect_id));
CREATE TABLE IF NOT EXISTS exports (
    id INTEGER PRIMARY KEY AUTOINCREMENT, object TEXT NOT NULL, procedure TEXT NOT NULL,
    arguments TEXT NOT NULL, fields TEXT NOT NULL, version INTEGER NOT NULL,
    created_at TEXT NOT NULL, canceled_at TEXT, row_count INTEGER);
CREATE TABLE IF NOT EXISTS api_usage (day TEXT PRIMARY KEY, calls INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS template_times (
    template_id INTEGER PRIMARY KEY, campaign_id INTEGER, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS prospect_accounts (
    id INTEGER PRIMARY KEY, name TEXT, annual_revenue TEXT, industry TEXT,
    number_of_employees TEXT, website TEXT, deleted INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    prospect_updated_at TEXT, prospect_deleted INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS external_activities (
    id INTEGER PRIMARY KEY, extension TEXT, extension_salesforce_id TEXT, type TEXT,
    type_salesforce_id TEXT, prospect_id INTEGER, value TEXT, activity_date TEXT,
    created_at TEXT NOT NULL, created_by_id INTEGER);
CREATE VIEW IF NOT EXISTS visitors AS
    SELECT p.id AS id, p.id AS prospect_id, 1 AS page_view_count, NULL AS ip_address,
           NULL AS hostname, NULL AS campaign_id, p.created_at AS created_at,
           p.updated_at AS updated_at, p.deleted AS deleted,
           p.updated_at AS prospect_updated_at, p.deleted AS prospect_deleted
    FROM prospects p;
CREATE VIEW IF NOT EXISTS visitor_activities AS
    SELECT r.id AS id, r.prospect_id AS prospect_id, r.prospect_id AS visitor_id,
           6 AS type, 'Email' AS type_name, e.subject AS details, e.id AS email_id,
           e.template_id AS email_template_id,
           CASE WHEN e.kind = 'list' THEN e.id END AS list_email_id,
           e.campaign_id AS campaign_id, e.created_at AS created_at, e.created_at AS updated_at
    FROM email_recipients r JOIN emails e ON e.id = r.email_id;
"""


class Store:
    """The sandbox's tables behind one lock; ``db_path=None`` keeps them in memory."""

    def __init__(self, db_path: Path | None) -> None:
        self.db_path = db_path
        self.lock = threading.RLock()
        target = ":memory:" if db_path is None else str(db_path)
        try:
            if db_path is not None and not db_path.exists():
                # Made whole elsewhere and linked into place: a process opening the file at the
                # same moment never meets it half-made (mid-way to WAL: "database is locked").
                create_whole(db_path, _create_tables)
            self._conn = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
            self._conn.execute("PRAGMA busy_timeout = 10000")
            if db_path is not None:
                self._conn.execute("PRAGMA journal_mode = WAL")
            _upgrade(self._conn)
        except (sqlite3.Error, OSError) as exc:
            where = display_path(db_path) if db_path else "memory"
            raise SandboxStorageError(f"cannot open the sandbox database ({where}): {exc}") from exc
        self._conn.row_factory = sqlite3.Row

    def close(self) -> None:
        """Close the connection; the store is unusable afterwards."""
        with self.lock:
            self._conn.close()

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """The connection, held exclusively for a few reads."""
        with self.lock:
            yield self._conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """The connection inside ``BEGIN IMMEDIATE`` … ``COMMIT`` (rolled back on error)."""
        with self.lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def set_meta(self, key: str, value: str) -> None:
        """Set one ``meta`` value."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def meta(self, key: str) -> str | None:
        """A value from the ``meta`` table (seed settings), or None."""
        with self.reading() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row["value"])

    def is_seeded(self) -> bool:
        """True once a seed was loaded: a file database is seeded only when it is new."""
        return self.meta("seeded_at") is not None

    def load_seed(self, seed: Seed, now: datetime, *, seed_digest: str | None = None) -> bool:
        """Fill the empty tables from ``seed`` in one transaction; prospects are streamed.

        ``seed_digest`` is kept in ``meta`` so a later start can tell that the seed changed.
        False (and nothing written) when the database is already seeded: checked inside the
        write transaction, so of several processes opening a new file at once exactly one seeds.
        """
        reference = seed.reference_time or now
        with self.transaction() as conn:
            if conn.execute("SELECT 1 FROM meta WHERE key = 'seeded_at'").fetchone() is not None:
                return False
            conn.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)",
                [
                    ("seeded_at", format_wire(now)),
                    ("operational_email_enabled", json.dumps(seed.operational_email_enabled)),
                    *([("seed_digest", seed_digest)] if seed_digest else []),
                ],
            )
            conn.execute(
                "INSERT INTO sqlite_sequence (name, seq) VALUES ('emails', ?)",
                (FIRST_EMAIL_ID - 1,),
            )
            conn.executemany("INSERT INTO campaigns (id, name) VALUES (?, ?)", seed.campaigns)
            conn.executemany(
                "INSERT INTO users (id, email, first_name, last_name) VALUES (?, ?, ?, ?)",
                seed.users,
            )
            conn.executemany("INSERT INTO lists (id, name) VALUES (?, ?)", seed.lists)
            conn.executemany(
                "INSERT INTO templates VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        t.id, t.name, t.subject, t.html, t.text, t.is_list_email,
                        t.is_one_to_one_email, t.is_drip_email, t.is_autoresponder_email,
                        t.archived, t.reply_to_address, json.dumps(list(t.send_from)),
                    )
                    for t in seed.templates
                ],
            )
            _insert_prospects(conn, seed.prospects, reference)
            if seed.generate is not None:
                _insert_prospects(conn, generate_prospects(seed.generate), reference)
        return True


#: Columns added after a table was first released: (table, column, definition).
_ADDED_COLUMNS = (("emails", "deleted_at", "TEXT"), ("emails", "updated_at", "TEXT"))


#: Every table, index and view SCHEMA creates.
_SCHEMA_OBJECTS = frozenset(re.findall(r"CREATE (?:TABLE|INDEX|VIEW) IF NOT EXISTS (\w+)", SCHEMA))


def _complete(conn: sqlite3.Connection) -> bool:
    """True when the database has every object and column of this version (a read only)."""
    present = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    if not _SCHEMA_OBJECTS.issubset(present):
        return False
    return all(
        column in {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        for table, column, _ in _ADDED_COLUMNS
    )


def _upgrade(conn: sqlite3.Connection) -> None:
    """Give a database made by an older version the tables and columns it lacks.

    Only then a write: in one transaction taken up front, since a read that later turns into a
    write fails at once in WAL mode if another process wrote meanwhile, whatever the busy
    timeout, and two processes must not both decide that a column is missing. A complete
    database (the usual case) is only read, so opening never waits behind another's seeding.
    """
    if _complete(conn):
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in SCHEMA.split(";"):  # no statement of SCHEMA holds a ";" of its own
            if statement.strip():
                conn.execute(statement)
        for table, column, definition in _ADDED_COLUMNS:
            present = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
            if column not in present:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _create_tables(conn: sqlite3.Connection) -> None:
    conn.executescript(SCHEMA)


def _insert_prospects(
    conn: sqlite3.Connection, prospects: Iterable[Prospect], reference: datetime
) -> None:
    """Insert prospects and their memberships in batches, never holding them all in memory."""
    iterator = iter(prospects)
    while batch := list(islice(iterator, _BATCH)):
        prospect_rows: list[tuple[object, ...]] = []
        member_rows: list[tuple[object, ...]] = []
        for p in batch:
            created_s, updated_s = prospect_times(p.id, reference)
            prospect_rows.append(
                (p.id, p.email, p.first_name, p.last_name, p.company, p.opted_out, p.deleted,
                 created_s, updated_s)
            )
            member_rows.extend(
                (list_id, p.id, p.opted_out, p.deleted, created_s, updated_s)
                for list_id in p.lists
            )
        conn.executemany("INSERT INTO prospects VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", prospect_rows)
        conn.executemany(
            "INSERT INTO list_members (list_id, prospect_id, opted_out, deleted, created_at,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?)",
            member_rows,
        )
