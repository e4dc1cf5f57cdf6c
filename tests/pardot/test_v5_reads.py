"""Under ``api.version: 5`` the reads go through v5: emails, templates and the id look-ups.

The real client against the in-process sandbox, which serves each v5 collection with the real
shapes (``values``, ``nextPageToken`` with ``nextPageUrl``, DateTimes with an offset, write-only
fields never returned, ``{"code", "message"}`` errors: 13 without ``fields``, 181 without the
business-unit header). A tracer records every request, so each test sees the paths used.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from orchestrator.errors import ApiNotFound
from orchestrator.pardot import decode, endpoints
from orchestrator.pardot.client import PardotClient
from orchestrator.pardot.models import ListEmailSend, OneToOneSend
from orchestrator.pardot.settings import ApiSettings, StaticTokenAuth
from orchestrator.pardot.versions import V5
from orchestrator.sandbox import SANDBOX_BASE_URL, SANDBOX_BUSINESS_UNIT, SANDBOX_TOKEN, SandboxApp, inprocess_transport

SETTINGS = ApiSettings(SANDBOX_BASE_URL, SANDBOX_BUSINESS_UNIT, StaticTokenAuth(SANDBOX_TOKEN), allow_insecure=True)
HEADERS = {"Authorization": f"Bearer {SANDBOX_TOKEN}", "Pardot-Business-Unit-Id": SANDBOX_BUSINESS_UNIT}


@pytest.fixture
def app() -> Iterator[SandboxApp]:
    sandbox = SandboxApp()
    yield sandbox
    sandbox.close()


class Seen:
    """Every request the client made, as ``METHOD path``."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request, response: httpx.Response | None) -> None:
        self.requests.append(request)

    @property
    def paths(self) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.requests]

    def last(self) -> tuple[str, str, list[tuple[str, str]]]:
        """The last request's method, path and sorted query parameters."""
        request = self.requests[-1]
        return request.method, request.url.path, sorted(request.url.params.multi_items())


def _client(app: SandboxApp, seen: Seen) -> PardotClient:
    return PardotClient(SETTINGS, transport=inprocess_transport(app), api=V5, tracer=seen)


def _http(app: SandboxApp) -> httpx.Client:
    return httpx.Client(transport=inprocess_transport(app), base_url=SANDBOX_BASE_URL)


def test_id_look_ups_read_campaigns_lists_and_users_through_v5(app: SandboxApp) -> None:
    seen = Seen()
    with _client(app, seen) as client:
        assert client.read_campaign(1001).name == "spring-2027"
        assert client.read_list(2001).name == "newsletter"
        user = client.read_user(3001)
        assert (user.email, user.first_name) == ("jane@example.com", "Jane")
        assert [c.id for c in client.query_campaigns()] == [1001]
        assert [x.id for x in client.query_lists()] == [2001, 2002, 2003]
        assert [u.id for u in client.query_users()] == [3001]
        with pytest.raises(ApiNotFound) as caught:
            client.read_campaign(999)
    assert caught.value.code == 192 and caught.value.http_status == 404
    assert all(path.startswith("GET /api/v5/objects/") for path in seen.paths), seen.paths
    assert "GET /api/v5/objects/lists/2001" in seen.paths and "GET /api/v5/objects/users" in seen.paths
    fields = {r.url.path: r.url.params.get("fields") for r in seen.requests}
    assert fields["/api/v5/objects/lists/2001"] == "id,name,isDynamic,isPublic"


def test_templates_are_read_and_listed_through_v5(app: SandboxApp) -> None:
    seen = Seen()
    with _client(app, seen) as client:
        template = client.read_template(4001, archived=True)
        listed = client.list_one_to_one_templates()
    assert template.name == "welcome" and "%%unsubscribe%%" in template.text and template.is_list_email
    assert template.send_from == [{"type": "general_user", "userId": 3001}]
    assert [t.id for t in listed] == [4001, 4002] and all(t.is_one_to_one_email for t in listed)
    assert seen.paths == ["GET /api/v5/objects/email-templates/4001", "GET /api/v5/objects/email-templates"]
    # textMessage and htmlMessage are not queryable (email-template-v5 page): the query leaves them out
    assert "textMessage" not in str(seen.requests[1].url.params.get("fields"))


def test_email_reads_find_list_and_one_to_one_emails_through_v5(app: SandboxApp) -> None:
    seen = Seen()
    with _client(app, seen) as client:
        common = {"campaign_id": 1001, "subject": "s", "text_content": "%%unsubscribe%%",
                  "from_email": "a@example.com", "from_name": "A"}  # fmt: skip
        listed = client.send_list_email(ListEmailSend(list_ids=(2001,), name="l", **common))  # type: ignore[arg-type]
        single = client.send_one_to_one(OneToOneSend(prospect_id=1234, name="o", **common))  # type: ignore[arg-type]
        seen.requests.clear()
        read_list = client.read_email(listed.id)
        read_single = client.read_email(single.id, include_message=False)
    assert (read_list.name, read_list.is_one_to_one, read_list.text) == ("l", False, "%%unsubscribe%%")
    assert read_list.created_at is not None and read_list.created_at.utcoffset() is not None
    assert (read_single.name, read_single.is_one_to_one, read_single.text) == ("o", True, None)
    assert seen.paths == [
        f"GET /api/v5/objects/list-emails/{listed.id}",
        f"GET /api/v5/objects/list-emails/{single.id}",  # 404: not a list email
        f"GET /api/v5/objects/emails/{single.id}",
    ]


