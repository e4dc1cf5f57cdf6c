"""v5 email templates in the sandbox, over HTTP and through the client: create (POST), read,
update (PATCH) and query with the v5 shapes; errors as ``{"code", "message"}`` with a 4xx."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from orchestrator.errors import ApiNotFound, ApiValidationError
from orchestrator.pardot.client import PardotClient
from orchestrator.pardot.settings import ApiSettings, StaticTokenAuth
from orchestrator.pardot.templates_v5 import template_body
from orchestrator.sandbox import SANDBOX_BASE_URL, SANDBOX_BUSINESS_UNIT, SANDBOX_TOKEN, SandboxApp, inprocess_transport

PATH = "/api/v5/objects/email-templates"
BODY: dict[str, Any] = {
    "name": "welcome",
    "subject": "Welcome",
    "textMessage": "Hi. %%unsubscribe%%",
    "htmlMessage": '<a href="%%unsubscribe%%">Unsubscribe</a>',
    "isListEmail": True,
    "senderOptions": [{"type": "general_user", "name": "Jane", "address": "jane@example.com"}],
}
CONTENT: dict[str, Any] = {
    "name": "welcome",
    "subject": "Welcome",
    "text": "Hi. %%unsubscribe%%",
    "html": '<a href="%%unsubscribe%%">Unsubscribe</a>',
    "sender": {"name": "Jane", "email": "jane@example.com"},
    "reply_to": None,
    "flags": {"isListEmail": True, "isOneToOneEmail": False, "isAutoResponderEmail": False, "isDripEmail": False},
}


def test_create_answers_201_with_the_asked_fields_only_and_a_location(client: httpx.Client) -> None:
    answer = client.post(PATH, params={"fields": "id,name,isListEmail,createdAt"}, json=BODY)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert set(body) == {"id", "name", "isListEmail", "createdAt"}
    assert body["name"] == "welcome" and body["isListEmail"] is True
    assert body["createdAt"].endswith("+00:00")
    assert answer.headers["Location"].endswith(f"{PATH}/{body['id']}")


def test_read_needs_fields_and_refuses_unknown_ones(client: httpx.Client) -> None:
    created = client.post(PATH, json=BODY).json()
    missing = client.get(f"{PATH}/{created['id']}")
    assert missing.status_code == 400 and missing.json() == {
        "code": 13,
        "message": "One or more required parameters are missing: fields",
    }
    unknown = client.get(f"{PATH}/{created['id']}", params={"fields": "id,password"})
    assert unknown.status_code == 400 and unknown.json()["code"] == 57
    gone = client.get(f"{PATH}/999999", params={"fields": "id"})
    assert gone.status_code == 404 and gone.json()["code"] == 192


def test_patch_changes_the_given_fields_and_keeps_the_rest(client: httpx.Client) -> None:
    created = client.post(PATH, json=BODY).json()
    answer = client.patch(
        f"{PATH}/{created['id']}", params={"fields": "subject,textMessage,updatedAt"}, json={"subject": "Hello"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["subject"] == "Hello" and answer.json()["textMessage"] == BODY["textMessage"]


@pytest.mark.parametrize(
    ("body", "code"),
    [({"colour": "blue"}, 154), ({"name": 5}, 154), ({"name": "x"}, 13), ([1], 150)],
)
def test_create_refuses_bad_bodies_with_v5_errors(client: httpx.Client, body: Any, code: int) -> None:
    answer = client.post(PATH, json=body)
    assert answer.status_code == 400 and answer.json()["code"] == code, answer.text
    assert set(answer.json()) == {"code", "message"}


def test_query_pages_by_token_and_url(client: httpx.Client) -> None:
    for n in range(3):
        client.post(PATH, json={**BODY, "name": f"t{n}"})
    first = client.get(PATH, params={"fields": "id,name", "limit": "2"}).json()
    assert len(first["values"]) == 2 and first["nextPageToken"]
    assert first["nextPageUrl"].startswith(SANDBOX_BASE_URL)
    names = [v["name"] for v in first["values"]]
    page = first
    while page.get("nextPageToken"):  # absent (or null) on the last page
        page = client.get(PATH, params={"fields": "id,name", "nextPageToken": page["nextPageToken"]}).json()
        assert len(page["values"]) <= 2
        names += [v["name"] for v in page["values"]]
    assert names[-3:] == ["t0", "t1", "t2"]


def test_the_client_creates_reads_updates_and_queries_through_v5() -> None:
    app = SandboxApp()
    settings = ApiSettings(SANDBOX_BASE_URL, SANDBOX_BUSINESS_UNIT, StaticTokenAuth(SANDBOX_TOKEN), allow_insecure=True)
    with PardotClient(settings, transport=inprocess_transport(app)) as client:
        made = client.create_template_v5(template_body(CONTENT))
        assert made.content() == CONTENT
        changed = client.update_template_v5(made.id, {"subject": "Hello"})
        assert changed.subject == "Hello" and changed.text == CONTENT["text"]
        assert client.read_template_v5(made.id).subject == "Hello"
        seen, _ = client.query_templates_v5()
        assert made.id in {t.id for t in seen}
        with pytest.raises(ApiNotFound):
            client.read_template_v5(999_999)
        with pytest.raises(ApiValidationError):
            client.create_template_v5({"name": "x"})
    app.close()
