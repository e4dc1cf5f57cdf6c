"""The refresh's pure comparison (orchestrator/refresh.py): properties over random states and answers.

The invariant the issue asks for: a record the refresh could not see is never "as recorded".
With a complete query it is missing; with a query that stopped at its page budget it is unseen;
a record Pardot shows exactly as recorded has no finding; each finding names its key once, in
key order; and the plan built from the findings never shows a drifted key as unchanged. The
same holds for the lists: other recipient or suppression lists than applied need a human, and an
answer that does not give them says "not checked", never "as recorded".
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.desired import SendKind
from orchestrator.pardot.decode import decode_list_emails_v5
from orchestrator.pardot.models import ListEmailSummary
from orchestrator.plan import Action, Change, Plan
from orchestrator.refresh import (
    CREATED_SKEW,
    EXTRA_PAGES,
    ON_TIME,
    SEND_GRACE,
    UNCHECKED_NOTES,
    V5_SETTLE,
    compare,
    page_budget,
    scope,
    with_findings,
)
from orchestrator.schedule import utc_iso
from orchestrator.state.models import Actor, SendRecord, SendStatus

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
LOOKBACK = timedelta(days=7)
#: What Pardot may hold of one recorded email.
VIEWS = (
    "as-recorded", "absent", "deleted-unsent", "deleted-sent", "renamed", "edited", "held",
    "relisted", "unsuppressed", "lists-not-given",
)  # fmt: skip


def _record(i: int, offset_hours: int, status: SendStatus) -> SendRecord:
    due = NOW + timedelta(hours=offset_hours)
    made = min(due, NOW) - timedelta(days=1)
    return SendRecord(
        key=f"k{i:03d}@{due.isoformat()}", campaign="c", environment="e", fingerprint="f",
        payload={
            "name": f"k{i:03d}@{due.isoformat()}", "subject": f"Subject {i}", "list_ids": [1],
            "suppression_list_ids": [5],
        },
        status=status, email_id=70000 + i, scheduled_time=due, created_at=made, updated_at=made,
        applied_by=Actor("u", "h"),
    )  # fmt: skip


def _view(record: SendRecord, view: str) -> ListEmailSummary | None:
    assert record.scheduled_time is not None and record.email_id is not None
    sent = record.scheduled_time <= NOW
    email = ListEmailSummary(
        id=record.email_id, name=record.key, campaign_id=1, created_at=record.created_at, is_sent=sent,
        is_deleted=False, subject=str(record.payload["subject"]), sent_at=record.scheduled_time if sent else None,
        recipient_list_ids=frozenset({1}), suppression_list_ids=frozenset({5}),
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
    if view == "relisted":  # another recipient list added in Pardot's UI
        return dataclasses.replace(email, recipient_list_ids=frozenset({1, 2}))
    if view == "unsuppressed":  # the suppression list taken off in Pardot's UI
        return dataclasses.replace(email, suppression_list_ids=frozenset())
    if view == "lists-not-given":  # an answer without recipientLists / suppressionLists
        return dataclasses.replace(email, recipient_list_ids=None, suppression_list_ids=None)
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
        elif view in ("relisted", "unsuppressed"):  # other people than the files say: before or after
            assert drift is not None and drift.attention and drift.what == "lists"
            went = record.scheduled_time <= NOW
            assert drift.detail.startswith("SENT TO OTHER LISTS" if went else "EDITED IN PARDOT")
            assert ("state archive --before" if went else f"state forget {record.key}") in drift.next_step
        elif view == "lists-not-given":  # not seen: never "as recorded", but nothing found wrong either
            assert drift is not None and not drift.attention and drift.what == "lists-unchecked"
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
    email = ListEmailSummary(
        record.email_id, record.key, 1, record.created_at, True, False, "Subject 1", early, frozenset({1}),
        frozenset({5}),
    )  # fmt: skip
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


def test_other_lists_name_both_sets_and_the_step_that_settles_them() -> None:
    ahead = _record(1, 24, SendStatus.SCHEDULED)
    email = _view(ahead, "as-recorded")
    assert email is not None
    moved = dataclasses.replace(email, recipient_list_ids=frozenset({2, 1}), suppression_list_ids=frozenset())
    (drift,) = compare([ahead], [moved], NOW, complete=True)
    assert drift.attention and drift.what == "lists"
    assert drift.detail == (
        "EDITED IN PARDOT: list email 70001 will go to other lists than applied: recipient lists [1, 2] in Pardot, "
        "not [1] as applied; suppression lists [] in Pardot, not [5] as applied"
    )
    assert f"`orchestrator state forget {ahead.key}`" in drift.next_step
    # Gone out already: it reached other people; the step names the archive that ends the finding.
    past = _record(2, -24, SendStatus.SENT)
    sent = _view(past, "as-recorded")
    assert sent is not None and past.scheduled_time is not None
    (drift,) = compare([past], [dataclasses.replace(sent, recipient_list_ids=frozenset({3}))], NOW, complete=True)
    assert drift.attention and drift.detail.startswith(
        f"SENT TO OTHER LISTS: list email 70002 went out at {utc_iso(past.scheduled_time)} to other lists than "
        "applied: recipient lists [3] in Pardot, not [1] as applied"
    )
    assert f"`orchestrator state archive --before {utc_iso(past.scheduled_time + timedelta(seconds=1))}`" in (
        drift.next_step
    )


def test_a_subject_and_lists_edited_together_are_one_finding_naming_both() -> None:
    record = _record(1, 24, SendStatus.SCHEDULED)
    email = _view(record, "edited")
    assert email is not None
    (drift,) = compare([record], [dataclasses.replace(email, recipient_list_ids=frozenset({9}))], NOW, complete=True)
    assert drift.what == "lists" and "recipient lists [9]" in drift.detail
    assert "subject 'changed in the UI' in Pardot, not 'Subject 1' as applied" in drift.detail


def test_lists_pardot_did_not_give_are_not_checked_never_the_same() -> None:
    record = _record(1, 24, SendStatus.SCHEDULED)
    email = _view(record, "as-recorded")
    assert email is not None
    (drift,) = compare([record], [dataclasses.replace(email, suppression_list_ids=None)], NOW, complete=True)
    assert (drift.what, drift.attention) == ("lists-unchecked", False)
    assert drift.detail == "list email 70001's lists were not checked: Pardot's answer did not give suppressionLists"
    # What was given is still compared: a difference there needs a human.
    half = dataclasses.replace(email, recipient_list_ids=frozenset({2}), suppression_list_ids=None)
    (drift,) = compare([record], [half], NOW, complete=True)
    assert drift.what == "lists" and drift.attention
    # A record without list ids cannot be compared either; one without suppression lists had none.
    bare = SendRecord(**{**record.__dict__, "payload": {"name": record.key, "subject": "Subject 1"}})
    (drift,) = compare([bare], [dataclasses.replace(email, suppression_list_ids=frozenset())], NOW, complete=True)
    assert drift.what == "lists-unchecked" and drift.detail.endswith("did not give recipientLists")


def test_many_sends_whose_lists_were_not_given_are_one_note() -> None:
    records = [_record(i, 24 + i, SendStatus.SCHEDULED) for i in range(UNCHECKED_NOTES + 2)]
    blind = [dataclasses.replace(e, recipient_list_ids=None) for r in records if (e := _view(r, "as-recorded"))]
    chosen = scope(records, NOW, LOOKBACK)
    plan = Plan("e", "bu", NOW, NOW + timedelta(hours=1), "lineage", 1, changes=())
    few = with_findings(plan, chosen, compare(records[:UNCHECKED_NOTES], blind, NOW, complete=True), pages=1)
    assert few.refresh is not None and len(few.refresh.notes) == UNCHECKED_NOTES and not few.needs_attention
    many = with_findings(plan, chosen, compare(records, blind, NOW, complete=True), pages=1)
    assert many.refresh is not None and not many.needs_attention
    (note,) = many.refresh.notes
    assert note.startswith(f"the lists of {len(records)} list emails were not checked") and note.endswith(" and 2 more")


@pytest.mark.parametrize(
    ("given", "ids"),
    [
        ([{"id": 2001}, {"id": 2002, "name": "Customers"}], frozenset({2001, 2002})),  # objects with an id
        ([2001, "2002"], frozenset({2001, 2002})),  # bare ids
        ([], frozenset()),  # no lists: a fact, compared
        (None, None),  # null: not given
        ([{"name": "no id"}], None),  # a shape the client cannot read: not checked, not "none"
        ([True], None),
        ("2001", None),
    ],
)
def test_the_lists_are_read_from_ids_or_objects_with_an_id(given: object, ids: frozenset[int] | None) -> None:
    row = {"id": 1, "name": "n", "isSent": False, "isDeleted": False, "recipientLists": given}
    (email,), _ = decode_list_emails_v5({"values": [row]})
    assert email.recipient_list_ids == ids
    assert email.suppression_list_ids is None  # absent from the answer: not checked
