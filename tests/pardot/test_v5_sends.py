"""``version: 5`` sends: the client against the in-process sandbox, and the exactly-once rule.

List emails go through ``POST /api/v5/objects/list-emails`` and one-to-one emails by prospect id
through ``POST /api/v5/objects/emails``, with JSON bodies whose field names are the official v5
pages' (docs/wire-format.md, "Version 5"). What v5 cannot carry (tags, a prospect named by
address) keeps the v4 path. A v5 refusal (4xx with ``{"code", "message"}``) proves nothing was
sent; anything else about a send is an unknown outcome.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import tenacity
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.errors import (
    ApiAuthError,
    ApiError,
    ApiNotFound,
    ApiOutcomeUnknown,
    ApiRateLimited,
    ApiValidationError,
)
from orchestrator.pardot.client import PardotClient
from orchestrator.pardot.models import ListEmailSend, OneToOneSend
from orchestrator.pardot.settings import ApiSettings, StaticTokenAuth
from orchestrator.pardot.versions import V5, list_email_body, one_to_one_body
from orchestrator.sandbox import (
    SANDBOX_BASE_URL,
    SANDBOX_BUSINESS_UNIT,
    SANDBOX_TOKEN,
    FaultConfig,
    SandboxApp,
    inprocess_transport,
)

from .fakes import Answer, FakePardot, Recorder, make_settings

START = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
UNSUB = "Bye %%unsubscribe%%"
AUTH = {"Authorization": f"Bearer {SANDBOX_TOKEN}", "Pardot-Business-Unit-Id": SANDBOX_BUSINESS_UNIT}


ONE_BY_ID = OneToOneSend(campaign_id=1001, prospect_id=1234, email_template_id=4002, name="hi")


def _list_send(**overrides: Any) -> ListEmailSend:
    values: dict[str, Any] = {
        "campaign_id": 1001,
        "list_ids": (2001, 2002),
        "suppression_list_ids": (2003,),
        "name": "v5 news",
        "subject": "Hello",
        "text_content": UNSUB,
        "from_email": "news@example.com",
        "from_name": "News",
        "replyto_email": "reply@example.com",
    }
    values.update(overrides)
    return ListEmailSend(**values)


class Box:
    def __init__(self) -> None:
        self.app = SandboxApp(clock=lambda: START, read_only_token="read-only-token")
        self.recorder = Recorder()
        self.clients: list[PardotClient] = []

    def client(self, version: int = 5, token: str = SANDBOX_TOKEN) -> PardotClient:
        api_settings = ApiSettings(
            base_url=SANDBOX_BASE_URL,
            business_unit_id=SANDBOX_BUSINESS_UNIT,
            auth=StaticTokenAuth(token),
            allow_insecure=True,
            version=version,
            format="json",
        )
        client = PardotClient(
            api_settings,
            transport=inprocess_transport(self.app),
            env={},
            tracer=self.recorder.tracer,
            retry_wait=tenacity.wait_none(),
            sleep=self.recorder.sleep,
        )
        self.clients.append(client)
        return client

    def http(self) -> httpx.Client:
        return httpx.Client(transport=inprocess_transport(self.app), base_url=SANDBOX_BASE_URL)

    def recipients(self, email_id: int) -> list[int]:
        with self.http() as h:
            body = h.get(f"/_sandbox/emails/{email_id}/recipients").json()
        return [int(r) for r in body["prospect_ids"]]

    def email_count(self) -> int:
        with self.http() as h:
            return len(h.get("/_sandbox/emails").json()["emails"])


@pytest.fixture
def box() -> Iterator[Box]:
    sandbox = Box()
    yield sandbox
    for client in sandbox.clients:
        client.close()
    sandbox.app.close()


# --- the wire: field names from the official pages ----------------------------------------


def test_list_send_body_uses_the_v5_field_names() -> None:
    at = datetime(2027, 3, 1, 14, 0, tzinfo=UTC)
    body = list_email_body(_list_send(scheduled_time=at, operational_email=True, from_user_id=3001))
    assert body == {
        "campaignId": 1001,
        "name": "v5 news",
        "subject": "Hello",
        "textMessage": UNSUB,
        "senderOptions": [
            {"type": "specific_user", "userId": 3001},
            {"type": "general_user", "address": "news@example.com", "name": "News"},
        ],
        "replyToOptions": [{"type": "general_address", "address": "reply@example.com"}],
        "isOperational": True,
        "recipientListIds": [2001, 2002],
        "suppressionListIds": [2003],
        "scheduledTime": "2027-03-01T14:00:00+00:00",
    }


def test_one_to_one_body_names_the_prospect_by_id() -> None:
    body = one_to_one_body(OneToOneSend(campaign_id=1001, prospect_id=42, email_template_id=4001, name="hi"))
    assert body == {"campaignId": 1001, "name": "hi", "emailTemplateId": 4001, "prospectId": 42}


def test_what_v5_cannot_carry_keeps_the_v4_path() -> None:
    assert V5.list_send(_list_send()).path == "/api/v5/objects/list-emails"
    assert V5.list_send(_list_send(tags=("spring",))).path == "/api/email/version/4/do/send"
    by_id = OneToOneSend(campaign_id=1001, prospect_id=42, email_template_id=4001, name="hi")
    assert V5.one_to_one_send(by_id).path == "/api/v5/objects/emails"
    by_address = OneToOneSend(campaign_id=1001, prospect_email="a@example.com", email_template_id=4001)
    assert V5.one_to_one_send(by_address).path.startswith("/api/email/version/4/do/send/prospect_email/")


# --- against the sandbox ------------------------------------------------------------------


def test_a_v5_list_send_reaches_the_same_recipients_as_v4(box: Box) -> None:
    v5 = box.client(5).send_list_email(_list_send())
    v4 = box.client(4).send_list_email(_list_send())
    assert box.recorder.exchanges == [
        ("POST /api/v5/objects/list-emails", 201),
        ("POST /api/email/version/4/do/send", 200),
    ]
    assert (v5.name, v5.subject, v5.campaign_id, v5.is_one_to_one) == ("v5 news", "Hello", 1001, False)
    assert v5.created_at == START  # aware: v5 DateTimes carry the account's offset
    assert box.recipients(v5.id) == box.recipients(v4.id) != []


def test_a_v5_scheduled_send_is_recorded_with_its_time(box: Box) -> None:
    at = START + timedelta(days=3)
    email = box.client(5).send_list_email(_list_send(scheduled_time=at))
    assert email.scheduled_time is None  # write-only: never read back
    with box.http() as h:
        rows = h.get("/_sandbox/emails").json()["emails"]
    (row,) = [r for r in rows if r["id"] == email.id]
    assert row["scheduled_time"].startswith("2026-11-30")


def test_a_v5_one_to_one_send_by_id(box: Box) -> None:
    email = box.client(5).send_one_to_one(ONE_BY_ID)
    assert box.recorder.exchanges == [("POST /api/v5/objects/emails", 201)]
    assert email.is_one_to_one and box.recipients(email.id) == [1234]


@pytest.mark.parametrize(
    ("send", "code", "words"),
    [
        (_list_send(list_ids=(999999,)), 55, "Invalid list ID"),
        (_list_send(campaign_id=999999), 38, "Invalid campaign ID"),
        (_list_send(text_content="no link"), 64, "textMessage"),
    ],
)
def test_a_v5_refusal_is_a_refusal_and_sends_nothing(box: Box, send: ListEmailSend, code: int, words: str) -> None:
    before = box.email_count()
    with pytest.raises(ApiValidationError) as caught:
        box.client(5).send_list_email(send)
    assert caught.value.code == code and words in caught.value.message
    assert caught.value.http_status == 400
    assert box.recorder.exchanges == [("POST /api/v5/objects/list-emails", 400)]  # not retried
    assert box.email_count() == before


def test_a_read_only_user_cannot_send_through_v5(box: Box) -> None:
    with pytest.raises(ApiAuthError) as caught:
        box.client(5, token="read-only-token").send_list_email(_list_send())
    assert caught.value.code == 46
    assert box.email_count() == 0


# --- the sandbox's v5 shapes --------------------------------------------------------------


def _post(box: Box, path: str, body: Any, **params: str) -> httpx.Response:
    with box.http() as h:
        return h.post(path, json=body, params=params, headers=AUTH)


def test_the_create_answer_holds_readable_fields_only(box: Box) -> None:
    body = {"name": "n", "campaignId": 1001, "recipientListIds": [2001], "emailTemplateId": 4001}
    answer = _post(box, "/api/v5/objects/list-emails", body, fields="id,name,createdAt,isSent")
    assert answer.status_code == 201
    created = answer.json()
    assert set(created) == {"id", "name", "createdAt", "isSent"}
    assert created["createdAt"] == "2026-11-27T10:00:00+00:00" and created["isSent"] is True
    assert answer.headers["Location"].endswith(f"/api/v5/objects/list-emails/{created['id']}")
    for write_only in ("recipientListIds", "scheduledTime", "suppressionListIds"):
        refused = _post(box, "/api/v5/objects/list-emails", body, fields=f"id,{write_only}")
        assert refused.status_code == 400 and refused.json()["code"] == 180


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        ({"name": "n", "campaignId": 1001, "emailTemplateId": 4001}, 13, "recipientListIds"),
        ({"campaignId": 1001, "recipientListIds": [2001], "emailTemplateId": 4001}, 13, "name"),
        ({"name": "n", "campaignId": "1001", "recipientListIds": [2001], "emailTemplateId": 4001}, 154, "campaignId"),
        ({"campaignId": 1001, "recipientListIds": [2001], "name": "x"}, 13, "senderOptions"),
        ({"name": "n", "campaignId": 1001, "recipientListIds": [2001], "emailTemplateId": 4001, "id": 5}, 154, "id"),
        ([1, 2], 150, "JSON object"),
    ],
)
def test_v5_errors_are_code_and_message(box: Box, body: Any, code: int, words: str) -> None:
    answer = _post(box, "/api/v5/objects/list-emails", body)
    assert answer.status_code == 400
    assert set(answer.json()) == {"code", "message"}
    assert answer.json()["code"] == code and words in answer.json()["message"]


# --- exactly-once: what a v5 answer proves ------------------------------------------------


def _fake_client(fake: FakePardot) -> PardotClient:
    return PardotClient(
        make_settings(version=5),
        transport=httpx.MockTransport(fake),
        env={},
        retry_wait=tenacity.wait_none(),
        sleep=lambda _: None,
    )


CREATED = {"id": 70001, "name": "v5 news", "createdAt": "2026-11-27T02:00:00-08:00"}


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [
        (Answer({"code": 55, "message": "Invalid list ID"}, status=400), ApiValidationError),
        (Answer({"code": 55, "message": "Invalid list ID"}, status=500), ApiOutcomeUnknown),
        (Answer({"code": 55, "message": "Invalid list ID"}, status=201), ApiOutcomeUnknown),
        (Answer({"code": 183, "message": "Internal error"}, status=400), ApiOutcomeUnknown),
        (Answer(b"<html>Too Many Requests</html>", status=429, content_type="text/html"), ApiOutcomeUnknown),
        (Answer(b"<html>Bad gateway</html>", status=502, content_type="text/html"), ApiOutcomeUnknown),
    ],
    ids=["400-refusal", "500-with-code", "2xx-with-code", "183", "bare-429", "bare-502"],
)
def test_only_a_4xx_refusal_proves_a_v5_send_was_not_made(answer: Answer, outcome: type[Exception]) -> None:
    fake = FakePardot([answer])
    with _fake_client(fake) as client, pytest.raises(outcome):
        client.send_list_email(_list_send())
    assert fake.paths() == ["POST /api/v5/objects/list-emails"]  # never retried


def test_a_v5_66_is_retried_and_the_send_made_once() -> None:
    fake = FakePardot([
        Answer({"code": 66, "message": "concurrent request limit"}, status=429),
        Answer(CREATED, status=201),
    ])
    with _fake_client(fake) as client:
        email = client.send_list_email(_list_send())
    assert email.id == 70001 and email.created_at is not None and email.created_at.utcoffset() == timedelta(hours=-8)
    assert fake.paths() == ["POST /api/v5/objects/list-emails"] * 2


def test_an_unreadable_v5_created_answer_is_unknown() -> None:
    fake = FakePardot([Answer({"id": 70001, "createdAt": "2026-11-27 10:00:00"}, status=201)])  # no offset
    with _fake_client(fake) as client, pytest.raises(ApiOutcomeUnknown):
        client.send_list_email(_list_send())


def test_a_v5_66_answers_429_and_is_retried_without_sending() -> None:
    """The sandbox's 66 on a v5 path is HTTP 429 with the v5 body; the client retries, sends nothing."""
    app = SandboxApp(clock=lambda: START, faults=FaultConfig(rates={"error66": 1.0}))
    try:
        with httpx.Client(transport=inprocess_transport(app), base_url=SANDBOX_BASE_URL) as h:
            answer = h.post("/api/v5/objects/list-emails", json={"campaignId": 1001}, headers=AUTH)
            assert answer.status_code == 429 and answer.json()["code"] == 66
            recorder = Recorder()
            api_settings = ApiSettings(
                base_url=SANDBOX_BASE_URL,
                business_unit_id=SANDBOX_BUSINESS_UNIT,
                auth=StaticTokenAuth(SANDBOX_TOKEN),
                allow_insecure=True,
                version=5,
                max_retries=2,
            )
            client = PardotClient(
                api_settings, transport=inprocess_transport(app), env={}, tracer=recorder.tracer,
                retry_wait=tenacity.wait_none(), sleep=recorder.sleep,
            )
            with client, pytest.raises(ApiRateLimited):
                client.send_list_email(_list_send())
            assert recorder.exchanges == [("POST /api/v5/objects/list-emails", 429)] * 3
            assert h.get("/_sandbox/emails").json()["emails"] == []
    finally:
        app.close()


