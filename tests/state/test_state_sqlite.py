"""What only the SQLite backend promises: its file, its journal mode, its failures."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from orchestrator.errors import StateError
from orchestrator.state import SqliteStateStore, open_store
from tests.state.state_helpers import make_record

pytestmark = pytest.mark.timeout(60)


def test_the_file_and_its_parent_folders_are_created(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "state.db"
    store = open_store("sqlite", path=path)
    store.close()
    assert path.is_file()


def test_the_database_is_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    SqliteStateStore(path).close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_a_file_that_is_not_a_database_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_text("this is not sqlite " * 100)
    with pytest.raises(StateError, match=r"state\.db"):
        SqliteStateStore(path)


def test_a_folder_in_place_of_the_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "state.db").mkdir()
    with pytest.raises(StateError, match=r"state\.db"):
        SqliteStateStore(tmp_path / "state.db")


def test_a_state_from_a_newer_orchestrator_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    SqliteStateStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET schema_version = 99")
    conn.close()
    with pytest.raises(StateError, match="newer orchestrator"):
        SqliteStateStore(path)


def test_repr_names_the_file(tmp_path: Path) -> None:
    store = SqliteStateStore(tmp_path / "state.db")
    try:
        assert "state.db" in repr(store)
    finally:
        store.close()


def test_closing_twice_is_harmless(tmp_path: Path) -> None:
    store = SqliteStateStore(tmp_path / "state.db")
    store.put(make_record(), action="intent")
    store.close()
    store.close()
    assert SqliteStateStore(tmp_path / "state.db").snapshot().serial == 1
