"""The gates every /api/ call passes: credentials, business unit, method, action, format."""

from __future__ import annotations

import httpx
import pytest
from sandbox_helpers import AUTH, parse

from orchestrator.sandbox import SANDBOX_BUSINESS_UNIT, SANDBOX_TOKEN

READ = "/api/emailTemplate/version/4/do/read/id/4001"


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize(
    ("headers", "code", "status"),
    [
        ({}, 184, 400),  # 184 comes with HTTP 400, as Crim's client tests record it
        ({"Authorization": "Bearer wrong"}, 184, 400),
        ({"Authorization": f"Basic {SANDBOX_TOKEN}"}, 184, 400),
        ({"Authorization": f"Bearer {SANDBOX_TOKEN}"}, 181, 401),
        ({"Authorization": f"Bearer {SANDBOX_TOKEN}", "Pardot-Business-Unit-Id": "0Uv123"}, 182, 401),
        (
            {"Authorization": f"Bearer {SANDBOX_TOKEN}", "Pardot-Business-Unit-Id": "XYZ000000SANDBOXAA"},
            182,
            401,
        ),
        (
            {"Authorization": f"Bearer {SANDBOX_TOKEN}", "Pardot-Business-Unit-Id": "0Uv000000OTHERBUAA"},
            201,
            400,
        ),
    ],
)
def test_credentials_are_checked(
    client: httpx.Client, headers: dict[str, str], code: int, status: int, fmt: str
) -> None:
    client.headers.clear()
    answer = parse(client.get(READ, params={"format": fmt}, headers=headers))
    assert (answer.stat, answer.code, answer.status) == ("fail", code, status)


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_only_get_and_post_are_allowed(client: httpx.Client, method: str, fmt: str) -> None:
    answer = parse(client.request(method, READ, params={"format": fmt}))
    assert (answer.stat, answer.code) == ("fail", 60)


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_get_and_post_both_reach_the_handler(client: httpx.Client, method: str) -> None:
    answer = parse(client.request(method, READ, params={"format": "json"}))
    assert answer.stat == "ok"
    assert answer.body["emailTemplate"]["id"] == 4001


def test_unknown_action_is_error_2(client: httpx.Client) -> None:
    answer = parse(client.get("/api/email/version/4/do/explode", params={"format": "json"}))
    assert answer.code == 2


def test_version_3_paths_work_and_5_does_not(client: httpx.Client) -> None:
    assert parse(client.get(READ.replace("/4/", "/3/"))).stat == "ok"
    assert parse(client.get(READ.replace("/4/", "/5/"))).code == 2


def test_format_defaults_to_xml_and_is_read_from_the_form_body(client: httpx.Client) -> None:
    assert client.get(READ).headers["content-type"].startswith("application/xml")
    response = client.post(READ, data={"format": "json"})
    assert response.headers["content-type"].startswith("application/json")


def test_xml_failure_envelope_shape(client: httpx.Client) -> None:
    response = client.get(READ, headers={"Authorization": "Bearer nope"})
    assert response.text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    assert '<rsp stat="fail" version="1.0"><err code="184">' in response.text


def test_json_failure_envelope_shape(client: httpx.Client) -> None:
    response = client.get(READ, params={"format": "json"}, headers={"Authorization": "Bearer x"})
    body = response.json()
    assert body["@attributes"] == {"stat": "fail", "version": 1, "err_code": 184}
    assert body["err"] == "access_token is invalid, unknown, or malformed"


def test_request_log_redacts_the_token(client: httpx.Client) -> None:
    client.get(READ, params={"format": "json", "access_token": "leak-me"})
    log = client.get("/_sandbox/requests").json()["requests"]
    text = str(log)
    assert SANDBOX_TOKEN not in text
    assert "leak-me" not in text
    assert log[-1]["headers"]["Authorization"] == "Bearer ***"
    assert log[-1]["headers"]["Pardot-Business-Unit-Id"] == SANDBOX_BUSINESS_UNIT


def test_sandbox_routes_need_no_auth_and_are_not_counted(client: httpx.Client) -> None:
    client.headers.clear()
    assert client.get("/_sandbox/emails").json() == {"emails": []}
    client.headers.update(AUTH)
    client.get(READ)
    client.get(READ)
    assert client.get("/_sandbox/stats").json() == {"max_in_flight": 1, "requests": 2}


def test_clock_route_sets_and_advances(client: httpx.Client) -> None:
    set_to = client.post("/_sandbox/clock", json={"set": "2027-01-01T00:00:00Z"}).json()
    assert set_to["now"].startswith("2027-01-01T00:00:00")
    moved = client.post("/_sandbox/clock", json={"advance_seconds": 90}).json()
    assert moved["now"].startswith("2027-01-01T00:01:30")
    assert client.post("/_sandbox/clock", json={"nothing": 1}).status_code == 400
