"""Date arguments of export procedures: what users may type, and what is sent.

The Export API takes ``today``, ``yesterday``, ``last_7_days``, ``this_month``, ``last_month``
or "a custom time specified in GNU Date Input Syntax".  We must know each bound as an instant
*before* calling the API, to check ``*_before`` > ``*_after`` and the one-year limit and to
split long ranges, so :func:`resolve_date` turns every accepted form into an aware datetime in
the project time zone.  It is a pure function: ``now`` is a parameter, there is no clock inside.

What is sent: the five API keywords go to the API as typed (the API resolves them itself, in
the Pardot user's time zone; we resolve them in the project time zone only for the checks).
Every other form is sent resolved, as ISO-8601 with the project zone's offset
(``2026-11-01T09:00:00+01:00``), which GNU date syntax reads unambiguously whatever the
Pardot user's time zone is.  Instants are truncated to whole seconds, the API's precision.

Accepted forms (case and spacing do not matter):

===============================  ================================================================
Form                             Meaning (``now`` and the calendar are in the project time zone)
===============================  ================================================================
``today``                        API keyword, sent as is; checked as 00:00 today
``yesterday``                    API keyword, sent as is; checked as 00:00 yesterday
``last_7_days``                  API keyword, sent as is; checked as 00:00 seven days ago
``this_month``                   API keyword, sent as is; checked as 00:00 on the 1st of this month
``last_month``                   API keyword, sent as is; checked as 00:00 on the 1st of last month
``now``                          the current instant
``tomorrow``                     00:00 tomorrow (GNU keeps the time of day; we use the day's
                                 start, like the keywords above)
``2026-11-01``                   00:00 on that date
``2026-11-01 09:00[:30]``        that wall-clock time (``T`` may replace the space)
``2026-11-01T09:00:00+02:00``    that instant (``Z`` for UTC works too)
``@1798761600``                  seconds since the Unix epoch
``monday`` / ``this monday``     00:00 on the next Monday, or today if today is a Monday
``last monday``                  00:00 on the Monday before that (1 to 7 days ago)
``next monday``                  00:00 on the next Monday after today (1 to 7 days ahead)
``yesterday 09:00``              a day form above followed by ``HH:MM`` or ``HH:MM:SS``
``3 days ago`` / ``-3 days``     three days before now, same time of day
``2 weeks`` / ``+2 weeks``       two weeks after now
``last week`` / ``next year``    one unit before / after now (``this week`` is now)
===============================  ================================================================

Units: ``second``/``sec``, ``minute``/``min``, ``hour``, ``day``, ``week``, ``fortnight``,
``month``, ``year``, singular or plural.  Seconds, minutes and hours count elapsed time; days
and longer move the calendar and keep the wall-clock time (GNU's rule), so ``1 day ago`` across
a DST change is still "the same time yesterday".  A month from 31 January is 28/29 February.
Weekdays may be abbreviated (``mon``, ``tue``/``tues``, ``wed``, ``thu``/``thur``/``thurs``,
``fri``, ``sat``, ``sun``).  A wall-clock time that does not exist (inside a DST gap) moves
forward by the gap.  Not accepted: combined items (``1 day 2 hours ago``), month names
(``Nov 1``), US ``11/01/2026`` dates, time zone names.  ``last_month`` (API keyword: the 1st of
last month) and ``last month`` (GNU: one month before now) differ on purpose, as in Pardot.

Why hand-written: no maintained Python library implements GNU date input syntax; dateparser
reads these phrases with different rules (``last monday``, what ``2 days`` means) and
python-dateutil's parser reads no relative phrases.  The grammar above is small, closed and
tested case by case; ``datetime.fromisoformat`` and ``dateutil.relativedelta`` do the parts
they do well.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

from orchestrator.errors import ExportError

#: The relative-date keywords the Export API understands itself; sent unchanged.
API_KEYWORDS = ("today", "yesterday", "last_7_days", "this_month", "last_month")

_WEEKDAYS = {
    "mon": 0, "monday": 0,
    "tue": 1, "tues": 1, "tuesday": 1,
    "wed": 2, "wednes": 2, "wednesday": 2,
    "thu": 3, "thur": 3, "thurs": 3, "thursday": 3,
    "fri": 4, "friday": 4,
    "sat": 5, "saturday": 5,
    "sun": 6, "sunday": 6,
}  # fmt: skip

# Elapsed-time units (absolute arithmetic) and calendar units (wall-clock arithmetic).
_ELAPSED_UNITS = {"sec": 1, "second": 1, "min": 60, "minute": 60, "hour": 3600}
_CALENDAR_UNITS = {
    "day": relativedelta(days=1),
    "week": relativedelta(weeks=1),
    "fortnight": relativedelta(weeks=2),
    "month": relativedelta(months=1),
    "year": relativedelta(years=1),
}
_UNIT_PATTERN = "|".join(sorted([*_ELAPSED_UNITS, *_CALENDAR_UNITS], key=len, reverse=True))
_WEEKDAY_PATTERN = "|".join(sorted(_WEEKDAYS, key=len, reverse=True))

_RELATIVE = re.compile(
    rf"^(?:(?P<count>[+-]?\d+)\s*|(?P<word>last|next|this)\s+)?"
    rf"(?P<unit>{_UNIT_PATTERN})s?(?P<ago>\s+ago)?$"
)
_DAY_FORM = re.compile(
    rf"^(?:(?P<named>today|yesterday|tomorrow)"
    rf"|(?:(?P<ordinal>last|next|this)\s+)?(?P<weekday>{_WEEKDAY_PATTERN}))"
    r"(?:\s+(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?)?$"
)
_EPOCH = re.compile(r"^@(?P<seconds>-?\d+)$")
_ORDINALS = {"last": -1, "this": 0, "next": 1}

ACCEPTED_FORMS_HINT = (
    "use today, yesterday, last_7_days, this_month, last_month, now, tomorrow, an ISO date or "
    "time (2026-11-01, 2026-11-01 09:00, 2026-11-01T09:00:00+01:00), '3 days ago', "
    "'last monday', 'next friday 09:00' (see docs/export-dates.md)"
)


@dataclass(frozen=True)
class ResolvedDate:
    """A date argument as typed, as it goes on the wire, and as the instant it stands for."""

    text: str
    wire: str
    instant: datetime  # aware, in the project time zone, whole seconds
    is_keyword: bool


def resolve_date(text: str, *, now: datetime, tz: ZoneInfo) -> ResolvedDate:
    """Read one date argument; raise ExportError naming the accepted forms if it is not one.

    ``now`` must be aware; it is converted to ``tz``, the project time zone.
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    local_now = now.astimezone(tz).replace(microsecond=0)
    phrase = " ".join(text.strip().lower().split())
    if phrase in API_KEYWORDS:
        return ResolvedDate(text, phrase, _keyword_instant(phrase, local_now), True)
    instant = _resolve_expression(text.strip(), phrase, local_now, tz)
    if instant is None:
        raise ExportError(f"cannot read {text!r} as a date; {ACCEPTED_FORMS_HINT}")
    instant = instant.astimezone(tz).replace(microsecond=0)
    return ResolvedDate(text, format_instant(instant), instant, False)


