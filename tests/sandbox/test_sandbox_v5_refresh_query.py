"""The sandbox's v5 list-email query as the refresh uses it (issue 19, "The plan knows what Pardot holds").

The list-email page documents the time filters ``createdAtAfterOrEqualTo``,
``updatedAtAfterOrEqualTo`` and ``sentAtAfterOrEqualTo`` and the readable ``subject`` and
``sentAt``; ``scheduledTime`` is write-only. A query answers ``nextPageUrl`` beside
``nextPageToken``, and a missing ``fields`` is error 13 (docs/wire-format.md, "Refresh").
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from orchestrator.errors import ApiError, ApiProtocolError
from orchestrator.pardot.client import PardotClient
from orchestrator.pardot.models import ListEmailSend
from orchestrator.pardot.settings import ApiSettings, StaticTokenAuth
from orchestrator.sandbox import SANDBOX_BASE_URL, SANDBOX_BUSINESS_UNIT, SANDBOX_TOKEN, SandboxApp, inprocess_transport
from orchestrator.sandbox.inspection import recipient_ids
from orchestrator.sandbox.sends import delete_email

START = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
AUTH = {"Authorization": f"Bearer {SANDBOX_TOKEN}", "Pardot-Business-Unit-Id": SANDBOX_BUSINESS_UNIT}
QUERY = "/api/v5/objects/list-emails"


class Clock:
    """The sandbox's time, moved by the test."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def demo(clock: Clock) -> Iterator[SandboxApp]:
    app = SandboxApp(clock=clock)
    yield app
    app.close()


def _client(app: SandboxApp, calls: list[str] | None = None) -> PardotClient:
    settings = ApiSettings(SANDBOX_BASE_URL, SANDBOX_BUSINESS_UNIT, StaticTokenAuth(SANDBOX_TOKEN), allow_insecure=True)

    def trace(request: httpx.Request, response: httpx.Response | None) -> None:
        if calls is not None:
            calls.append(str(request.url))

    return PardotClient(settings, transport=inprocess_transport(app), tracer=trace)


def _send(client: PardotClient, name: str, *, at: datetime | None = None, subject: str = "Hello") -> int:
    send = ListEmailSend(
        campaign_id=1001, list_ids=(2001,), email_template_id=4001, name=name, subject=subject, scheduled_time=at
    )
    return client.send_list_email(send).id


def _get(app: SandboxApp, **params: str) -> httpx.Response:
    with httpx.Client(transport=inprocess_transport(app), base_url=SANDBOX_BASE_URL, headers=AUTH) as http:
        return http.get(QUERY, params=params)


def test_a_missing_fields_is_error_13_as_pardot_answers(demo: SandboxApp) -> None:
    answer = _get(demo)
    assert answer.status_code == 400
    assert answer.json() == {"code": 13, "message": "One or more required parameters are missing: fields"}


def test_scheduled_time_is_write_only_and_subject_and_sent_at_are_readable(demo: SandboxApp, clock: Clock) -> None:
    with _client(demo) as client:
        now_id = _send(client, "now-1", subject="Now")
        later_id = _send(client, "later-1", at=START + timedelta(days=2), subject="Later")
    assert _get(demo, fields="id,scheduledTime").json()["code"] == 57
    values = _get(demo, fields="id,subject,sentAt,isSent").json()["values"]
    assert values == [
        {"id": now_id, "subject": "Now", "sentAt": START.isoformat(), "isSent": True},
        {"id": later_id, "subject": "Later", "sentAt": None, "isSent": False},  # not sent yet: no sentAt
    ]
    clock.now = START + timedelta(days=3)
    later = _get(demo, fields="id,sentAt,isSent").json()["values"][1]
    assert later == {"id": later_id, "sentAt": (START + timedelta(days=2)).isoformat(), "isSent": True}