def test_v5_queries_carry_next_page_token_and_url(app: SandboxApp) -> None:
    with _http(app) as http:
        first = http.get("/api/v5/objects/lists", params={"fields": "id,name", "limit": "1"}, headers=HEADERS)
        assert first.status_code == 200
        body = first.json()
        assert [v["id"] for v in body["values"]] == [2001]
        assert body["nextPageUrl"].startswith(f"{SANDBOX_BASE_URL}/api/v5/objects/lists?")
        assert body["nextPageToken"] in body["nextPageUrl"]
        ids = [2001]
        while "nextPageUrl" in body:
            body = http.get(body["nextPageUrl"], headers=HEADERS).json()
            ids += [v["id"] for v in body["values"]]
        assert ids == [2001, 2002, 2003]


def test_the_client_follows_next_page_url_alone(app: SandboxApp) -> None:
    """A server that names the next page only by ``nextPageUrl`` still gets every page read
    (a client paging by the token alone would stop after page one)."""
    sandbox = inprocess_transport(app)

    def url_only(request: httpx.Request) -> httpx.Response:
        if "nextPageToken" not in request.url.params:  # one list a page, so that there are three
            request = httpx.Request(request.method, request.url.copy_set_param("limit", "1"), headers=request.headers)
        answer = sandbox.handle_request(request)
        answer.read()
        body = answer.json()
        body.pop("nextPageToken", None)
        return httpx.Response(answer.status_code, json=body)

    seen = Seen()
    with PardotClient(SETTINGS, transport=httpx.MockTransport(url_only), api=V5, tracer=seen) as client:
        assert [x.id for x in client.query_lists()] == [2001, 2002, 2003]
    assert len(seen.requests) == 3 and all(r.url.host == "sandbox.local" for r in seen.requests)


def test_v5_errors_have_the_recorded_codes_and_shapes(app: SandboxApp) -> None:
    with _http(app) as http:
        missing = http.get("/api/v5/objects/emails", headers=HEADERS)
        assert missing.status_code == 400
        assert missing.json() == {"code": 13, "message": "One or more required parameters are missing: fields"}
        token_only = {"Authorization": HEADERS["Authorization"]}
        no_unit = http.get("/api/v5/objects/campaigns/1001", params={"fields": "id"}, headers=token_only)
        assert no_unit.json() == {
            "code": 181,
            "message": "A required header is missing: Pardot-Business-Unit-Id header not found on request.",
        }
        unknown = http.get("/api/v5/objects/users/9", params={"fields": "id"}, headers=HEADERS)
        assert unknown.status_code == 404 and unknown.json()["code"] == 192


def test_write_only_fields_are_never_returned(app: SandboxApp) -> None:
    with _client(app, Seen()) as client:
        sent = client.send_one_to_one(
            OneToOneSend(
                campaign_id=1001, prospect_id=1234, name="o", subject="s", text_content="%%unsubscribe%%",
                from_email="a@example.com", from_name="A",
            )
        )
    with _http(app) as http:
        for fields in ("id,scheduledTime", "scheduledTime"):  # write-only on create (email-v5 page)
            answer = http.get(f"/api/v5/objects/emails/{sent.id}", params={"fields": fields}, headers=HEADERS)
            assert answer.status_code == 400, fields
        row = http.get(
            f"/api/v5/objects/emails/{sent.id}", params={"fields": "id,prospectId,sentAt"}, headers=HEADERS
        ).json()
    assert row["id"] == sent.id and row["prospectId"] == 1234
    assert datetime.fromisoformat(row["sentAt"]).utcoffset() is not None


def test_a_recorded_email_query_page_decodes_as_reconcile_reads_it() -> None:
    """amp-labs/connectors' recorded ``/api/v5/objects/emails`` page (tests/pardot/bodies/real_v5,
    with its provenance): ``prospectId`` is a field of the query, null for these emails."""
    body = (Path(__file__).parent / "bodies" / "real_v5" / "amp_emails_first_page.json").read_bytes()
    emails, token = decode.decode_one_to_one_emails_v5(json.loads(body))
    assert [(e.id, e.name, e.prospect_id, e.sent_at) for e in emails] == [
        (34277860, "Sending first email ever", None, None),
        (34277863, "Second email, on the roll", None, None),
    ]
    assert token is not None and token.startswith("eyJ")


#: The fields the email-v5 page shows for one-to-one emails (docs/wire-format.md, "Version 5 reads").
EMAIL_PAGE_FIELDS = {
    "id", "name", "subject", "campaignId", "prospectId", "sentAt", "textMessage", "htmlMessage",
    "clientType", "createdById", "listEmailId", "emailTemplateId", "trackerDomainId", "folderId",
}  # fmt: skip


def test_every_email_call_asks_only_fields_the_email_page_shows() -> None:
    send = OneToOneSend(campaign_id=1001, prospect_id=42, email_template_id=4001, name="hi")
    calls = [
        V5.one_to_one_send(send),
        V5.email_read_fallback(7, include_message=True),
        endpoints.emails_v5_sent_since("2026-11-27T00:00:00+00:00"),
    ]
    for call in calls:
        assert call is not None
        assert set(dict(call.params)["fields"].split(",")) <= EMAIL_PAGE_FIELDS, call.path
