"""The v3/v4 ``query`` of campaigns, lists and users: every documented parameter honoured or refused.

A sandbox that ignores a filter makes a client's paging loop run for ever: the Singer tap
``tap-pardot`` pages ``lists`` by ``updated_after`` with ``sort_by=updated_at``, and got the same
lists on every page (pardot-api.md §10). So each parameter that the object's page documents is
applied, and any other one is refused with error 5 "Invalid query parameters", never ignored.

Sources (pardot/api-docs ``docs/kb/api-version-4/{campaigns,lists,users}.md``, "Supported Search
Criteria", "Manipulating the Result Set", "Supported Sorting Options"):

- campaigns and lists: ``created_after``, ``created_before``, ``id_greater_than``,
  ``id_less_than``, ``name`` (exact), ``updated_after``, ``updated_before``; users only the
  ``created_*`` and ``id_*`` ones;
- ``limit`` (default and maximum 200; "if a number larger than 200 is specified, 200 will be
  used"), ``offset`` (the first ``offset`` matches are skipped), ``sort_by`` (campaigns: ``id``,
  ``created_at``, ``name``, ``updated_at``, ``cost``; lists the same without ``cost``; users
  ``id`` and ``created_at``) and ``sort_order`` (``ascending``/``descending``; the default
  depends on ``sort_by``: ascending for ``id`` and ``name``, descending for the others);
- ``output`` (version3and4overview: ``full``, ``simple``, ``mobile``, ``bulk``): ``bulk`` omits
  ``total_results`` (docs/kb/bulk-data-pull.md, "Best Practice #1"); ``mobile`` lifts the 200
  limit ("This limit is not enforced for responses formatted for mobile devices").

Refusals use the codes of docs/kb/error-codes-messages.md: 5 unknown parameter, 7 a timestamp
that cannot be read, 8 a time range whose start is after its end, 16 an id that is not an
integer, 17 an id range the wrong way round, 19 ``sort_by``, 20 ``sort_order``, 21 ``offset``,
23 ``limit``.

Times: "after" and "before" are strict. A value is a relative phrase (``today``, ``yesterday``,
``last_7_days``, ``this_month``, ``last_month``) or an ISO-8601 time, the subset of GNU date
syntax the sandbox reads; a time without an offset is UTC, the zone the sandbox writes its v3/v4
times in, so a client that feeds back the ``updated_at`` it was given moves forward.
**CHOICE**: ties in a time or name sort are broken by id, in the same direction; ``name`` matches
regardless of case (the pages say "exactly matching"; the sandbox keeps its earlier behaviour).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from orchestrator.sandbox.dates import format_wire, parse_export_date
from orchestrator.sandbox.objects import SEEDED_AT, TABLES, object_body
from orchestrator.sandbox.params import Params
from orchestrator.sandbox.store import Store
from orchestrator.sandbox.wire import refuse

#: Pardot's page size, and the most ``limit`` may ask for.
MAX_QUERY_LIMIT = 200
_TIME_FILTERS = ("created_after", "created_before", "updated_after", "updated_before")
_ID_FILTERS = ("id_greater_than", "id_less_than")
#: Parameters every query takes: the answer's format, its output form, and the result-set controls.
_COMMON = frozenset({"format", "output", "limit", "offset", "sort_by", "sort_order"})
OUTPUTS = ("full", "simple", "mobile", "bulk")
_ASC, _DESC = "ascending", "descending"


@dataclass(frozen=True)
class QuerySpec:
    """What one object's query page documents: its search criteria and its sort fields."""

    filters: frozenset[str]
    sorts: Mapping[str, str]  # sort_by value -> its default sort_order


_CAMPAIGN_LIST_FILTERS = frozenset({*_TIME_FILTERS, *_ID_FILTERS, "name"})
SPECS: Mapping[str, QuerySpec] = {
    "campaign": QuerySpec(
        _CAMPAIGN_LIST_FILTERS,
        {"created_at": _DESC, "id": _ASC, "name": _ASC, "updated_at": _DESC, "cost": _DESC},
    ),
    "list": QuerySpec(_CAMPAIGN_LIST_FILTERS, {"created_at": _DESC, "id": _ASC, "name": _ASC, "updated_at": _DESC}),
    "user": QuerySpec(frozenset({"created_after", "created_before", *_ID_FILTERS}), {"created_at": _DESC, "id": _ASC}),
}


@dataclass(frozen=True)
class Query:
    """One checked query: what to select, in which order, which slice, in which output form."""

    times: Mapping[str, datetime]
    id_greater_than: int | None
    id_less_than: int | None
    name: str | None
    sort_by: str
    descending: bool
    offset: int
    limit: int | None  # None: no limit (output=mobile)
    output: str


