"""The pure planner: every action, and the invariants that keep sends exactly-once."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.desired import DesiredSend, ScheduleKind, SendKind
from orchestrator.plan import Action, Plan
from orchestrator.planner import PlanOptions, make_plan
from orchestrator.state.models import Actor, SendRecord, SendStatus, StateSnapshot

NOW = datetime(2027, 1, 10, 12, 0, tzinfo=UTC)
ACTOR = Actor("tester", "host")


def send(
    name: str = "promo",
    at: datetime | None = None,
    *,
    kind: SendKind = SendKind.LIST,
    subject: str = "Hi",
    prospect: int | None = None,
    schedule_kind: ScheduleKind | None = None,
) -> DesiredSend:
    if kind == "one-to-one":
        key = f"{name}/{prospect}"
    else:
        key = f"{name}@{'now' if at is None else at.strftime('%Y-%m-%dT%H:%M:%SZ')}"
    payload: dict[str, Any] = {"campaign_id": 1, "name": key, "subject": subject, "text_content": "%%unsubscribe%%"}
    if kind == "list":
        payload |= {"list_ids": [1], "scheduled_time": at.isoformat() if at else None}
    else:
        payload |= {"prospect_id": prospect}
    return DesiredSend(
        key=key,
        campaign=name,
        kind=kind,
        source=f"campaigns/{name}.yaml",
        schedule_kind=schedule_kind or (ScheduleKind.NOW if at is None else ScheduleKind.AT),
        scheduled_time=at,
        timezone="UTC",
        payload=payload,
    )


def record(s: DesiredSend, status: SendStatus, *, fingerprint: str | None = None, key: str | None = None) -> SendRecord:
    return SendRecord(
        key=key or s.key,
        campaign=s.campaign,
        environment="test",
        fingerprint=fingerprint or s.fingerprint,
        payload=s.payload,
        status=status,
        email_id=7 if status in (SendStatus.SENT, SendStatus.SCHEDULED) else None,
        scheduled_time=s.scheduled_time,
        created_at=NOW - timedelta(days=1),
        updated_at=NOW - timedelta(days=1),
        applied_by=ACTOR,
    )


def snap(*records: SendRecord, serial: int = 3) -> StateSnapshot:
    return StateSnapshot("lineage-1", serial, {r.key: r for r in records})


def plan(
    desired: list[DesiredSend], state: StateSnapshot | None = None, kept: tuple[str, ...] | list[str] = (), **opts: Any
) -> Plan:
    return make_plan(
        desired,
        state or snap(),
        NOW,
        environment="test",
        business_unit_id="0Uv000000000000AAA",
        options=PlanOptions(**opts),
        kept=kept,
    )


def actions(p: Plan) -> dict[str, Action]:
    return {c.key: c.action for c in p.changes}


def test_new_sends_are_sent_or_scheduled() -> None:
    future = NOW + timedelta(days=2)
    p = plan([send("a"), send("b", future)])
    assert actions(p) == {"a@now": Action.SEND, "b@2027-01-12T12:00:00Z": Action.SCHEDULE}
    assert p.applyable and p.created_at == NOW and p.expires_at == NOW + timedelta(hours=1)
    assert (p.state_lineage, p.state_serial) == ("lineage-1", 3)


def test_applied_same_fingerprint_is_noop_and_changed_is_blocked_with_diff() -> None:
    old = send("a", subject="Old subject")
    new = send("a", subject="New subject")
    p = plan([new], snap(record(old, SendStatus.SENT)))
    change = p.changes[0]
    assert change.action is Action.BLOCKED
    assert "subject" in change.reason and "state forget" in change.reason and "state accept" in change.reason
    assert "rename" not in change.reason  # a renamed copy of a scheduled email would mail people twice
    assert "-Old subject" in change.diff and "+New subject" in change.diff
    assert not p.has_changes
    assert actions(plan([old], snap(record(old, SendStatus.SCHEDULED)))) == {old.key: Action.NOOP}


def test_time_change_of_a_one_shot_send_is_blocked_not_sent_twice() -> None:
    first = send("a", NOW + timedelta(days=3))
    moved = send("a", NOW + timedelta(days=4))
    p = plan([moved], snap(record(first, SendStatus.SCHEDULED)))
    assert actions(p) == {moved.key: Action.BLOCKED}
    assert "already scheduled" in p.changes[0].reason
    assert "~ scheduled_time" in "\n".join(p.changes[0].diff)


def test_cron_occurrences_are_independent_keys() -> None:
    week1 = send("news", NOW + timedelta(days=1), schedule_kind=ScheduleKind.CRON)
    week2 = send("news", NOW + timedelta(days=8), schedule_kind=ScheduleKind.CRON)
    p = plan([week1, week2], snap(record(week1, SendStatus.SCHEDULED)))
    assert actions(p) == {week1.key: Action.NOOP, week2.key: Action.SCHEDULE}


def test_past_time_is_missed_unless_allow_late() -> None:
    past = send("a", NOW - timedelta(hours=2))
    assert actions(plan([past])) == {past.key: Action.MISSED}
    late = plan([past], allow_late=True).changes[0]
    assert late.action is Action.SEND and late.late


def test_one_to_one_at_is_deferred_then_due_then_missed() -> None:
    future = send("f", NOW + timedelta(hours=1), kind=SendKind.ONE_TO_ONE, prospect=5)
    due = send("f", NOW - timedelta(minutes=5), kind=SendKind.ONE_TO_ONE, prospect=5)
    stale = send("f", NOW - timedelta(hours=5), kind=SendKind.ONE_TO_ONE, prospect=5)
    assert plan([future]).changes[0].action is Action.DEFER
    assert plan([due]).changes[0].action is Action.SEND
    assert plan([stale]).changes[0].action is Action.MISSED


def test_unresolved_outcomes_block_the_key() -> None:
    s = send("a")
    for status in (SendStatus.INTENT, SendStatus.UNKNOWN):
        change = plan([s], snap(record(s, status))).changes[0]
        assert change.action is Action.UNKNOWN
        assert "state resolve a@now" in change.reason


def test_failed_or_not_sent_is_sent_again() -> None:
    s = send("a")
    change = plan([s], snap(record(s, SendStatus.FAILED))).changes[0]
    assert change.action is Action.SEND and "retrying after an earlier failure" in change.reason
    change = plan([s], snap(record(s, SendStatus.NOT_SENT))).changes[0]  # after `state forget`/`resolve --not-sent`
    assert change.action is Action.SEND and "recorded as not sent" in change.reason and "failure" not in change.reason


def test_orphans_and_loud_scheduled_orphans() -> None:
    gone_sent = send("gone", NOW - timedelta(days=1))
    gone_scheduled = send("later", NOW + timedelta(days=5))
    p = plan([], snap(record(gone_sent, SendStatus.SENT), record(gone_scheduled, SendStatus.SCHEDULED)))
    by_key = {c.key: c for c in p.changes}
    assert {c.action for c in p.changes} == {Action.ORPHANED}
    assert by_key[gone_scheduled.key].loud and "WILL STILL GO OUT" in by_key[gone_scheduled.key].reason
    assert not by_key[gone_sent.key].loud
    assert not p.has_changes


def test_history_of_a_live_cron_campaign_is_not_orphaned() -> None:
    old = send("news", NOW - timedelta(days=30), schedule_kind=ScheduleKind.CRON)
    current = send("news", NOW + timedelta(days=1), schedule_kind=ScheduleKind.CRON)
    p = plan([current], snap(record(old, SendStatus.SENT)))
    assert actions(p) == {current.key: Action.SCHEDULE}


def test_a_live_campaign_whose_only_occurrence_predates_its_first_record_keeps_its_history() -> None:
    """Its files are still there: its records are history, never "no longer in the files".

    The first-seen rule drops the occurrence from the desired sends; the orphan check used to
    read the campaign's absence from what was left, and called its sent email an orphan.
    """
    monday = send("weekly", NOW - timedelta(days=3), schedule_kind=ScheduleKind.CRON)
    earlier = send("weekly", NOW - timedelta(days=20), schedule_kind=ScheduleKind.CRON)
    applied = dataclasses.replace(
        record(earlier, SendStatus.SENT), created_at=NOW - timedelta(days=2), updated_at=NOW - timedelta(days=2)
    )
    assert actions(plan([monday], snap(applied))) == {}


def test_errors_make_the_plan_errored() -> None:
    from orchestrator.errors import Diagnostic

    p = make_plan(
        [send("a")], snap(), NOW, environment="t", business_unit_id="b", problems=[Diagnostic("x.yaml", 1, 1, "bad")]
    )
    assert p.errored and not p.applyable and p.has_changes


# ---- properties -------------------------------------------------------------------------

times = st.one_of(st.none(), st.integers(min_value=-3000, max_value=3000).map(lambda m: NOW + timedelta(minutes=m)))
desired_sets = st.lists(
    st.builds(
        lambda n, t, subj: send(f"c{n}", t, subject=subj),
        st.integers(min_value=0, max_value=6),
        times,
        st.sampled_from(["A", "B"]),
    ),
    max_size=10,
).map(lambda sends: list({s.key: s for s in sends}.values()))


def applied_state(p: Plan, serial: int) -> StateSnapshot:
    """The state after a fully successful apply of ``p`` (what the executor writes)."""
    records = {}
    for c in p.pending:
        records[c.key] = SendRecord(
            key=c.key,
            campaign=c.campaign,
            environment="test",
            fingerprint=c.fingerprint or "",
            payload=c.payload or {},
            status=SendStatus.SCHEDULED if c.action is Action.SCHEDULE else SendStatus.SENT,
            email_id=1,
            scheduled_time=c.scheduled_time,
            created_at=NOW,
            updated_at=NOW,
            applied_by=ACTOR,
        )
    return StateSnapshot("lineage-1", serial, records)


@settings(max_examples=150, deadline=None)
@given(desired_sets)
def test_plan_never_has_two_actions_for_one_key(desired: list[DesiredSend]) -> None:
    p = plan(desired)
    keys = [c.key for c in p.changes]
    assert len(keys) == len(set(keys))


@settings(max_examples=150, deadline=None)
@given(desired_sets, st.booleans())
def test_apply_then_plan_again_sends_nothing(desired: list[DesiredSend], allow_late: bool) -> None:
    first = plan(desired, allow_late=allow_late)
    second = plan(desired, applied_state(first, 9), allow_late=allow_late)
    assert not second.has_changes
    assert {c.key: c.action for c in second.changes if c.key in {x.key for x in first.pending}} == {
        c.key: Action.NOOP for c in first.pending
    }


@settings(max_examples=100, deadline=None)
@given(desired_sets)
def test_planning_twice_with_nothing_changed_is_all_noops(desired: list[DesiredSend]) -> None:
    state = applied_state(plan(desired, allow_late=True), 4)
    again = plan(desired, state, allow_late=True)
    assert all(c.action is Action.NOOP for c in again.changes if c.key in state.records)
    assert again.changes == plan(desired, state, allow_late=True).changes  # deterministic


def test_markdown_splits_into_parts_under_the_comment_limit_and_drops_nothing() -> None:
    from orchestrator.cli.planview import MARKDOWN_LIMIT, markdown, markdown_parts

    big = plan([send(f"campaign-{i:04d}", NOW + timedelta(days=2), subject="S" * 200) for i in range(1500)])
    parts = markdown_parts(big)
    assert len(parts) > 1 and all(len(part) <= MARKDOWN_LIMIT for part in parts)
    assert all(f"`campaign-{i:04d}@" in "".join(parts) for i in range(1500))
    small = markdown(plan([send("a")]))
    assert "Part 1 of" not in small and "<details" in small and "| `+` | send | `a@now` |" in small


def test_new_occurrences_wait_while_old_scheduled_ones_are_orphaned() -> None:
    old = send("news", NOW + timedelta(days=2), schedule_kind=ScheduleKind.CRON)  # scheduled under the old cron
    new = send("news", NOW + timedelta(days=2, hours=1), schedule_kind=ScheduleKind.CRON)  # the changed cron
    other = send("other", NOW + timedelta(days=2), subject="Other news")  # not a copy of news: held for the orphan
    p = plan([new, other], snap(record(old, SendStatus.SCHEDULED)))
    by_key = {c.key: c for c in p.changes}
    assert by_key[old.key].action is Action.ORPHANED and by_key[old.key].loud
    assert by_key[new.key].action is Action.BLOCKED and "mail the same people twice" in by_key[new.key].reason
    # Other campaigns are held too: a renamed campaign is "another campaign" that mails the same people.
    assert by_key[other.key].action is Action.BLOCKED and "state skip" in by_key[other.key].reason
    forgotten = record(old, SendStatus.NOT_SENT)  # `state forget`: deleted in Pardot's UI
    assert actions(plan([new, other], snap(forgotten))) == {new.key: Action.SCHEDULE, other.key: Action.SCHEDULE}
    kept = plan([new, other], snap(record(old, SendStatus.SCHEDULED)), kept=[old.key])  # `state keep`
    by_key = {c.key: c for c in kept.changes}
    assert by_key[old.key].action is Action.ORPHANED and not by_key[old.key].loud
    assert "will go out" in by_key[old.key].reason and not kept.needs_attention
    assert by_key[new.key].action is Action.SCHEDULE and by_key[other.key].action is Action.SCHEDULE


def test_a_renamed_scheduled_campaign_is_not_scheduled_twice() -> None:
    """Renaming a scheduled campaign (issue 8's reproduction) must not schedule a second copy."""
    old = send("spring-sale", NOW + timedelta(days=3))
    renamed = send("spring-sale-v2", NOW + timedelta(days=3))
    p = plan([renamed], snap(record(old, SendStatus.SCHEDULED)))
    assert actions(p) == {old.key: Action.ORPHANED, renamed.key: Action.BLOCKED}
    assert p.needs_attention and not p.has_changes
    assert "rename the send" not in next(c for c in p.changes if c.key == renamed.key).reason


def test_an_unknown_orphan_holds_its_campaign_too() -> None:
    old = send("news", NOW + timedelta(days=2), schedule_kind=ScheduleKind.CRON)
    new = send("news", NOW + timedelta(days=2, hours=1), schedule_kind=ScheduleKind.CRON)
    for status in (SendStatus.UNKNOWN, SendStatus.INTENT):
        p = plan([new], snap(record(old, status)))
        by_key = {c.key: c for c in p.changes}
        assert by_key[old.key].loud and "OUTCOME UNKNOWN" in by_key[old.key].reason
        assert by_key[new.key].action is Action.BLOCKED and "state resolve" in by_key[new.key].reason


def test_two_sends_with_one_key_make_the_plan_errored() -> None:
    p = plan([send("a"), send("a", subject="other")])
    assert p.errored and any("share the key" in d.message for d in p.problems)


def test_saved_plan_time_rules() -> None:
    import dataclasses

    import pytest

    from orchestrator.errors import PlanRefused
    from orchestrator.planfile import check_created, check_integrity, held_for_time

    due = send("f", NOW - timedelta(minutes=14), kind=SendKind.ONE_TO_ONE, prospect=5)
    p = plan([due])
    assert p.changes[0].send_before == NOW + timedelta(minutes=1)
    assert held_for_time(p, NOW) == p
    late = held_for_time(p, NOW + timedelta(minutes=2)).changes[0]  # held alone, reported, never raised
    assert late.action is Action.MISSED and "past policy.late_grace" in late.reason
    with pytest.raises(PlanRefused, match="in the future"):
        check_created(plan([send("a")]), now=NOW - timedelta(hours=1))
    payload = p.changes[0].payload
    assert payload is not None
    edited = dataclasses.replace(
        p, changes=(dataclasses.replace(p.changes[0], payload={**payload, "subject": "Edited"}),)
    )
    with pytest.raises(PlanRefused, match="does not match its fingerprint"):
        check_integrity(edited)


def test_cron_occurrences_from_before_the_campaign_was_first_applied_are_not_missed() -> None:
    """Issue 11: a new weekly campaign reported last week's Mondays as missed."""
    last_week = send("weekly", NOW - timedelta(days=3), schedule_kind=ScheduleKind.CRON)
    next_week = send("weekly", NOW + timedelta(days=4), schedule_kind=ScheduleKind.CRON)
    assert actions(plan([last_week, next_week])) == {next_week.key: Action.SCHEDULE}
    # Once the campaign is in the state, a later occurrence that passes unsent is missed again.
    applied_at = NOW - timedelta(days=10)
    first = dataclasses.replace(record(next_week, SendStatus.SCHEDULED), created_at=applied_at, updated_at=applied_at)
    assert actions(plan([last_week, next_week], snap(first)))[last_week.key] is Action.MISSED
    # A one-shot time that passed is still reported: its author wrote that time.
    once = send("once", NOW - timedelta(days=1))
    assert actions(plan([once]))[once.key] is Action.MISSED


def test_a_piped_plan_is_the_text_rich_would_print() -> None:
    """Where nothing draws styles the plan text skips rich's rendering; it must be the same text."""
    import io

    from rich.console import Console

    from orchestrator.cli.planview import print_text

    old = send("news", NOW + timedelta(days=2), schedule_kind=ScheduleKind.CRON)
    changed = send("promo", NOW + timedelta(days=3), subject="New \x1b[2J subject  ")
    shown = plan(
        [send("news", NOW + timedelta(days=2, hours=1), schedule_kind=ScheduleKind.CRON), changed, send("a")],
        snap(record(old, SendStatus.SCHEDULED), record(changed, SendStatus.SCHEDULED, fingerprint="old")),
    )
    # An edited saved plan can name any environment: no control character may reach a terminal.
    shown = dataclasses.replace(shown, environment="sand\tbox\r\x07\x1b[2J", business_unit_id="0Uv\x08")
    styled, piped = io.StringIO(), io.StringIO()
    print_text(shown, Console(file=styled, force_terminal=True, color_system=None, width=80, soft_wrap=True))
    print_text(shown, Console(file=piped, force_terminal=False, width=80))
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", piped.getvalue()) and "orphaned" in piped.getvalue()
    assert "Environment sand\\x09box\\x0d\\x07\\x1b[2J, business unit 0Uv\\x08" in piped.getvalue()
    assert piped.getvalue() == styled.getvalue()


def test_a_send_that_repeats_an_applied_email_under_another_key_is_blocked() -> None:
    blast = send("blast-1")
    renamed = send("blast2-1")  # the same payload but for its name
    p = plan([renamed], snap(record(blast, SendStatus.SENT)))
    by_key = {c.key: c for c in p.changes}
    assert by_key[renamed.key].action is Action.BLOCKED and p.needs_attention
    assert "looks like 'blast-1@now'" in by_key[renamed.key].reason
    assert (by_key[renamed.key].prior or {})["repeat_of"] == blast.key
    confirmed = make_plan([renamed], snap(record(blast, SendStatus.SENT)), NOW, environment="test",
                          business_unit_id="0Uv000000000001AAA", repeats_ok=[renamed.key])
    assert actions(confirmed)[renamed.key] is Action.SEND
    different = send("blast2-1", subject="Other")
    assert actions(plan([different], snap(record(blast, SendStatus.SENT))))[different.key] is Action.SEND
    assert actions(plan([blast], snap(record(blast, SendStatus.NOT_SENT))))[blast.key] is Action.SEND


def test_a_one_to_one_send_pardot_refused_for_good_is_not_offered_again() -> None:
    s = send("welcome", kind=SendKind.ONE_TO_ONE, prospect=5007)
    refused = dataclasses.replace(record(s, SendStatus.FAILED), error="Pardot error 98: Prospect not mailable")
    change = plan([s], snap(refused)).changes[0]
    assert change.action is Action.BLOCKED and "refused this one-to-one send for good" in change.reason
    assert f"state resolve {s.key} --not-sent" in change.reason
    flaky = dataclasses.replace(record(s, SendStatus.FAILED), error="Pardot error 66: too many requests")
    assert plan([s], snap(flaky)).changes[0].action is Action.SEND  # anything else is retried
