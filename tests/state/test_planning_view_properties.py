"""Property: a plan made against the planning view equals the plan made against the whole state.

Small random states (every status, repeats of a desired send's content under other keys, one-shot
campaigns sent under another key, orphans old and recent, campaigns that predate their first
record, records archived) and random desired sends; the planner gets the view a store reads for
``planning_query(desired)`` in one case and the full snapshot in the other.
"""

from __future__ import annotations

import contextlib
import dataclasses
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from orchestrator.desired import DesiredSend, ScheduleKind, SendKind
from orchestrator.errors import StateError
from orchestrator.planner import PlanOptions, make_plan, planning_query
from orchestrator.refresh import scope
from orchestrator.state import InMemoryStateStore, SendRecord, SendStatus, StateStore, open_store
from tests.state.state_helpers import ALICE

pytestmark = pytest.mark.timeout(600)

NOW = datetime(2027, 1, 10, 12, 0, tzinfo=UTC)
OPTIONS = PlanOptions(lookback=timedelta(days=7))
CAMPAIGNS = ("alpha", "beta", "gamma", "gone")
SUBJECTS = ("Hi", "Sale", "News")
HOURS = st.integers(-40, 20).map(lambda h: NOW + timedelta(hours=12 * h))  # a coarse grid: ties and overlaps


@st.composite
def desired_sends(draw: st.DrawFn) -> DesiredSend:
    campaign = draw(st.sampled_from(CAMPAIGNS[:3]))
    kind = draw(st.sampled_from([SendKind.LIST, SendKind.ONE_TO_ONE]))
    schedule = draw(st.sampled_from([ScheduleKind.NOW, ScheduleKind.AT, ScheduleKind.CRON]))
    at = None if schedule is ScheduleKind.NOW else draw(HOURS)
    if schedule is ScheduleKind.CRON and at is not None and at <= NOW - OPTIONS.lookback:
        # A cron schedule yields occurrences in (now - lookback, now + horizon] only (schedule.expand);
        # an older one never reaches the planner, whose first-seen rule would drop it.
        at = NOW - OPTIONS.lookback + timedelta(hours=12)
    payload: dict[str, Any] = {"campaign_id": 1, "subject": draw(st.sampled_from(SUBJECTS))}
    if kind is SendKind.LIST:
        key = f"{campaign}@{'now' if at is None else at.strftime('%Y-%m-%dT%H:%M:%SZ')}"
        payload |= {"list_ids": [1], "scheduled_time": None if at is None else at.isoformat()}
    else:
        prospect = draw(st.integers(1, 3))
        key = f"{campaign}/{prospect}"
        payload |= {"prospect_id": prospect}
    payload["name"] = key
    return DesiredSend(
        key=key,
        campaign=campaign,
        kind=kind,
        source=f"campaigns/{campaign}.yaml",
        schedule_kind=schedule,
        scheduled_time=at,
        timezone="UTC",
        payload=payload,
    )


@st.composite
def records(draw: st.DrawFn, desired: list[DesiredSend]) -> SendRecord:
    """A record under a desired key, or another key; its content a desired send's or its own."""
    like = draw(st.sampled_from(desired))
    own_key = draw(st.booleans())
    key = f"{draw(st.sampled_from(CAMPAIGNS))}@old-{draw(st.integers(0, 6))}" if own_key else like.key
    campaign = key.split("@")[0].split("/")[0]
    payload = dict(like.payload) if draw(st.booleans()) else {"subject": draw(st.sampled_from(SUBJECTS)), "x": 1}
    payload["name"] = key
    status = draw(st.sampled_from(SendStatus))
    created = draw(HOURS)
    return SendRecord(
        key=key,
        campaign=campaign,
        environment="test",
        fingerprint=like.fingerprint if draw(st.booleans()) else "sha256:other",
        payload=payload,
        status=status,
        email_id=7 if status in (SendStatus.SENT, SendStatus.SCHEDULED) else None,
        scheduled_time=draw(st.none() | HOURS),
        created_at=created,
        updated_at=created,
        applied_by=ALICE,
        error=draw(st.sampled_from([None, "Pardot error 98: Prospect not mailable"])),
    )


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[DesiredSend], list[SendRecord], datetime | None, set[str], set[str]]:
    desired = draw(st.lists(desired_sends(), min_size=1, max_size=8))
    history = draw(st.lists(records(desired), max_size=14))
    archive_before = draw(st.none() | HOURS.filter(lambda t: t <= NOW))
    keys = sorted({s.key for s in desired})
    skipped = draw(st.sets(st.sampled_from(keys)))
    accepted = draw(st.sets(st.sampled_from(keys)))
    return desired, history, archive_before, skipped, accepted


