"""orchestrator.stats: which sends count, gathering from a real (in-process) sandbox, adding up."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import tenacity
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.errors import ApiAuthError, StateError
from orchestrator.pardot.client import PardotClient
from orchestrator.pardot.models import EmailStats, ListEmailSend, OneToOneSend
from orchestrator.pardot.settings import ApiSettings, StaticTokenAuth
from orchestrator.sandbox import SANDBOX_BASE_URL, SANDBOX_BUSINESS_UNIT, SANDBOX_TOKEN, SandboxApp, inprocess_transport
from orchestrator.sandbox.stats import Counts, stats_body
from orchestrator.state.models import Actor, SendRecord, SendStatus
from orchestrator.stats import (
    COUNT_FIELDS,
    RATE_FIELDS,
    ROW_FIELDS,
    SentEmail,
    StatsRow,
    campaign_totals,
    check_campaigns,
    combine,
    gather_stats,
    row_to_dict,
    sent_emails,
)

T0 = datetime(2027, 3, 1, 14, 0, tzinfo=UTC)
WHO = Actor(user="tester", host="ci")


def record(key: str, *, campaign: str = "spring", status: SendStatus = SendStatus.SENT, email_id: int | None = 1,
           scheduled: datetime | None = None, created: datetime = T0, one_to_one: bool = False) -> SendRecord:
    payload: dict[str, Any] = {"prospect_id": 1234} if one_to_one else {"list_ids": [2001]}
    return SendRecord(key=key, campaign=campaign, environment="sandbox", fingerprint="f", payload=payload,
                      status=status, email_id=email_id, scheduled_time=scheduled, created_at=created,
                      updated_at=created + timedelta(hours=5), applied_by=WHO)


# --- which sends count ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "email_id", "counted"),
    [
        (SendStatus.SENT, 7, True),
        (SendStatus.SCHEDULED, 7, True),
        (SendStatus.SENT, None, False),  # no Pardot email to ask about
        (SendStatus.INTENT, 7, False),
        (SendStatus.UNKNOWN, 7, False),
        (SendStatus.FAILED, 7, False),
        (SendStatus.NOT_SENT, 7, False),
    ],
)
def test_only_sent_or_scheduled_sends_with_an_email_id_count(status: SendStatus, email_id: int | None,
                                                              counted: bool) -> None:
    chosen = sent_emails([record("a@x", status=status, email_id=email_id)])
    assert [e.key for e in chosen] == (["a@x"] if counted else [])


def test_send_time_is_the_schedule_else_the_first_record_and_rows_are_in_time_order() -> None:
    later = T0 + timedelta(days=3)
    records = [
        record("late@x", scheduled=later, email_id=2),
        record("now-one/1234", created=T0, email_id=1, one_to_one=True),
        record("other@x", campaign="autumn", scheduled=T0 - timedelta(days=1), email_id=3),
    ]
    chosen = sent_emails(records)
    assert [(e.key, e.sent_at, e.kind) for e in chosen] == [
        ("other@x", T0 - timedelta(days=1), "list"),
        ("now-one/1234", T0, "one-to-one"),  # created_at, not updated_at (which moves on resolve/accept)
        ("late@x", later, "list"),
    ]
    assert [e.key for e in sent_emails(records, ["spring"])] == ["now-one/1234", "late@x"]
    assert sent_emails(records, []) == []


def test_unknown_campaign_names_are_refused_known_but_unsent_are_not() -> None:
    records = [record("a@x", campaign="spring"), record("b@x", campaign="quiet", status=SendStatus.FAILED)]
    check_campaigns(records, ["spring", "quiet"])
    with pytest.raises(StateError, match="campaign\\(s\\) nope, typo") as caught:
        check_campaigns(records, ["spring", "typo", "nope"])
    assert "state list" in str(caught.value)


# --- gathering from the sandbox -------------------------------------------------------------


def sandbox_client(app: SandboxApp, token: str = SANDBOX_TOKEN) -> PardotClient:
    settings = ApiSettings(base_url=SANDBOX_BASE_URL, business_unit_id=SANDBOX_BUSINESS_UNIT,
                           auth=StaticTokenAuth(token), allow_insecure=True)
    return PardotClient(settings, transport=inprocess_transport(app), env={}, retry_wait=tenacity.wait_none())


@pytest.fixture
def sandbox() -> Iterator[SandboxApp]:
    app = SandboxApp()
    yield app
    app.close()


@pytest.fixture
def sent(sandbox: SandboxApp) -> list[SentEmail]:
    """A list email and a one-to-one email really sent through the sandbox."""
    with sandbox_client(sandbox) as client:
        listed = client.send_list_email(ListEmailSend(campaign_id=1001, list_ids=(2001,), email_template_id=4001))
        single = client.send_one_to_one(OneToOneSend(campaign_id=1001, prospect_id=1234, email_template_id=4001))
    return [SentEmail("spring", "spring@now", listed.id, "list", "sent", T0),
            SentEmail("follow", "follow/1234", single.id, "one-to-one", "sent", T0 + timedelta(hours=1))]


def test_gather_joins_each_send_with_its_statistics(sandbox: SandboxApp, sent: list[SentEmail]) -> None:
    with sandbox_client(sandbox) as client:
        result = gather_stats(sent, client.email_stats)
        expected = [client.email_stats(sent[0].email_id)]
    assert [row.email for row in result.rows] == sent[:1]
    assert [row.stats for row in result.rows] == expected
    assert result.rows[0].stats.sent > 1
    # Pardot documents statistics for list emails only: the one-to-one send is skipped, with why.
    assert [s.email for s in result.skipped] == sent[1:]
    assert "109" in result.skipped[0].reason


def test_an_email_pardot_does_not_know_is_skipped_with_its_reason(sandbox: SandboxApp, sent: list[SentEmail]) -> None:
    ghost = SentEmail("gone", "gone@now", 987654, "one-to-one", "sent", T0)
    with sandbox_client(sandbox) as client:
        result = gather_stats([sent[0], ghost, sent[1]], client.email_stats)
    assert [row.email for row in result.rows] == sent[:1]
    assert [s.email for s in result.skipped] == [ghost, sent[1]]
    assert "109" in result.skipped[0].reason


def test_refused_credentials_fail_the_run_instead_of_skipping(sandbox: SandboxApp, sent: list[SentEmail]) -> None:
    with sandbox_client(sandbox, token="wrong") as client, pytest.raises(ApiAuthError):
        gather_stats(sent, client.email_stats)


def test_concurrent_gathering_keeps_the_order(sandbox: SandboxApp, sent: list[SentEmail]) -> None:
    many = [dataclasses.replace(sent[i % 2], key=f"k{i}") for i in range(12)]
    with sandbox_client(sandbox) as client:
        serial = gather_stats(many, client.email_stats)
        parallel = gather_stats(many, client.email_stats, max_workers=5)
    assert parallel == serial and len(parallel.rows) == 6 and len(parallel.skipped) == 6


# --- adding up ------------------------------------------------------------------------------

counts = st.fixed_dictionaries({name: st.integers(min_value=0, max_value=10**7) for name in COUNT_FIELDS})


def stats_of(c: dict[str, Any]) -> EmailStats:
    # Rates deliberately wrong: combine must recompute them from the counts.
    return EmailStats(**c, delivery_rate=-1.0, opens_rate=-1.0, click_through_rate=-1.0,
                      unique_click_through_rate=-1.0, click_open_ratio=-1.0, opt_out_rate=-1.0,
                      spam_complaint_rate=-1.0)


@given(counts)
def test_combined_rates_match_the_sandbox_definition_of_each_rate(c: dict[str, int]) -> None:
    """An independent implementation (the sandbox's) must agree on every rate, to the cent."""
    combined = combine([stats_of(c)])
    body = stats_body(Counts(**c))
    for name in RATE_FIELDS:
        assert getattr(combined, name) == float(str(body[name]).rstrip("%")), name
    assert all(getattr(combined, name) == c[name] for name in COUNT_FIELDS)


@given(st.lists(counts, max_size=6))
def test_combine_adds_counts_and_ignores_order(items: list[dict[str, int]]) -> None:
    combined = combine(stats_of(c) for c in items)
    for name in COUNT_FIELDS:
        assert getattr(combined, name) == sum(c[name] for c in items)
    assert combine(stats_of(c) for c in reversed(items)) == combined


@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), counts), max_size=8))
def test_campaign_totals_partition_the_rows(items: list[tuple[str, dict[str, int]]]) -> None:
    rows = [StatsRow(SentEmail(name, f"{name}@{i}", i + 1, "list", "sent", T0), stats_of(c))
            for i, (name, c) in enumerate(items)]
    totals = campaign_totals(rows)
    assert [t.campaign for t in totals] == sorted({name for name, _ in items})
    assert sum(t.sends for t in totals) == len(rows)
    assert combine(t.stats for t in totals) == combine(r.stats for r in rows)


def test_row_dict_has_the_documented_columns_and_masks_through_show() -> None:
    row = StatsRow(SentEmail("follow", "follow/jane@example.com", 5, "one-to-one", "sent", T0), stats_of(
        dict.fromkeys(COUNT_FIELDS, 2)))
    data = row_to_dict(row, show=lambda s: s.replace("jane", "j***"))
    assert tuple(data) == ROW_FIELDS
    assert data["key"] == "follow/j***@example.com" and data["sent_at"] == "2027-03-01T14:00:00+00:00"
    assert isinstance(data["delivery_rate"], float) and data["sent"] == 2
