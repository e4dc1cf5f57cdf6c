"""The StateStore contract, written once and run against every backend (memory, sqlite, postgres).

See ``orchestrator/state/base.py`` for the contract these tests pin down.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from orchestrator.errors import StateError, StateLocked
from orchestrator.state import Actor, LockInfo, SendRecord, SendStatus, StateStore
from tests.state.conftest import Backend
from tests.state.state_helpers import ALICE, T0, make_record

pytestmark = pytest.mark.timeout(60)


def _everything(store: StateStore) -> tuple[Any, ...]:
    """All observable state, for "nothing changed" comparisons."""
    return (store.snapshot(), store.journal(), store.current_lock())


# -- lineage and serial ------------------------------------------------------------------


def test_a_new_state_has_a_uuid4_lineage_serial_zero_and_nothing_else(store: StateStore) -> None:
    snapshot = store.snapshot()
    assert uuid.UUID(snapshot.lineage).version == 4
    assert snapshot.serial == 0
    assert snapshot.records == {}
    assert store.journal() == []
    assert store.current_lock() is None
    assert store.get("nothing") is None


def test_lineage_is_set_once_and_survives_writes_and_reopening(backend: Backend) -> None:
    first = backend.open()
    lineage = first.snapshot().lineage
    first.put(make_record(), action="intent")
    again = backend.open()
    assert again.snapshot().lineage == lineage
    assert first.snapshot().lineage == lineage


def test_every_write_increments_the_serial_by_one(store: StateStore) -> None:
    serials = [
        store.put(make_record("a"), action="intent"),
        store.put(make_record("a", status=SendStatus.SENT, email_id=9), action="sent"),
        store.append_journal(key=None, action="approve-large", detail={"recipients": 90000}),
        store.append_journal(key="a", action="accept-drift"),
        store.put(make_record("b"), action="intent"),
    ]
    assert serials == [1, 2, 3, 4, 5]
    assert store.snapshot().serial == 5
    journal = store.journal()
    assert [entry.seq for entry in journal] == [1, 2, 3, 4, 5]


def test_reads_do_not_change_the_serial(store: StateStore) -> None:
    store.put(make_record(), action="intent")
    store.snapshot()
    store.get("x")
    store.journal()
    store.current_lock()
    assert store.snapshot().serial == 1


# -- records -----------------------------------------------------------------------------

RECORDS = {
    "minimal intent": make_record(),
    "sent with email id": make_record(status=SendStatus.SENT, email_id=2_147_483_648),
    "scheduled in another zone": make_record(
        status=SendStatus.SCHEDULED,
        scheduled_time=datetime(2024, 6, 1, 8, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2))),
    ),
    "failed with error": make_record(status=SendStatus.FAILED, error="Pardot error 64: no unsubscribe"),
    "unknown": make_record(status=SendStatus.UNKNOWN, error=""),
    "not sent, by a local user": make_record(
        status=SendStatus.NOT_SENT, applied_by=Actor(user="bob", host="laptop", ci_run_id=None)
    ),
    "one-to-one key and unicode payload": make_record(
        "welcome/jane%40example.com",
        payload={"subject": "Grüße ✉ \"quoted\" \\ \u0000", "nested": {"a": [1, 2.5, True, None, {}]}},
    ),
    "empty payload": make_record(payload={}),
}


@pytest.mark.parametrize("record", RECORDS.values(), ids=RECORDS.keys())
def test_a_record_reads_back_equal_to_what_was_put(store: StateStore, record: SendRecord) -> None:
    store.put(record, action="intent")
    assert store.get(record.key) == record
    assert store.snapshot().records == {record.key: record}


def test_datetimes_read_back_in_utc(store: StateStore) -> None:
    paris = timezone(timedelta(hours=2))
    record = make_record(scheduled_time=datetime(2024, 6, 1, 10, 0, tzinfo=paris))
    store.put(record, action="intent")
    got = store.get(record.key)
    assert got is not None and got.scheduled_time is not None
    assert got.scheduled_time.utcoffset() == timedelta(0)
    assert got.scheduled_time == datetime(2024, 6, 1, 8, 0, tzinfo=UTC)


def test_put_replaces_the_record_and_journals_both_writes(store: StateStore) -> None:
    store.put(make_record("k"), action="intent", detail={"try": 1})
    updated = make_record(
        "k", status=SendStatus.SENT, email_id=55, updated_at=T0 + timedelta(seconds=3)
    )
    store.put(updated, action="sent", detail={"email_id": 55})
    assert store.get("k") == updated
    assert [(e.action, e.detail) for e in store.journal("k")] == [
        ("intent", {"try": 1}),
        ("sent", {"email_id": 55}),
    ]


def test_snapshot_lists_every_record_sorted_by_key(store: StateStore) -> None:
    for key in ["c", "a", "b"]:
        store.put(make_record(key), action="intent")
    snapshot = store.snapshot()
    assert list(snapshot.records) == ["a", "b", "c"]
    assert all(snapshot.records[k].key == k for k in snapshot.records)


# -- journal -----------------------------------------------------------------------------


def test_journal_entries_carry_what_who_and_when(store: StateStore) -> None:
    before = datetime.now(UTC)
    store.put(make_record("k"), action="intent", detail={"n": 1}, actor=ALICE)
    store.append_journal(key=None, action="approve-large", detail={"recipients": 12})
    after = datetime.now(UTC)
    first, second = store.journal()
    assert (first.key, first.action, first.detail, first.actor) == ("k", "intent", {"n": 1}, ALICE)
    assert (second.key, second.action, second.detail) == (None, "approve-large", {"recipients": 12})
    assert second.actor == Actor.current()
    for entry in (first, second):
        assert before - timedelta(seconds=1) <= entry.at <= after + timedelta(seconds=1)
        assert entry.at.utcoffset() == timedelta(0)


def test_journal_filters_by_key_and_keeps_order(store: StateStore) -> None:
    store.put(make_record("a"), action="intent")
    store.put(make_record("b"), action="intent")
    store.append_journal(key=None, action="unlock")
    store.put(make_record("a", status=SendStatus.SENT, email_id=1), action="sent")
    assert [(e.seq, e.action) for e in store.journal("a")] == [(1, "intent"), (4, "sent")]
    assert [e.seq for e in store.journal("b")] == [2]
    assert [e.seq for e in store.journal()] == [1, 2, 3, 4]
    assert store.journal("nobody") == []


def test_journal_is_append_only(store: StateStore) -> None:
    store.put(make_record("a"), action="intent", detail={"v": 1})
    store.append_journal(key="a", action="resolve", detail={"v": 2})
    earlier = store.journal()
    for i in range(5):
        store.put(make_record("a", error=str(i)), action="failed", detail={"v": i})
    later = store.journal()
    assert later[: len(earlier)] == earlier
    assert len(later) == len(earlier) + 5


def test_journal_count_always_equals_the_serial(store: StateStore) -> None:
    for i in range(7):
        if i % 3:
            store.put(make_record(f"k{i % 2}"), action="intent")
        else:
            store.append_journal(key=None, action="resolve")
        assert len(store.journal()) == store.snapshot().serial == i + 1


# -- atomicity ---------------------------------------------------------------------------

BAD_PAYLOADS = {
    "NaN": {"x": math.nan},
    "infinity": {"x": [1, math.inf]},
    "a set": {"x": {1, 2}},
    "a tuple (would read back as a list)": {"x": (1, 2)},
    "an int key (would read back as a string)": {"x": {1: "one"}},
    "bytes": {"x": b"raw"},
    "a datetime": {"x": T0},
}


@pytest.mark.parametrize("payload", BAD_PAYLOADS.values(), ids=BAD_PAYLOADS.keys())
def test_a_payload_that_json_cannot_keep_writes_nothing(
    store: StateStore, payload: dict[str, Any]
) -> None:
    store.put(make_record("kept"), action="intent")
    before = _everything(store)
    with pytest.raises(StateError, match=r"payload\.x"):
        store.put(make_record("new", payload=payload), action="intent")
    assert _everything(store) == before


@pytest.mark.parametrize("detail", BAD_PAYLOADS.values(), ids=BAD_PAYLOADS.keys())
def test_a_failure_after_the_record_is_written_rolls_the_record_back(
    store: StateStore, detail: dict[str, Any]
) -> None:
    """The detail is encoded after the record row is written: the whole write must undo."""
    store.put(make_record("kept"), action="intent")
    before = _everything(store)
    with pytest.raises(StateError, match=r"detail\.x"):
        store.put(make_record("kept", status=SendStatus.SENT, email_id=3), action="sent", detail=detail)
    with pytest.raises(StateError, match=r"detail\.x"):
        store.put(make_record("new"), action="intent", detail=detail)
    with pytest.raises(StateError, match=r"detail\.x"):
        store.append_journal(key=None, action="resolve", detail=detail)
    assert _everything(store) == before
    # ...and the store is still usable, at the next serial
    assert store.put(make_record("after"), action="intent") == before[0].serial + 1


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.put(make_record(), action=""),
        lambda s: s.append_journal(key=None, action=""),
        lambda s: s.append_journal(key="", action="resolve"),
        lambda s: s.put({"key": "x"}, action="intent"),
    ],
    ids=["empty action", "empty journal action", "empty key", "not a record"],
)
def test_programming_errors_are_refused_before_writing(store: StateStore, call: Any) -> None:
    with pytest.raises((TypeError, ValueError)):
        call(store)
    assert store.snapshot().serial == 0


# -- copies ------------------------------------------------------------------------------


def test_mutating_what_was_put_does_not_change_the_store(store: StateStore) -> None:
    payload: dict[str, Any] = {"list_ids": [1, 2], "nested": {"a": 1}}
    detail: dict[str, Any] = {"why": ["x"]}
    store.put(make_record("k", payload=payload), action="intent", detail=detail)
    payload["list_ids"].append(3)
    payload["nested"]["a"] = 2
    detail["why"].append("y")
    got = store.get("k")
    assert got is not None
    assert got.payload == {"list_ids": [1, 2], "nested": {"a": 1}}
    assert store.journal()[0].detail == {"why": ["x"]}


def test_mutating_what_was_read_does_not_change_the_store(store: StateStore) -> None:
    store.put(make_record("k", payload={"list_ids": [1]}), action="intent", detail={"d": [1]})
    got = store.get("k")
    snap = store.snapshot()
    entry = store.journal()[0]
    assert got is not None
    got.payload["list_ids"].append(99)
    snap.records["k"].payload["list_ids"].append(98)
    snap.records.pop("k")  # type: ignore[attr-defined]
    entry.detail["d"].append(97)
    fresh = store.get("k")
    assert fresh is not None and fresh.payload == {"list_ids": [1]}
    assert "k" in store.snapshot().records
    assert store.journal()[0].detail == {"d": [1]}


# -- locking -----------------------------------------------------------------------------


def test_the_lock_is_exclusive_across_store_objects(backend: Backend) -> None:
    first, second = backend.open(), backend.open()
    with first.lock("apply") as info:
        assert uuid.UUID(info.lock_id).version == 4
        assert info.operation == "apply"
        assert info.actor == Actor.current()
        assert second.current_lock() == info
        with pytest.raises(StateLocked) as caught, second.lock("plan"):
            pytest.fail("the lock was taken twice")
    message = str(caught.value)
    for part in (info.lock_id, Actor.current().describe(), f"pid {info.pid}", "'apply'",
                 info.acquired_at.isoformat(timespec="seconds")):
        assert part in message
    assert "no longer running" not in message
    assert caught.value.holder["lock_id"] == info.lock_id
    assert caught.value.holder["dead"] is False
    assert second.current_lock() is None
    with second.lock("plan") as again:
        assert again.lock_id != info.lock_id


def test_the_lock_is_not_reentrant(store: StateStore) -> None:
    with store.lock("apply"), pytest.raises(StateLocked), store.lock("apply"):
        pytest.fail("the lock was taken twice by one store")


def test_the_lock_is_released_when_the_block_raises(store: StateStore) -> None:
    with pytest.raises(RuntimeError, match="boom"), store.lock("apply"):
        raise RuntimeError("boom")
    assert store.current_lock() is None
    with store.lock("apply"):
        pass


def test_locking_does_not_change_the_serial(store: StateStore) -> None:
    with store.lock("apply"):
        pass
    assert store.snapshot().serial == 0
    assert store.journal() == []


def test_writes_under_the_lock_work(store: StateStore) -> None:
    with store.lock("apply"):
        assert store.put(make_record(), action="intent") == 1
        assert store.append_journal(key=None, action="approve-large") == 2


def test_a_waiting_lock_is_taken_once_the_holder_releases(backend: Backend) -> None:
    holder, waiter = backend.open(), backend.open()
    held = threading.Event()
    waiting = threading.Event()
    released_at: list[float] = []

    def hold() -> None:
        with holder.lock("apply"):
            held.set()
            waiting.wait(timeout=30)
            time.sleep(0.3)  # let the waiter fail at least one attempt
            released_at.append(time.monotonic())

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert held.wait(timeout=30)
        with pytest.raises(StateLocked), waiter.lock("apply"):  # proves it is held right now
            pass
        waiting.set()
        with waiter.lock("apply", timeout=30) as info:
            acquired_at = time.monotonic()
            assert waiter.current_lock() == info
    finally:
        waiting.set()
        thread.join(timeout=30)
    assert released_at and acquired_at >= released_at[0]


def test_a_lock_that_stays_busy_raises_after_the_timeout(backend: Backend) -> None:
    holder, waiter = backend.open(), backend.open()
    with holder.lock("apply") as info:
        started = time.monotonic()
        with pytest.raises(StateLocked, match=info.lock_id), waiter.lock("apply", timeout=0.4):
            pass
        assert time.monotonic() - started >= 0.4  # it waited it all; no upper bound asserted


def test_force_unlock_breaks_the_lock_and_journals_it(backend: Backend) -> None:
    holder, breaker = backend.open(), backend.open()
    with holder.lock("apply") as info:
        breaker.force_unlock(info.lock_id)
        assert breaker.current_lock() is None
        with breaker.lock("apply") as mine:
            assert mine.lock_id != info.lock_id
    entry = breaker.journal()[-1]
    assert entry.action == "unlock"
    assert entry.key is None
    assert entry.detail["lock"]["lock_id"] == info.lock_id
    assert breaker.snapshot().serial == 1


def test_force_unlock_with_a_wrong_id_names_the_current_lock(backend: Backend) -> None:
    holder, breaker = backend.open(), backend.open()
    with pytest.raises(StateError, match="not locked"):
        breaker.force_unlock("no-such-lock")
    with holder.lock("apply") as info:
        with pytest.raises(StateError) as caught:
            breaker.force_unlock("no-such-lock")
        assert not isinstance(caught.value, StateLocked)
        assert info.lock_id in str(caught.value)
        assert breaker.current_lock() == info
    assert breaker.journal() == []


def test_a_holder_whose_lock_was_broken_cannot_write(backend: Backend) -> None:
    """After force_unlock the old holder's next intent is refused: it must not send."""
    holder, breaker = backend.open(), backend.open()
    with holder.lock("apply") as info:
        holder.put(make_record("before"), action="intent")
        breaker.force_unlock(info.lock_id)
        before = (breaker.snapshot(), breaker.journal())
        with pytest.raises(StateError, match="broken"):
            holder.put(make_record("after"), action="intent")
        with pytest.raises(StateError, match="broken"):
            holder.append_journal(key=None, action="resolve")
        assert (breaker.snapshot(), breaker.journal()) == before
    assert holder.get("after") is None