def test_the_lists_are_readable_and_their_ids_stay_write_only(demo: SandboxApp, clock: Clock) -> None:
    from orchestrator.sandbox.objects import relist_list_email  # an operator editing it in Pardot's UI
    from orchestrator.sandbox.wire import SandboxRefusal

    send = ListEmailSend(
        campaign_id=1001, list_ids=(2001, 2002), suppression_list_ids=(2003,), email_template_id=4001,
        name="lists", subject="Hello", scheduled_time=START + timedelta(days=2),
    )  # fmt: skip
    with _client(demo) as client:
        email_id = client.send_list_email(send).id
        now_id = _send(client, "now-1")
    for write_only in ("recipientListIds", "suppressionListIds"):
        assert _get(demo, fields=f"id,{write_only}").json()["code"] == 57
    fields = "id,recipientLists,suppressionLists"
    values = _get(demo, fields=fields).json()["values"]
    assert values == [
        {"id": email_id, "recipientLists": [{"id": 2001}, {"id": 2002}], "suppressionLists": [{"id": 2003}]},
        {"id": now_id, "recipientLists": [{"id": 2001}], "suppressionLists": []},
    ]
    assert relist_list_email(demo.store, email_id, [2002], [], clock.now)
    with httpx.Client(transport=inprocess_transport(demo), base_url=SANDBOX_BASE_URL, headers=AUTH) as http:
        read = http.get(f"{QUERY}/{email_id}", params={"fields": fields}).json()
    assert read == {"id": email_id, "recipientLists": [{"id": 2002}], "suppressionLists": []}
    # Who it will reach follows the lists, as in Pardot.
    assert recipient_ids(demo.store, email_id) == recipient_ids(demo.store, _relisted_twin(demo, clock))
    with _client(demo) as client:
        seen, _ = client.query_list_emails_v5_since(START)
    assert (seen[0].recipient_list_ids, seen[0].suppression_list_ids) == (frozenset({2002}), frozenset())
    assert not relist_list_email(demo.store, now_id, [2002], [], clock.now)  # gone out: too late to change
    with pytest.raises(SandboxRefusal):
        relist_list_email(demo.store, email_id, [999999], [], clock.now)  # unknown list: error 55


def _relisted_twin(app: SandboxApp, clock: Clock) -> int:
    """A new scheduled email sent to [2002] alone: whom the relisted one must now reach."""
    twin = ListEmailSend(
        campaign_id=1001, list_ids=(2002,), email_template_id=4001, name="twin", subject="Hello",
        scheduled_time=START + timedelta(days=2),
    )  # fmt: skip
    with _client(app) as client:
        return client.send_list_email(twin).id


def test_the_three_time_filters_are_inclusive(demo: SandboxApp, clock: Clock) -> None:
    from orchestrator.sandbox.objects import reschedule_list_email  # an operator moving it in Pardot's UI

    with _client(demo) as client:
        first = _send(client, "a")
        clock.now = START + timedelta(hours=1)
        second = _send(client, "b", at=START + timedelta(days=1))
        clock.now = START + timedelta(hours=2)
        assert reschedule_list_email(demo.store, second, START + timedelta(days=2), clock.now)

    def ids(**filters: str) -> list[int]:
        return [v["id"] for v in _get(demo, fields="id", **filters).json()["values"]]

    hour = START + timedelta(hours=1)
    assert ids(createdAtAfterOrEqualTo=hour.isoformat()) == [second]  # equal counts
    assert ids(createdAtAfterOrEqualTo=START.isoformat()) == [first, second]
    assert ids(updatedAtAfterOrEqualTo=(START + timedelta(hours=2)).isoformat()) == [second]  # moved: updated
    assert ids(sentAtAfterOrEqualTo=START.isoformat()) == [first]  # the scheduled one has not gone out
    refused = _get(demo, fields="id", createdAtAfterOrEqualTo="2026-11-27T12:00:00")
    assert refused.status_code == 400 and "Invalid date time value" in refused.json()["message"]  # no offset


def test_pages_name_the_next_by_token_and_url_and_keep_the_filter(demo: SandboxApp, clock: Clock) -> None:
    with _client(demo) as client:
        for i in range(5):
            _send(client, f"old-{i}")
        clock.now = START + timedelta(days=1)
        new = [_send(client, f"new-{i}") for i in range(450)]
    since = (START + timedelta(days=1)).isoformat()
    body: dict[str, Any] = _get(demo, fields="id", createdAtAfterOrEqualTo=since, limit="200").json()
    assert body["nextPageUrl"] == (
        f"{SANDBOX_BASE_URL}{QUERY}?fields=id&nextPageToken={body['nextPageToken'].replace('=', '%3D')}"
    )
    calls: list[str] = []
    with _client(demo, calls) as client:
        seen, token = client.query_list_emails_v5_since(START + timedelta(days=1))
        while token is not None:
            page, token = client.query_list_emails_v5_since(None, page_token=token)
            seen += page
    assert [e.id for e in seen] == new  # the filter travels in the token: no old email comes back
    assert len(calls) == 3  # 450 emails: three pages of 200
    assert "createdAtAfterOrEqualTo=2026-11-28T12%3A00%3A00%2B00%3A00" in calls[0]  # an explicit offset


