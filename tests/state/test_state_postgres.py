"""What only the PostgreSQL backend promises: the DSN stays secret, connections come back."""

from __future__ import annotations

import threading
import traceback
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.errors import StateError, StateLocked
from orchestrator.redact import REDACTED
from orchestrator.state import PostgresStateStore, open_store
from orchestrator.state.dsn import describe_dsn, dsn_secrets, scrub
from tests.postgres_server import (
    SKIP_ENV,
    PostgresServer,
    PostgresUnavailable,
    find_bindir,
    skip_or_fail,
)
from tests.state.state_helpers import make_record

pytestmark = pytest.mark.timeout(60)

PASSWORD = "Sw0rdfish-s3cr3t"


def _everything_shown(error: BaseException) -> str:
    """All a user or a log could see of ``error``: message, repr, and the chained traceback."""
    return "\n".join([str(error), repr(error), *traceback.format_exception(error)])


def _assert_secret_absent(text: str, secret: str) -> None:
    for spelling in {secret, quote(secret, safe=""), quote(secret)}:
        assert spelling not in text


def _bad_dsns(server: PostgresServer) -> dict[str, str]:
    host, port = server.host, server.port
    return {
        "wrong password (url)": f"postgresql://postgres:{PASSWORD}@{host}:{port}/postgres",
        "wrong password (key=value)": f"host={host} port={port} user=postgres password={PASSWORD}",
        "quoted password": f"host={host} port={port} password='{PASSWORD} x' dbname=postgres",
        "nobody listening": f"postgresql://postgres:{PASSWORD}@127.0.0.1:1/postgres",
        "unknown database": f"postgresql://postgres:{server.password}@{host}:{port}/nope",
        "junk after the password": f"host={host} password={PASSWORD} junk",
        "unknown option": f"host={host} password={PASSWORD} bogus_option=1",
        "bad port in url": f"postgresql://postgres:{PASSWORD}@{host}:notaport/postgres",
        "percent-encoded password": f"postgresql://postgres:{quote(PASSWORD + '@/', safe='')}@{host}:1/db",
        # libpq quotes these two back in its error message:
        "bad percent-encoding": f"postgresql://postgres:{PASSWORD}%zz@{host}:{port}/postgres",
        "unencoded slash, no user": f"postgresql://{host}:{PASSWORD}/x@{host}:{port}/postgres",
    }


@pytest.mark.parametrize(
    "case",
    [
        "wrong password (url)",
        "wrong password (key=value)",
        "quoted password",
        "nobody listening",
        "unknown database",
        "junk after the password",
        "unknown option",
        "bad port in url",
        "percent-encoded password",
        "bad percent-encoding",
        "unencoded slash, no user",
    ],
)
def test_the_password_never_appears_in_connection_errors(
    postgres_server: PostgresServer, case: str
) -> None:
    dsn = _bad_dsns(postgres_server)[case]
    with pytest.raises(StateError) as caught:
        open_store("postgres", dsn=dsn)
    shown = _everything_shown(caught.value)
    _assert_secret_absent(shown, PASSWORD)
    _assert_secret_absent(shown, postgres_server.password)
    assert "PostgreSQL state" in str(caught.value)


def test_the_password_never_appears_in_reprs_or_lock_errors(pg_database_dsn: str) -> None:
    password = psycopg.conninfo.conninfo_to_dict(pg_database_dsn)["password"]
    assert password
    first, second = PostgresStateStore(pg_database_dsn), PostgresStateStore(pg_database_dsn)
    try:
        assert str(password) not in repr(first)
        assert "127.0.0.1" in repr(first)
        with first.lock("apply"), pytest.raises(StateLocked) as caught, second.lock("apply"):
            pass
        _assert_secret_absent(_everything_shown(caught.value), str(password))
    finally:
        first.close()
        second.close()


def test_a_dropped_connection_fails_one_call_and_the_next_reconnects(pg_database_dsn: str) -> None:
    store = PostgresStateStore(pg_database_dsn)
    try:
        store.put(make_record("a"), action="intent")
        with psycopg.connect(pg_database_dsn, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'orchestrator-state'"
            )
        with pytest.raises(StateError):
            store.get("a")
        assert store.get("a") == make_record("a")
        assert store.put(make_record("b"), action="intent") == 2
    finally:
        store.close()


