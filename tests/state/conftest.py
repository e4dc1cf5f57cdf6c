"""Fixtures for the state store tests: a real PostgreSQL server and one factory per backend.

``backend`` is parametrized over memory, sqlite and postgres, so every test that takes it is a
contract test that each backend must pass. ``backend.open()`` opens another handle on the same
state (for sqlite: the same file; for postgres: the same database; for memory: a shared view),
which is how tests play "a second process".
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

from orchestrator.state import BACKENDS, InMemoryStateStore, StateStore, open_store
from tests.postgres_server import PostgresServer

DATABASE_BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(scope="session")
def _pg_state_database(postgres_server: PostgresServer) -> str:
    """One database for every postgres state test; each test empties it afterwards."""
    name = "state_tests"
    with psycopg.connect(postgres_server.dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return postgres_server.dsn_for(name)


_RESET = """
SELECT pg_terminate_backend(pid) FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid();
DROP TABLE IF EXISTS orchestrator_meta, orchestrator_sends, orchestrator_journal,
    orchestrator_lock, orchestrator_sends_archive, orchestrator_templates CASCADE;
DROP FUNCTION IF EXISTS orchestrator_journal_append_only() CASCADE;
DROP FUNCTION IF EXISTS fail_bump() CASCADE;
"""


@pytest.fixture
def pg_database_dsn(_pg_state_database: str) -> Iterator[str]:
    """A DSN to a database with no state in it; emptied again after the test.

    (A fresh CREATE DATABASE per test costs ~0.3 s; dropping the tables costs milliseconds.)
    Sessions the test left behind are ended first, so no lock outlives its test.
    """
    with psycopg.connect(_pg_state_database, autocommit=True) as admin:
        admin.execute(_RESET)
    yield _pg_state_database
    with psycopg.connect(_pg_state_database, autocommit=True) as admin:
        admin.execute(_RESET)


@dataclass
class Backend:
    """Opens handles on one state of one backend kind; closes them all at teardown."""

    kind: str
    path: Path | None = None
    dsn: str | None = None
    _memory: InMemoryStateStore | None = None
    _opened: list[StateStore] = field(default_factory=list)

    def open(self) -> StateStore:
        """A new store object on the same state."""
        store: StateStore
        if self.kind == "memory":
            if self._memory is None:
                self._memory = InMemoryStateStore()
                store = self._memory
            else:
                store = self._memory.open_another()
        else:
            store = open_store(self.kind, path=self.path, dsn=self.dsn)
        self._opened.append(store)
        return store

    def close_all(self) -> None:
        for store in self._opened:
            store.close()


def _make_backend(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if kind == "sqlite":
        return Backend(kind, path=tmp_path / "nested" / "dir" / "state.db")
    if kind == "postgres":
        return Backend(kind, dsn=request.getfixturevalue("pg_database_dsn"))
    return Backend(kind)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Each backend in turn: the contract suite runs once per backend."""
    made = _make_backend(request.param, request, tmp_path)
    yield made
    made.close_all()


@pytest.fixture(params=DATABASE_BACKENDS)
def db_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """The backends that other processes can share (sqlite, postgres)."""
    made = _make_backend(request.param, request, tmp_path)
    yield made
    made.close_all()


@pytest.fixture
def store(backend: Backend) -> StateStore:
    """The first handle on a fresh state of the current backend."""
    return backend.open()

