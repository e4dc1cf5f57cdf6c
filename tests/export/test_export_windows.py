"""--split windows: each under a year, and every whole second of the range in exactly one."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.export.request import build_request, one_year_after
from orchestrator.export.windows import SEAM_OVERLAP, SPLIT_STEP, Window, split_request, split_windows

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
PARIS = ZoneInfo("Europe/Paris")


def _utc(instant: datetime) -> datetime:
    return instant.astimezone(UTC)


def _contains(window: Window, t: datetime, end: datetime) -> bool:
    """Pardot's exclusive bounds; an open window ends at ``end`` (the creation time)."""
    upper = window.before if window.before is not None else end
    return _utc(window.after) < _utc(t) < _utc(upper)


whole_seconds = st.integers(min_value=0, max_value=12 * 366 * 86400)


@given(
    start=st.integers(min_value=1_500_000_000, max_value=1_900_000_000),
    length=st.integers(min_value=2, max_value=12 * 366 * 86400),
    open_ended=st.booleans(),
    probes=st.lists(whole_seconds, min_size=1, max_size=20),
)
def test_every_whole_second_falls_in_exactly_one_window(
    start: int, length: int, open_ended: bool, probes: list[int]
) -> None:
    after = datetime.fromtimestamp(start, PARIS)
    end = datetime.fromtimestamp(start + length, PARIS)
    windows = split_windows(after, None if open_ended else end, now=end)
    for offset in probes:
        # strictly inside (after, end), built from epoch seconds so DST folds are exact
        t = datetime.fromtimestamp(start + 1 + offset % (length - 1), PARIS)
        assert sum(_contains(w, t, end) for w in windows) == 1, (t, windows)


@given(
    start=st.integers(min_value=1_500_000_000, max_value=1_900_000_000),
    length=st.integers(min_value=1, max_value=20 * 366 * 86400),
)
def test_windows_are_consecutive_under_a_year_and_overlap_by_one_second(
    start: int, length: int
) -> None:
    after = datetime.fromtimestamp(start, PARIS)
    before = datetime.fromtimestamp(start + length, PARIS)
    windows = split_windows(after, before, now=before)
    assert windows[0].after == after
    assert windows[-1].before == before
    # Differences in UTC: same-zone datetimes subtract by wall clock, ignoring DST folds.
    for window in windows:
        assert window.before is not None
        assert _utc(window.before) - _utc(window.after) <= SPLIT_STEP
        assert _utc(window.before) <= _utc(one_year_after(window.after, PARIS))
    for left, right in itertools.pairwise(windows):
        assert left.before is not None
        assert _utc(left.before) - _utc(right.after) == SEAM_OVERLAP


def test_a_range_that_fits_is_one_window_unchanged() -> None:
    after = datetime(2026, 1, 1, tzinfo=PARIS)
    assert split_windows(after, None, now=after + SPLIT_STEP) == [Window(after, None)]


def test_three_years_split_into_known_windows() -> None:
    after = datetime(2023, 1, 1, tzinfo=UTC)
    before = datetime(2026, 1, 1, tzinfo=UTC)
    windows = split_windows(after, before, now=NOW)
    assert [(w.after.isoformat(), w.before.isoformat() if w.before else None) for w in windows] == [
        ("2023-01-01T00:00:00+00:00", "2023-12-31T00:00:00+00:00"),
        ("2023-12-30T23:59:59+00:00", "2024-12-28T23:59:59+00:00"),
        ("2024-12-28T23:59:58+00:00", "2025-12-27T23:59:58+00:00"),
        ("2025-12-27T23:59:57+00:00", "2026-01-01T00:00:00+00:00"),
    ]


def test_split_request_rewrites_only_the_range_arguments() -> None:
    request = build_request("listMembership", "filter_by_updated_at",
                            [("updated_after", "2024-06-01"), ("deleted", "all")],
                            ["id", "list_id"], now=NOW, tz=PARIS, allow_long_range=True)
    parts = split_request(request, now=NOW, tz=PARIS)
    assert [p.wire_arguments for p in parts] == [
        {"updated_after": "2024-06-01T00:00:00+02:00", "deleted": "all",
         "updated_before": "2025-05-31T00:00:00+02:00"},
        {"updated_after": "2025-05-30T23:59:59+02:00", "deleted": "all",
         "updated_before": "2026-05-29T23:59:59+02:00"},
        # the last window stays open-ended, as the user asked: no updated_before
        {"updated_after": "2026-05-29T23:59:58+02:00", "deleted": "all"},
    ]
    assert all(p.fields == ("id", "list_id") for p in parts)
    assert parts[-1].date_range.before is None


def test_split_request_keeps_a_short_request_and_its_keyword() -> None:
    request = build_request("prospect", "filter_by_updated_at", [("updated_after", "last_month")],
                            None, now=NOW, tz=PARIS, allow_long_range=True)
    assert split_request(request, now=NOW, tz=PARIS) == [request]


def test_step_must_exceed_the_overlap() -> None:
    with pytest.raises(ValueError, match="step"):
        split_windows(NOW, None, now=NOW, step=SEAM_OVERLAP)