def test_stores_opened_at_once_on_an_empty_database_agree_on_one_lineage(
    pg_database_dsn: str,
) -> None:
    stores: list[PostgresStateStore] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def open_one() -> None:
        try:
            start.wait(timeout=30)
            stores.append(PostgresStateStore(pg_database_dsn))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    try:
        assert not errors
        assert len({store.snapshot().lineage for store in stores}) == 1
    finally:
        for store in stores:
            store.close()


def test_a_state_from_a_newer_orchestrator_is_refused(pg_database_dsn: str) -> None:
    PostgresStateStore(pg_database_dsn).close()
    with psycopg.connect(pg_database_dsn, autocommit=True) as admin:
        admin.execute("UPDATE orchestrator_meta SET schema_version = 99")
    with pytest.raises(StateError, match="newer orchestrator"):
        PostgresStateStore(pg_database_dsn)


def test_commits_are_synchronous_even_if_the_database_default_is_not(pg_database_dsn: str) -> None:
    with psycopg.connect(pg_database_dsn, autocommit=True) as admin:
        dbname = admin.execute("SELECT current_database()").fetchone()
        assert dbname is not None
        admin.execute(f'ALTER DATABASE "{dbname[0]}" SET synchronous_commit = off')
    store = PostgresStateStore(pg_database_dsn)
    try:
        with psycopg.connect(pg_database_dsn, autocommit=True) as admin:
            row = admin.execute(
                "SELECT setting FROM pg_settings WHERE name = 'synchronous_commit'"
            ).fetchone()
            assert row == ("off",)  # the default we are overriding
        conn = store._connection()  # white-box: the setting lives on the store's own session
        assert conn.execute("SHOW synchronous_commit").fetchone() == ("on",)
    finally:
        store.close()
        with psycopg.connect(pg_database_dsn, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{dbname[0]}" RESET synchronous_commit')


# -- the scrubbing itself (no server) ----------------------------------------------------

SECRETS = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zs")), min_size=6, max_size=30
).filter(lambda s: "'" not in s and "\\" not in s)


def _shown(text: str, secrets: list[str]) -> str:
    """``scrub``'s output with its markers cut out (a secret may be a piece of "[REDACTED]")."""
    return scrub(text, secrets).replace(REDACTED, "\x00")


@given(SECRETS)
def test_a_url_password_is_found_and_scrubbed_in_every_spelling(secret: str) -> None:
    dsn = f"postgresql://user:{quote(secret, safe='')}@db.internal:5432/state"
    secrets = dsn_secrets(dsn)
    assert secret in secrets
    for spelling in (secret, quote(secret, safe=""), f"password={secret}"):
        assert secret not in _shown(f"failed near {spelling} here", secrets)
    assert quote(secret, safe="") not in _shown(f"dsn was {dsn}", secrets)


@given(SECRETS)
def test_a_key_value_password_is_found_and_scrubbed(secret: str) -> None:
    dsn = f"host=db.internal password='{secret}' dbname=state"
    secrets = dsn_secrets(dsn)
    assert secret in secrets
    assert secret not in _shown(f'invalid connection option near "{secret}"', secrets)
    assert secret not in describe_dsn(dsn).replace(REDACTED, "\x00")


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("password=hunter2 host=x", "password=[REDACTED] host=x"),
        ("PASSWORD = 'a b' x", "PASSWORD = [REDACTED] x"),
        ("postgres://u:pw@h/db", "postgres://[REDACTED]@h/db"),  # the whole userinfo
    ],
)
def test_anything_shaped_like_a_password_is_scrubbed(text: str, shown: str) -> None:
    assert scrub(text, []) == shown


def test_describe_dsn_shows_where_not_how() -> None:
    assert describe_dsn("postgresql://me:pw@db:5433/state") == "host=db port=5433 dbname=state user=me"
    assert describe_dsn("host=db password=pw") == "host=db"


# -- the test server helper --------------------------------------------------------------


def test_missing_binaries_are_reported_with_how_to_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ORCHESTRATOR_PG_BINDIR", raising=False)
    with pytest.raises(PostgresUnavailable, match=SKIP_ENV):
        find_bindir([str(tmp_path)])


def test_missing_postgres_fails_the_tests_unless_skipping_was_asked_for() -> None:
    missing = PostgresUnavailable("no initdb")
    with pytest.raises(pytest.fail.Exception, match="no initdb"):
        skip_or_fail(missing, {})
    with pytest.raises(pytest.fail.Exception):
        skip_or_fail(missing, {SKIP_ENV: "0"})
    with pytest.raises(pytest.skip.Exception, match="no initdb"):
        skip_or_fail(missing, {SKIP_ENV: "1"})
