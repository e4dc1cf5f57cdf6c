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