# --- property: a v5 send is judged exactly like the same v4 send --------------------------

_SENDS = st.builds(
    ListEmailSend,
    campaign_id=st.sampled_from([1001, 999999]),
    list_ids=st.lists(st.sampled_from([2001, 2002, 2003, 999999]), min_size=1, max_size=3, unique=True).map(tuple),
    suppression_list_ids=st.lists(st.sampled_from([2002, 2003, 999999]), max_size=2, unique=True).map(tuple),
    name=st.sampled_from([None, "news"]),
    subject=st.sampled_from([None, "Hello"]),
    text_content=st.sampled_from([None, UNSUB, "no opt-out link"]),
    html_content=st.sampled_from([None, '<a href="%%unsubscribe%%">x</a>', "<p>none</p>"]),
    email_template_id=st.sampled_from([None, 4001, 4002, 999999]),
    from_email=st.sampled_from([None, "news@example.com", "not-an-address"]),
    from_name=st.sampled_from([None, "News"]),
    from_user_id=st.sampled_from([None, 3001, 999999]),
    replyto_email=st.sampled_from([None, "reply@example.com"]),
    operational_email=st.booleans(),
    scheduled_time=st.sampled_from([None, START + timedelta(days=2)]),
)


def _outcome(client: PardotClient, box: Box, send: ListEmailSend) -> tuple[Any, ...]:
    try:
        email = client.send_list_email(send)
    except ApiError as error:
        return ("refused", type(error).__name__, error.code)
    with box.http() as h:
        (row,) = [e for e in h.get("/_sandbox/emails").json()["emails"] if e["id"] == email.id]
    kept = ("name", "subject", "campaign_id", "list_ids", "suppression_list_ids", "operational", "scheduled_time")
    return ("sent", box.recipients(email.id), *(row[k] for k in kept))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(send=_SENDS)
