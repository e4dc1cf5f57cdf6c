"""A throwaway PostgreSQL 15 server for tests: initdb into a temp folder, listen on loopback.

Usage (see ``tests/state/conftest.py`` for the pytest fixture)::

    with running_postgres() as server:
        psycopg.connect(server.dsn)

The server runs as an unprivileged OS user (PostgreSQL refuses to run as root): when the tests
run as root, the user ``postgres`` is used, created with ``useradd`` if missing. It listens on
127.0.0.1 only, on a free port, with its socket inside the temp folder, and runs with
``fsync=off`` and friends: the data is thrown away, so startup and writes stay fast.
Password authentication (scram-sha-256) is on for TCP, so the DSN carries a real password and
tests can check that it never leaks.

When the binaries are missing the tests FAIL (CI must run them), unless the environment sets
``ORCHESTRATOR_SKIP_POSTGRES=1``.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

__all__ = [
    "SKIP_ENV",
    "PostgresServer",
    "PostgresUnavailable",
    "find_bindir",
    "running_postgres",
    "skip_or_fail",
]

#: Set to 1 to skip PostgreSQL tests on a machine without PostgreSQL (never in CI).
SKIP_ENV = "ORCHESTRATOR_SKIP_POSTGRES"
#: Where to look for initdb/pg_ctl, first match wins; ORCHESTRATOR_PG_BINDIR overrides.
BINDIR_CANDIDATES = ("/usr/lib/postgresql/15/bin", "/usr/local/pgsql/bin")
SUPERUSER = "postgres"
_OS_USER = "postgres"
_START_TIMEOUT = 60


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL binaries are not installed, or the server would not start."""


@dataclass(frozen=True)
class PostgresServer:
    """A running server: ``dsn`` connects as the superuser; ``dsn_for(db)`` to another db."""

    host: str
    port: int
    user: str
    password: str
    datadir: Path

    @property
    def dsn(self) -> str:
        return self.dsn_for("postgres")

    def dsn_for(self, dbname: str) -> str:
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{dbname}"


def find_bindir(candidates: Sequence[str] = BINDIR_CANDIDATES) -> Path:
    """The folder holding initdb and pg_ctl, or :class:`PostgresUnavailable`."""
    override = os.environ.get("ORCHESTRATOR_PG_BINDIR")
    for candidate in ([override] if override else []) + list(candidates):
        path = Path(candidate)
        if (path / "initdb").is_file() and (path / "pg_ctl").is_file():
            return path
    raise PostgresUnavailable(
        f"PostgreSQL 15 binaries not found in {', '.join(candidates)}: install "
        f"postgresql-15 (apt-get install postgresql-15) or set {SKIP_ENV}=1 to skip these tests"
    )


def skip_or_fail(exc: PostgresUnavailable, environ: Mapping[str, str] = os.environ) -> NoReturn:
    """Fail the test loudly, unless the environment opted out with ORCHESTRATOR_SKIP_POSTGRES=1."""
    if environ.get(SKIP_ENV) == "1":
        pytest.skip(f"{SKIP_ENV}=1: {exc}")
    pytest.fail(str(exc), pytrace=False)


def _service_user() -> str | None:
    """The OS user to run the server as; None when we are not root (run as ourselves)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(_OS_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", _OS_USER],
            check=True,
            capture_output=True,
            timeout=30,
        )
    return _OS_USER


def _as_user(user: str | None, argv: list[str]) -> list[str]:
    return argv if user is None else ["runuser", "-u", user, "--", *argv]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(argv: list[str], what: str) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=_START_TIMEOUT)
    if result.returncode != 0:
        raise PostgresUnavailable(f"{what} failed ({result.returncode}):\n{result.stdout}{result.stderr}")


def _initdb(bindir: Path, user: str | None, root: Path, password: str) -> Path:
    datadir = root / "data"
    pwfile = root / "pwfile"
    pwfile.write_text(password + "\n")
    if user is not None:
        entry = pwd.getpwnam(user)
        for path in (root, pwfile):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    pwfile.chmod(0o600)
    _run(
        _as_user(
            user,
            [
                str(bindir / "initdb"),
                "--pgdata",
                str(datadir),
                "--username",
                SUPERUSER,
                "--pwfile",
                str(pwfile),
                "--auth-local",
                "trust",
                "--auth-host",
                "scram-sha-256",
                "--encoding",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ],
        ),
        "initdb",
    )
    return datadir


def _start(bindir: Path, user: str | None, root: Path, datadir: Path) -> int:
    """Start the server on a free loopback port; retry if another process grabbed the port."""
    last: PostgresUnavailable | None = None
    for _attempt in range(3):
        port = _free_port()
        options = " ".join(
            [
                "-c listen_addresses=127.0.0.1",
                f"-c port={port}",
                f"-c unix_socket_directories={root}",
                "-c fsync=off",
                "-c full_page_writes=off",
                "-c max_connections=200",
                "-c shared_buffers=32MB",
            ]
        )
        try:
            _run(
                _as_user(
                    user,
                    [
                        str(bindir / "pg_ctl"),
                        "--pgdata",
                        str(datadir),
                        "--log",
                        str(root / "server.log"),
                        "--options",
                        options,
                        "--wait",
                        f"--timeout={_START_TIMEOUT}",
                        "start",
                    ],
                ),
                "pg_ctl start",
            )
            return port
        except PostgresUnavailable as exc:
            log = root / "server.log"
            last = PostgresUnavailable(f"{exc}\n{log.read_text() if log.exists() else ''}")
    assert last is not None
    raise last


def _stop(bindir: Path, user: str | None, datadir: Path) -> None:
    subprocess.run(
        _as_user(user, [str(bindir / "pg_ctl"), "--pgdata", str(datadir), "--mode", "immediate", "stop"]),
        capture_output=True,
        timeout=_START_TIMEOUT,
        check=False,
    )


@contextlib.contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """Start a fresh server for the duration of the ``with`` block, then remove all of it."""
    bindir = find_bindir()
    user = _service_user()
    root = Path(tempfile.mkdtemp(prefix="orchestrator-pg-"))
    password = secrets.token_urlsafe(18)
    datadir = root / "data"
    try:
        datadir = _initdb(bindir, user, root, password)
        port = _start(bindir, user, root, datadir)
        try:
            yield PostgresServer("127.0.0.1", port, SUPERUSER, password, datadir)
        finally:
            _stop(bindir, user, datadir)
    finally:
        shutil.rmtree(root, ignore_errors=True)
