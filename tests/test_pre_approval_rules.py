"""The planner's pre-approval rule, pure (no I/O): which new occurrence is labelled pre-approved.

A new occurrence of a recurring list campaign is pre-approved only by an applied occurrence of
the same campaign, with the same payload but for its name and time, that carries a person's
approval (``StateSnapshot.approvals``, read by the planning view from the journal).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from orchestrator.desired import DesiredSend, ScheduleKind, SendKind
from orchestrator.plan import Action, Plan
from orchestrator.planner import make_plan
from orchestrator.state.models import Actor, Approval, SendRecord, SendStatus, StateSnapshot

NOW = datetime(2027, 1, 4, 12, 0, tzinfo=UTC)
WEEK = timedelta(days=7)
CONTENT = {"campaign_id": 1, "list_ids": [1], "subject": "Weekly"}
ALICE = Approval("weekly@0", "alice (ORCHESTRATOR_APPROVED_BY)", NOW - 2 * WEEK)


def occurrence(campaign: str, at: datetime, kind: ScheduleKind = ScheduleKind.CRON, **content: Any) -> DesiredSend:
    key = f"{campaign}@{at:%Y-%m-%dT%H:%M:%SZ}"
    payload = {**CONTENT, **content, "name": key, "scheduled_time": at.isoformat()}
    return DesiredSend(key, campaign, SendKind.LIST, f"campaigns/{campaign}.yaml", kind, at, "UTC", payload)


def applied(send: DesiredSend, status: SendStatus = SendStatus.SENT) -> SendRecord:
    return SendRecord(
        key=send.key, campaign=send.campaign, environment="test", fingerprint=send.fingerprint,
        payload=dict(send.payload), status=status, email_id=7, scheduled_time=send.scheduled_time,
        created_at=NOW - WEEK, updated_at=NOW - WEEK, applied_by=Actor(user="ci", host="runner"),
    )


def plan(desired: list[DesiredSend], history: list[SendRecord], approvals: dict[str, Approval]) -> Plan:
    state = StateSnapshot(
        lineage="l", serial=1, records={r.key: r for r in history}, first_seen={"weekly": NOW - 3 * WEEK},
        approvals=approvals,
    )
    return make_plan(desired, state, NOW, environment="test", business_unit_id="0Uv000000000000AAA")


def label(result: Plan, key: str) -> dict[str, str] | None:
    (change,) = [c for c in result.changes if c.key == key]
    return change.pre_approved


LAST = occurrence("weekly", NOW - timedelta(hours=4))
NEXT = occurrence("weekly", NOW + WEEK - timedelta(hours=4))


def test_the_same_content_as_an_approved_occurrence_of_the_campaign_is_pre_approved() -> None:
    result = plan([LAST, NEXT], [applied(LAST)], {LAST.key: ALICE})
    assert label(result, NEXT.key) == {
        "key": "weekly@0", "approved_by": "alice (ORCHESTRATOR_APPROVED_BY)", "approved_at": "2026-12-21T12:00:00Z"
    }
    assert label(result, LAST.key) is None  # a no-op: nothing to approve


@pytest.mark.parametrize(
    ("desired", "history", "approvals"),
    [
        pytest.param([LAST, NEXT], [applied(LAST)], {}, id="applied with no person"),
        pytest.param(
            [LAST, occurrence("weekly", NEXT.scheduled_time or NOW, subject="Other")],
            [applied(LAST)], {LAST.key: ALICE}, id="other content",
        ),
        pytest.param(
            [occurrence("other", NOW + WEEK)], [applied(LAST)], {LAST.key: ALICE}, id="another campaign's approval",
        ),
        pytest.param(
            [LAST, occurrence("weekly", NOW + WEEK, ScheduleKind.AT)], [applied(LAST)], {LAST.key: ALICE},
            id="not recurring",  # a one-shot send: blocked as sent already under another key
        ),
        pytest.param(
            [LAST, NEXT], [applied(LAST, SendStatus.NOT_SENT)], {LAST.key: ALICE}, id="never went out",
        ),
    ],
)
def test_nothing_else_is_pre_approved(
    desired: list[DesiredSend], history: list[SendRecord], approvals: dict[str, Approval]
) -> None:
    result = plan(desired, history, approvals)
    assert len(result.changes) >= len(desired) - 1
    assert all(change.pre_approved is None for change in result.changes)


def test_a_send_held_by_an_orphan_is_not_labelled() -> None:
    gone = applied(occurrence("gone", NOW + timedelta(days=2)), SendStatus.SCHEDULED)  # still goes out
    result = plan([LAST, NEXT], [applied(LAST), gone], {LAST.key: ALICE})
    (held,) = [c for c in result.changes if c.key == NEXT.key]
    assert held.action is Action.BLOCKED and held.pre_approved is None