def format_instant(instant: datetime) -> str:
    """The wire form of a resolved instant: ISO-8601 with offset, whole seconds."""
    return instant.isoformat(timespec="seconds")


def localize(wall: datetime, tz: ZoneInfo) -> datetime:
    """Attach ``tz`` to a naive wall-clock time; a time inside a DST gap moves forward.

    Round-tripping through UTC turns a non-existent local time into the one it means.
    """
    return wall.replace(tzinfo=tz).astimezone(UTC).astimezone(tz)


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return localize(datetime.combine(day, time()), tz)


def _keyword_instant(keyword: str, local_now: datetime) -> datetime:
    tz = _zone(local_now)
    today = local_now.date()
    if keyword == "today":
        return _midnight(today, tz)
    if keyword == "yesterday":
        return _midnight(today - timedelta(days=1), tz)
    if keyword == "last_7_days":
        return _midnight(today - timedelta(days=7), tz)
    first = today.replace(day=1)
    if keyword == "this_month":
        return _midnight(first, tz)
    return _midnight(first - relativedelta(months=1), tz)  # last_month


def _zone(local_now: datetime) -> ZoneInfo:
    tz = local_now.tzinfo
    assert isinstance(tz, ZoneInfo)  # resolve_date() converted it
    return tz


def _resolve_expression(
    raw: str, phrase: str, local_now: datetime, tz: ZoneInfo
) -> datetime | None:
    """The instant ``phrase`` names, or None when no accepted form matches."""
    if phrase == "now":
        return local_now
    for resolver in (_from_epoch, _from_iso, _from_day_form, _from_relative):
        found = resolver(raw if resolver is _from_iso else phrase, local_now, tz)
        if found is not None:
            return found
    return None


def _from_epoch(phrase: str, local_now: datetime, tz: ZoneInfo) -> datetime | None:
    match = _EPOCH.match(phrase)
    if match is None:
        return None
    try:
        return datetime.fromtimestamp(int(match["seconds"]), tz)
    except (OverflowError, OSError, ValueError):
        return None


def _from_iso(raw: str, local_now: datetime, tz: ZoneInfo) -> datetime | None:
    # fromisoformat() also reads ISO week dates and basic forms (20261101T0900); all fine.
    # Requiring a digit first keeps words ("monday") from ever reaching it.
    if not raw[:1].isdigit():
        return None
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return localize(parsed, tz)
    return parsed


def _from_day_form(phrase: str, local_now: datetime, tz: ZoneInfo) -> datetime | None:
    match = _DAY_FORM.match(phrase)
    if match is None:
        return None
    day = _day_of(match, local_now.date())
    if match["hour"] is None:
        return _midnight(day, tz)
    try:
        clock = time(int(match["hour"]), int(match["minute"]), int(match["second"] or 0))
    except ValueError:
        return None
    return localize(datetime.combine(day, clock), tz)


def _day_of(match: re.Match[str], today: date) -> date:
    """GNU's day rule: a bare weekday is today or the next one; last/next move a week."""
    named = match["named"]
    if named is not None:
        return today + timedelta(days={"today": 0, "yesterday": -1, "tomorrow": 1}[named])
    target = _WEEKDAYS[match["weekday"]]
    ordinal = _ORDINALS[match["ordinal"] or "this"]
    ahead = (target - today.weekday()) % 7
    if ordinal > 0 and ahead == 0:
        ahead = 7  # "next monday" said on a Monday is a week away, never today
    return today + timedelta(days=ahead + 7 * min(ordinal, 0))


def _from_relative(phrase: str, local_now: datetime, tz: ZoneInfo) -> datetime | None:
    match = _RELATIVE.match(phrase)
    if match is None:
        return None
    if match["count"] is not None:
        count = int(match["count"])
    elif match["word"] is not None:
        count = _ORDINALS[match["word"]]
    else:
        count = 1  # a bare unit ("week ago") counts one, as in GNU
    if match["ago"]:
        count = -count
    unit = match["unit"]
    try:
        if unit in _ELAPSED_UNITS:
            return local_now + timedelta(seconds=count * _ELAPSED_UNITS[unit])
        wall = local_now.replace(tzinfo=None) + _CALENDAR_UNITS[unit] * count
        return localize(wall, tz)
    except (OverflowError, ValueError):
        return None
