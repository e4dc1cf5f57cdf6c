"""State file safety (issue 8): an emptied state is refused, never silently replaced.

A state file of 0 bytes (or a database whose tables hold no lineage) used to become a new,
empty state, and the next plan offered every email already sent again. Now only a state that
does not exist at all is created implicitly (and announced on stderr); anything else needs
``orchestrator state init``. Every scenario runs through the real CLI, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from orchestrator.errors import StateError
from orchestrator.state import open_store
from tests.helpers import NOW, copy_example, run, sandbox_emails

CREATED = "Created a new, empty state at"
PG_VAR = "ORCHESTRATOR_TEST_STATE_DSN"


@pytest.fixture(params=["sqlite", "postgres"])
def project(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Path, dict[str, str], str]]:
    """The example project on each database backend: (folder, environment variables, backend)."""
    root = copy_example(tmp_path / "example")
    env: dict[str, str] = {}
    if request.param == "postgres":
        dsn = request.getfixturevalue("pg_database_dsn")
        config = root / "orchestrator.yaml"
        text = config.read_text(encoding="utf-8")
        sqlite_state = "state: {backend: sqlite, path: .orchestrator/sandbox.db}"
        assert sqlite_state in text
        config.write_text(text.replace(sqlite_state, f"state: {{backend: postgres, dsn_env: {PG_VAR}}}"))
        env[PG_VAR] = dsn
    yield root, env, request.param


def empty_the_state(root: Path, env: dict[str, str], backend: str) -> None:
    """What an accident does: the SQLite file truncated; PostgreSQL's lineage row gone."""
    if backend == "sqlite":
        state = root / ".orchestrator" / "sandbox.db"
        state.write_bytes(b"")
        for extra in (".orchestrator/sandbox.db-wal", ".orchestrator/sandbox.db-shm"):
            (root / extra).unlink(missing_ok=True)
    else:
        with psycopg.connect(env[PG_VAR], autocommit=True) as conn:
            conn.execute("DELETE FROM orchestrator_meta")
            conn.execute("DELETE FROM orchestrator_sends")


def test_a_fresh_project_creates_its_state_once_and_says_so(project: tuple[Path, dict[str, str], str]) -> None:
    root, env, _ = project
    code, _, err = run(root, "validate", "--now", NOW, env=env)
    assert code == 0 and CREATED not in err  # validate never touches the state
    code, _, err = run(root, "plan", "--now", NOW, env=env)
    assert code == 0 and CREATED not in err, err  # plan only reads: "no state yet" (issue 18)
    code, out, err = run(root, "apply", "--auto-approve", "--now", NOW, env=env)
    assert code == 0, out + err
    assert err.count(CREATED) == 1
    code, out, err = run(root, "apply", "--auto-approve", "--now", NOW, env=env)
    assert code == 0 and CREATED not in err, out + err
    assert len(sandbox_emails(root)) == 5


def test_an_emptied_state_is_refused_and_nothing_is_sent_again(project: tuple[Path, dict[str, str], str]) -> None:
    root, env, backend = project
    code, out, err = run(root, "apply", "--auto-approve", "--now", NOW, env=env)
    assert code == 0, out + err
    sent = len(sandbox_emails(root))
    empty_the_state(root, env, backend)

    for command in (["plan", "--now", NOW], ["apply", "--auto-approve", "--now", NOW], ["state", "list"]):
        code, out, err = run(root, *command, env=env)
        assert code == 1, (command, out, err)
        assert "holds no state" in err and "orchestrator state init" in err, err
        assert "restore the state from a backup" in err
        assert CREATED not in err
    assert len(sandbox_emails(root)) == sent  # nothing went out twice


def test_state_init_starts_an_empty_state_only_when_asked(project: tuple[Path, dict[str, str], str]) -> None:
    root, env, backend = project
    code, out, err = run(root, "state", "init", env=env)
    assert code == 0, out + err
    empty_the_state(root, env, backend)

    code, out, err = run(root, "state", "init", env=env)
    assert code == 0, out + err
    assert CREATED in err
    code, out, err = run(root, "state", "init", env=env)  # a second time changes nothing
    assert code == 0 and "already exists" in out and "left unchanged" in out, out + err
    code, out, err = run(root, "plan", "--now", NOW, env=env)
    assert code == 0 and CREATED not in err, out + err


def test_state_init_leaves_a_state_with_records_alone(project: tuple[Path, dict[str, str], str]) -> None:
    root, env, _ = project
    code, out, err = run(root, "apply", "--auto-approve", "--now", NOW, env=env)
    assert code == 0, out + err
    before = run(root, "state", "list", "--json", env=env)[1]
    code, out, err = run(root, "state", "init", env=env)
    assert code == 0 and "already exists" in out, out + err
    assert run(root, "state", "list", "--json", env=env)[1] == before


def test_sqlite_a_zero_byte_file_is_named_as_such(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"")
    with pytest.raises(StateError, match="a file of 0 bytes") as caught:
        open_store("sqlite", path=path)
    assert caught.value.hint is not None and "state init" in caught.value.hint
    store = open_store("sqlite", path=path, create=True)
    try:
        assert getattr(store, "created", None) is True
        assert store.snapshot().serial == 0
    finally:
        store.close()
    again = open_store("sqlite", path=path)
    try:
        assert getattr(again, "created", None) is False
    finally:
        again.close()


def test_sqlite_tables_without_a_lineage_row_are_refused(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "state.db"
    open_store("sqlite", path=path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM meta")
    with pytest.raises(StateError, match="no lineage"):
        open_store("sqlite", path=path)


def test_sqlite_a_missing_file_is_created_and_marked_created(tmp_path: Path) -> None:
    store = open_store("sqlite", path=tmp_path / "new" / "state.db")
    try:
        assert getattr(store, "created", None) is True
    finally:
        store.close()


def test_postgres_an_untouched_database_gets_a_new_state(pg_database_dsn: str) -> None:
    store = open_store("postgres", dsn=pg_database_dsn)
    try:
        assert getattr(store, "created", None) is True
    finally:
        store.close()
    again = open_store("postgres", dsn=pg_database_dsn)
    try:
        assert getattr(again, "created", None) is False
    finally:
        again.close()


def test_postgres_a_dropped_meta_table_beside_the_others_is_refused(pg_database_dsn: str) -> None:
    open_store("postgres", dsn=pg_database_dsn).close()
    with psycopg.connect(pg_database_dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE orchestrator_meta")
    with pytest.raises(StateError, match="holds no state"):
        open_store("postgres", dsn=pg_database_dsn)
    store = open_store("postgres", dsn=pg_database_dsn, create=True)
    try:
        assert getattr(store, "created", None) is True
    finally:
        store.close()
