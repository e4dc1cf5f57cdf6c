"""Export API: validation, lifecycle on the sandbox clock, CSV files, expiry, cancel, query."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml
from sandbox_helpers import AUTH, Clock, parse

from orchestrator.sandbox import SANDBOX_BASE_URL, ExportConfig, SandboxApp, inprocess_transport
from orchestrator.sandbox.seed import demo_seed_path

V = "/api/export/version/4/do"
MEMBERSHIP = {"object": "listMembership", "procedure": {"name": "filter_by_created_at",
              "arguments": {"created_after": "2026-01-01"}}}


def create(client: httpx.Client, body: Any, fmt: str = "json", **kwargs: Any) -> Any:
    return parse(client.post(f"{V}/create", params={"format": fmt}, json=body, **kwargs))


def read(client: httpx.Client, export_id: int, fmt: str = "json") -> dict[str, Any]:
    answer = parse(client.get(f"{V}/read/id/{export_id}", params={"format": fmt}))
    assert answer.stat == "ok", answer
    result: dict[str, Any] = answer.body["export"]
    return result


def refs(export: dict[str, Any]) -> list[str]:
    value = export.get("resultRefs", [])
    return [value] if isinstance(value, str) else list(value)


def rows(client: httpx.Client, url: str) -> list[list[str]]:
    response = client.get(url)
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert not response.content.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(response.text)))


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_lifecycle_follows_the_clock(client: httpx.Client, clock: Clock, fmt: str) -> None:
    created = create(client, MEMBERSHIP, fmt).body["export"]
    export_id = int(created["id"])
    assert created["state"] == "Waiting"
    assert str(created["isExpired"]).lower() == "false"
    assert "resultRefs" not in created
    clock.advance(1)
    assert read(client, export_id, fmt)["state"] == "Processing"
    clock.advance(1)
    done = read(client, export_id, fmt)
    assert done["state"] == "Complete"
    assert done["createdAt"] == "2026-11-27 10:00:00" and done["updatedAt"] == "2026-11-27 10:00:02"
    assert refs(done) == [f"{SANDBOX_BASE_URL}/api/export/version/4/do/downloadResults/id/{export_id}/file/1"]


def test_list_membership_export_reflects_the_seed(client: httpx.Client, clock: Clock) -> None:
    export_id = create(client, MEMBERSHIP).body["export"]["id"]
    clock.advance(2)
    header, *data = rows(client, refs(read(client, export_id))[0])
    assert header == ["id", "list_id", "prospect_id", "opted_out", "created_at", "updated_at"]
    seed = yaml.safe_load(demo_seed_path().read_text())
    expected = sorted((lst, p["id"]) for p in seed["prospects"] for lst in p.get("lists", []))
    assert sorted((int(r[1]), int(r[2])) for r in data) == expected
    assert all(len(r[4]) == 19 and r[4][10] == " " for r in data)  # YYYY-MM-DD HH:MM:SS


@pytest.fixture
def small_files(clock: Clock) -> Iterator[httpx.Client]:
    app = SandboxApp(clock=clock, exports=ExportConfig(rows_per_file=20))
    with httpx.Client(transport=inprocess_transport(app), base_url=SANDBOX_BASE_URL, headers=AUTH) as c:
        yield c


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_results_split_over_several_files(small_files: httpx.Client, clock: Clock, fmt: str) -> None:
    body = {"object": "prospect", "fields": ["id", "email", "company"],
            "procedure": {"name": "filter_by_created_at", "arguments": {"created_after": "2026-01-01"}}}
    export_id = int(create(small_files, body).body["export"]["id"])
    clock.advance(2)
    urls = refs(read(small_files, export_id, fmt))
    assert [u.rsplit("/", 1)[1] for u in urls] == ["1", "2", "3"]  # 52 prospects, 20 per file
    files = [rows(small_files, u) for u in urls]
    assert all(f[0] == ["id", "email", "company"] for f in files)
    ids = [int(r[0]) for f in files for r in f[1:]]
    assert [len(f) - 1 for f in files] == [20, 20, 12]
    assert ids == sorted(ids) and len(set(ids)) == 52
    assert files[0][1] == ["1234", "ada@example.com", ""]  # null -> empty
    out_of_range = parse(small_files.get(urls[0][:-1] + "4", params={"format": "json"}))
    assert out_of_range.code == 109


def test_no_data_means_no_result_refs(client: httpx.Client, clock: Clock) -> None:
    body = {"object": "prospectAccount", "procedure": {"name": "filter_by_updated_at",
            "arguments": {"updated_after": "yesterday"}}}
    export_id = create(client, body).body["export"]["id"]
    clock.advance(5)
    done = read(client, export_id)
    assert done["state"] == "Complete" and "resultRefs" not in done


def test_visitor_activity_export_shows_sends(client: httpx.Client, clock: Clock) -> None:
    client.post("/api/email/version/4/do/send/prospect_id/1234",
                data={"campaign_id": "1001", "email_template_id": "4002"})
    clock.advance(1)
    body = {"object": "visitorActivity", "fields": ["prospect_id", "type", "email_id"],
            "procedure": {"name": "filter_by_created_at",
                          "arguments": {"created_after": "today", "prospect_only": "true"}}}
    export_id = create(client, body).body["export"]["id"]
    clock.advance(2)
    data = rows(client, refs(read(client, export_id))[0])
    assert data[0] == ["prospect_id", "type", "email_id"]
    assert [r[:2] for r in data[1:]] == [["1234", "6"]]


def test_download_before_completion_is_178(client: httpx.Client) -> None:
    export_id = create(client, MEMBERSHIP).body["export"]["id"]
    url = f"{V}/downloadResults/id/{export_id}/file/1"
    assert parse(client.get(url, params={"format": "json"})).code == 178


def test_data_expires_seven_days_after_completion(client: httpx.Client, clock: Clock) -> None:
    export_id = create(client, MEMBERSHIP).body["export"]["id"]
    clock.advance(2)
    (url,) = refs(read(client, export_id))
    clock.advance(7 * 86400 - 1)
    assert client.get(url).status_code == 200
    clock.advance(1)
    expired = read(client, export_id)
    assert expired["isExpired"] is True and "resultRefs" not in expired
    assert parse(client.get(url, params={"format": "json"})).code == 178


@pytest.mark.parametrize("advance", [0, 1])
def test_waiting_or_processing_jobs_can_be_canceled(client: httpx.Client, clock: Clock, advance: int) -> None:
    export_id = create(client, MEMBERSHIP).body["export"]["id"]
    clock.advance(advance)
    canceled = parse(client.post(f"{V}/cancel/id/{export_id}", params={"format": "json"}))
    assert canceled.body["export"]["state"] == "Canceled"
    clock.advance(10)
    assert read(client, export_id)["state"] == "Canceled"
    again = parse(client.post(f"{V}/cancel/id/{export_id}", params={"format": "json"}))
    assert again.code == 178


def test_complete_jobs_cannot_be_canceled(client: httpx.Client, clock: Clock) -> None:
    export_id = create(client, MEMBERSHIP).body["export"]["id"]
    clock.advance(2)
    answer = parse(client.post(f"{V}/cancel/id/{export_id}", params={"format": "json"}))
    assert answer.code == 178
    assert parse(client.get(f"{V}/read/id/999", params={"format": "json"})).code == 109


def _proc(obj: str, name: str, **arguments: Any) -> dict[str, Any]:
    return {"object": obj, "procedure": {"name": name, "arguments": arguments}}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (_proc("prospect", "filter_by_updated_at", updated_after="today"), None),
        (_proc("prospect", "filter_by_created_at", created_after="last_7_days", deleted="all"), None),
        (_proc("prospect", "filter_by_updated_at", updated_after="today", deleted="all"), 175),
        (_proc("prospect", "filter_by_nothing", updated_after="today"), 174),
        (_proc("prospect", "filter_by_updated_at"), 176),
        (_proc("prospect", "filter_by_updated_at", updated_before="today"), 176),
        (_proc("prospect", "filter_by_updated_at", updated_after="someday"), 177),
        (_proc("prospect", "filter_by_updated_at", updated_after=5), 177),
        (_proc("prospect", "filter_by_updated_at", updated_after="2025-11-01"), 177),  # > 1 year to now
        (_proc("prospect", "filter_by_updated_at", updated_after="2026-01-01", updated_before="2025-12-01"), 177),
        (_proc("listMembership", "filter_by_updated_at", updated_after="this_month", deleted="maybe"), 177),
        (_proc("listMembership", "filter_by_created_at", created_after="last_month", deleted=True), None),
        (_proc("visitorActivity", "filter_by_created_at", created_after="yesterday", prospect_only="yes"), 177),
        (_proc("visitorActivity", "filter_by_created_at", created_after="yesterday", type="1,2"), None),
        (_proc("visitorActivity", "filter_by_created_at", created_after="yesterday", type="a"), 177),
        (_proc("visitorActivity", "filter_by_updated_at", updated_after="yesterday", prospectOnly=False), None),
        (_proc("visitor", "filter_by_prospect_updated_at", prospect_updated_after="today",
               prospect_deleted="true"), None),
        (_proc("prospectAccount", "filter_by_prospect_updated_at", prospect_updated_after="today"), None),
        (_proc("externalActivity", "filter_by_activity_date", activity_after="2026-06-01T00:00:00Z"), None),
        (_proc("externalActivity", "filter_by_created_at", created_after="today", deleted="all"), 175),
        (_proc("nothing", "filter_by_created_at", created_after="today"), 154),
        ({"object": "prospect"}, 153),
        ({**_proc("prospect", "filter_by_updated_at", updated_after="today"), "fields": ["id", "nope"]}, 180),
        ({**_proc("prospect", "filter_by_updated_at", updated_after="today"), "fields": []}, 180),
        ({**_proc("prospect", "filter_by_updated_at", updated_after="today"), "fields": ["id"] * 151}, 180),
        ({**_proc("prospect", "filter_by_updated_at", updated_after="today"), "fields": ["id", "id"]}, 180),
        ([1, 2], 154),
    ],
)
def test_create_validation(client: httpx.Client, body: Any, code: int | None) -> None:
    assert create(client, body).code == code


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"content": b"{}", "headers": {"Content-Type": "application/x-www-form-urlencoded"}}, 151),
        ({"content": b"", "headers": {"Content-Type": "application/json"}}, 152),
        ({"content": b"{not json", "headers": {"Content-Type": "application/json"}}, 150),
    ],
)
def test_create_body_errors(client: httpx.Client, kwargs: dict[str, Any], code: int) -> None:
    answer = parse(client.post(f"{V}/create", params={"format": "json"}, **kwargs))
    assert answer.code == code


def test_relative_and_iso_dates_select_the_same_rows(client: httpx.Client, clock: Clock) -> None:
    relative = create(client, _proc("prospect", "filter_by_created_at", created_after="this_month"))
    absolute = create(client, _proc("prospect", "filter_by_created_at", created_after="2026-11-01 00:00:00"))
    clock.advance(2)
    a = rows(client, refs(read(client, relative.body["export"]["id"]))[0])
    b = rows(client, refs(read(client, absolute.body["export"]["id"]))[0])
    assert a == b and 1 < len(a) < 53


@pytest.fixture
def jobs(client: httpx.Client, clock: Clock) -> list[int]:
    ids: list[int] = []
    for obj, proc, arg in [("prospect", "filter_by_updated_at", "updated_after"),
                           ("listMembership", "filter_by_created_at", "created_after"),
                           ("prospect", "filter_by_created_at", "created_after")]:
        if ids:
            clock.advance(60)
        ids.append(int(create(client, _proc(obj, proc, **{arg: "today"})).body["export"]["id"]))
    clock.advance(1.5)  # the last job is Processing, the others Complete
    return ids


def query(client: httpx.Client, fmt: str = "json", **params: str) -> tuple[int, list[dict[str, Any]]]:
    answer = parse(client.get(f"{V}/query", params={"format": fmt, **params}))
    assert answer.stat == "ok", answer
    result = answer.body["result"]
    items = result.get("export", [])
    items = [items] if isinstance(items, dict) else items
    assert all("resultRefs" not in i for i in items)
    return int(result["total_results"]), items


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, [2, 1, 0]),
        ({"sort_order": "ascending"}, [0, 1, 2]),
        ({"sort_by": "created_at", "sort_order": "ascending"}, [0, 1, 2]),
        ({"object": "prospect"}, [2, 0]),
        ({"status": "Complete"}, [1, 0]),
        ({"status": "Waiting"}, []),
        ({"status": "Processing"}, [2]),
        ({"created_after": "2026-11-27 10:00:30"}, [2, 1]),
        ({"created_before": "2026-11-27 10:00:30"}, [0]),
        ({"updated_after": "2026-11-27 10:01:01", "updated_before": "2026-11-27 10:02:00"}, [1]),
    ],
)
def test_query_filters_and_sorting(
    client: httpx.Client, jobs: list[int], params: dict[str, str], expected: list[int], fmt: str
) -> None:
    total, items = query(client, fmt, **params)
    assert total == len(expected)
    assert [int(i["id"]) for i in items] == [jobs[i] for i in expected]


@pytest.mark.parametrize(
    "params", [{"status": "Done"}, {"sort_by": "name"}, {"sort_order": "up"}, {"object": "x"},
               {"created_after": "whenever"}]
)
def test_query_rejects_bad_filters(client: httpx.Client, params: dict[str, str]) -> None:
    assert parse(client.get(f"{V}/query", params={"format": "json", **params})).code == 177


def test_query_with_one_result_is_an_object(client: httpx.Client) -> None:
    assert query(client) == (0, [])
    create(client, MEMBERSHIP)
    answer = parse(client.get(f"{V}/query", params={"format": "json"}))
    assert isinstance(answer.body["result"]["export"], dict)
