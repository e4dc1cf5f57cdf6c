"""Schedules: DST-correct cron, refused gap/overlap times, stable keys."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.cli.main import cli
from orchestrator.desired import ScheduleKind
from orchestrator.schedule import ScheduleError, cron_times, expand, localize, parse_time, utc_iso

NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")


def test_daily_cron_keeps_local_wall_time_across_spring_forward() -> None:
    start = datetime(2027, 3, 12, tzinfo=UTC)
    times = cron_times("0 9 * * *", NY, start, start + timedelta(days=4))
    assert [t.astimezone(NY).hour for t in times] == [9, 9, 9, 9]
    assert [utc_iso(t) for t in times] == [
        "2027-03-12T14:00:00Z",
        "2027-03-13T14:00:00Z",
        "2027-03-14T13:00:00Z",
        "2027-03-15T13:00:00Z",
    ]


def test_daily_cron_keeps_local_wall_time_across_fall_back() -> None:
    start = datetime(2027, 11, 5, tzinfo=UTC)
    times = cron_times("0 9 * * *", NY, start, start + timedelta(days=3))
    assert [utc_iso(t) for t in times] == ["2027-11-05T13:00:00Z", "2027-11-06T13:00:00Z", "2027-11-07T14:00:00Z"]


def test_cron_in_gap_runs_once_at_shifted_time_and_overlap_runs_once() -> None:
    gap = cron_times("30 2 * * *", NY, datetime(2027, 3, 13, 12, tzinfo=UTC), datetime(2027, 3, 15, 12, tzinfo=UTC))
    assert [t.astimezone(NY).strftime("%d %H:%M") for t in gap] == ["14 03:30", "15 02:30"]
    overlap = cron_times("30 1 * * *", NY, datetime(2027, 11, 6, 12, tzinfo=UTC), datetime(2027, 11, 8, 12, tzinfo=UTC))
    assert len(overlap) == 2  # 7 Nov 01:30 happens twice on the wall clock but is sent once


@settings(max_examples=60, deadline=None)
@given(
    start=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2030, 12, 31)),
    hour=st.integers(min_value=4, max_value=23),
    zone=st.sampled_from(["America/New_York", "Europe/Berlin", "Australia/Sydney", "UTC"]),
)
def test_daily_cron_is_always_at_the_local_hour(start: datetime, hour: int, zone: str) -> None:
    tz = ZoneInfo(zone)
    begin = start.replace(tzinfo=UTC)
    times = cron_times(f"0 {hour} * * *", tz, begin, begin + timedelta(days=10))
    assert len(times) in (9, 10, 11)
    assert all(t.astimezone(tz).hour == hour and t.astimezone(tz).minute == 0 for t in times)
    assert times == sorted(set(times))
    assert all(begin < t <= begin + timedelta(days=10) for t in times)


def test_at_with_offset_and_naive_local() -> None:
    assert utc_iso(parse_time("2027-03-01T09:00:00-05:00", BERLIN)) == "2027-03-01T14:00:00Z"
    assert utc_iso(parse_time("2027-03-01T09:00:00", NY)) == "2027-03-01T14:00:00Z"
    assert utc_iso(parse_time("2027-03-01T09:00:00Z", NY)) == "2027-03-01T09:00:00Z"


@pytest.mark.parametrize(
    ("naive", "fragment"),
    [
        (datetime(2027, 3, 14, 2, 30), "does not exist in America/New_York"),
        (datetime(2027, 11, 7, 1, 30), "happens twice in America/New_York"),
    ],
)
def test_gap_and_overlap_are_refused_naming_both_candidates(naive: datetime, fragment: str) -> None:
    with pytest.raises(ScheduleError) as info:
        localize(naive, NY)
    assert fragment in info.value.message
    assert info.value.message.count("2027-") == 3  # the time itself and both candidates


def test_expand_window_start_until_and_horizon() -> None:
    now = datetime(2027, 1, 4, 0, 0, tzinfo=UTC)  # a Monday
    sched: dict[str, object] = {
        "cron": "0 9 * * MON",
        "timezone": "Europe/Berlin",
        "start": "2027-01-10T00:00:00",
        "until": "2027-02-01T00:00:00",
        "horizon": "60d",
    }
    occ = expand(sched, NY, now)
    assert [utc_iso(o.at) for o in occ if o.at] == [
        "2027-01-11T08:00:00Z",
        "2027-01-18T08:00:00Z",
        "2027-01-25T08:00:00Z",
    ]
    assert [o.index for o in occ] == [0, 1, 2]
    assert expand({"now": True}, NY, now)[0].at is None
    assert expand(None, NY, now)[0].at is None


def test_expand_says_which_kind_of_schedule_each_occurrence_comes_from() -> None:
    """The one reader of a schedule is ``expand``: later stages take the kind from it."""
    now = datetime(2027, 1, 1, tzinfo=UTC)
    assert {o.kind for o in expand({"cron": "0 9 * * *"}, NY, now)} == {ScheduleKind.CRON}
    assert [o.kind for o in expand({"at": "2027-02-01T09:00:00"}, NY, now)] == [ScheduleKind.AT]
    assert [o.kind for o in expand({"now": True}, NY, now)] == [ScheduleKind.NOW]
    assert [o.kind for o in expand(None, NY, now)] == [ScheduleKind.NOW]


def test_lookback_includes_recent_past_occurrences() -> None:
    now = datetime(2027, 1, 6, 0, 0, tzinfo=UTC)
    occ = expand({"cron": "0 9 * * *", "timezone": "UTC", "horizon": "1d"}, NY, now, lookback=timedelta(days=2))
    assert [utc_iso(o.at) for o in occ if o.at] == [
        "2027-01-04T09:00:00Z",
        "2027-01-05T09:00:00Z",
        "2027-01-06T09:00:00Z",
    ]


def test_too_many_occurrences_is_refused() -> None:
    now = datetime(2027, 1, 1, tzinfo=UTC)
    with pytest.raises(ScheduleError, match="more than"):
        expand({"cron": "* * * * *", "horizon": "7d"}, NY, now)


@pytest.mark.parametrize(
    ("schedule", "fragment"),
    [
        ({"cron": "0 9 31 4 *"}, "never matches"),
        ({"cron": "0 0 30 2 *"}, "never matches"),
        ({"at": "9999-12-31T23:59:59-05:00"}, "out of the supported range"),
        ({"cron": "0 9 * * *", "start": "9999-12-31T23:00:00"}, "out of the supported range"),
        ({"cron": "0 9 * * *", "horizon": "99999w"}, "at most 366 days"),
    ],
)
def test_impossible_schedules_are_clean_errors(schedule: dict[str, object], fragment: str) -> None:
    with pytest.raises(ScheduleError, match=fragment):
        expand(schedule, NY, datetime(2027, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    ("expr", "says"),
    [
        ("0 9 * * MONDAY", "'MONDAY' is not a cron weekday name; use the three-letter names SUN, MON, TUE"),
        ("0 9 * JANUARY MON", "'JANUARY' is not a cron month name"),
        ("0 25 * * MON", "hour 0-23"),
    ],
)
def test_an_invalid_cron_expression_says_why(expr: str, says: str) -> None:
    from orchestrator.schedule import ScheduleError, cron_times

    start = datetime(2027, 1, 1, tzinfo=UTC)
    with pytest.raises(ScheduleError) as caught:
        cron_times(expr, ZoneInfo("UTC"), start, start + timedelta(days=7))
    assert says in caught.value.message


# -- the ends of the calendar (issue 17: OverflowError tracebacks in validate and plan) ---------

TOKYO = ZoneInfo("Asia/Tokyo")
LA = ZoneInfo("America/Los_Angeles")


@pytest.mark.parametrize(
    "schedule",
    [
        {"cron": "0 9 * * *", "timezone": "UTC", "start": "0001-01-01T00:00:00"},
        {"cron": "0 9 * * *", "timezone": "America/Los_Angeles", "start": "0001-01-01T00:00:00"},
        {"cron": "0 9 * * *", "timezone": "Asia/Tokyo", "until": "9999-12-31T23:59:59"},
        {"cron": "0 9 * * *", "until": "9999-12-31T23:59:59+14:00"},
    ],
)
def test_a_window_edge_at_the_end_of_the_calendar_is_no_limit(schedule: dict[str, object]) -> None:
    now = datetime(2027, 1, 1, tzinfo=UTC)
    occurrences = expand(schedule, NY, now, lookback=timedelta(days=1), horizon_override=timedelta(days=2))
    assert len(occurrences) in (2, 3)  # the two (or three, with the lookback) daily sends around now
    assert all(o.at is not None and now - timedelta(days=1) < o.at <= now + timedelta(days=2) for o in occurrences)


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("until", "9999-12-31T23:59:59", "leave `until` out for a schedule without an end"),
        ("start", "9999-12-31T23:59:59-12:00", "leave `start` out to begin now"),
        ("start", "0001-01-01T00:00:00+05:00", "years 1 to 9999 in UTC"),
    ],
)
def test_a_time_outside_the_calendar_in_utc_is_a_located_error(field: str, value: str, fragment: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        expand({"cron": "0 9 * * *", field: value}, NY, datetime(2027, 1, 1, tzinfo=UTC))
    assert caught.value.field == field
    assert "out of the supported range of dates" in caught.value.message
    assert fragment in caught.value.message


@pytest.mark.parametrize(
    ("now", "zone"),
    [
        (datetime(1, 1, 1, tzinfo=UTC), LA),  # lookback and the DST margin reach before year 1
        (datetime(1, 1, 1, 5, tzinfo=UTC), TOKYO),
        (datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC), LA),  # the horizon reaches past 9999
        (datetime(9999, 12, 25, tzinfo=UTC), TOKYO),
    ],
)
def test_now_at_either_end_of_the_calendar_expands_without_overflow(now: datetime, zone: ZoneInfo) -> None:
    schedule: dict[str, object] = {"cron": "0 9 * * *", "timezone": zone.key}
    occurrences = expand(schedule, NY, now, lookback=timedelta(days=3), horizon_override=timedelta(days=30))
    assert all(o.at is not None and o.at.astimezone(zone).hour == 9 for o in occurrences)


def test_keys_write_four_digit_years() -> None:
    assert utc_iso(datetime(1, 1, 1, tzinfo=UTC)) == "0001-01-01T00:00:00Z"  # strftime gave "1-01-01..."
    assert utc_iso(datetime(2027, 3, 1, 9, 0, 0, 999_999, tzinfo=NY)) == "2027-03-01T14:00:00Z"


def test_plan_of_a_cron_starting_in_year_one_shows_the_sends(tmp_path: Path) -> None:
    """Through the CLI, as reported: `plan` ended in an OverflowError traceback."""
    root = tmp_path / "project"
    assert CliRunner().invoke(cli, ["init", str(root)]).exit_code == 0
    campaign = root / "campaigns" / "welcome.yaml"
    schedule = 'schedule: {cron: "0 9 * * *", start: "0001-01-01T00:00:00"}'
    campaign.write_text(re.sub(r"(?m)^schedule: .*$", schedule, campaign.read_text()))
    result = CliRunner().invoke(cli, ["--project", str(root), "plan", "--now", "2027-01-01T00:00:00Z"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 0, result.output
    assert "welcome@2027-01-01T09:00:00Z" in result.output
