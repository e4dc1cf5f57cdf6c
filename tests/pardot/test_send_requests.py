"""Level 1: send requests validate locally and become exactly the documented parameters."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.errors import ApiValidationError
from orchestrator.pardot.models import ListEmailSend, OneToOneSend

TEXT = "Hi %%unsubscribe%%"


@pytest.mark.parametrize(
    "fields",
    [
        {"email_template_id": 6789},
        {"text_content": TEXT, "name": "n", "subject": "s", "from_email": "a@x.io", "from_name": "A"},
        {"text_content": TEXT, "name": "n", "subject": "s", "from_user_id": 5},
    ],
    ids=["template", "from-email-and-name", "from-user-id"],
)
def test_each_of_the_three_required_field_combinations_is_enough(fields: dict[str, Any]) -> None:
    ListEmailSend(campaign_id=1, list_ids=(2,), **fields).validate()
    OneToOneSend(campaign_id=1, prospect_id=3, **fields).validate()


@pytest.mark.parametrize(
    ("fields", "missing"),
    [
        ({}, "text_content, name, subject, from_email + from_name (or from_user_id)"),
        ({"text_content": TEXT, "name": "n", "subject": "s"}, "from_email + from_name (or from_user_id)"),
        ({"text_content": TEXT, "name": "n", "subject": "s", "from_email": "a@x.io"}, "from_name (or"),
        ({"name": "n", "subject": "s", "from_user_id": 5}, "missing text_content"),
        ({"text_content": TEXT, "subject": "s", "from_user_id": 5}, "missing name"),
        ({"text_content": TEXT, "name": "", "subject": "s", "from_user_id": 5}, "missing name"),
        ({"text_content": TEXT, "name": "n", "from_user_id": 5}, "missing subject"),
    ],
)
def test_incomplete_sends_are_refused_locally_with_code_none(fields: dict[str, Any], missing: str) -> None:
    for send in (
        ListEmailSend(campaign_id=1, list_ids=(2,), **fields),
        OneToOneSend(campaign_id=1, prospect_email="p@x.io", **fields),
    ):
        with pytest.raises(ApiValidationError) as caught:
            send.to_params()
        assert caught.value.code is None
        assert missing in str(caught.value)


def test_list_send_needs_a_list() -> None:
    with pytest.raises(ApiValidationError, match="list_ids"):
        ListEmailSend(campaign_id=1, list_ids=(), email_template_id=3).to_params()


@pytest.mark.parametrize("who", [{}, {"prospect_id": 1, "prospect_email": "a@x.io"}], ids=["neither", "both"])
def test_one_to_one_needs_exactly_one_prospect(who: dict[str, Any]) -> None:
    with pytest.raises(ApiValidationError, match="exactly one of prospect_id or prospect_email"):
        OneToOneSend(campaign_id=1, email_template_id=3, **who).to_params()


def test_naive_schedule_is_refused() -> None:
    send = ListEmailSend(campaign_id=1, list_ids=(2,), email_template_id=3, scheduled_time=datetime(2027, 3, 1, 14))
    with pytest.raises(ApiValidationError, match="no time zone"):
        send.to_params()


def test_list_send_params_carry_every_seed_parameter() -> None:
    send = ListEmailSend(
        campaign_id=77,
        list_ids=(10, 11),
        name="Autumn",
        subject="News",
        text_content=TEXT,
        html_content="<a href='%%unsubscribe%%'>u</a>",
        email_template_id=6789,
        from_name="Team",
        from_email="team@example.com",
        from_user_id=5,
        from_assigned_user=True,
        from_account_owner=True,
        replyto_email="reply@example.com",
        suppression_list_ids=(20, 21),
        tags=("autumn", "2026"),
        operational_email=True,
        scheduled_time=datetime(2027, 3, 1, 10, tzinfo=timezone(timedelta(hours=-4))),
    )
    assert send.to_params() == [
        ("campaign_id", "77"),
        ("list_ids[]", "10"),
        ("list_ids[]", "11"),
        ("suppression_list_ids[]", "20"),
        ("suppression_list_ids[]", "21"),
        ("email_template_id", "6789"),
        ("name", "Autumn"),
        ("subject", "News"),
        ("text_content", TEXT),
        ("html_content", "<a href='%%unsubscribe%%'>u</a>"),
        ("from_name", "Team"),
        ("from_email", "team@example.com"),
        ("from_user_id", "5"),
        ("replyto_email", "reply@example.com"),
        ("from_assigned_user", "true"),
        ("from_account_owner", "true"),
        ("operational_email", "true"),
        ("tags[]", "autumn"),
        ("tags[]", "2026"),
        ("scheduled_time", "2027-03-01T10:00:00-04:00"),
    ]


def test_false_flags_and_absent_values_are_not_sent() -> None:
    params = ListEmailSend(campaign_id=1, list_ids=(2,), email_template_id=3).to_params()
    assert params == [("campaign_id", "1"), ("list_ids[]", "2"), ("email_template_id", "3")]


def test_one_to_one_params_leave_the_prospect_to_the_path() -> None:
    send = OneToOneSend(campaign_id=1, prospect_email="jane@example.com", email_template_id=3, tags=("t",))
    assert send.to_params() == [("campaign_id", "1"), ("email_template_id", "3"), ("tags[]", "t")]


@given(
    list_ids=st.lists(st.integers(1, 10**9), min_size=1, max_size=5),
    suppressions=st.lists(st.integers(1, 10**9), max_size=5),
    tags=st.lists(st.text(min_size=1, max_size=10), max_size=5),
)
def test_repeated_parameters_keep_every_value_in_order(
    list_ids: list[int], suppressions: list[int], tags: list[str]
) -> None:
    params = ListEmailSend(
        campaign_id=1,
        list_ids=tuple(list_ids),
        suppression_list_ids=tuple(suppressions),
        tags=tuple(tags),
        email_template_id=3,
    ).to_params()
    assert [v for k, v in params if k == "list_ids[]"] == [str(i) for i in list_ids]
    assert [v for k, v in params if k == "suppression_list_ids[]"] == [str(i) for i in suppressions]
    assert [v for k, v in params if k == "tags[]"] == tags
