"""The planning view, the archive and browsing: contract tests run against every backend.

A plan reads only what its rules can look at (``StateStore.planning_view``); these tests load a
history of 100,000 records in bulk and check that the view holds exactly what a scan of the
whole state selects for the same query (``planning_helpers.full_scan``), archive included.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from orchestrator.errors import StateError
from orchestrator.state import SendStatus, StateSnapshot, StateStore
from orchestrator.state.models import Approval, PlanningQuery, RecordFilter, SendRecord, content_digest
from tests.state.conftest import Backend
from tests.state.planning_helpers import bulk_load, digests_of, full_scan, history
from tests.state.state_helpers import ALICE, T0, make_record

pytestmark = pytest.mark.timeout(300)

END = T0 + timedelta(days=3 * 365)


def query_for(records: Sequence[SendRecord], *, seed: int = 1, campaigns: int = 195) -> PlanningQuery:
    """What a plan of ``campaigns`` of the history's campaigns might ask: some keys recorded, some
    new (a few of them repeating recorded content), a few one-shot campaigns, a few recurring
    ones with a new occurrence, a week of lookback."""
    rng = random.Random(seed)
    keys = {r.key for r in rng.sample(records, 300)} | {f"c{i % 200:03d}@new-{i}" for i in range(50)}
    digests = {key: f"sha256:new-{key}" for key in keys}
    for key, original in zip(sorted(keys)[:80], rng.sample(records, 80), strict=True):
        digests[key] = content_digest(original.payload)
    return PlanningQuery(
        keys=frozenset(keys),
        campaigns=frozenset(f"c{i:03d}" for i in range(campaigns)),
        one_shot=frozenset(f"c{i:03d}" for i in range(0, 200, 17)),
        digests=digests,
        since=END - timedelta(days=7),
        recurring={key: key.split("@")[0] for key in sorted(keys) if "@new-" in key and key < "c010"},
    )


@dataclass(frozen=True)
class Whole:
    """A store's full snapshot with every record's content digest, read once for several checks."""

    snapshot: StateSnapshot
    digests: dict[str, str]

    @classmethod
    def of(cls, store: StateStore) -> Whole:
        snapshot = store.snapshot()
        return cls(snapshot, digests_of(snapshot))


def assert_view_is_full_scan(store: StateStore, query: PlanningQuery, whole: Whole | None = None) -> None:
    view = store.planning_view(query)
    whole = whole or Whole.of(store)
    expected = full_scan(whole.snapshot, query, whole.digests)
    assert (view.lineage, view.serial) == (expected.lineage, expected.serial)
    assert list(view.records) == sorted(expected.records)  # key order, as in a full snapshot
    assert dict(view.records) == dict(expected.records)
    assert dict(view.first_seen or {}) == dict(expected.first_seen or {})
    assert view.archived == expected.archived


def test_a_planning_view_of_100000_records_is_exactly_what_a_full_scan_selects(
    backend: Backend, store: StateStore
) -> None:
    records = history(100_000)
    bulk_load(backend, store, records)
    query = query_for(records)
    view = store.planning_view(query)
    assert len(view.records) < 10_000  # the desired keys, the recent past, orphans: not the history
    whole = Whole.of(store)
    assert_view_is_full_scan(store, query, whole)
    for variant in (
        dataclasses.replace(query, since=None),
        dataclasses.replace(query, one_shot=frozenset(), digests={}),
        dataclasses.replace(query, campaigns=frozenset(f"c{i:03d}" for i in range(200))),
        PlanningQuery.of_keys(sorted(query.keys)[:10]),
        PlanningQuery(),
    ):
        assert_view_is_full_scan(store, variant, whole)


def test_archived_records_are_read_for_their_keys_and_never_as_orphans(backend: Backend, store: StateStore) -> None:
    records = [
        dataclasses.replace(r, status=SendStatus.SENT) if r.status in (SendStatus.INTENT, SendStatus.UNKNOWN) else r
        for r in history(3_000, campaigns=40, seed=3)
    ]
    bulk_load(backend, store, records)
    moved = store.archive(T0 + timedelta(days=2 * 365), now=END, actor=ALICE)
    assert moved.records > 500
    snapshot = store.snapshot()
    assert len(snapshot.archived) == moved.records and len(snapshot.records) == len(records)
    query = query_for(records, seed=5, campaigns=30)
    assert_view_is_full_scan(store, query)
    view = store.planning_view(query)
    asked = {key for key in view.archived if key in query.keys}
    assert asked and all(view.records[key].status in (SendStatus.SENT, SendStatus.SCHEDULED) for key in asked)
    assert_view_is_full_scan(store, dataclasses.replace(query, campaigns=frozenset()))


def sent(key: str, campaign: str, days: int, **changes: Any) -> SendRecord:
    at = T0 + timedelta(days=days)
    record = make_record(key, campaign=campaign, status=SendStatus.SENT, email_id=days + 1)
    record = dataclasses.replace(record, created_at=at, updated_at=at)
    return dataclasses.replace(record, **changes)


def test_archive_moves_what_went_out_before_the_date_in_one_journaled_write(store: StateStore) -> None:
    now = T0 + timedelta(days=100)
    records = [
        sent("old-sent", "a", 1),
        sent("old-scheduled", "a", 1, status=SendStatus.SCHEDULED, scheduled_time=T0 + timedelta(days=2)),
        sent("scheduled-later", "a", 1, status=SendStatus.SCHEDULED, scheduled_time=T0 + timedelta(days=60)),
        sent("old-failed", "b", 1, status=SendStatus.FAILED, email_id=None),
        sent("old-not-sent", "b", 1, status=SendStatus.NOT_SENT, email_id=None),
        sent("new-sent", "b", 40),
    ]
    for record in records:
        store.put(record, action=record.status.value, actor=ALICE)
    before = store.snapshot().serial
    result = store.archive(T0 + timedelta(days=30), now=now, actor=ALICE)
    assert (result.records, result.serial) == (2, before + 1)
    entry = store.journal()[-1]
    assert (entry.key, entry.action, entry.detail["records"], entry.actor) == (None, "archive", 2, ALICE)
    with store.browse() as live:
        assert sorted(r.key for r in live.records) == ["new-sent", "old-failed", "old-not-sent", "scheduled-later"]
    with store.browse(RecordFilter(archived=True)) as old:
        assert sorted(r.key for r in old.records) == ["old-scheduled", "old-sent"] and old.count() == 2
    assert store.get("old-sent") is None
    snapshot = store.snapshot()
    assert snapshot.archived == {"old-scheduled", "old-sent"} and snapshot.records["old-sent"] == records[0]
    # Nothing more to move: no write at all.
    assert store.archive(T0 + timedelta(days=30), now=now, actor=ALICE) == dataclasses.replace(result, records=0)
    assert store.snapshot().serial == before + 1


def test_archive_refuses_a_future_date_and_unresolved_records(store: StateStore) -> None:
    now = T0 + timedelta(days=100)
    store.put(sent("old-sent", "a", 1), action="sent", actor=ALICE)
    with pytest.raises(StateError, match="after now"):
        store.archive(now + timedelta(minutes=1), now=now)
    store.put(sent("lost", "a", 2, status=SendStatus.UNKNOWN, email_id=None), action="unknown", actor=ALICE)
    serial = store.snapshot().serial
    with pytest.raises(StateError, match=r"1 of them may or may not have gone out \(lost\)") as caught:
        store.archive(T0 + timedelta(days=30), now=now)
    assert "state resolve" in (caught.value.hint or "")
    assert store.snapshot().serial == serial and store.get("old-sent") is not None


def test_writing_an_archived_key_brings_it_back_to_the_live_records_only(store: StateStore) -> None:
    store.put(sent("k", "a", 1), action="sent", actor=ALICE)
    store.archive(T0 + timedelta(days=30), now=T0 + timedelta(days=31), actor=ALICE)
    store.put(sent("k", "a", 1, fingerprint="sha256:accepted"), action="accept-drift", actor=ALICE)
    snapshot = store.snapshot()
    assert snapshot.archived == frozenset() and snapshot.records["k"].fingerprint == "sha256:accepted"
    with store.browse(RecordFilter(archived=True)) as old:
        assert list(old.records) == []


# -- browsing ----------------------------------------------------------------------------

FILTERS = {
    "everything": RecordFilter(),
    "one campaign": RecordFilter(campaigns=frozenset({"c003"})),
    "two statuses": RecordFilter(statuses=frozenset({SendStatus.FAILED, SendStatus.UNKNOWN})),
    "a window": RecordFilter(since=T0 + timedelta(days=100), until=T0 + timedelta(days=200)),
    "a prefix": RecordFilter(prefix="c01"),
    "all at once": RecordFilter(
        campaigns=frozenset({"c010", "c011"}), statuses=frozenset({SendStatus.SENT}), since=T0, prefix="c011@"
    ),
}


@pytest.mark.parametrize("where", FILTERS.values(), ids=FILTERS.keys())
def test_browse_streams_the_filtered_records_newest_first_and_counts_them(
    backend: Backend, store: StateStore, where: RecordFilter
) -> None:
    records = [*history(2_000, campaigns=20, seed=11)]
    records.append(dataclasses.replace(records[0], key="c010@same-time"))  # a tie on created_at
    bulk_load(backend, store, records)
    expected = sorted((r for r in records if where.matches(r)), key=lambda r: (r.created_at, r.key), reverse=True)
    with store.browse(where) as listing:
        first = [next(listing.records) for _ in range(min(5, len(expected)))]
        assert listing.count() == len(expected)  # in the middle of the stream, same transaction
        rest = list(listing.records)
    assert [r.key for r in first + rest] == [r.key for r in expected]
    assert first + rest == expected
    with store.browse(where, payloads=False) as bare:
        listed = list(bare.records)
    assert [dataclasses.replace(r, payload=e.payload) for r, e in zip(listed, expected, strict=True)] == expected
    if listed:
        with pytest.raises(StateError, match="without its payload"):
            listed[0].payload.get("subject")


def test_the_journal_streams_in_order_and_its_tail_says_how_many_precede_it(store: StateStore) -> None:
    for i in range(12):
        store.put(make_record(f"k{i % 3}"), action=f"write-{i}", actor=ALICE)
    everything = store.journal()
    assert list(store.iter_journal()) == everything
    assert list(store.iter_journal("k1")) == store.journal("k1")
    assert store.journal_tail(None, 5) == (everything[-5:], 7)
    assert store.journal_tail("k1", 2) == (store.journal("k1")[-2:], 2)
    assert store.journal_tail(None, 50) == (everything, 0)


def test_a_recurring_campaign_s_latest_applied_occurrences_come_with_the_approval_they_carry(
    store: StateStore,
) -> None:
    """Pre-approved occurrences: the view reads the recurring campaign's highest applied keys (only
    when one of its keys could be sent) and each one's approval from the journal of its last write."""

    def weekly(week: int, status: SendStatus = SendStatus.SCHEDULED) -> SendRecord:
        return sent(f"weekly@{week:02d}", "weekly", 7 * week, status=status, payload={"subject": "Hi", "name": ""})

    def audit(approved_by: str | None = None, **more: Any) -> dict[str, Any]:
        return {
            "status": "scheduled",
            "apply": {"commit": None, "plan_checksum": None, "approved_by": approved_by, **more},
        }

    carried = {
        "key": "weekly@03",
        "approved_by": "Alice (ORCHESTRATOR_APPROVED_BY)",
        "approved_at": "2024-01-01T00:00:00Z",
    }
    for week in range(12):
        detail = audit("Bob" if week % 3 == 0 else None)
        if week == 10:
            detail = audit(pre_approved=carried)
        store.put(weekly(week), action="scheduled", detail=detail, actor=ALICE)
    store.append_journal(key="weekly@09", action="keep", detail={"reason": "by hand"}, actor=ALICE)  # last: no apply
    store.put(weekly(12, SendStatus.INTENT), action="intent", detail=audit("Bob"), actor=ALICE)  # not applied
    store.put(sent("other@01", "other", 80), action="sent", detail=audit("Bob"), actor=ALICE)

    query = PlanningQuery(keys=frozenset({"weekly@new"}), recurring={"weekly@new": "weekly"}, orphans=False)
    view = store.planning_view(query)
    latest = [f"weekly@{week:02d}" for week in range(4, 12)]  # RECENT_OCCURRENCES of them, by key
    assert sorted(view.records) == latest
    at = {key: record.updated_at for key, record in view.records.items()}
    assert dict(view.approvals) == {
        "weekly@06": Approval("weekly@06", "Bob", at["weekly@06"]),
        "weekly@10": Approval("weekly@03", "Alice (ORCHESTRATOR_APPROVED_BY)", datetime(2024, 1, 1, tzinfo=UTC)),
    }
    # Nothing to pre-approve when the recurring key is recorded already: no history, no journal read.
    store.put(weekly(12), action="scheduled", detail=audit("Bob"), actor=ALICE)
    again = store.planning_view(
        dataclasses.replace(query, keys=frozenset({"weekly@12"}), recurring={"weekly@12": "weekly"})
    )
    assert sorted(again.records) == ["weekly@12"] and not again.approvals