# -- concurrency -------------------------------------------------------------------------


def _hammer(stores: list[StateStore], threads: int, per_thread: int) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def work(n: int) -> None:
        try:
            store = stores[n % len(stores)]
            start.wait(timeout=30)
            for i in range(per_thread):
                if i % 5 == 4:
                    store.append_journal(key=f"t{n}-{i - 1}", action="resolve")
                else:
                    store.put(make_record(f"t{n}-{i}"), action="intent", detail={"n": n, "i": i})
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert not errors, errors


def _assert_nothing_lost(store: StateStore, threads: int, per_thread: int) -> None:
    total = threads * per_thread
    snapshot = store.snapshot()
    assert snapshot.serial == total
    expected_keys = {f"t{n}-{i}" for n in range(threads) for i in range(per_thread) if i % 5 != 4}
    assert set(snapshot.records) == expected_keys
    assert [entry.seq for entry in store.journal()] == list(range(1, total + 1))


def test_ten_threads_writing_through_one_store_lose_nothing(store: StateStore) -> None:
    _hammer([store], threads=10, per_thread=20)
    _assert_nothing_lost(store, threads=10, per_thread=20)


def test_threads_writing_through_separate_stores_lose_nothing(backend: Backend) -> None:
    stores = [backend.open() for _ in range(3)]
    _hammer(stores, threads=6, per_thread=10)
    _assert_nothing_lost(stores[0], threads=6, per_thread=10)


