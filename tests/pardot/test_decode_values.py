"""Level 1: the value coercions Pardot's loose typing needs, data-driven and property-based."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from xml.sax.saxutils import escape

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.errors import ApiProtocolError
from orchestrator.pardot.decode import (
    as_bool,
    as_datetime,
    as_int,
    as_rate,
    decode_export,
    decode_stats,
    embedded_failure,
)
from orchestrator.pardot.envelope import ApiFailure, as_list, parse_envelope


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, True),
        ("1", True),
        (True, True),
        ("true", True),
        ("True", True),
        (" 1 ", True),
        ("", False),
        (0, False),
        ("0", False),
        (None, False),
        (False, False),
        ("false", False),
    ],
)
def test_flags(value: Any, expected: bool) -> None:
    assert as_bool(value, "f") is expected


@pytest.mark.parametrize("value", ["maybe", 2, 1.5, [], {}])
def test_unknown_flag_is_refused(value: Any) -> None:
    with pytest.raises(ApiProtocolError, match="f is not a flag"):
        as_bool(value, "f")


@pytest.mark.parametrize(("value", "expected"), [(7, 7), ("7", 7), (" 42 ", 42), ("-1", -1)])
def test_integers(value: Any, expected: int) -> None:
    assert as_int(value, "n") == expected


@pytest.mark.parametrize("value", [None, "", "7a", 7.5, True, "1e3", "²", "٣"])  # "²": isdigit, not int
def test_non_integers_are_refused(value: Any) -> None:
    with pytest.raises(ApiProtocolError, match=r"n is not an integer|n is a boolean"):
        as_int(value, "n")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("98.42%", 98.42),
        ("0.00%", 0.0),
        ("100%", 100.0),
        ("12.5", 12.5),
        (75, 75.0),
        (13.52, 13.52),
        ("", 0.0),
        (None, 0.0),
        (" 3.10 % ", 3.10),
    ],
)
def test_rates(value: Any, expected: float) -> None:
    assert as_rate(value, "r") == pytest.approx(expected)


@pytest.mark.parametrize("value", ["n/a", "%", True, ["1%"]])
def test_bad_rates_are_refused(value: Any) -> None:
    with pytest.raises(ApiProtocolError):
        as_rate(value, "r")


@given(st.decimals(min_value=0, max_value=100, places=2, allow_nan=False))
def test_rate_round_trips_pardot_format(rate: Any) -> None:
    assert as_rate(f"{rate:.2f}%", "r") == pytest.approx(float(rate))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2017-08-11 21:41:08", datetime(2017, 8, 11, 21, 41, 8)),
        ("2027-03-01T14:00:00+00:00", datetime(2027, 3, 1, 14, tzinfo=UTC)),
        (
            "2013-10-31T17:00:00-0400",
            datetime(2013, 10, 31, 17, tzinfo=timezone(timedelta(hours=-4))),
        ),
        ("", None),
        (None, None),
    ],
)
def test_datetimes(value: Any, expected: datetime | None) -> None:
    assert as_datetime(value, "d") == expected


@pytest.mark.parametrize("value", ["yesterday", "2017-13-01 00:00:00", 1234])
def test_bad_datetimes_are_refused(value: Any) -> None:
    with pytest.raises(ApiProtocolError, match="d is not a date-time"):
        as_datetime(value, "d")


@pytest.mark.parametrize(
    ("value", "expected"), [(None, []), ("", []), ({"a": 1}, [{"a": 1}]), ([1, 2], [1, 2]), ("u", ["u"])]
)
def test_collection_quirk(value: Any, expected: list[Any]) -> None:
    assert as_list(value) == expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"error": "", "id": 1}, None),
        ({"error": "0", "errorCode": "0"}, None),
        ({"error": 1, "errorCode": 68, "errorMessage": "gone"}, ApiFailure(68, "gone")),
        ({"error": "1", "errorCode": "86"}, ApiFailure(86, "template error")),
        ({"errorCode": 93, "errorMessage": "no send options"}, ApiFailure(93, "no send options")),
        ({"error": True}, ApiFailure(None, "template error")),
    ],
)
def test_embedded_template_failure(data: dict[str, Any], expected: ApiFailure | None) -> None:
    assert embedded_failure(data) == expected


STATS_FIELDS = [
    "sent", "delivered", "total_clicks", "unique_clicks", "soft_bounced", "hard_bounced", "opt_outs",
    "spam_complaints", "opens", "unique_opens", "delivery_rate", "opens_rate", "click_through_rate",
    "unique_click_through_rate", "click_open_ratio", "opt_out_rate", "spam_complaint_rate",
]  # fmt: skip


def test_stats_of_a_scheduled_email_are_unknown_not_zero() -> None:
    """Real v4 JSON gives null for figures it does not have yet (a scheduled email)."""
    body = json.dumps({"@attributes": {"stat": "ok", "version": 1}, "stats": dict.fromkeys(STATS_FIELDS)})
    stats = decode_stats(parse_envelope(body.encode()).root("stats"))
    assert stats.unknown == frozenset(STATS_FIELDS)
    assert not stats.known
    assert stats.figure("sent") is None
    assert stats.sent == 0


def test_empty_xml_counts_and_missing_ones_are_unknown() -> None:
    body = b'<rsp stat="ok" version="1.0"><stats><sent>5</sent><delivered/></stats></rsp>'
    stats = decode_stats(parse_envelope(body).root("stats"))
    assert stats.figure("sent") == 5
    assert stats.figure("delivered") is None
    assert stats.figure("opens_rate") is None
    assert stats.known


def test_stats_with_a_count_that_is_not_a_number_is_refused() -> None:
    with pytest.raises(ApiProtocolError, match=r"stats\.sent"):
        decode_stats({"sent": "many"})


def test_export_without_id_is_refused() -> None:
    with pytest.raises(ApiProtocolError, match=r"export\.id"):
        decode_export({"state": "Waiting"})


@given(
    refs=st.lists(st.from_regex(r"https://pi\.pardot\.com/f/[0-9]{1,4}", fullmatch=True), max_size=5),
    fmt=st.sampled_from(["json", "xml"]),
)
def test_result_refs_are_a_tuple_whatever_their_shape(refs: list[str], fmt: str) -> None:
    """absent → (), one → 1-tuple, several → n-tuple, in both formats and in order."""
    if fmt == "json":
        doc: dict[str, Any] = {"id": 1, "state": "Complete", "isExpired": False}
        if len(refs) == 1:
            doc["resultRefs"] = refs[0]
        elif refs:
            doc["resultRefs"] = refs
        body = json.dumps(doc).encode()
    else:
        items = "".join(f"<resultRefs>{r}</resultRefs>" for r in refs)
        body = (
            '<rsp stat="ok" version="1.0"><export><id>1</id><state>Complete</state>'
            f"<isExpired></isExpired>{items}</export></rsp>"
        ).encode()
    envelope = parse_envelope(body)
    assert decode_export(envelope.data).result_refs == tuple(refs)


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=40))
def test_xml_text_survives_escaping(text: str) -> None:
    """Entity-escaped content (the escaped-HTML quirk) comes back exactly as sent."""
    body = f'<rsp stat="ok" version="1.0"><email><name>{escape(text)}</name></email></rsp>'
    assert parse_envelope(body.encode()).root("email")["name"] == text
