"""The v3/v4 campaign, list and user queries honour every documented parameter or refuse it.

Through HTTP to the in-process sandbox. The demo seed holds campaign 1001, user 3001 and lists
2001 newsletter, 2002 customers, 2003 competitors, all created and updated at 2026-01-05 09:00:00.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sandbox_helpers import AUTH, parse

from orchestrator.sandbox import SANDBOX_BASE_URL, SandboxApp, inprocess_transport

SEEDED = "2026-01-05 09:00:00"


def _query(client: httpx.Client, kind: str, **params: Any) -> Any:
    return parse(client.get(f"/api/{kind}/version/4/do/query", params={"format": "json", **params}))


def _ids(answer: Any, kind: str) -> list[int]:
    items = (answer.body["result"] or {}).get(kind, [])
    items = [items] if isinstance(items, dict) else items
    return [int(item["id"]) for item in items]


def test_updated_after_a_page_high_water_mark_ends_the_tap_pardot_lists_loop(client: httpx.Client) -> None:
    """tap-pardot's ``lists`` stream: updated_after = the last updated_at seen, sort_by=updated_at."""
    params = {"output": "bulk", "sort_by": "updated_at", "sort_order": "ascending"}
    first = _query(client, "list", updated_after="2020-01-01T00:00:00Z", **params)
    assert _ids(first, "list") == [2001, 2002, 2003]
    second = _query(client, "list", updated_after=SEEDED, **params)
    assert second.stat == "ok"
    assert second.body["result"] is None  # bulk output, nothing after the mark


def test_time_filters_are_strict_and_read_relative_phrases(client: httpx.Client) -> None:
    assert _ids(_query(client, "list", created_before=SEEDED), "list") == []
    assert _ids(_query(client, "list", created_before="2026-01-05 09:00:01"), "list") == [2001, 2002, 2003]
    assert _ids(_query(client, "campaign", updated_after="today"), "campaign") == []
    assert _ids(_query(client, "user", created_after="2026-01-05T08:00:00-02:00"), "user") == []
    assert _ids(_query(client, "user", created_after="last_month"), "user") == []
    assert _ids(_query(client, "user", created_after="2025-12-31"), "user") == [3001]


def test_offset_limit_and_total_results(client: httpx.Client) -> None:
    answer = _query(client, "list", limit=1, offset=1)
    assert answer.body["result"]["total_results"] == 3
    assert _ids(answer, "list") == [2002]
    assert _ids(_query(client, "list", limit=500), "list") == [2001, 2002, 2003]  # over 200: 200 used


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"sort_by": "name"}, [2003, 2002, 2001]),  # competitors, customers, newsletter
        ({"sort_by": "name", "sort_order": "descending"}, [2001, 2002, 2003]),
        ({"sort_by": "id", "sort_order": "descending"}, [2003, 2002, 2001]),
        ({"sort_by": "created_at"}, [2003, 2002, 2001]),  # descending by default, ties by id
        ({"id_greater_than": 2001, "id_less_than": 2003}, [2002]),
        ({"name": "Customers"}, [2002]),
    ],
)
def test_sorting_and_search_criteria(client: httpx.Client, params: dict[str, Any], expected: list[int]) -> None:
    assert _ids(_query(client, "list", **params), "list") == expected


def test_bulk_output_leaves_total_results_out(client: httpx.Client) -> None:
    answer = _query(client, "campaign", output="bulk")
    assert "total_results" not in answer.body["result"]
    assert _ids(answer, "campaign") == [1001]


@pytest.mark.parametrize(
    ("kind", "params", "code"),
    [
        ("user", {"updated_after": "2020-01-01"}, 5),  # the users page documents no updated_* filter
        ("user", {"name": "Jane"}, 5),
        ("list", {"is_public": "true"}, 5),
        ("list", {"output": "compact"}, 5),
        ("list", {"sort_by": "title"}, 19),
        ("user", {"sort_by": "updated_at"}, 19),
        ("campaign", {"sort_order": "up"}, 20),
        ("list", {"offset": "ten"}, 21),
        ("list", {"offset": "-1"}, 21),
        ("list", {"limit": "0"}, 23),
        ("list", {"limit": "many"}, 23),
        ("campaign", {"created_after": "next tuesday-ish"}, 7),
        ("list", {"updated_after": "2026-02-01", "updated_before": "2026-01-01"}, 8),
        ("list", {"id_greater_than": "abc"}, 16),
        ("list", {"id_greater_than": "2003", "id_less_than": "2001"}, 17),
    ],
)
def test_undocumented_or_bad_parameters_are_refused_with_pardots_code(
    client: httpx.Client, kind: str, params: dict[str, str], code: int
) -> None:
    answer = _query(client, kind, **params)
    assert (answer.stat, answer.code) == ("fail", code)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    limit=st.integers(min_value=1, max_value=4),
    kind=st.sampled_from(["list", "campaign", "user"]),
)
def test_any_high_water_mark_loop_ends_with_every_record_once(
    app: SandboxApp, limit: int, kind: str
) -> None:
    """Paging by ``id_greater_than`` (sorted by id) terminates and returns each record once."""
    seeded = {"list": [2001, 2002, 2003], "campaign": [1001], "user": [3001]}[kind]
    seen: list[int] = []
    mark = 0
    with httpx.Client(transport=inprocess_transport(app), base_url=SANDBOX_BASE_URL, headers=AUTH) as client:
        for _ in range(10):
            page = _ids(_query(client, kind, id_greater_than=mark, sort_by="id", limit=limit), kind)
            if not page:
                break
            seen.extend(page)
            mark = page[-1]
        else:
            pytest.fail(f"{kind} paging did not end")
    assert seen == seeded


@pytest.mark.parametrize("params", [{"limit": "1"}, {"offset": "5"}, {"state": "Complete"}, {"procedure": "x"}])
def test_the_export_query_refuses_what_its_page_does_not_list(client: httpx.Client, params: dict[str, str]) -> None:
    """The seed's Export API query lists created_/updated_ after/before, status, object, sort_by and
    sort_order; anything else (paging included: it has none) is error 5, never ignored."""
    answer = _query_path(client, "/api/export/version/4/do/query", params)
    assert (answer.stat, answer.code) == ("fail", 5)
    assert _query_path(client, "/api/export/version/4/do/query", {"status": "Complete"}).stat == "ok"


def _query_path(client: httpx.Client, path: str, params: dict[str, str]) -> Any:
    return parse(client.get(path, params={"format": "json", **params}))