# -- lifecycle ---------------------------------------------------------------------------


def test_a_closed_store_refuses_to_work(backend: Backend) -> None:
    store = backend.open()
    store.close()
    with pytest.raises(StateError, match="closed"):
        store.snapshot()
    with pytest.raises(StateError, match="closed"):
        store.put(make_record(), action="intent")
    assert backend.open().snapshot().serial == 0


def test_lock_info_and_records_are_frozen(store: StateStore) -> None:
    store.put(make_record(), action="intent")
    record = store.get(make_record().key)
    assert record is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.status = SendStatus.SENT  # type: ignore[misc]
    with store.lock("apply") as info:
        assert isinstance(info, LockInfo)
        with pytest.raises(dataclasses.FrozenInstanceError):
            info.lock_id = "x"  # type: ignore[misc]


def test_snapshots_stay_consistent_while_another_handle_writes(backend: Backend) -> None:
    """Only new keys are put, so in any consistent view serial == number of records."""
    writer, reader = backend.open(), backend.open()
    done = threading.Event()
    seen: list[tuple[int, int]] = []

    def write() -> None:
        try:
            for i in range(150):
                writer.put(make_record(f"k{i}"), action="intent")
        finally:
            done.set()

    thread = threading.Thread(target=write)
    thread.start()
    try:
        while not done.is_set():
            snapshot = reader.snapshot()
            seen.append((snapshot.serial, len(snapshot.records)))
    finally:
        thread.join(timeout=60)
    assert all(serial == count for serial, count in seen), [s for s in seen if s[0] != s[1]][:5]
    assert reader.snapshot().serial == 150
