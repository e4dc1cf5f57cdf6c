"""Turning a campaign's ``schedule`` into concrete send times (pure: ``now`` is a parameter).

Times are computed in the campaign's IANA zone and stored in UTC.  A local time that does not
exist (spring-forward gap) or exists twice (fall-back overlap) is refused for ``at:`` with both
candidates named, because guessing could send an hour early or late.  For ``cron:`` the
expression is walked in local wall-clock time, so ``0 9 * * *`` stays at 09:00 local on both
sides of a DST change; an occurrence inside a gap runs at the shifted wall time (as cron does)
and one inside an overlap runs once, at its first instance.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from orchestrator.desired import ScheduleKind

#: Most occurrences one cron schedule may produce inside its horizon.
MAX_OCCURRENCES = 500
DEFAULT_HORIZON = timedelta(days=7)
#: Scheduling further ahead than this is refused (and keeps date arithmetic in range).
MAX_HORIZON = timedelta(days=366)


class ScheduleError(ValueError):
    """A schedule value is invalid; ``field`` names the offending key (``at``, ``cron``...)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Occurrence:
    """One send time. ``at`` is aware UTC, or ``None`` for "send on apply" (``now: true``).

    ``kind`` is the kind of schedule it came from, so no later stage reads the schedule again.
    """

    at: datetime | None
    zone: ZoneInfo
    kind: ScheduleKind
    index: int = 0

    @property
    def local(self) -> datetime | None:
        """The same instant in the campaign's zone."""
        return None if self.at is None else self.at.astimezone(self.zone)


#: The ends of the calendar Python represents (years 1 to 9999), as aware UTC instants.
EARLIEST = datetime.min.replace(tzinfo=UTC)
LATEST = datetime.max.replace(tzinfo=UTC)


def utc_iso(moment: datetime) -> str:
    """``2027-03-01T14:00:00Z``: the canonical UTC form used in keys and payloads.

    ``isoformat`` rather than ``strftime``: the C library writes year 1 as ``1``, not ``0001``.
    """
    return moment.astimezone(UTC).replace(tzinfo=None, microsecond=0).isoformat() + "Z"


def shifted(moment: datetime, delta: timedelta) -> datetime:
    """``moment + delta`` for aware UTC ``moment``, held at :data:`EARLIEST` / :data:`LATEST`.

    A window edge past the end of the calendar (``start`` in year 1 less a second, ``--now`` in
    year 9999 plus the horizon) means "no limit on that side", never an ``OverflowError``.
    """
    try:
        return moment + delta
    except OverflowError:
        return LATEST if delta > timedelta(0) else EARLIEST


def zone_named(name: str, field: str = "timezone") -> ZoneInfo:
    """The IANA zone ``name``, or a :class:`ScheduleError` naming the field."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(field, f"unknown time zone {name!r} (use an IANA name such as Europe/Berlin)") from None


#: What to write instead of a time past the end of the calendar, by field.
_RANGE_HINTS = {
    "until": " (years 1 to 9999 in UTC); leave `until` out for a schedule without an end",
    "start": " (years 1 to 9999 in UTC); leave `start` out to begin now",
    "at": " (years 1 to 9999 in UTC)",
}


def parse_time(text: str, zone: ZoneInfo, field: str = "at") -> datetime:
    """An ISO-8601 time, with an offset or as local time in ``zone``; returns aware UTC."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ScheduleError(
            field, f"{text!r} is not an ISO-8601 time (e.g. 2027-03-01T09:00:00 or 2027-03-01T09:00:00-05:00)"
        ) from None
    try:
        if value.tzinfo is not None:
            return value.astimezone(UTC)
        return localize(value, zone, field)
    except OverflowError:
        hint = _RANGE_HINTS.get(field, "")
        raise ScheduleError(field, f"{text!r} is out of the supported range of dates{hint}") from None


def localize(naive: datetime, zone: ZoneInfo, field: str = "at") -> datetime:
    """Attach ``zone`` to a wall-clock time; refuse times in a DST gap or overlap."""
    first = naive.replace(tzinfo=zone, fold=0)
    second = naive.replace(tzinfo=zone, fold=1)
    if first.utcoffset() == second.utcoffset():
        return first.astimezone(UTC)
    a, b = sorted((first.astimezone(UTC), second.astimezone(UTC)))
    shown = naive.strftime("%Y-%m-%dT%H:%M")
    if _round_trips(first) or _round_trips(second):
        raise ScheduleError(
            field,
            f"{shown} happens twice in {zone.key} (clocks go back): write the offset to pick one, "
            f"{a.astimezone(zone).isoformat()} or {b.astimezone(zone).isoformat()}",
        )
    raise ScheduleError(
        field,
        f"{shown} does not exist in {zone.key} (clocks skip it): did you mean "
        f"{a.astimezone(zone).isoformat()} or {b.astimezone(zone).isoformat()}?",
    )


def _round_trips(aware: datetime) -> bool:
    back = aware.astimezone(UTC).astimezone(aware.tzinfo)
    return back.replace(tzinfo=None) == aware.replace(tzinfo=None)


_DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


def _cron_hint(expr: str) -> str:
    """Why a five-field expression is not valid, where it is a common slip (e.g. ``MONDAY``)."""
    fields = expr.split()
    if len(fields) != 5:
        return ""
    for name, field, names in (("weekday", fields[4], _DAY_NAMES), ("month", fields[3], _MONTH_NAMES)):
        for word in re.findall(r"[A-Za-z]+", field):
            if word.upper() not in names:
                return (
                    f": {word!r} is not a cron {name} name; use the three-letter names "
                    f"{', '.join(names[:3])}, ... or numbers"
                )
    return " (fields: minute 0-59, hour 0-23, day of month 1-31, month 1-12, weekday 0-6 with 0 = Sunday)"


def cron_times(
    expr: str,
    zone: ZoneInfo,
    window_start: datetime,
    window_end: datetime,
) -> list[datetime]:
    """Aware UTC times of ``expr`` in ``zone`` with ``window_start < t <= window_end``."""
    # croniter loads here, not with the module: planner and plan files need only utc_iso.
    from croniter import CroniterBadCronError, CroniterBadDateError, croniter

    if len(expr.split()) != 5 and not expr.startswith("@"):
        raise ScheduleError("cron", f"{expr!r}: a cron expression has five fields (minute hour day month weekday)")
    if not croniter.is_valid(expr):
        raise ScheduleError("cron", f"{expr!r} is not a valid cron expression{_cron_hint(expr)}")
    try:
        walker = croniter(expr, _local_walk_start(window_start, zone))
    except (CroniterBadCronError, CroniterBadDateError) as exc:
        raise ScheduleError("cron", f"{expr!r}: {exc}") from None
    out: list[datetime] = []
    seen: set[datetime] = set()
    while True:
        try:
            naive = walker.get_next(datetime)
            # fold=0: inside an overlap, the first instance; inside a gap, the shifted wall time.
            moment = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
        except CroniterBadDateError:
            if out:
                break
            raise ScheduleError("cron", f"{expr!r} never matches a date (e.g. 31 April)") from None
        except OverflowError:
            break  # walked past year 9999: nothing later exists to send at
        if moment > window_end:
            break
        if moment <= window_start or moment in seen:
            continue
        seen.add(moment)
        out.append(moment)
        if len(out) > MAX_OCCURRENCES:
            raise ScheduleError(
                "cron",
                f"{expr!r} gives more than {MAX_OCCURRENCES} sends inside the horizon; "
                "each occurrence is an email: use a coarser schedule or a shorter horizon",
            )
    return out


def _local_walk_start(window_start: datetime, zone: ZoneInfo) -> datetime:
    """Where to start walking the expression: three hours of wall clock before the window.

    The margin catches an occurrence that a DST change moves into the window; at the start of
    the calendar there is nothing earlier to catch.
    """
    try:
        local = window_start.astimezone(zone).replace(tzinfo=None)
    except OverflowError:  # year 1 in a zone west of UTC
        return datetime.min
    try:
        return local - timedelta(hours=3)
    except OverflowError:
        return datetime.min


def expand(
    schedule: dict[str, object] | None,
    default_zone: ZoneInfo,
    now: datetime,
    *,
    lookback: timedelta = timedelta(0),
    horizon_override: timedelta | None = None,
) -> list[Occurrence]:
    """All occurrences of ``schedule`` relevant at ``now``, each with its kind (:class:`ScheduleKind`).

    ``at`` gives one occurrence whatever its time (the planner decides whether it is due, future
    or missed). ``cron`` gives the occurrences in ``(now - lookback, now + horizon]``, clipped to
    ``start``/``until``. No schedule, or ``now: true``, gives one "on apply" occurrence.
    """
    from orchestrator.config import parse_duration

    if not schedule or schedule.get("now"):
        return [Occurrence(None, default_zone, ScheduleKind.NOW)]
    zone = zone_named(str(schedule["timezone"])) if "timezone" in schedule else default_zone
    if "at" in schedule:
        return [Occurrence(parse_time(str(schedule["at"]), zone, "at"), zone, ScheduleKind.AT)]
    horizon = horizon_override or (
        parse_duration(str(schedule["horizon"])) if "horizon" in schedule else DEFAULT_HORIZON
    )
    if horizon > MAX_HORIZON:
        raise ScheduleError("horizon", f"the horizon may be at most {MAX_HORIZON.days} days")
    start = shifted(now, -lookback)
    end = shifted(now, horizon)
    if "start" in schedule:
        start = max(start, shifted(parse_time(str(schedule["start"]), zone, "start"), -timedelta(seconds=1)))
    if "until" in schedule:
        end = min(end, parse_time(str(schedule["until"]), zone, "until"))
    if end <= start:
        return []
    times = cron_times(str(schedule["cron"]), zone, start, end)
    return [Occurrence(t, zone, ScheduleKind.CRON, i) for i, t in enumerate(times)]
