"""Saved plans: every refusal of ``planfile`` (one case each), and the binding to the files
(``applying.binding_problems``) as a property: whatever is edited between plan and apply, a
saved plan that passes the check sends exactly what the files ask for."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.applying import binding_problems, bound_to_files
from orchestrator.desired import DesiredSend, ScheduleKind, SendKind
from orchestrator.digest import digest
from orchestrator.errors import Diagnostic, PlanRefused
from orchestrator.plan import Action, Plan
from orchestrator.planfile import check_applicable, held_for_time, read_plan, write_plan
from orchestrator.planner import make_plan
from orchestrator.state.models import StateSnapshot

NOW = datetime(2027, 1, 10, 12, 0, tzinfo=UTC)
LINEAGE = "11111111-1111-1111-1111-111111111111"


def desired(
    name: str, *, subject: str = "Hi", lists: tuple[int, ...] = (1,), at: datetime | None = None
) -> DesiredSend:
    key = f"{name}@now" if at is None else f"{name}@{at.strftime('%Y-%m-%dT%H:%M:%SZ')}"
    payload: dict[str, Any] = {
        "campaign_id": 1,
        "name": key,
        "subject": subject,
        "text_content": "Bye: %%unsubscribe%%",
        "list_ids": list(lists),
        "scheduled_time": at.isoformat() if at else None,
    }
    schedule_kind = ScheduleKind.AT if at else ScheduleKind.NOW
    return DesiredSend(key, name, SendKind.LIST, f"campaigns/{name}.yaml", schedule_kind, at, "UTC", payload)


def a_plan(*sends: DesiredSend, serial: int = 3, now: datetime = NOW) -> Plan:
    return make_plan(sends, StateSnapshot(LINEAGE, serial), now, environment="prod", business_unit_id="0Uv1")


def check(plan: Plan, **overrides: Any) -> None:
    args: dict[str, Any] = {
        "now": NOW + timedelta(minutes=1),
        "environment": "prod",
        "business_unit_id": "0Uv1",
        "lineage": LINEAGE,
        "serial": 3,
    }
    check_applicable(plan, **{**args, **overrides})


def edited(plan: Plan, **payload_changes: Any) -> Plan:
    change = plan.changes[0]
    payload = {**(change.payload or {}), **payload_changes}
    return dataclasses.replace(plan, changes=(dataclasses.replace(change, payload=payload),))


PLAN = a_plan(desired("a", at=NOW + timedelta(days=1)))


@pytest.mark.parametrize(
    ("plan", "overrides", "message"),
    [
        (
            dataclasses.replace(PLAN, problems=(Diagnostic("c.yaml", 1, 1, "broken"),)),
            {},
            "has errors; it can be shown but never applied",
        ),
        (PLAN, {"environment": "staging"}, "made for environment 'prod', not 'staging'"),
        (PLAN, {"business_unit_id": "0Uv2"}, "made for business unit 0Uv1"),
        (PLAN, {"lineage": "other"}, "belongs to another state"),
        (PLAN, {"serial": 4}, "state changed since the plan was made (serial 3 -> 4)"),
        (PLAN, {"now": NOW + timedelta(hours=2)}, "expired"),
        (PLAN, {"now": NOW - timedelta(hours=1)}, "in the future"),
        (edited(PLAN, subject="Edited"), {}, "does not match its fingerprint"),
    ],
    ids=["errored", "environment", "business-unit", "lineage", "serial", "expired", "future", "edited"],
)
def test_check_applicable_refusals(plan: Plan, overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(PlanRefused) as caught:
        check(plan, **overrides)
    assert message in caught.value.message


def test_content_policy_is_checked_again_at_apply() -> None:
    plan = edited(PLAN, text_content="no token")
    change = plan.changes[0]
    plan = dataclasses.replace(plan, changes=(dataclasses.replace(change, fingerprint=digest(change.payload)),))
    with pytest.raises(PlanRefused) as caught:
        check(plan)
    assert "unsubscribe" in caught.value.message


def test_a_valid_plan_passes() -> None:
    check(PLAN)


def test_a_plan_expires_by_the_configuration_whatever_the_file_says() -> None:
    extended = dataclasses.replace(PLAN, expires_at=NOW + timedelta(days=30))  # an edited file
    check(extended, now=NOW + timedelta(hours=2))  # without the configured expiry, the file's word
    with pytest.raises(PlanRefused) as caught:
        check(extended, now=NOW + timedelta(hours=2), plan_expiry=timedelta(hours=1))
    assert "expired at 2027-01-10T13:00:00Z" in caught.value.message


def test_a_send_that_can_no_longer_go_is_held_alone_with_its_reason() -> None:
    soon, later = NOW + timedelta(minutes=15), NOW + timedelta(days=1)
    plan = a_plan(desired("soon", at=soon), desired("later", at=later), desired("now"))
    assert held_for_time(plan, NOW) == plan
    inside = {c.key: c for c in held_for_time(plan, NOW + timedelta(minutes=10)).changes}
    assert inside["soon@2027-01-10T12:15:00Z"].action is Action.BLOCKED
    assert "inside the minimum lead time" in inside["soon@2027-01-10T12:15:00Z"].reason
    assert [c.action for k, c in inside.items() if not k.startswith("soon")] == [Action.SEND, Action.SCHEDULE]
    past = {c.key: c for c in held_for_time(plan, NOW + timedelta(minutes=20)).changes}
    assert past["soon@2027-01-10T12:15:00Z"].action is Action.MISSED
    assert "passed before it could be scheduled" in past["soon@2027-01-10T12:15:00Z"].reason


@settings(max_examples=60, deadline=None)
@given(
    offsets=st.lists(st.integers(min_value=1, max_value=600), min_size=1, max_size=6, unique=True),
    elapsed=st.integers(min_value=0, max_value=700),
)
def test_held_for_time_holds_exactly_the_sends_that_can_no_longer_go(offsets: list[int], elapsed: int) -> None:
    """Whatever the times: the same keys stay; what stays pending still keeps its lead time, and
    nothing held could have gone; nothing that was not pending is touched."""
    plan = a_plan(*(desired(f"c{m}", at=NOW + timedelta(minutes=m)) for m in offsets))
    now = NOW + timedelta(minutes=elapsed)
    held = held_for_time(plan, now)
    assert [c.key for c in held.changes] == [c.key for c in plan.changes]
    for before, after in zip(plan.changes, held.changes, strict=True):
        assert before.scheduled_time is not None
        can_go = before.scheduled_time - now >= before.min_lead_time
        assert after == before if can_go else after.action in (Action.BLOCKED, Action.MISSED) and after.reason


def test_a_plan_made_with_no_state_yet_applies_only_to_an_unwritten_state() -> None:
    plan = make_plan(
        [desired("a", at=NOW + timedelta(days=1))],
        StateSnapshot(None, 0),
        NOW,
        environment="prod",
        business_unit_id="0Uv1",
    )
    assert plan.state_lineage is None
    check(plan, serial=0)  # created by this apply (or `state init`), nothing written yet
    with pytest.raises(PlanRefused) as caught:
        check(plan, serial=2)
    assert "state changed since the plan was made (no state yet -> serial 2" in caught.value.message


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist"),
        ("not json", "not a readable plan file"),
        ("[]", "not a saved plan (no checksum)"),
        ('{"checksum": "x", "format_version": "0.1"}', "has plan format '0.1'"),
    ],
    ids=["missing", "garbage", "no-checksum", "old-format"],
)
def test_read_plan_refusals(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "plan.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(PlanRefused) as caught:
        read_plan(path)
    assert message in caught.value.message


def test_read_plan_refuses_an_altered_file_and_round_trips_a_good_one(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    write_plan(PLAN, path)
    assert read_plan(path) == PLAN
    document = json.loads(path.read_text(encoding="utf-8"))
    document["changes"][0]["payload"]["subject"] = "Hacked"
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(PlanRefused, match="altered"):
        read_plan(path)


# -- the binding to the files, as a property ----------------------------------------------------------

NAMES = ["a", "b", "c", "d"]
edits = st.lists(
    st.tuples(st.sampled_from(NAMES), st.sampled_from(["keep", "subject", "lists", "delete", "time"])),
    max_size=6,
)


def apply_edits(files: dict[str, DesiredSend], steps: list[tuple[str, str]]) -> dict[str, DesiredSend]:
    out = dict(files)
    for name, step in steps:
        if name not in out:
            out[name] = desired(name)
        elif step == "subject":
            out[name] = desired(name, subject=str(out[name].payload["subject"]) + "!", at=out[name].scheduled_time)
        elif step == "lists":
            out[name] = desired(name, lists=(1, 2), at=out[name].scheduled_time)
        elif step == "delete":
            del out[name]
        elif step == "time":
            out[name] = desired(name, at=NOW + timedelta(days=3))
    return out


@settings(max_examples=200, deadline=None)
@given(before=st.sets(st.sampled_from(NAMES), min_size=1), steps=edits)
def test_a_bound_plan_never_sends_a_payload_the_files_do_not_give(
    before: set[str], steps: list[tuple[str, str]]
) -> None:
    """For any edits between plan and apply, what passes the check is exactly what the files give."""
    files = {name: desired(name) for name in sorted(before)}
    saved = a_plan(*files.values())
    now_files = apply_edits(files, steps)
    snapshot = StateSnapshot(LINEAGE, 3)
    fresh = make_plan(now_files.values(), snapshot, saved.created_at, environment="prod", business_unit_id="0Uv1")
    problems = binding_problems(saved, fresh, snapshot)
    wanted = {send.key: send.payload for send in now_files.values()}
    if not problems:
        chosen = bound_to_files(saved, fresh)
        for change in chosen.pending:
            assert change.payload == wanted[change.key]  # identical to the files...
            reviewed = next(c for c in saved.pending if c.key == change.key)
            assert change.payload == reviewed.payload  # ...and to what was reviewed
    else:
        changed = {k for k, c in ((c.key, c) for c in saved.pending) if wanted.get(k) != c.payload}
        assert changed, problems  # refused only when something really differs
        for key in changed:
            assert any(p.startswith(f"{key}:") for p in problems)


def test_binding_refuses_a_send_the_state_already_holds() -> None:
    from orchestrator.state.models import Actor, SendRecord, SendStatus

    send = desired("a")
    saved = a_plan(send)
    record = SendRecord(
        send.key, "a", "prod", send.fingerprint, send.payload, SendStatus.UNKNOWN, None, None, NOW, NOW, Actor("u", "h")
    )
    snapshot = StateSnapshot(LINEAGE, 3, {send.key: record})
    fresh = make_plan([send], snapshot, NOW, environment="prod", business_unit_id="0Uv1")
    assert fresh.changes[0].action is Action.UNKNOWN
    assert binding_problems(saved, fresh, snapshot) == ["a@now: the state already holds it as unknown"]


def test_hml_opt_out_tokens_pass_at_apply_only_where_the_policy_allows_them() -> None:
    send = desired("a", at=NOW + timedelta(days=1))
    payload = {**send.payload, "text_content": "Bye: {{Unsubscribe}}"}
    plan = a_plan(dataclasses.replace(send, payload=payload))
    with pytest.raises(PlanRefused):
        check(plan)  # Pardot's documented tokens only, by default
    check(plan, allow_hml=True)  # policy.allow_hml_unsubscribe: true


def test_the_terminal_plan_never_carries_a_control_character() -> None:
    """A send recorded before control characters were refused must not reach a terminal raw."""
    import io

    from rich.console import Console

    from orchestrator.cli.planview import print_text

    send = desired("a", subject="Sale\x1b[2J now", at=NOW + timedelta(days=1))
    buffer = io.StringIO()
    print_text(a_plan(send), Console(file=buffer, width=200, color_system=None), reveal=True)
    text = buffer.getvalue()
    assert "\x1b" not in text and "Sale\\x1b[2J now" in text
