"""The refresh's pure comparison (orchestrator/refresh.py): properties over random states and answers.

The invariant the issue asks for: a record the refresh could not see is never "as recorded".
With a complete query it is missing; with a query that stopped at its page budget it is unseen;
a record Pardot shows exactly as recorded has no finding; each finding names its key once, in
key order; and the plan built from the findings never shows a drifted key as unchanged.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.desired import SendKind
from orchestrator.pardot.models import ListEmailSummary
from orchestrator.plan import Action, Change, Plan
from orchestrator.refresh import (
    CREATED_SKEW,
    EXTRA_PAGES,
    ON_TIME,
    SEND_GRACE,
    V5_SETTLE,
    compare,
    page_budget,
    scope,
    with_findings,
)
from orchestrator.state.models import Actor, SendRecord, SendStatus

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
LOOKBACK = timedelta(days=7)
#: What Pardot may hold of one recorded email.
VIEWS = ("as-recorded", "absent", "deleted-unsent", "deleted-sent", "renamed", "edited", "held")


def _record(i: int, offset_hours: int, status: SendStatus) -> SendRecord:
    due = NOW + timedelta(hours=offset_hours)
    made = min(due, NOW) - timedelta(days=1)
    return SendRecord(
        key=f"k{i:03d}@{due.isoformat()}", campaign="c", environment="e", fingerprint="f",
        payload={"name": f"k{i:03d}@{due.isoformat()}", "subject": f"Subject {i}", "list_ids": [1]},
        status=status, email_id=70000 + i, scheduled_time=due, created_at=made, updated_at=made,
        applied_by=Actor("u", "h"),
    )  # fmt: skip


def _view(record: SendRecord, view: str) -> ListEmailSummary | None:
    assert record.scheduled_time is not None and record.email_id is not None
    sent = record.scheduled_time <= NOW
    email = ListEmailSummary(
        id=record.email_id, name=record.key, campaign_id=1, created_at=record.created_at, is_sent=sent,
        is_deleted=False, subject=str(record.payload["subject"]), sent_at=record.scheduled_time if sent else None,
    )  # fmt: skip
    if view == "absent":
        return None
    if view == "deleted-unsent":
        return ListEmailSummary(**{**email.__dict__, "is_deleted": True, "is_sent": False, "sent_at": None})
    if view == "deleted-sent":
        went = {"is_deleted": True, "is_sent": True, "sent_at": record.scheduled_time}
        return ListEmailSummary(**{**email.__dict__, **went})
    if view == "renamed":
        return ListEmailSummary(**{**email.__dict__, "name": "someone-else"})
    if view == "edited":
        return ListEmailSummary(**{**email.__dict__, "subject": "changed in the UI"})
    if view == "held":  # paused, or moved later: not sent even though its time passed
        return ListEmailSummary(**{**email.__dict__, "is_sent": False, "sent_at": None})
    return email


cases = st.lists(
    st.tuples(st.integers(min_value=-6 * 24, max_value=60 * 24), st.sampled_from(VIEWS)), min_size=1, max_size=30
)


@settings(max_examples=200, deadline=None)
@given(cases=cases, complete=st.booleans())
def test_no_record_the_refresh_could_not_see_is_as_recorded(cases: list[tuple[int, str]], complete: bool) -> None:
    records = [_record(i, hours, SendStatus.SCHEDULED) for i, (hours, _) in enumerate(cases)]
    views = {r.key: view for r, (_, view) in zip(records, cases, strict=True)}
    seen = [e for r in records if (e := _view(r, views[r.key])) is not None]
    drifts = compare(records, seen, NOW, complete=complete)
    by_key = {d.key: d for d in drifts}
    assert [d.key for d in drifts] == sorted(by_key)  # one finding per key, in key order
    for record in records:
        view, drift = views[record.key], by_key.get(record.key)
        assert record.scheduled_time is not None
        overdue = record.scheduled_time + SEND_GRACE < NOW
        if view == "absent":
            assert drift is not None and drift.attention and drift.what == ("missing" if complete else "unseen")
        elif view == "as-recorded" or (view == "held" and not overdue):
            assert drift is None  # seen as recorded: nothing to say
        elif view == "renamed":
            assert drift is not None and drift.attention and drift.what == "renamed"
        elif view == "deleted-unsent":
            assert drift is not None and drift.attention and f"state skip {record.key}" in drift.next_step
        elif view == "deleted-sent":
            assert drift is not None and not drift.attention  # it went out: deleting it later unsends nothing
        elif view == "held":
            assert drift is not None and drift.attention and drift.what == "not-sent"
        else:  # edited: needs a human only while it has not gone out
            assert drift is not None and drift.what == "edited" and drift.attention == (record.scheduled_time > NOW)


@settings(max_examples=100, deadline=None)
@given(cases=cases)
def test_a_drifted_key_is_never_shown_unchanged(cases: list[tuple[int, str]]) -> None:
    records = [_record(i, hours, SendStatus.SCHEDULED) for i, (hours, _) in enumerate(cases)]
    views = {r.key: view for r, (_, view) in zip(records, cases, strict=True)}
    seen = [e for r in records if (e := _view(r, views[r.key])) is not None]
    chosen = scope(records, NOW, LOOKBACK)
    drifts = compare(chosen.records, seen, NOW, complete=True)
    plan = Plan(
        "e", "bu", NOW, NOW + timedelta(hours=1), "lineage", 1,
        changes=tuple(
            Change(Action.NOOP, r.key, "c", SendKind.LIST, r.scheduled_time, "UTC", dict(r.payload), "f")
            for r in records[::2]  # the plan shows some of them; the others are history
        ),
    )  # fmt: skip
    refreshed = with_findings(plan, chosen, drifts, pages=1)
    needing = {d.key for d in drifts if d.attention}
    assert {c.key for c in refreshed.changes if c.action is Action.DRIFTED} == needing
    assert not any(c.action is Action.NOOP and c.key in needing for c in refreshed.changes)
    assert refreshed.needs_attention == bool(needing)
    assert refreshed.refresh is not None and refreshed.refresh.checked == len(chosen.records)


def test_the_scope_reads_from_the_oldest_record_of_the_window_and_skips_what_it_cannot_see() -> None:
    old = _record(1, -8 * 24, SendStatus.SENT)  # past the lookback: history
    recent = _record(2, -24, SendStatus.SENT)
    ahead = _record(3, 24 * 30, SendStatus.SCHEDULED)
    one_to_one = SendRecord(**{**recent.__dict__, "key": "welcome/42", "payload": {"prospect_id": 42}})
    fresh = SendRecord(**{**ahead.__dict__, "key": "fresh", "updated_at": NOW - V5_SETTLE / 2})
    unknown = SendRecord(**{**recent.__dict__, "key": "u", "status": SendStatus.UNKNOWN})
    chosen = scope([old, recent, ahead, one_to_one, fresh, unknown], NOW, LOOKBACK)
    assert [r.key for r in chosen.records] == sorted([recent.key, ahead.key])
    assert chosen.since == min(recent.created_at, ahead.created_at) - CREATED_SKEW
    assert set(chosen.skipped) == {old.key, "welcome/42", "fresh"}  # an unknown one is reconcile's business


def test_the_page_budget_is_one_page_per_200_records_plus_a_few() -> None:
    assert page_budget(0) == 0
    assert page_budget(1) == 1 + EXTRA_PAGES
    assert page_budget(1000) == 5 + EXTRA_PAGES
    assert page_budget(1001) == 6 + EXTRA_PAGES


def test_sent_at_another_time_is_a_note() -> None:
    record = _record(1, -48, SendStatus.SCHEDULED)
    assert record.scheduled_time is not None and record.email_id is not None
    early = record.scheduled_time - ON_TIME * 2
    email = ListEmailSummary(record.email_id, record.key, 1, record.created_at, True, False, "Subject 1", early)
    (drift,) = compare([record], [email], NOW, complete=True)
    assert drift.what == "sent-early" and not drift.attention
    on_time = ListEmailSummary(**{**email.__dict__, "sent_at": record.scheduled_time + ON_TIME / 2})
    assert compare([record], [on_time], NOW, complete=True) == ()


def test_a_renamed_record_is_matched_by_the_name_it_was_sent_with() -> None:
    record = _record(1, 24, SendStatus.SCHEDULED)
    email = _view(record, "as-recorded")
    assert email is not None
    moved = SendRecord(**{**record.__dict__, "key": "blast2-1@now"})  # `state rename` keeps the payload
    assert compare([moved], [email], NOW, complete=True) == ()