def test_the_client_follows_a_next_page_url_only_to_its_own_query() -> None:
    own = f"{SANDBOX_BASE_URL}{QUERY}?fields=id&nextPageToken=T2"
    pages = {
        None: {"values": [{"id": 1, "name": "a"}], "nextPageUrl": own},
        "T2": {"values": [{"id": 2, "name": "b"}], "nextPageUrl": f"https://elsewhere.example{QUERY}?nextPageToken=T3"},
    }
    asked: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        token = request.url.params.get("nextPageToken")
        asked.append(token)
        return httpx.Response(200, json=pages[token])

    settings = ApiSettings(SANDBOX_BASE_URL, SANDBOX_BUSINESS_UNIT, StaticTokenAuth(SANDBOX_TOKEN), allow_insecure=True)
    with PardotClient(settings, transport=httpx.MockTransport(handler)) as client:
        first, token = client.query_list_emails_v5_since(START)
        assert [e.id for e in first] == [1] and token == "T2"
        with pytest.raises(ApiProtocolError, match="next page elsewhere"):
            client.query_list_emails_v5_since(None, page_token=token)
    assert asked == [None, "T2"]  # elsewhere.example was never asked


def test_a_query_that_refuses_the_list_fields_is_asked_again_without_them() -> None:
    """The lists' element shape is UNCONFIRMED: if Pardot refused the fields, a refresh still runs
    and says the lists were not checked, instead of failing every plan --refresh."""
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        fields = request.url.params["fields"]
        asked.append(fields)
        if "recipientLists" in fields:
            return httpx.Response(400, json={"code": 57, "message": "Invalid fields: recipientLists, suppressionLists"})
        token = request.url.params.get("nextPageToken")
        row = {"id": 2 if token else 1, "name": "n", "isSent": False, "isDeleted": False}
        return httpx.Response(200, json={"values": [row], "nextPageToken": None if token else "T2"})

    settings = ApiSettings(SANDBOX_BASE_URL, SANDBOX_BUSINESS_UNIT, StaticTokenAuth(SANDBOX_TOKEN), allow_insecure=True)
    with PardotClient(settings, transport=httpx.MockTransport(handler)) as client:
        first, token = client.query_list_emails_v5_since(START)
        second, token = client.query_list_emails_v5_since(None, page_token=token)
    assert [e.id for e in first + second] == [1, 2] and token is None
    assert all(e.recipient_list_ids is None and e.suppression_list_ids is None for e in first + second)
    assert ["recipientLists" in f for f in asked] == [True, False, False]  # asked once; the next page without


def test_another_refusal_of_the_refresh_query_is_not_retried() -> None:
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.params["fields"])
        return httpx.Response(400, json={"code": 58, "message": "Invalid date time value for createdAtAfterOrEqualTo"})

    settings = ApiSettings(SANDBOX_BASE_URL, SANDBOX_BUSINESS_UNIT, StaticTokenAuth(SANDBOX_TOKEN), allow_insecure=True)
    with PardotClient(settings, transport=httpx.MockTransport(handler)) as client, pytest.raises(ApiError):
        client.query_list_emails_v5_since(START)
    assert len(asked) == 1


def test_a_scheduled_email_deleted_before_its_time_never_goes_out(demo: SandboxApp, clock: Clock) -> None:
    with _client(demo) as client:
        early = _send(client, "cancelled", at=START + timedelta(days=2))
        late = _send(client, "deleted-afterwards", at=START + timedelta(days=1))
    assert delete_email(demo.store, early, START + timedelta(days=1, hours=12))
    assert delete_email(demo.store, late, START + timedelta(days=1, hours=12))
    clock.now = START + timedelta(days=3)
    values = _get(demo, fields="id,isSent,sentAt,isDeleted", deleted="all").json()["values"]
    assert values == [
        {"id": early, "isSent": False, "sentAt": None, "isDeleted": True},
        {"id": late, "isSent": True, "sentAt": (START + timedelta(days=1)).isoformat(), "isDeleted": True},
    ]


def test_the_refresh_stops_at_its_page_budget_and_says_so(demo: SandboxApp, clock: Clock) -> None:
    from orchestrator.planning import read_list_emails_since

    with _client(demo) as client:
        ids = [_send(client, f"e-{i}") for i in range(450)]  # three pages of 200
    calls: list[str] = []
    with _client(demo, calls) as client:
        seen, pages, complete = read_list_emails_since(client, START, 2)
        assert (len(seen), pages, complete) == (400, 2, False)  # stopped: the rest is unseen, not absent
        seen, pages, complete = read_list_emails_since(client, START, 3)
        assert ([e.id for e in seen], pages, complete) == (ids, 3, True)
        assert read_list_emails_since(client, START, 0) == ([], 0, True)  # nothing to check: no request
    assert len(calls) == 5
