"""Commands started together on a fresh in-process sandbox project (issue 17).

Three ``apply``s started at once on a new project each opened the new sandbox database, saw it
unseeded, and raced to seed it: the losers died with ``sqlite3.IntegrityError`` tracebacks.
Two rarer races hid behind it: a process that met the state file while another had just created
it (0 bytes) was refused as "emptied", and one that opened the sandbox file while another turned
it to WAL got "database is locked". Exactly one process seeds now, and new files appear whole.

Which process wins the state lock is up to the scheduler, so the end-to-end test accepts any
clean outcome (sent, nothing to do, or the located "state locked" refusal) and checks the two
things that must hold whatever the order: no traceback, and the email reached the sandbox once.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from orchestrator.cli.main import cli
from orchestrator.sandbox import SandboxApp
from orchestrator.sandbox.seed import load_seed, seed_digest
from orchestrator.sandbox.store import Store
from orchestrator.sqlitefile import create_whole

NOW = "2027-01-01T00:00:00Z"
START = datetime(2027, 1, 1, tzinfo=UTC)
CLEAN_ENDINGS = ("Apply complete: 1 sent.", "No changes: nothing to send.", "orchestrator state unlock LOCK_ID")


def test_of_two_stores_that_both_saw_a_new_database_exactly_one_seeds_it(tmp_path: Path) -> None:
    """The interleaving that raced, made deterministic: both checked before either seeded."""
    db = tmp_path / "sandbox.db"
    first, second = Store(db), Store(db)
    try:
        assert not first.is_seeded() and not second.is_seeded()
        seed = load_seed(None)
        assert first.load_seed(seed, START, seed_digest=seed_digest(None)) is True
        assert second.load_seed(seed, START, seed_digest=seed_digest(None)) is False  # was an IntegrityError
    finally:
        first.close()
        second.close()
    SandboxApp(db_path=db).close()  # and the seeded file then opens like any existing one


def _start_apply(root: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "--project", str(root), "apply", "--auto-approve", "--now", NOW],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.slow
@pytest.mark.parametrize("round_", range(5))
def test_three_applies_started_together_on_a_fresh_project_end_cleanly(tmp_path: Path, round_: int) -> None:
    root = tmp_path / "project"
    init = CliRunner().invoke(cli, ["init", str(root)])
    assert init.exit_code == 0, init.output
    processes = [_start_apply(root) for _ in range(3)]
    outputs = [process.communicate(timeout=120)[0] for process in processes]
    for process, output in zip(processes, outputs, strict=True):
        assert "Traceback" not in output, output
        assert process.returncode in (0, 1), output
        assert output.rstrip().endswith(CLEAN_ENDINGS) or "orchestrator state unlock" in output, output
    assert sum("Apply complete: 1 sent." in output for output in outputs) == 1, outputs
    listed = CliRunner().invoke(cli, ["--project", str(root), "sandbox", "emails", "--json"])
    assert listed.exit_code == 0, listed.output
    assert [e["name"] for e in json.loads(listed.output)["emails"]] == ["welcome@now"]


def test_a_new_database_appears_whole_and_only_once(tmp_path: Path) -> None:
    """What the state store and the sandbox create their files with: never a half-made file."""
    db = tmp_path / "new.db"

    def prepare(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE t (x INTEGER)")
        conn.execute("INSERT INTO t VALUES (1)")

    assert create_whole(db, prepare) is True
    assert create_whole(db, lambda conn: conn.execute("CREATE TABLE other (y)")) is False  # the name was taken
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # already WAL: no conversion race
        assert conn.execute("SELECT x FROM t").fetchall() == [(1,)]
        assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'other'").fetchone() is None
    conn.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.db"]  # no temporary file left behind
    assert db.stat().st_mode & 0o077 == 0
