"""Read-only opens (issue 18): plan, validate, show and preview never create, change or lock a state.

Contract tests for both database backends, then the CLI against a real PostgreSQL server with
two roles: a writer that applies, and a reader granted nothing but SELECT on the state tables
(nothing at all before the tables exist), as a pull-request job holds.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from orchestrator.errors import StateError
from orchestrator.state import NoStateYet, StateStore, open_store
from tests.helpers import NOW, copy_example, fixed_clock, run
from tests.state.conftest import Backend
from tests.state.state_helpers import make_record

pytestmark = pytest.mark.timeout(120)

TABLES = "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'orchestrator%'"


def read_only(backend: Backend) -> StateStore:
    return open_store(backend.kind, path=backend.path, dsn=backend.dsn, read_only=True)


def nothing_created(backend: Backend) -> bool:
    if backend.kind == "sqlite":
        assert backend.path is not None
        return not backend.path.exists() and not backend.path.parent.exists()
    assert backend.dsn is not None
    with psycopg.connect(backend.dsn) as conn:
        row = conn.execute(TABLES).fetchone()
        return row is not None and row[0] == 0


def assert_every_write_refused(store: StateStore) -> None:
    for attempt in (
        lambda: store.put(make_record("k"), action="intent"),
        lambda: store.append_journal(key=None, action="note"),
        lambda: store.force_unlock("any"),
    ):
        with pytest.raises(StateError) as caught:
            attempt()
        assert "read-only" in caught.value.message
    with pytest.raises(StateError), store.lock("apply"):
        pass


def test_a_missing_state_reads_as_no_state_yet_and_is_not_created(db_backend: Backend) -> None:
    store = read_only(db_backend)
    try:
        assert isinstance(store, NoStateYet)
        snapshot = store.snapshot()
        assert (snapshot.lineage, snapshot.serial, dict(snapshot.records)) == (None, 0, {})
        assert store.get("k") is None and store.journal() == [] and store.last_entry("apply-commit") is None
        assert store.current_lock() is None
        assert_every_write_refused(store)
    finally:
        store.close()
    assert nothing_created(db_backend)


def test_an_existing_state_is_read_and_never_written(db_backend: Backend) -> None:
    writer = db_backend.open()
    writer.put(make_record("k"), action="intent")
    writer.append_journal(key=None, action="apply-commit", detail={"commit": "abc"})
    store = read_only(db_backend)
    try:
        snapshot = store.snapshot()
        assert snapshot == writer.snapshot() and snapshot.serial == 2
        assert store.get("k") == writer.get("k")
        assert [e.action for e in store.journal()] == ["intent", "apply-commit"]
        entry = store.last_entry("apply-commit")
        assert entry is not None and entry.detail == {"commit": "abc"} and entry.seq == 2
        assert_every_write_refused(store)
    finally:
        store.close()
    assert writer.snapshot().serial == 2


def test_last_entry_is_the_newest_of_its_action(store: StateStore) -> None:
    assert store.last_entry("apply-commit") is None
    for commit in ("a", "b"):
        store.append_journal(key=None, action="apply-commit", detail={"commit": commit})
        store.put(make_record("k"), action="intent")
    entry = store.last_entry("apply-commit")
    assert entry is not None and entry.detail["commit"] == "b" and entry.seq == 3


# -- the CLI with a reader role granted SELECT only ------------------------------------------------


@contextlib.contextmanager
def roles(admin_dsn: str) -> Iterator[tuple[str, str]]:
    """A writer (may create tables in the public schema) and a reader (nothing granted yet)."""
    suffix = uuid.uuid4().hex[:8]
    writer, reader = f"writer_{suffix}", f"reader_{suffix}"
    params = conninfo_to_dict(admin_dsn)
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        for role in (writer, reader):
            admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'pw-{role}'")
        admin.execute(f"GRANT CREATE, USAGE ON SCHEMA public TO {writer}")
    def dsn(role: str) -> str:
        return make_conninfo("", **{**params, "user": role, "password": f"pw-{role}"})

    try:
        yield dsn(writer), dsn(reader)
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename IN (%s, %s)", (writer, reader)
            )
            admin.execute(f"DROP OWNED BY {writer}, {reader}")
            admin.execute(f"DROP ROLE {writer}, {reader}")


def postgres_project(tmp_path: Path) -> Path:
    project = copy_example(tmp_path / "example")
    config = project / "orchestrator.yaml"
    text = config.read_text()
    sqlite_state = "state: {backend: sqlite, path: .orchestrator/sandbox.db}"
    assert sqlite_state in text
    config.write_text(text.replace(sqlite_state, "state: {backend: postgres, dsn_env: ORCHESTRATOR_STATE_DSN}"))
    return project


def cli(project: Path, dsn: str, *args: str) -> tuple[int, str, str]:
    return run(project, *args, env={"ORCHESTRATOR_STATE_DSN": dsn, "ORCHESTRATOR_NOW": NOW}, clock=fixed_clock(NOW))


def table_count(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(TABLES).fetchone()
        assert row is not None
        return int(row[0])


@pytest.mark.postgres
def test_plan_and_show_run_with_a_role_granted_select_only(pg_database_dsn: str, tmp_path: Path) -> None:
    project = postgres_project(tmp_path)
    plan_file = tmp_path / "plan.json"
    with roles(pg_database_dsn) as (writer, reader):
        # No state yet: the reader, granted nothing, plans; nothing is created.
        code, out, err = cli(project, reader, "plan", "--out", str(plan_file))
        assert code == 0, out + err
        assert "no state yet" in out and "Plan: 2 to send now, 3 to schedule." in out
        code, out, err = run(project, "show", str(plan_file))
        assert code == 0 and "no state yet" in out and "Checksum: sha256:" in out, out + err
        assert table_count(pg_database_dsn) == 0

        # The writer applies the plan the reader made, creating the state then.
        code, out, err = cli(project, writer, "apply", str(plan_file))
        assert code == 0, out + err
        assert table_count(pg_database_dsn) == 5  # schema 3: the owned templates' table too

        # The reader cannot read tables it was granted nothing on: a located error, no traceback.
        code, _, err = cli(project, reader, "plan")
        assert code == 1 and "permission denied" in err and "Traceback" not in err

        with psycopg.connect(writer, autocommit=True) as conn:
            conn.execute(
                "GRANT SELECT ON orchestrator_meta, orchestrator_sends, orchestrator_journal, orchestrator_lock "
                f"TO {conninfo_to_dict(reader)['user']}"
            )
        code, out, err = cli(project, reader, "plan", "--detailed-exitcode")
        assert code == 0, out + err
        assert "Plan: 5 unchanged." in out and "state serial" in out
        code, out, err = cli(project, reader, "state", "show", "spring-sale@2027-03-01T14:00:00Z")
        assert code == 0, out + err
        assert json.loads(out)["status"] == "scheduled"
        # ... but may not write: the database itself refuses, before anything is sent.
        code, _, err = cli(project, reader, "apply", "--auto-approve")
        assert code == 1 and "permission denied" in err