def parse_query(kind: str, params: Params, now: datetime) -> Query:
    """Check every parameter of a ``kind`` query against its page; refuse what it does not document."""
    spec = SPECS[kind]
    unknown = sorted(set(params.scalars) - _COMMON - spec.filters)
    if unknown or params.arrays:
        names = unknown + [f"{name}[]" for name in sorted(params.arrays)]
        raise refuse(5, f"not a {kind} query parameter: {', '.join(names)}")
    output = (params.get("output") or "full").lower()
    if output not in OUTPUTS:
        raise refuse(5, f"output must be one of {', '.join(OUTPUTS)}")
    sort_by = (params.get("sort_by") or "id").lower()
    if sort_by not in spec.sorts:
        raise refuse(19, f"{kind} queries sort by {', '.join(spec.sorts)}")
    sort_order = (params.get("sort_order") or spec.sorts[sort_by]).lower()
    if sort_order not in (_ASC, _DESC):
        raise refuse(20, "sort_order must be ascending or descending")
    greater = _integer(params, "id_greater_than", 16)
    less = _integer(params, "id_less_than", 16)
    if greater is not None and less is not None and less <= greater:
        raise refuse(17, f"id_greater_than {greater} is not below id_less_than {less}")
    return Query(
        times=_times(params, now),
        id_greater_than=greater,
        id_less_than=less,
        name=params.get("name"),
        sort_by=sort_by,
        descending=sort_order == _DESC,
        offset=_offset(params),
        limit=None if output == "mobile" else _limit(params),
        output=output,
    )


def _integer(params: Params, name: str, code: int) -> int | None:
    raw = params.get(name)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise refuse(code, f"{name} must be an integer, got {raw!r}") from None


def _offset(params: Params) -> int:
    offset = _integer(params, "offset", 21) or 0
    if offset < 0:
        raise refuse(21, "offset must be 0 or more")
    return offset


def _limit(params: Params) -> int:
    limit = _integer(params, "limit", 23)
    if limit is None:
        return MAX_QUERY_LIMIT
    if limit < 1:
        raise refuse(23, "limit must be a positive integer")
    return min(limit, MAX_QUERY_LIMIT)


def _times(params: Params, now: datetime) -> dict[str, datetime]:
    times: dict[str, datetime] = {}
    for name in _TIME_FILTERS:
        raw = params.get(name)
        if raw is None:
            continue
        try:
            times[name] = parse_export_date(raw, now)
        except ValueError:
            raise refuse(7, f"{name}: {raw!r} (use an ISO 8601 time or today, yesterday, last_7_days, "
                         "this_month, last_month)") from None
    for field in ("created", "updated"):
        after, before = times.get(f"{field}_after"), times.get(f"{field}_before")
        if after is not None and before is not None and after >= before:
            raise refuse(8, f"{field}_after must be before {field}_before")
    return times


def _selects(query: Query, item: Mapping[str, Any]) -> bool:
    """True when ``item`` (a wire body, times as ``YYYY-MM-DD HH:MM:SS`` UTC) passes every filter."""
    if query.id_greater_than is not None and item["id"] <= query.id_greater_than:
        return False
    if query.id_less_than is not None and item["id"] >= query.id_less_than:
        return False
    if query.name is not None and str(item.get("name", "")).lower() != query.name.lower():
        return False
    for name, moment in query.times.items():
        field, _, side = name.partition("_")
        stamp = str(item.get(f"{field}_at") or SEEDED_AT)
        bound = format_wire(moment)
        if (side == "after" and not stamp > bound) or (side == "before" and not stamp < bound):
            return False
    return True


def _sort_key(query: Query, item: Mapping[str, Any]) -> tuple[Any, int]:
    if query.sort_by == "id":
        return (0, item["id"])
    if query.sort_by in ("created_at", "updated_at"):
        return (str(item.get(query.sort_by) or SEEDED_AT), item["id"])
    value = item.get(query.sort_by)
    return ("" if value is None else str(value).lower(), item["id"])


def query_objects(store: Store, kind: str, params: Params, now: datetime) -> dict[str, Any]:
    """``{"result": ...}`` for a campaign, list or user query, every documented parameter applied.

    ``total_results`` counts every match (before ``offset`` and ``limit``), as the pages say; it
    is left out for ``output=bulk``, whose empty answer is ``"result": null``.
    """
    query = parse_query(kind, params, now)
    with store.reading() as conn:
        rows = conn.execute(f"SELECT * FROM {TABLES[kind]} ORDER BY id").fetchall()  # noqa: S608
    matches = [item for item in (object_body(kind, row) for row in rows) if _selects(query, item)]
    matches.sort(key=lambda item: _sort_key(query, item), reverse=query.descending)
    end = None if query.limit is None else query.offset + query.limit
    items = matches[query.offset : end]
    result: dict[str, Any] = {} if query.output == "bulk" else {"total_results": len(matches)}
    if items:
        result[kind] = items[0] if len(items) == 1 else items
    return {"result": result or None}
