"""Invariants of the pure template planner (orchestrator/template_plan.py), for any content:
what an apply recorded plans as nothing; a changed file as one update; a change made in
Pardot as drift, whatever the file says; a v4 account as needs-v5 only."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from orchestrator.pardot.templates_v5 import RemoteTemplate
from orchestrator.state.models import TemplateRecord
from orchestrator.template_plan import TemplateAction, plan_templates
from orchestrator.templates_owned import FLAGS, OwnedTemplate, content_fingerprint

text = st.text(min_size=1, max_size=40)


def owned(subject: str, body: str, html: str | None) -> OwnedTemplate:
    return OwnedTemplate(
        name="welcome",
        subject=subject,
        text=body,
        html=html,
        sender_name="Jane",
        sender_email="jane@example.com",
        reply_to=None,
        flags=tuple((flag, flag == "isListEmail") for flag in FLAGS),
        source="templates/welcome.yaml",
    )


def as_held(template: OwnedTemplate, template_id: int = 7) -> RemoteTemplate:
    """What Pardot holds after an apply of ``template`` (the round trip is exact)."""
    return RemoteTemplate(
        id=template_id,
        name=template.name,
        subject=template.subject,
        text=template.text,
        html=template.html,
        sender_name=template.sender_name,
        sender_email=template.sender_email,
        reply_to=template.reply_to,
        flags=template.flags,
        updated_at=None,
    )


def recorded(template: OwnedTemplate) -> TemplateRecord:
    held = as_held(template)
    return TemplateRecord(
        template.name,
        held.id,
        template.fingerprint,
        content_fingerprint(held.content()),
        datetime(2027, 1, 1, tzinfo=UTC),
    )


@given(text, text, st.none() | text)
def test_what_an_apply_recorded_plans_as_nothing(subject: str, body: str, html: str | None) -> None:
    template = owned(subject, body, html)
    [change] = plan_templates([template], {"welcome": recorded(template)}, {"welcome": as_held(template)}, version=5)
    assert change.action is TemplateAction.NOOP and not change.is_change and not change.needs_attention


@given(text, text, text)
def test_a_changed_file_is_one_update_with_the_change_in_its_diff(subject: str, body: str, new_subject: str) -> None:
    before, after = owned(subject, body, None), owned(new_subject, body, None)
    [change] = plan_templates([after], {"welcome": recorded(before)}, {"welcome": as_held(before)}, version=5)
    if subject == new_subject:
        assert change.action is TemplateAction.NOOP
    else:
        assert change.action is TemplateAction.UPDATE and change.template_id == 7
        assert any(line.startswith("+") and new_subject.splitlines()[0] in line for line in change.diff)


@given(text, text, text, text)
def test_a_change_made_in_pardot_is_drift_whatever_the_file_says(
    subject: str, body: str, by_hand: str, in_file: str
) -> None:
    applied = owned(subject, body, None)
    held = as_held(owned(by_hand, body, None))
    [change] = plan_templates(
        [owned(in_file, body, None)], {"welcome": recorded(applied)}, {"welcome": held}, version=5
    )
    if by_hand == subject:
        assert change.action is not TemplateAction.DRIFT
    else:
        assert change.action is TemplateAction.DRIFT and change.needs_attention and not change.is_change


@given(text, text, st.sampled_from([3, 4]))
def test_a_v3_or_v4_account_owns_nothing(subject: str, body: str, version: int) -> None:
    template = owned(subject, body, None)
    [change] = plan_templates([template], {"welcome": recorded(template)}, {}, version=version)
    assert change.action is TemplateAction.NEEDS_V5 and "version: 5" in change.reason


@given(text, text, text)
def test_a_saved_change_vouches_only_for_its_own_content(subject: str, body: str, other: str) -> None:
    """A change read back from a saved plan (no ``desired``, only its fingerprint) vouches for the
    files' change when the content is the same, and for nothing else."""
    from orchestrator.template_plan import template_from_json, template_json, unreviewed_templates

    [fresh] = plan_templates([owned(subject, body, None)], {}, {}, version=5)
    [saved] = [template_from_json(template_json(fresh))]
    assert unreviewed_templates([fresh], [saved]) == []
    [edited] = plan_templates([owned(subject, body + other, None)], {}, {}, version=5)
    assert unreviewed_templates([edited], [saved]) == ["welcome"]
    legacy = template_from_json({k: v for k, v in template_json(fresh).items() if k != "fingerprint"})
    assert unreviewed_templates([fresh], [legacy]) == ["welcome"]  # a plan saved before fingerprints


def test_bind_created_gives_the_created_id_and_the_fingerprint_the_next_plan_computes() -> None:
    from orchestrator.desired import SendKind, fingerprint
    from orchestrator.plan import Action, Change, Plan
    from orchestrator.template_plan import CREATED_FIRST, bind_created, hold_unmade
    from orchestrator.templates_owned import CHECK_ONLY_TEMPLATE_ID

    payload = {"list_ids": [1], "email_template_id": CHECK_ONLY_TEMPLATE_ID}
    change = Change(Action.SEND, "k@now", "mail", SendKind.LIST, None, "UTC", payload, fingerprint(payload))
    other = Change(Action.SEND, "o@now", "other", SendKind.LIST, None, "UTC", payload, fingerprint(payload))
    when = datetime(2027, 1, 1, tzinfo=UTC)
    plan = Plan(
        environment="e",
        business_unit_id="b",
        created_at=when,
        expires_at=when,
        state_lineage=None,
        state_serial=0,
        changes=(change, other),
    )
    settled = hold_unmade(plan, {"mail": "welcome", "other": "gone"}, {"welcome"})
    assert [c.action for c in settled.changes] == [Action.SEND, Action.BLOCKED]
    assert settled.changes[0].labels[CREATED_FIRST] == "welcome"
    bound = bind_created(settled, {"welcome": 4004})
    sent = bound.changes[0]
    assert sent.payload == {"list_ids": [1], "email_template_id": 4004}
    assert sent.fingerprint == fingerprint({"list_ids": [1], "email_template_id": 4004})
    assert CREATED_FIRST not in sent.labels
    unbound = bind_created(settled, {})  # the create did not happen: held, never sent with the placeholder
    assert unbound.changes[0].action is Action.BLOCKED
