"""What only the database backends promise: other processes, crashes, and the tables themselves.

Each test runs against sqlite and postgres. "Another process" is a real ``python -c``
subprocess (see ``state_helpers``); crashes are SIGKILL, so no cleanup code of the victim runs.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import psycopg
import pytest

from orchestrator.errors import StateError, StateLocked
from orchestrator.state import StateStore
from tests.state.conftest import Backend
from tests.state.state_helpers import (
    kill_hard,
    make_record,
    spawn_lock_holder,
    spawn_writer,
    stop,
    wait_for_line,
)

pytestmark = pytest.mark.timeout(120)

TABLES = {
    "sqlite": {"meta": "meta", "journal": "journal"},
    "postgres": {"meta": "orchestrator_meta", "journal": "orchestrator_journal"},
}


def raw_execute(backend: Backend, sql: str) -> None:
    """Run SQL on the state's database behind the store's back, as an operator could."""
    if backend.kind == "sqlite":
        assert backend.path is not None
        with sqlite3.connect(backend.path) as lite:
            lite.executescript(sql)
        lite.close()
    else:
        assert backend.dsn is not None
        with psycopg.connect(backend.dsn, autocommit=True) as pg:
            pg.execute(sql)


def _fail_serial_bumps(backend: Backend) -> None:
    meta = TABLES[backend.kind]["meta"]
    if backend.kind == "sqlite":
        raw_execute(
            backend,
            f"CREATE TRIGGER fail_bump BEFORE UPDATE ON {meta} "
            "BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
        )
    else:
        raw_execute(
            backend,
            "CREATE FUNCTION fail_bump() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'injected failure'; END $$; "
            f"CREATE TRIGGER fail_bump BEFORE UPDATE ON {meta} "
            "FOR EACH ROW EXECUTE FUNCTION fail_bump();",
        )


def test_a_failure_at_the_last_step_of_a_write_undoes_the_whole_write(db_backend: Backend) -> None:
    """The serial bump runs last, after the record and the journal entry: make it fail."""
    store = db_backend.open()
    store.put(make_record("kept"), action="intent")
    before = (store.snapshot(), store.journal())
    _fail_serial_bumps(db_backend)
    with pytest.raises(StateError, match="injected failure"):
        store.put(make_record("new"), action="intent")
    with pytest.raises(StateError, match="injected failure"):
        store.append_journal(key=None, action="resolve")
    assert (store.snapshot(), store.journal()) == before
    assert db_backend.open().get("new") is None


@pytest.mark.parametrize("statement", ["UPDATE {journal} SET action = 'x'", "DELETE FROM {journal}"])
def test_the_journal_refuses_edits_even_in_raw_sql(db_backend: Backend, statement: str) -> None:
    store = db_backend.open()
    store.put(make_record(), action="intent")
    before = store.journal()
    with pytest.raises((sqlite3.DatabaseError, psycopg.Error), match="append-only"):
        raw_execute(db_backend, statement.format(**TABLES[db_backend.kind]))
    assert store.journal() == before


def test_a_lock_held_by_another_process_names_that_process(db_backend: Backend) -> None:
    store = db_backend.open()
    proc, lock_id = spawn_lock_holder(db_backend.kind, db_backend.path, db_backend.dsn)
    try:
        with pytest.raises(StateLocked) as caught, store.lock("apply"):
            pytest.fail("took a lock another process holds")
        holder = caught.value.holder
        assert (holder["lock_id"], holder["pid"], holder["operation"]) == (lock_id, proc.pid, "apply")
        assert holder["dead"] is False
        assert f"pid {proc.pid}" in str(caught.value)
        assert "no longer running" not in str(caught.value)
        assert stop(proc).strip() == "released"
        with store.lock("apply"):
            pass
    finally:
        kill_hard(proc)


def test_a_lock_is_taken_as_soon_as_another_process_releases_it(db_backend: Backend) -> None:
    store = db_backend.open()
    proc, _ = spawn_lock_holder(db_backend.kind, db_backend.path, db_backend.dsn)
    assert proc.stdin is not None
    release = threading.Timer(0.3, proc.stdin.close)  # while we are waiting
    release.start()
    try:
        with store.lock("apply", timeout=60) as info:
            assert info.pid != proc.pid
    finally:
        release.cancel()
        kill_hard(proc)


@pytest.mark.timeout(30)  # waiting out the 600 s lock timeout fails this test
def test_sqlite_reports_a_crashed_holder_at_once_and_lets_it_be_broken(tmp_path: Path) -> None:
    backend = Backend("sqlite", path=tmp_path / "state.db")
    store = backend.open()
    try:
        proc, lock_id = spawn_lock_holder("sqlite", backend.path, None)
        kill_hard(proc)
        with pytest.raises(StateLocked) as caught, store.lock("apply", timeout=600):
            pytest.fail("a dead holder's lock must not be taken silently")
        message = str(caught.value)
        assert f"lock {lock_id}" in message
        assert f"(pid {proc.pid} on host " in message and "is no longer running" in message
        assert f"orchestrator state unlock {lock_id}" in message
        assert caught.value.holder["dead"] is True
        store.force_unlock(lock_id)
        with store.lock("apply"):
            pass
        unlock = store.journal()[-1]
        assert unlock.action == "unlock"
        assert unlock.detail["lock"]["lock_id"] == lock_id
        assert unlock.detail["holder_dead"] is True
    finally:
        backend.close_all()


def test_postgres_releases_a_crashed_holders_lock_and_the_takeover_is_journaled(
    pg_database_dsn: str,
) -> None:
    backend = Backend("postgres", dsn=pg_database_dsn)
    store = backend.open()
    try:
        proc, lock_id = spawn_lock_holder("postgres", None, pg_database_dsn)
        kill_hard(proc)
        # the server notices the dead session on its own; allow it a moment
        with store.lock("apply", timeout=60) as info:
            takeover = store.journal()[-1]
            assert takeover.action == "lock-takeover"
            assert takeover.detail["stale_lock"]["lock_id"] == lock_id
            assert takeover.detail["stale_lock"]["pid"] == proc.pid
            assert takeover.detail["holder_dead"] is True
            assert takeover.detail["new_lock_id"] == info.lock_id
            assert store.snapshot().serial == 1
    finally:
        backend.close_all()


def test_postgres_force_unlock_ends_a_live_holders_session(pg_database_dsn: str) -> None:
    backend = Backend("postgres", dsn=pg_database_dsn)
    store = backend.open()
    proc, lock_id = spawn_lock_holder("postgres", None, pg_database_dsn)
    try:
        store.force_unlock(lock_id)
        with store.lock("apply", timeout=60) as info:
            assert info.lock_id != lock_id
            assert proc.poll() is None  # the holder process lives on, without the lock
        assert [e.action for e in store.journal()] == ["unlock"]
    finally:
        kill_hard(proc)
        backend.close_all()


def test_writers_in_several_processes_lose_nothing(db_backend: Backend) -> None:
    store = db_backend.open()
    writers = [
        spawn_writer(db_backend.kind, db_backend.path, db_backend.dsn, f"p{n}", 40) for n in range(2)
    ]
    try:
        for i in range(40):
            store.put(make_record(f"main-{i}"), action="intent")
        for writer in writers:
            wait_for_line(writer, "done")
    finally:
        for writer in writers:
            kill_hard(writer)
    snapshot = store.snapshot()
    assert snapshot.serial == 120
    assert len(snapshot.records) == 120
    assert [e.seq for e in store.journal()] == list(range(1, 121))


def test_a_write_that_returned_survives_the_writer_being_killed(db_backend: Backend) -> None:
    """put() commits before it returns: SIGKILL right after loses nothing."""
    writer = spawn_writer(db_backend.kind, db_backend.path, db_backend.dsn, "crash", 5)
    try:
        wait_for_line(writer, "done")
    finally:
        kill_hard(writer)
    reopened: StateStore = db_backend.open()
    assert sorted(reopened.snapshot().records) == [f"crash-{i}" for i in range(5)]
    assert reopened.snapshot().serial == 5
