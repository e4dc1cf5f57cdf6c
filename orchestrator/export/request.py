"""An export request checked against the procedures table, before any API call.

:func:`build_request` is pure: it takes what the user typed (object, procedure, arguments,
fields), the project time zone and ``now``, and returns an :class:`ExportRequest` whose
``wire_arguments`` are exactly what goes to ``PardotClient.export_create``.  Every problem is
collected and reported together in one :class:`ExportError`, so a user fixes them in one go.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

from orchestrator.errors import ExportError
from orchestrator.export.dates import ResolvedDate, localize, resolve_date
from orchestrator.export.procedures import (
    MAX_FIELDS,
    MAX_RANGE_YEARS,
    ArgumentKind,
    ArgumentSpec,
    ExportObject,
    ProcedureSpec,
    canonical_name,
    find_object,
)

_DELETED_VALUES = ("true", "false", "all")

#: Slack for the time between this check and the API's own check of an open-ended range.
OPEN_RANGE_MARGIN = timedelta(minutes=5)
_BOOLEAN_VALUES = ("true", "false")


@dataclass(frozen=True)
class DateRange:
    """The resolved ``(after, before)`` pair of a request; ``before`` None means "until now"."""

    after_arg: str
    before_arg: str
    after: ResolvedDate
    before: ResolvedDate | None


@dataclass(frozen=True)
class ExportRequest:
    """A valid export request: the object, procedure, wire arguments and fields to send."""

    object: ExportObject
    procedure: ProcedureSpec
    arguments: tuple[tuple[str, str], ...]
    fields: tuple[str, ...] | None
    date_range: DateRange

    @property
    def wire_arguments(self) -> dict[str, str]:
        return dict(self.arguments)

    def with_arguments(self, arguments: Iterable[tuple[str, str]]) -> ExportRequest:
        """A copy with the given arguments replacing or adding to these (used by --split)."""
        merged = dict(self.arguments)
        merged.update(arguments)
        return ExportRequest(self.object, self.procedure, tuple(merged.items()), self.fields,
                             self.date_range)

    def without_argument(self, name: str) -> ExportRequest:
        kept = tuple((k, v) for k, v in self.arguments if k != name)
        return ExportRequest(self.object, self.procedure, kept, self.fields, self.date_range)


def parse_argument_pairs(pairs: Iterable[str]) -> list[tuple[str, str]]:
    """``["created_after=today", ...]`` -> pairs; an item without ``=`` is an ExportError."""
    parsed: list[tuple[str, str]] = []
    for item in pairs:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ExportError(f"argument {item!r} is not KEY=VALUE (e.g. created_after=today)")
        parsed.append((key.strip(), value.strip()))
    return parsed


def parse_field_list(text: str | None) -> list[str] | None:
    """``"id, email,firstName"`` -> ``["id", "email", "firstName"]``; None or blank -> None."""
    if text is None:
        return None
    fields = [f.strip() for f in text.split(",") if f.strip()]
    return fields or None


def build_request(
    object_name: str,
    procedure_name: str,
    arguments: Sequence[tuple[str, str]],
    fields: Sequence[str] | None,
    *,
    now: datetime,
    tz: ZoneInfo,
    allow_long_range: bool = False,
) -> ExportRequest:
    """Check everything the seed's tables say about an export; raise one ExportError listing
    every problem.

    Argument names may be spelled like object names (``created-after``, ``prospectOnly``);
    a repeated argument keeps its last value, as the API does.  ``allow_long_range`` lifts the
    one-year limit for ``--split``, which cuts the range into windows afterwards.
    """
    obj = find_object(object_name)
    procedure = obj.procedure(procedure_name)
    problems: list[str] = []
    given = _canonical_arguments(arguments, procedure, problems)
    wire: list[tuple[str, str]] = []
    resolved: dict[str, ResolvedDate] = {}
    for spec in procedure.arguments:
        if spec.name not in given:
            if spec.required:
                problems.append(f"missing required argument {spec.name}")
            continue
        value = _check_value(spec, given[spec.name], now=now, tz=tz, problems=problems)
        if isinstance(value, ResolvedDate):
            resolved[spec.name] = value
            wire.append((spec.name, value.wire))
        elif value is not None:
            wire.append((spec.name, value))
    checked_fields = _check_fields(obj, fields, problems)
    date_range = _check_range(procedure, resolved, now, tz, allow_long_range, problems)
    if problems or date_range is None:
        raise ExportError(
            f"invalid {obj.wire_name} export ({procedure.name}):\n  - " + "\n  - ".join(problems)
        )
    return ExportRequest(obj, procedure, tuple(wire), checked_fields, date_range)


def _canonical_arguments(
    arguments: Sequence[tuple[str, str]], procedure: ProcedureSpec, problems: list[str]
) -> dict[str, str]:
    given: dict[str, str] = {}
    for name, value in arguments:
        key = canonical_name(name)
        if procedure.argument(key) is None:
            problems.append(
                f"unknown argument {name!r} for {procedure.name}; valid arguments: "
                + ", ".join(procedure.argument_names)
            )
            continue
        given[key] = value  # the latter value wins, as the API documents
    return given


def _check_value(
    spec: ArgumentSpec, value: str, *, now: datetime, tz: ZoneInfo, problems: list[str]
) -> ResolvedDate | str | None:
    """The wire value of one argument, or None after recording why it is invalid."""
    if spec.kind is ArgumentKind.DATE:
        try:
            return resolve_date(value, now=now, tz=tz)
        except ExportError as exc:
            problems.append(f"{spec.name}: {exc.message}")
            return None
    if spec.kind is ArgumentKind.ACTIVITY_TYPES:
        return _check_activity_types(spec, value, problems)
    allowed = _DELETED_VALUES if spec.kind is ArgumentKind.DELETED else _BOOLEAN_VALUES
    normalized = value.strip().lower()
    if normalized not in allowed:
        problems.append(
            f"{spec.name} must be one of {', '.join(allowed)} (got {value!r})"
        )
        return None
    return normalized


def _check_activity_types(spec: ArgumentSpec, value: str, problems: list[str]) -> str | None:
    items = [item.strip() for item in value.split(",")]
    if not all(item.isdigit() and int(item) > 0 for item in items):
        problems.append(
            f"{spec.name} must be visitor activity type numbers separated by commas "
            f"(e.g. 1,2,6; got {value!r})"
        )
        return None
    return ",".join(str(int(item)) for item in items)


def _check_fields(
    obj: ExportObject, fields: Sequence[str] | None, problems: list[str]
) -> tuple[str, ...] | None:
    if fields is None:
        return None
    if not fields:
        problems.append("fields is empty; omit it to export every field")
        return None
    if len(fields) > MAX_FIELDS:
        problems.append(f"at most {MAX_FIELDS} fields may be exported (got {len(fields)})")
    unknown = [f for f in fields if f not in obj.fields]
    if unknown:
        problems.append(
            f"unknown {obj.wire_name} field(s) {', '.join(map(repr, unknown))}; valid fields: "
            + ", ".join(obj.fields)
        )
    duplicates = sorted({f for f in fields if fields.count(f) > 1})
    if duplicates:
        problems.append(f"field(s) listed twice: {', '.join(duplicates)}")
    return tuple(fields)


def _check_range(
    procedure: ProcedureSpec,
    resolved: dict[str, ResolvedDate],
    now: datetime,
    tz: ZoneInfo,
    allow_long_range: bool,
    problems: list[str],
) -> DateRange | None:
    after_arg, before_arg = procedure.range_args
    after = resolved.get(after_arg)
    if after is None:
        return None  # missing or unreadable: already reported
    before = resolved.get(before_arg)
    if before is None and before_arg in resolved:
        return None
    # Without *_before the API gauges the range with its own clock, a little after ours: a range
    # right at the limit ("1 year ago") would pass here and be refused there (error 177).  So an
    # open range is gauged OPEN_RANGE_MARGIN later than now, in whole seconds like every date.
    end = (
        before.instant
        if before is not None
        else now.astimezone(tz).replace(microsecond=0) + OPEN_RANGE_MARGIN
    )
    # Compare in UTC: Python compares two times of the *same* zone by wall clock, ignoring
    # ``fold``, which is wrong inside the repeated hour of a DST change.
    if before is not None and _utc(before.instant) <= _utc(after.instant):
        problems.append(
            f"{before_arg} ({before.text!r} = {before.instant.isoformat()}) must be after "
            f"{after_arg} ({after.text!r} = {after.instant.isoformat()})"
        )
    elif not allow_long_range and _utc(end) > _utc(one_year_after(after.instant, tz)):
        gauge = (
            before_arg
            if before is not None
            else f"now + {OPEN_RANGE_MARGIN.seconds // 60} min (no {before_arg} given)"
        )
        problems.append(
            f"the range from {after_arg} ({after.instant.isoformat()}) to {gauge} "
            f"({end.isoformat()}) exceeds {MAX_RANGE_YEARS} year; "
            "narrow it or pass --split to run one export per year-long window"
        )
    return DateRange(after_arg, before_arg, after, before)


def one_year_after(instant: datetime, tz: ZoneInfo) -> datetime:
    """The latest allowed end of a range starting at ``instant``: same wall time, next year."""
    wall = instant.astimezone(tz).replace(tzinfo=None) + relativedelta(years=MAX_RANGE_YEARS)
    return localize(wall, tz)


def _utc(instant: datetime) -> datetime:
    return instant.astimezone(UTC)
