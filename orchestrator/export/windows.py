"""Cutting a date range longer than a year into consecutive windows, one export each (``--split``).

The seams.  Pardot compares with exclusive bounds: a window selects ``after < t < before``.
Back-to-back windows ``(a, b)`` and ``(b, c)`` would therefore both miss a record stamped
exactly ``b``.  Pardot timestamps have whole-second precision, so each window after the first
starts one second *before* the previous one ends: ``(a, b)`` then ``(b - 1s, c)``.  For a
whole-second ``t``: ``t < b`` or ``t > b - 1s`` always holds (no record is lost), and both hold
only for ``b - 1s < t < b``, which holds no whole second (no record is counted twice).  If a
source ever carried sub-second stamps, a record in that one-second sliver would be exported by
both windows; the merge drops the second copy by ``id``, so the output still has it once.

Window length.  Each window spans :data:`SPLIT_STEP` = 364 days (52 weeks): under one year by
any reckoning (365 or 366 days, or the calendar rule in request.py), so no window can trip the
API's one-year check even if the server counts a year as 365 days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from orchestrator.export.dates import ResolvedDate, format_instant
from orchestrator.export.request import DateRange, ExportRequest

SPLIT_STEP = timedelta(days=364)
SEAM_OVERLAP = timedelta(seconds=1)


@dataclass(frozen=True)
class Window:
    """One export's bounds, both exclusive; ``before`` None is open-ended (up to creation time)."""

    after: datetime
    before: datetime | None


def split_windows(
    after: datetime, before: datetime | None, *, now: datetime, step: timedelta = SPLIT_STEP
) -> list[Window]:
    """Consecutive windows covering ``(after, before)`` (``before`` None: up to ``now``, and the
    last window stays open-ended so it also catches what arrives before the export runs).

    A range that already fits in ``step`` comes back as one window, unchanged.
    """
    if step <= SEAM_OVERLAP:
        raise ValueError("step must be longer than the one-second seam overlap")
    # Arithmetic in UTC: adding a timedelta to an aware local time moves the wall clock, which
    # across a DST change is not the same as moving the instant.
    zone = after.tzinfo
    end = (before if before is not None else now).astimezone(UTC)
    windows: list[Window] = []
    start = after.astimezone(UTC)
    while start + step < end:
        stop = start + step
        windows.append(Window(start.astimezone(zone), stop.astimezone(zone)))
        start = stop - SEAM_OVERLAP
    windows.append(Window(start.astimezone(zone), before))
    return windows


def split_request(request: ExportRequest, *, now: datetime, tz: ZoneInfo) -> list[ExportRequest]:
    """One request per window; a request whose range fits one window is returned as is
    (so API keywords like ``last_month`` still reach the API unchanged)."""
    span = request.date_range
    windows = split_windows(
        span.after.instant,
        span.before.instant if span.before is not None else None,
        now=now.astimezone(tz),
    )
    if len(windows) == 1:
        return [request]
    return [_window_request(request, window) for window in windows]


def _window_request(request: ExportRequest, window: Window) -> ExportRequest:
    span = request.date_range
    after = _resolved(window.after)
    updated = request.with_arguments([(span.after_arg, after.wire)])
    before: ResolvedDate | None = None
    if window.before is None:
        updated = updated.without_argument(span.before_arg)
    else:
        before = _resolved(window.before)
        updated = updated.with_arguments([(span.before_arg, before.wire)])
    return ExportRequest(
        updated.object,
        updated.procedure,
        updated.arguments,
        updated.fields,
        DateRange(span.after_arg, span.before_arg, after, before),
    )


def _resolved(instant: datetime) -> ResolvedDate:
    wire = format_instant(instant)
    return ResolvedDate(wire, wire, instant, False)
