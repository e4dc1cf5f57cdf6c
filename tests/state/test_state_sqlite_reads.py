"""SQLite reads run on pooled connections of their own and never queue behind a write.

The apply engine reads each record just before writing it, from five threads; when a read had
to wait for the writers' mutex it also waited for another thread's commit and fsync.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from orchestrator.errors import StateError
from orchestrator.state.models import Actor, SendRecord, SendStatus
from orchestrator.state.sqlite import SqliteStateStore

NOW = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)


def _record(key: str) -> SendRecord:
    return SendRecord(
        key=key,
        campaign="c",
        environment="e",
        fingerprint="sha256:x",
        payload={"subject": key},
        status=SendStatus.INTENT,
        email_id=None,
        scheduled_time=None,
        created_at=NOW,
        updated_at=NOW,
        applied_by=Actor.current(),
        error=None,
    )


def test_a_read_does_not_wait_for_a_write_in_progress(tmp_path: Path) -> None:
    store = SqliteStateStore(tmp_path / "state.db")
    store.put(_record("a@now"), action="intent")
    holding, release = threading.Event(), threading.Event()

    def writer_in_progress() -> None:
        with store._mutex:  # what a commit (and its fsync) holds
            holding.set()
            release.wait(10)

    blocker = threading.Thread(target=writer_in_progress)
    blocker.start()
    try:
        assert holding.wait(10)
        results: list[object] = []
        reader = threading.Thread(target=lambda: results.append((store.get("a@now"), store.snapshot().serial)))
        reader.start()
        reader.join(5)
        assert not reader.is_alive(), "the read waited for the write in progress"
        record, serial = results[0]  # type: ignore[misc]
        assert record is not None and serial == 1
    finally:
        release.set()
        blocker.join(10)
        store.close()


def test_reads_see_every_write_that_returned(tmp_path: Path) -> None:
    store = SqliteStateStore(tmp_path / "state.db")
    try:
        for i in range(5):
            store.put(_record(f"k{i}@now"), action="intent")
            assert store.get(f"k{i}@now") is not None
            assert store.snapshot().serial == i + 1
            assert len(store.journal()) == i + 1
    finally:
        store.close()


def test_closing_closes_the_read_connections_too(tmp_path: Path) -> None:
    store = SqliteStateStore(tmp_path / "state.db")
    store.snapshot()
    readers = list(store._all_readers)
    assert readers
    store.close()
    for conn in readers:
        with pytest.raises(Exception, match="closed"):
            conn.execute("SELECT 1")
    with pytest.raises(StateError, match="closed"):
        store.get("x@now")
