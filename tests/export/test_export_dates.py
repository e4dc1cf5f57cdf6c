"""Date arguments: every documented form resolves as the table in dates.py says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.errors import ExportError
from orchestrator.export.dates import API_KEYWORDS, resolve_date

CASES = Path(__file__).parent / "cases"
VALID = yaml.safe_load((CASES / "dates_valid.yaml").read_text(encoding="utf-8"))
INVALID = yaml.safe_load((CASES / "dates_invalid.yaml").read_text(encoding="utf-8"))
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
PARIS = ZoneInfo("Europe/Paris")


@pytest.mark.parametrize("case", VALID["cases"], ids=lambda c: c["text"])
def test_accepted_form_resolves_to_the_documented_instant(case: dict[str, str]) -> None:
    now = datetime.fromisoformat(VALID["now"])
    resolved = resolve_date(case["text"], now=now, tz=ZoneInfo(VALID["tz"]))
    assert resolved.instant.isoformat() == case["instant"]
    # Keywords travel as typed; everything else is sent resolved, ISO-8601 with offset.
    assert resolved.wire == case.get("wire", case["instant"])
    assert resolved.is_keyword == ("wire" in case)


@pytest.mark.parametrize("text", INVALID)
def test_unreadable_date_is_refused_with_the_accepted_forms(text: str) -> None:
    with pytest.raises(ExportError) as caught:
        resolve_date(text, now=NOW, tz=PARIS)
    assert f"cannot read {text!r} as a date" in str(caught.value)
    assert "last_7_days" in str(caught.value)
    assert "docs/export-dates.md" in str(caught.value)


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="aware"):
        resolve_date("today", now=datetime(2026, 1, 1), tz=PARIS)


def test_the_same_words_resolve_against_the_given_now_not_a_clock() -> None:
    later = NOW + timedelta(days=40)
    assert resolve_date("today", now=later, tz=PARIS).instant.date().isoformat() == "2027-01-06"


def test_project_time_zone_decides_the_day() -> None:
    # 23:30 UTC on the 27th is already the 28th in Tokyo.
    late = datetime(2026, 11, 27, 23, 30, tzinfo=UTC)
    tokyo = resolve_date("today", now=late, tz=ZoneInfo("Asia/Tokyo"))
    assert tokyo.instant.isoformat() == "2026-11-28T00:00:00+09:00"


instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
)
zones = st.sampled_from([ZoneInfo(z) for z in ("UTC", "Europe/Paris", "America/New_York",
                                                 "Asia/Kolkata", "Australia/Lord_Howe")])


@given(now=instants, tz=zones)
def test_keywords_are_day_starts_not_after_now(now: datetime, tz: ZoneInfo) -> None:
    for keyword in API_KEYWORDS:
        resolved = resolve_date(keyword, now=now, tz=tz)
        assert resolved.wire == keyword
        assert resolved.instant <= now
        local = resolved.instant.astimezone(tz)
        # The day's first instant: midnight, or just after it where a DST gap swallows midnight.
        assert local.hour <= 1
        assert (local.minute, local.second) in ((0, 0), (30, 0))


@given(now=instants, tz=zones, days=st.integers(min_value=1, max_value=3000))
def test_days_ago_is_before_now_and_round_trips_through_the_wire(
    now: datetime, tz: ZoneInfo, days: int
) -> None:
    resolved = resolve_date(f"{days} days ago", now=now, tz=tz)
    assert resolved.instant < now
    # What is sent reads back as the same instant: the wire form loses nothing.
    # Compared as timestamps: PEP 495 makes an ambiguous local time (the repeated hour of a fall-back)
    # unequal to every time in another zone, even the same instant.
    assert datetime.fromisoformat(resolved.wire).timestamp() == resolved.instant.timestamp()
    assert resolved.instant.microsecond == 0


@given(now=instants, tz=zones, weekday=st.sampled_from(
    ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]))
def test_last_and_next_weekday_bracket_today(now: datetime, tz: ZoneInfo, weekday: str) -> None:
    today = now.astimezone(tz).date()
    last = resolve_date(f"last {weekday}", now=now, tz=tz).instant.astimezone(tz).date()
    nxt = resolve_date(f"next {weekday}", now=now, tz=tz).instant.astimezone(tz).date()
    assert 1 <= (today - last).days <= 7
    assert 1 <= (nxt - today).days <= 7
    assert last.strftime("%A").lower() == weekday == nxt.strftime("%A").lower()
