"""Two applies at once on one state (SQLite and PostgreSQL): one waits or is refused, never a duplicate."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest

from orchestrator.sandbox import FaultConfig
from tests.postgres_server import PostgresServer
from tests.reliability.harness import assert_no_duplicates, make_project

pytestmark = pytest.mark.slow
DSN_VAR = "RELIABILITY_STATE_DSN"


def _project(
    kind: str, tmp_path: Path, url: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Any:
    if kind == "sqlite":
        return make_project(tmp_path / "p", url, 40)
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = f"concurrent_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server.dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    monkeypatch.setenv(DSN_VAR, server.dsn_for(name))
    return make_project(tmp_path / "p", url, 40, state="postgres", dsn_env=DSN_VAR)


def _start_first_apply(project: Any) -> Any:
    """Spawn an apply and return once it holds the lock and is sending."""
    first = project.spawn_apply()
    deadline = time.monotonic() + 60
    while not project.emails() and time.monotonic() < deadline:
        time.sleep(0.05)
    return first


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_second_apply_is_refused_with_holder_details(
    kind: str, tmp_path: Path, server_factory: Any, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = server_factory(FaultConfig(latency_ms=60))
    project = _project(kind, tmp_path, server.url, request, monkeypatch)
    first = _start_first_apply(project)
    code, out = project.cli("apply", "--auto-approve")
    assert code == 1
    assert "locked" in out and "apply" in out and "pid" in out, out  # who holds it, doing what
    first.wait(timeout=60)
    assert first.returncode == 0, project.log()
    created = assert_no_duplicates(project)
    assert sorted(created) == sorted(project.keys)


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_second_apply_waits_then_finds_nothing_to_do(
    kind: str, tmp_path: Path, server_factory: Any, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = server_factory(FaultConfig(latency_ms=60))
    project = _project(kind, tmp_path, server.url, request, monkeypatch)
    first = _start_first_apply(project)
    code, out = project.cli("apply", "--auto-approve", "--lock-timeout", "60")
    assert code == 0, out
    assert "No changes" in out
    first.wait(timeout=60)
    assert first.returncode == 0, project.log()
    assert sorted(assert_no_duplicates(project)) == sorted(project.keys)
