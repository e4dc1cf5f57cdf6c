"""Export requests are checked against the seed's tables before any API call."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.errors import ExportError
from orchestrator.export.procedures import MAX_FIELDS, OBJECTS, canonical_name, find_object
from orchestrator.export.request import (
    build_request,
    parse_argument_pairs,
    parse_field_list,
)

CASES = Path(__file__).parent / "cases"
BAD = yaml.safe_load((CASES / "bad_requests.yaml").read_text(encoding="utf-8"))
GOOD = yaml.safe_load((CASES / "good_requests.yaml").read_text(encoding="utf-8"))
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
PARIS = ZoneInfo("Europe/Paris")


def _pairs(args: dict[str, str] | list[list[str]]) -> list[tuple[str, str]]:
    if isinstance(args, dict):
        return [(k, str(v)) for k, v in args.items()]
    return [(k, v) for k, v in args]


def _fields(spec: Any) -> list[str] | None:
    if isinstance(spec, dict):
        return [str(spec["repeat"])] * int(spec["count"])
    return None if spec is None else [str(field) for field in spec]


@pytest.mark.parametrize("case", BAD, ids=lambda c: c["id"])
def test_bad_request_is_refused_with_its_message(case: dict[str, Any]) -> None:
    with pytest.raises(ExportError) as caught:
        build_request(case["object"], case["procedure"], _pairs(case["args"]),
                      _fields(case.get("fields")), now=NOW, tz=PARIS)
    assert case["expect"] in str(caught.value)


@pytest.mark.parametrize("case", GOOD, ids=lambda c: c["id"])
def test_good_request_produces_the_wire_arguments(case: dict[str, Any]) -> None:
    request = build_request(case["object"], case["procedure"], _pairs(case["args"]),
                            case.get("fields"), now=NOW, tz=PARIS)
    assert request.object.wire_name == case["wire_object"]
    assert request.wire_arguments == case["wire"]
    assert request.fields == (tuple(case["fields"]) if "fields" in case else None)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ExportError) as caught:
        build_request("prospect", "filter_by_created_at",
                      [("deleted", "maybe"), ("colour", "red")], ["nope"], now=NOW, tz=PARIS)
    message = str(caught.value)
    for part in ("unknown argument 'colour'", "missing required argument created_after",
                 "deleted must be one of true, false, all", "unknown prospect field(s) 'nope'"):
        assert part in message


def test_split_lifts_only_the_one_year_limit() -> None:
    request = build_request("prospect", "filter_by_updated_at",
                            [("updated_after", "2020-01-01")], None,
                            now=NOW, tz=PARIS, allow_long_range=True)
    assert request.date_range.before is None
    with pytest.raises(ExportError, match="must be after"):
        build_request("prospect", "filter_by_updated_at",
                      [("updated_after", "today"), ("updated_before", "2020-01-01")], None,
                      now=NOW, tz=PARIS, allow_long_range=True)


def test_exactly_max_fields_are_accepted() -> None:
    # Objects have fewer own fields than the limit, so repeat-free lists cannot reach it;
    # the limit is checked before the names, and its boundary is MAX_FIELDS itself.
    with pytest.raises(ExportError) as caught:
        build_request("prospect", "filter_by_updated_at", [("updated_after", "today")],
                      ["id"] * MAX_FIELDS, now=NOW, tz=PARIS)
    assert "at most" not in str(caught.value)


@pytest.mark.parametrize(
    ("spelling", "wire"),
    [("visitor activity", "visitorActivity"), ("visitor-activity", "visitorActivity"),
     ("visitor_activity", "visitorActivity"), ("visitorActivity", "visitorActivity"),
     ("VisitorActivity", "visitorActivity"), ("list-membership", "listMembership"),
     ("PROSPECT", "prospect"), ("prospect_account", "prospectAccount"),
     ("external-activity", "externalActivity"), (" visitor ", "visitor")],
)
def test_object_spellings_reach_the_wire_name(spelling: str, wire: str) -> None:
    assert find_object(spelling).wire_name == wire


@given(st.sampled_from(OBJECTS))
def test_every_wire_name_and_label_finds_its_object(obj: Any) -> None:
    assert find_object(obj.wire_name) is obj
    assert find_object(obj.label) is obj
    assert find_object(canonical_name(obj.wire_name).replace("_", "-")) is obj


def test_tables_are_well_formed() -> None:
    for obj in OBJECTS:
        assert len(obj.fields) == len(set(obj.fields)) <= MAX_FIELDS
        assert "id" in obj.fields
        for proc in obj.procedures:
            after, before = proc.range_args
            assert proc.argument(after) is not None and proc.argument(after).required  # type: ignore[union-attr]
            assert proc.argument(before) is not None
            assert not proc.argument(before).required  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("items", "expected"),
    [([], []), (["a=1"], [("a", "1")]), (["a = x=y "], [("a", "x=y")]), (["a="], [("a", "")])],
)
def test_argument_pairs(items: list[str], expected: list[tuple[str, str]]) -> None:
    assert parse_argument_pairs(items) == expected


@pytest.mark.parametrize("item", ["created_after", "=today", " =x"])
def test_argument_without_key_or_equals_is_refused(item: str) -> None:
    with pytest.raises(ExportError, match="is not KEY=VALUE"):
        parse_argument_pairs([item])


@pytest.mark.parametrize(
    ("text", "expected"),
    [(None, None), ("", None), (" , ", None), ("id", ["id"]), ("id, email ,firstName", ["id", "email", "firstName"])],
)
def test_field_list(text: str | None, expected: list[str] | None) -> None:
    assert parse_field_list(text) == expected


def test_an_open_range_at_the_limit_is_refused_before_the_api_refuses_it() -> None:
    # "1 year ago" with no upper bound would reach the API a moment past the limit (177).
    with pytest.raises(ExportError, match=r"to now \+ 5 min \(no created_before given\)"):
        build_request("prospect", "filter_by_created_at", [("created_after", "1 year ago")],
                      None, now=NOW.replace(microsecond=999_999), tz=PARIS)
    request = build_request("prospect", "filter_by_created_at",
                            [("created_after", "1 year ago"), ("created_before", "now")],
                            None, now=NOW.replace(microsecond=999_999), tz=PARIS)
    assert request.wire_arguments["created_after"] == "2025-11-27T11:00:00+01:00"


def test_before_in_the_repeated_dst_hour_is_compared_as_an_instant() -> None:
    # 25 Oct 2026, Paris: 02:00-03:00 happens twice. 02:10+01:00 is 40 min after 02:30+02:00.
    request = build_request(
        "prospect", "filter_by_created_at",
        [("created_after", "2026-10-25T02:30:00+02:00"),
         ("created_before", "2026-10-25T02:10:00+01:00")],
        None, now=NOW, tz=PARIS,
    )
    assert request.wire_arguments["created_before"] == "2026-10-25T02:10:00+01:00"