def _send(campaign: str, at: datetime | None, kind: ScheduleKind, prospect: int | None = None) -> DesiredSend:
    when = "now" if at is None else at.strftime("%Y-%m-%dT%H:%M:%SZ")
    key = f"{campaign}/{prospect}" if prospect else f"{campaign}@{when}"
    payload: dict[str, Any] = {"name": key, "subject": "Hi"}
    payload |= {"prospect_id": prospect} if prospect else {"list_ids": [1], "scheduled_time": at and at.isoformat()}
    return DesiredSend(
        key=key,
        campaign=campaign,
        kind=SendKind.ONE_TO_ONE if prospect else SendKind.LIST,
        source=f"campaigns/{campaign}.yaml",
        schedule_kind=kind,
        scheduled_time=at,
        timezone="UTC",
        payload=payload,
    )


def _sent(key: str, created: datetime, payload: dict[str, Any] | None = None, **changes: Any) -> SendRecord:
    record = SendRecord(
        key=key,
        campaign=key.split("@")[0].split("/")[0],
        environment="test",
        fingerprint="sha256:f",
        payload={**(payload or {"subject": "other"}), "name": key},
        status=SendStatus.SENT,
        email_id=7,
        scheduled_time=None,
        created_at=created,
        updated_at=created,
        applied_by=ALICE,
    )
    return dataclasses.replace(record, **changes)


DAY = timedelta(days=1)
CRON = _send("alpha", NOW - 2 * DAY, ScheduleKind.CRON)
ONCE = _send("beta", NOW + 3 * DAY, ScheduleKind.AT)
TO_ONE = _send("gamma", None, ScheduleKind.NOW, prospect=2)
#: The cases the rules make subtle, whatever hypothesis happens to draw.
EXAMPLES: dict[str, tuple[Any, ...]] = {
    # Every occurrence of alpha predates its first record: alpha is still in the files, so its
    # records are its history, not orphans of a deleted file.
    "campaign before its first record": ([CRON], [_sent("alpha@old-1", NOW - DAY)], None, set(), set()),
    # beta was sent under another key long ago and archived: still blocked, not sent again.
    "one-shot sent, then archived": ([ONCE], [_sent("beta@old", NOW - 30 * DAY)], NOW - 20 * DAY, set(), set()),
    # gamma's content went out under another key, archived since: still a repeat.
    "repeat of an archived send": (
        [TO_ONE], [_sent("renamed/2", NOW - 30 * DAY, dict(TO_ONE.payload))], NOW - 20 * DAY, set(), set()
    ),
    # A campaign no longer in the files: its archived records are not orphans, its others are.
    "archived orphans": (
        [TO_ONE],
        [_sent("gone@1", NOW - 30 * DAY), _sent("gone@2", NOW - 2 * DAY), _sent("gamma@r", NOW - 30 * DAY,
         scheduled_time=NOW - DAY, status=SendStatus.SCHEDULED)],
        NOW - 20 * DAY,
        set(),
        set(),
    ),
}


def plans_agree(store: StateStore, scenario: tuple[Any, ...]) -> None:
    desired, history, archive_before, skipped, accepted = scenario
    for record in history:
        store.put(record, action=record.status.value, actor=ALICE)
    if archive_before is not None:
        with contextlib.suppress(StateError):  # an unresolved record before it: nothing archived
            store.archive(archive_before, now=NOW, actor=ALICE)
    view = store.planning_view(planning_query(desired, NOW, OPTIONS))
    whole = store.snapshot()

    def plan(state: Any) -> Any:
        return make_plan(
            desired,
            state,
            NOW,
            environment="test",
            business_unit_id="0Uv000000000000AAA",
            options=OPTIONS,
            skipped={key: "skipped by a test" for key in skipped},
            repeats_ok=accepted,
        )

    assert set(view.records) <= set(whole.records)
    # plan --refresh checks what it finds in the same view: the sends it checks are all there
    # (archived sends are history it does not check, wherever they were read from)
    in_view, in_whole = (
        scope((r for k, r in s.records.items() if k not in s.archived), NOW, OPTIONS.lookback) for s in (view, whole)
    )
    assert (in_view.records, in_view.since) == (in_whole.records, in_whole.since)
    assert plan(view) == plan(whole)
    assert dataclasses.replace(plan(view), changes=()) == dataclasses.replace(plan(whole), changes=())


HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large]


def with_examples(test: Any) -> Any:
    for scenario in EXAMPLES.values():
        test = example(scenario=scenario)(test)
    return test


@settings(max_examples=300, deadline=None, suppress_health_check=HEALTH)
@given(scenario=scenarios())
@with_examples
def test_a_plan_against_the_view_equals_the_plan_against_the_whole_state_in_memory(scenario: tuple[Any, ...]) -> None:
    plans_agree(InMemoryStateStore(), scenario)


@settings(max_examples=60, deadline=None, suppress_health_check=HEALTH)
@given(scenario=scenarios())
@with_examples
def test_a_plan_against_the_view_equals_the_plan_against_the_whole_state_in_sqlite(scenario: tuple[Any, ...]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = open_store("sqlite", path=Path(folder) / "state.db")
        try:
            plans_agree(store, scenario)
        finally:
            store.close()
