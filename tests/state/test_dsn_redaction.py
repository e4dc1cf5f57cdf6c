"""A PostgreSQL DSN's userinfo and password never reach a message, whatever they contain.

Reproduction (issue 10): ``postgresql://alice:hunter2@Tr0ub4dor@127.0.0.1/db`` showed
``Tr0ub4dor@127.0.0.1`` in the error (libpq reads the password up to the first ``@`` and the
rest as the host, then quotes that host back).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.errors import ConfigError
from orchestrator.redact import REDACTED
from orchestrator.state.dsn import describe_dsn, dsn_secrets, scrub

AT_DSN = "postgresql://alice:hunter2@Tr0ub4dor@127.0.0.1/db"


def test_reproduction_password_with_an_unencoded_at() -> None:
    """Before: ``PostgreSQL state (host=Tr0ub4dor@127.0.0.1 dbname=db user=alice): cannot
    connect: failed to resolve host 'Tr0ub4dor@127.0.0.1': ...``. The message is rebuilt as
    PostgresStateStore builds it; the test guard refuses the DNS lookup libpq would make."""
    libpq = "failed to resolve host 'Tr0ub4dor@127.0.0.1': [Errno -2] Name or service not known"
    shown = f"PostgreSQL state ({describe_dsn(AT_DSN)}): cannot connect: {scrub(libpq, dsn_secrets(AT_DSN))}"
    assert "hunter2" not in shown
    assert "Tr0ub4dor" not in shown
    assert shown.startswith("PostgreSQL state (host=127.0.0.1 dbname=db user=alice)")


@pytest.mark.parametrize(
    ("dsn", "described"),
    [
        (AT_DSN, "host=127.0.0.1 dbname=db user=alice"),
        ("postgresql://alice@Tr0ub4dor@db.internal/db", "host=db.internal dbname=db user=alice"),
        ("postgresql://alice:a/b@c:d@db.internal:5433/db", "host=db.internal port=5433 dbname=db user=alice"),
        ("postgresql://me:pw@db:5433/state", "host=db port=5433 dbname=state user=me"),
    ],
)
def test_describe_dsn_uses_the_host_after_the_userinfo(dsn: str, described: str) -> None:
    assert describe_dsn(dsn) == described


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (AT_DSN, "postgresql://[REDACTED]@127.0.0.1/db"),
        ("dsn 'postgres://u:p@ss:w@rd@h:1/x' refused", "dsn 'postgres://[REDACTED]@h:1/x' refused"),
        ("postgres://only-a-user@h/db", "postgres://[REDACTED]@h/db"),
        ("password=hunter\\ Tr0ub4dor host=x", "password=[REDACTED] host=x"),
    ],
)
def test_the_whole_userinfo_is_scrubbed(text: str, shown: str) -> None:
    assert scrub(text, []) == shown


@pytest.mark.parametrize(
    "dsn",
    [
        AT_DSN,
        "postgresql://alice:hunter2@Tr0ub4dor:5432@127.0.0.1/db",
        "postgresql://alice:hun/ter2@Tr0ub4dor@127.0.0.1/db",
        "host=127.0.0.1 password=hunter2\\ Tr0ub4dor dbname=db",
        "host=127.0.0.1 password='hunter2 Tr0ub4dor' dbname=db",
        "postgresql://127.0.0.1/db?password=hunter2%20Tr0ub4dor",
    ],
)
def test_libpq_style_messages_about_a_dsn_never_show_its_password(dsn: str) -> None:
    secrets = dsn_secrets(dsn)
    messages = [
        f"failed to resolve host '{dsn.split('@', 1)[-1].split('/')[0]}'",
        f'invalid connection option near "{dsn}"',
        f"connection to {dsn} failed",
        describe_dsn(dsn),
    ]
    for message in messages:
        shown = scrub(message, secrets).replace(REDACTED, "\x00")
        assert "hunter2" not in shown
        assert "Tr0ub4dor" not in shown


USERINFO = st.text(
    st.characters(codec="ascii", exclude_categories=("Cc", "Zs"), exclude_characters="/?#'\\"),
    min_size=8,
    max_size=30,
).filter(lambda s: "@" in s[1:])


@given(USERINFO)
def test_any_userinfo_is_scrubbed_from_the_dsn_itself(userinfo: str) -> None:
    dsn = f"postgresql://{userinfo}@db.internal:5432/state"
    assert userinfo not in scrub(f"cannot use {dsn}", dsn_secrets(dsn))
    assert scrub(dsn, []) == f"postgresql://{REDACTED}@db.internal:5432/state"


def test_a_dsn_variable_is_trimmed_and_checked(tmp_path: Path) -> None:
    from orchestrator.config import load_config
    from orchestrator.connect import build_store

    (tmp_path / "campaigns").mkdir()
    (tmp_path / "orchestrator.yaml").write_text(
        "version: 1\ndefault_environment: live\ntimezone: UTC\ncampaigns_dir: campaigns\n"
        "environments:\n  live:\n    api: {kind: sandbox}\n"
        "    state: {backend: postgres, dsn_env: STATE_DSN}\n"
    )
    env = load_config(tmp_path).environment("live")
    with pytest.raises(ConfigError, match="STATE_DSN contains a control character") as caught:
        build_store(env, tmp_path, environ={"STATE_DSN": "host=x\x1b[2J password=hunter2"})
    assert "hunter2" not in str(caught.value)
    with pytest.raises(ConfigError, match="STATE_DSN is not set"):
        build_store(env, tmp_path, environ={"STATE_DSN": " \n"})
    with pytest.raises(ConfigError, match="STATE_DSN holds a %-escape that is not UTF-8") as caught:
        build_store(env, tmp_path, environ={"STATE_DSN": "postgresql://u:hunter2%80@127.0.0.1:1/db"})
    assert "hunter2" not in str(caught.value)
