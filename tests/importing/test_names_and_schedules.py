"""How an imported email's name and times become the campaign file's name and schedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from orchestrator.importing import campaign_name, schedule_of

AT = datetime(2027, 3, 1, 14, 0)


@pytest.mark.parametrize(
    ("email_name", "expected"),
    [
        ("spring-sale@2027-03-01T14:00:00Z", "spring-sale"),
        ("spring-sale@now", "spring-sale"),
        ("Spring Sale!", "spring-sale"),
        ("  Ünïcode — news 2027 ", "n-code-news-2027"),
        ("***", "email-7"),
        ("x" * 100, "x" * 80),
    ],
)
def test_campaign_name(email_name: str, expected: str) -> None:
    assert campaign_name(email_name, 7) == expected


@pytest.mark.parametrize(
    ("email_name", "scheduled", "expected"),
    [
        ("spring-sale@2027-03-01T14:00:00Z", None, {"at": "2027-03-01T14:00:00Z"}),
        ("spring-sale@2027-03-01T14:00:00Z", AT + timedelta(hours=5), {"at": "2027-03-01T14:00:00Z"}),  # the key wins
        ("spring-sale@now", AT, {"now": True}),
        ("Spring news", None, {"now": True}),
        ("Spring news", AT.replace(tzinfo=timezone(timedelta(hours=-5))), {"at": "2027-03-01T19:00:00Z"}),
        ("Spring news", AT.replace(tzinfo=UTC), {"at": "2027-03-01T14:00:00Z"}),
        ("Spring news", AT, {"at": "2027-03-01T14:00:00"}),  # naive: the account's zone, read in the project's
    ],
)
def test_schedule_of(email_name: str, scheduled: datetime | None, expected: dict[str, object]) -> None:
    assert schedule_of(email_name, scheduled, None) == expected
