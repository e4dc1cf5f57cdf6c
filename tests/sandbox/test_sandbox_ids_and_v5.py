"""The sandbox's campaign/list/user read and query and its v5 list-email query, through the client."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from orchestrator.errors import ApiNotFound, ApiValidationError
from orchestrator.pardot.client import PardotClient
from orchestrator.pardot.models import Campaign, ListEmailSend, PardotList, User
from orchestrator.pardot.settings import ApiSettings, StaticTokenAuth
from orchestrator.sandbox import SANDBOX_BASE_URL, SANDBOX_BUSINESS_UNIT, SANDBOX_TOKEN, SandboxApp, inprocess_transport

LISTS = {"lists": [{"id": i, "name": f"List {i}"} for i in range(1, 451)], "campaigns": [{"id": 7, "name": "c"}]}


def _client(app: SandboxApp, fmt: str = "json") -> PardotClient:
    settings = ApiSettings(
        SANDBOX_BASE_URL, SANDBOX_BUSINESS_UNIT, StaticTokenAuth(SANDBOX_TOKEN), allow_insecure=True, format=fmt
    )
    return PardotClient(settings, transport=inprocess_transport(app))


@pytest.fixture
def demo() -> Iterator[SandboxApp]:
    app = SandboxApp()
    yield app
    app.close()


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_reads_in_both_formats(demo: SandboxApp, fmt: str) -> None:
    with _client(demo, fmt) as client:
        assert client.read_campaign(1001) == Campaign(1001, "spring-2027")
        assert client.read_list(2001) == PardotList(2001, "newsletter")
        assert client.read_user(3001) == User(3001, "jane@example.com", "Jane", "Doe")


@pytest.mark.parametrize(("read", "code"), [("read_campaign", 38), ("read_list", 55), ("read_user", 10)])
def test_unknown_ids_answer_pardots_code(demo: SandboxApp, read: str, code: int) -> None:
    with _client(demo) as client, pytest.raises(ApiValidationError) as caught:
        getattr(client, read)(99999)
    assert caught.value.code == code


def test_queries_page_by_id_until_the_end() -> None:
    app = SandboxApp(seed=LISTS)
    paths: list[str] = []
    settings = ApiSettings(SANDBOX_BASE_URL, SANDBOX_BUSINESS_UNIT, StaticTokenAuth(SANDBOX_TOKEN), allow_insecure=True)

    def trace(request: httpx.Request, response: httpx.Response | None) -> None:
        paths.append(str(request.url))

    with PardotClient(settings, transport=inprocess_transport(app), tracer=trace) as client:
        lists = client.query_lists()
    assert [x.id for x in lists] == list(range(1, 451))
    assert len(paths) == 3 and "id_greater_than=400" in paths[-1]
    app.close()


def test_v5_list_email_query_pages_newest_first_and_reads_one(demo: SandboxApp) -> None:
    with _client(demo) as client:
        sent = [
            client.send_list_email(
                ListEmailSend(campaign_id=1001, list_ids=(2001,), email_template_id=4001, name=f"n{i}")
            )
            for i in range(3)
        ]
        first, token = client.query_list_emails_v5()
        assert [e.name for e in first] == ["n2", "n1", "n0"] and token is None
        assert all(e.is_sent and e.created_at is not None and e.created_at.utcoffset() is not None for e in first)
        assert client.read_list_email_v5(sent[0].id).name == "n0"
        with pytest.raises(ApiNotFound):
            client.read_list_email_v5(1)


def test_v5_query_refuses_filters_the_docs_do_not_document(demo: SandboxApp) -> None:
    with httpx.Client(transport=inprocess_transport(demo), base_url=SANDBOX_BASE_URL) as http:
        answer = http.get(
            "/api/v5/objects/list-emails",
            params={"fields": "id,name", "name": "x"},
            headers={"Authorization": f"Bearer {SANDBOX_TOKEN}", "Pardot-Business-Unit-Id": SANDBOX_BUSINESS_UNIT},
        )
    assert answer.status_code == 400
    assert "Unsupported parameter" in answer.json()["message"]


def test_v5_page_token_carries_the_order_and_only_fields_travel_with_it(demo: SandboxApp) -> None:
    auth = {"Authorization": f"Bearer {SANDBOX_TOKEN}", "Pardot-Business-Unit-Id": SANDBOX_BUSINESS_UNIT}
    with _client(demo) as client:
        for i in range(3):
            client.send_list_email(
                ListEmailSend(campaign_id=1001, list_ids=(2001,), email_template_id=4001, name=f"n{i}")
            )
    names: list[str] = []
    params: dict[str, str] = {"fields": "id,name", "orderBy": "id desc", "limit": "2"}
    with httpx.Client(transport=inprocess_transport(demo), base_url=SANDBOX_BASE_URL, headers=auth) as http:
        for _ in range(5):
            body = http.get("/api/v5/objects/list-emails", params=params).json()
            names += [v["name"] for v in body["values"]]
            if "nextPageToken" not in body:
                break
            params = {"fields": "id,name", "nextPageToken": body["nextPageToken"]}
    assert names == ["n2", "n1", "n0"]
