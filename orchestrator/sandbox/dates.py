"""Dates as the sandbox reads and writes them.

Pardot writes ``YYYY-MM-DD HH:MM:SS`` (the sandbox: always UTC) and the Export API reads either a
relative phrase (``today``, ``yesterday``, ``last_7_days``, ``this_month``, ``last_month``) or an
absolute time. Pardot documents "GNU date input syntax"; the sandbox accepts the ISO-8601 subset
of it (``2026-01-31``, ``2026-01-31 10:00:00``, ``2026-01-31T10:00:00+02:00``), which is what the
orchestrator sends.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

WIRE_FORMAT = "%Y-%m-%d %H:%M:%S"

RELATIVE_DATES: tuple[str, ...] = ("today", "yesterday", "last_7_days", "this_month", "last_month")


def format_wire(moment: datetime) -> str:
    """``2026-11-27 10:00:00`` in UTC: the API's and the CSV files' date format."""
    # isoformat is several times faster than strftime, which matters when seeding millions.
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="seconds")


def parse_instant(text: str) -> datetime:
    """Parse an ISO-8601 date or date-time; a missing offset means UTC. Raises ValueError."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not an ISO-8601 date or time: {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def parse_export_date(text: str, now: datetime) -> datetime:
    """Resolve an Export API date argument against ``now``: a relative phrase is its start."""
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    phrase = text.strip().lower()
    if phrase == "today":
        return today
    if phrase == "yesterday":
        return today - timedelta(days=1)
    if phrase == "last_7_days":
        return today - timedelta(days=7)
    if phrase == "this_month":
        return today.replace(day=1)
    if phrase == "last_month":
        first = today.replace(day=1)
        return (first - timedelta(days=1)).replace(day=1)
    return parse_instant(text)


def add_years(moment: datetime, years: int) -> datetime:
    """The same calendar time ``years`` later; 29 February becomes 28 February."""
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:
        return moment.replace(year=moment.year + years, day=28)