def test_the_sandbox_judges_a_v5_send_exactly_like_the_v4_send(send: ListEmailSend) -> None:
    box = Box()
    try:
        v5 = _outcome(box.client(5), box, send)
        if send.name is None:  # v5 requires name on create (v4 takes it from a template)
            assert v5[:2] == ("refused", "ApiValidationError") and box.email_count() == 0
            return
        assert v5 == _outcome(box.client(4), box, send)
    finally:
        for client in box.clients:
            client.close()
        box.app.close()


# --- statistics through v5 ----------------------------------------------------------------


def test_v5_stats_of_a_list_email_equal_the_v4_figures(box: Box) -> None:
    email = box.client(4).send_list_email(_list_send())
    v5 = box.client(5).email_stats(email.id)
    v4 = box.client(4).email_stats(email.id)
    assert v5 == v4 and v5.sent > 0
    assert box.recorder.exchanges[-2:] == [
        (f"GET /api/v5/objects/list-emails/{email.id}/stats", 200),
        (f"GET /api/email/version/4/do/stats/id/{email.id}", 200),
    ]
    with box.http() as h:
        body = h.get(f"/api/v5/objects/list-emails/{email.id}/stats", headers=AUTH).json()
    assert {"totalClicks", "uniqueOpens", "deliveryRate", "clickOpenRatio"} <= set(body)


def test_v5_stats_are_for_list_emails_only(box: Box) -> None:
    email = box.client(4).send_one_to_one(ONE_BY_ID)
    with pytest.raises(ApiNotFound) as caught:
        box.client(5).email_stats(email.id)
    assert caught.value.code == 192 and caught.value.http_status == 404


def test_a_v4_path_refusal_under_version_5_keeps_the_v4_rule() -> None:
    """v3/v4 refuse with HTTP 200 fail envelopes; a tagged send on the v4 path is still refused."""
    refusal = {"@attributes": {"stat": "fail", "version": 1, "err_code": 55}, "err": "Invalid list ID"}
    fake = FakePardot([Answer(refusal, status=200)])
    with _fake_client(fake) as client, pytest.raises(ApiValidationError) as caught:
        client.send_list_email(_list_send(tags=("spring",)))
    assert caught.value.code == 55
    assert fake.paths() == ["POST /api/email/version/4/do/send"]
