"""SQLite under the apply engine's five threads: reads on connections of their own that never
queue behind a write, and writes from several threads that share one commit (one fsync).

The apply engine reads each record just before writing it; when a read had to wait for the
writers' mutex it also waited for another thread's commit and fsync. And every write is a
durable commit: queued writes are committed together, each still its own journal entry.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

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
        results: list[tuple[SendRecord | None, int]] = []
        reader = threading.Thread(target=lambda: results.append((store.get("a@now"), store.snapshot().serial)))
        reader.start()
        reader.join(5)
        assert not reader.is_alive(), "the read waited for the write in progress"
        record, serial = results[0]
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


def test_writes_queued_together_share_one_commit_and_a_failing_one_is_undone_alone(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = SqliteStateStore(path)
    with sqlite3.connect(path) as raw:
        raw.execute(
            "CREATE TRIGGER fail_one BEFORE INSERT ON sends WHEN NEW.key = 'bad@now' "
            "BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
        )
    raw.close()
    keys = ["a@now", "b@now", "bad@now", "c@now"]
    results: dict[str, int | StateError] = {}

    def write(key: str) -> None:
        try:
            results[key] = store.put(_record(key), action="intent")
        except StateError as exc:
            results[key] = exc

    try:
        with store._mutex:  # a commit in progress: every write below queues behind it
            threads = [threading.Thread(target=write, args=(key,)) for key in keys]
            for thread in threads:
                thread.start()
            deadline = time.monotonic() + 10
            while len(store._queue) < len(keys) and time.monotonic() < deadline:
                time.sleep(0.01)
            assert len(store._queue) == len(keys)  # all four wait for one commit
        for thread in threads:
            thread.join(10)
        assert isinstance(results["bad@now"], StateError) and "injected failure" in str(results["bad@now"])
        serials = sorted(cast(int, v) for k, v in results.items() if k != "bad@now")
        assert serials == [1, 2, 3]
        snapshot = store.snapshot()
        assert snapshot.serial == 3 and sorted(snapshot.records) == ["a@now", "b@now", "c@now"]
        assert [entry.seq for entry in store.journal()] == [1, 2, 3]
    finally:
        store.close()


def test_many_threads_writing_lose_nothing(tmp_path: Path) -> None:
    store = SqliteStateStore(tmp_path / "state.db")
    serials: list[int] = []
    guard = threading.Lock()

    def writer(n: int) -> None:
        for i in range(20):
            serial = store.put(_record(f"t{n}-{i}@now"), action="intent")
            with guard:
                serials.append(serial)

    try:
        threads = [threading.Thread(target=writer, args=(n,)) for n in range(5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert sorted(serials) == list(range(1, 101))
        assert store.snapshot().serial == 100 and len(store.snapshot().records) == 100
        assert [entry.seq for entry in store.journal()] == list(range(1, 101))
    finally:
        store.close()
