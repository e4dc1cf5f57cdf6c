"""The client against a scripted Pardot (httpx.MockTransport): wire details, auth, retries.

FakePardot fakes the remote API, not our code; every assertion is about what the client sent
or raised. Backoff waits are recorded, never slept.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime
from urllib.parse import parse_qsl

import httpx
import pytest
import tenacity

from orchestrator.errors import (
    ApiAuthError,
    ApiNotFound,
    ApiOutcomeUnknown,
    ApiProtocolError,
    ApiQuotaExceeded,
    ApiRateLimited,
    ApiTransientError,
    ApiValidationError,
    ConfigError,
)
from orchestrator.pardot.client import DEFAULT_RETRY_WAIT
from orchestrator.pardot.models import ListEmailSend, OneToOneSend
from orchestrator.pardot.settings import (
    ClientCredentialsAuth,
    RefreshTokenAuth,
    StaticTokenAuth,
    TokenAuth,
)

from .fakes import (
    BU,
    EMAIL,
    TOKEN,
    Answer,
    ClientFactory,
    FakePardot,
    Recorder,
    fail_json,
    make_settings,
    ok_json,
)

LIST_SEND = ListEmailSend(campaign_id=77, list_ids=(10, 11), email_template_id=6789, tags=("a",))
BY_EMAIL = OneToOneSend(campaign_id=77, prospect_email="jane.doe@example.com", email_template_id=1)
SEND_OK = Answer(ok_json("email", EMAIL))
STATS = {
    "sent": 2,
    "delivered": 2,
    "total_clicks": 0,
    "unique_clicks": 0,
    "soft_bounced": 0,
    "hard_bounced": 0,
    "opt_outs": 0,
    "spam_complaints": 0,
    "opens": 1,
    "unique_opens": 1,
    "delivery_rate": "100.00%",
    "opens_rate": "50.00%",
    "click_through_rate": "0.00%",
    "unique_click_through_rate": "0.00%",
    "click_open_ratio": "0.00%",
    "opt_out_rate": "0.00%",
    "spam_complaint_rate": "0.00%",
}
STATS_OK = Answer(ok_json("stats", STATS))


def _form(request: httpx.Request) -> list[tuple[str, str]]:
    return parse_qsl(request.content.decode(), keep_blank_values=True)


# --- wire details --------------------------------------------------------------------------


def test_every_call_carries_bearer_token_and_business_unit(make_client: ClientFactory) -> None:
    fake = FakePardot(default=SEND_OK)
    client = make_client(fake)
    client.send_list_email(LIST_SEND)
    client.read_email(901)
    assert len(fake.requests) == 2
    for request in fake.requests:
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        assert request.headers["Pardot-Business-Unit-Id"] == BU


def test_post_sends_a_form_body_with_repeated_array_keys(make_client: ClientFactory) -> None:
    fake = FakePardot(default=SEND_OK)
    make_client(fake).send_list_email(LIST_SEND)
    request = fake.requests[0]
    assert request.url.path == "/api/email/version/4/do/send"
    assert request.url.query == b""
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert _form(request) == [*LIST_SEND.to_params(), ("format", "json")]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_get_sends_format_in_the_query(make_client: ClientFactory, fmt: str) -> None:
    body = (
        (
            '<rsp stat="ok" version="1.0"><stats>'
            + "".join(f"<{k}>{v}</{k}>" for k, v in STATS.items())
            + "</stats></rsp>"
        )
        if fmt == "xml"
        else json.dumps(ok_json("stats", STATS))
    )
    fake = FakePardot(default=Answer(body))
    stats = make_client(fake, make_settings(format=fmt)).email_stats(5)
    assert stats.opens_rate == 50.0
    assert dict(fake.requests[0].url.params) == {"format": fmt}


@pytest.mark.parametrize("version", [3, 4])
def test_version_comes_from_settings(make_client: ClientFactory, version: int) -> None:
    fake = FakePardot(default=STATS_OK)
    make_client(fake, make_settings(version=version)).email_stats(5)
    assert fake.requests[0].url.path == f"/api/email/version/{version}/do/stats/id/5"


def test_export_create_posts_json_with_format_in_query(make_client: ClientFactory) -> None:
    fake = FakePardot(default=Answer({"export": {"id": 7, "state": "Waiting", "isExpired": False}}))
    job = make_client(fake).export_create(
        "prospect", "filter_by_updated_at", {"updated_after": "2026-01-01"}, ["id", "email"]
    )
    request = fake.requests[0]
    assert (job.id, job.state, job.result_refs) == (7, "Waiting", ())
    assert request.headers["Content-Type"] == "application/json"
    assert dict(request.url.params) == {"format": "json"}
    assert json.loads(request.content) == {
        "object": "prospect",
        "procedure": {"name": "filter_by_updated_at", "arguments": {"updated_after": "2026-01-01"}},
        "fields": ["id", "email"],
    }


def test_one_to_one_by_email_puts_the_encoded_address_in_the_path(
    make_client: ClientFactory,
) -> None:
    fake = FakePardot(default=SEND_OK)
    make_client(fake).send_one_to_one(BY_EMAIL)
    raw = fake.requests[0].url.raw_path.decode()
    assert raw == "/api/email/version/4/do/send/prospect_email/jane.doe%40example.com"


def test_export_query_passes_every_filter(make_client: ClientFactory) -> None:
    fake = FakePardot(default=Answer(ok_json("result", {"total_results": 0})))
    result = make_client(fake).export_query(
        created_after="a",
        created_before="b",
        updated_after="c",
        updated_before="d",
        status="Complete",
        object="prospect",
        sort_by="id",
        sort_order="descending",
    )
    assert result.total_results == 0 and result.exports == ()
    assert list(fake.requests[0].url.params.multi_items()) == [
        ("created_after", "a"),
        ("created_before", "b"),
        ("updated_after", "c"),
        ("updated_before", "d"),
        ("status", "Complete"),
        ("object", "prospect"),
        ("sort_by", "id"),
        ("sort_order", "descending"),
        ("format", "json"),
    ]


def test_local_validation_happens_before_any_request(make_client: ClientFactory) -> None:
    fake = FakePardot()
    client = make_client(fake)
    with pytest.raises(ApiValidationError) as caught:
        client.send_list_email(ListEmailSend(campaign_id=1, list_ids=(2,)))
    assert caught.value.code is None
    assert fake.requests == [] and client.calls == 0


def test_template_error_inside_an_ok_envelope_is_not_found(make_client: ClientFactory) -> None:
    body = ok_json("emailTemplate", {"error": 1, "errorCode": 68, "errorMessage": "no such"})
    with pytest.raises(ApiNotFound) as caught:
        make_client(FakePardot(default=Answer(body))).read_template(99, archived=True)
    assert caught.value.code == 68


def test_tracer_sees_every_exchange_in_order(make_client: ClientFactory, recorder: Recorder) -> None:
    fake = FakePardot([Answer(fail_json(66, "wait")), SEND_OK, STATS_OK])
    client = make_client(fake)
    client.send_list_email(LIST_SEND)
    client.email_stats(901)
    assert recorder.exchanges == [
        ("POST /api/email/version/4/do/send", 200),
        ("POST /api/email/version/4/do/send", 200),
        ("GET /api/email/version/4/do/stats/id/901", 200),
    ]
    assert client.calls == 3


# --- authentication ------------------------------------------------------------------------

OAUTH_ENV = {"SF_ID": "client-id-1", "SF_SECRET": "client-secret-XYZ", "SF_REFRESH": "refresh-ABC"}
REFRESH_AUTH = RefreshTokenAuth("SF_ID", "SF_SECRET", "SF_REFRESH", login_url="https://login.salesforce.test")


def _token(value: str) -> Answer:
    return Answer({"access_token": value, "instance_url": "https://x.my.salesforce.com"})


def test_refresh_token_grant_then_bearer(make_client: ClientFactory, recorder: Recorder) -> None:
    fake = FakePardot([_token("access-1"), STATS_OK])
    make_client(fake, make_settings(REFRESH_AUTH), env=OAUTH_ENV).email_stats(5)
    grant = _form(fake.requests[0])
    assert str(fake.requests[0].url) == "https://login.salesforce.test/services/oauth2/token"
    assert grant == [
        ("grant_type", "refresh_token"),
        ("client_id", "client-id-1"),
        ("client_secret", "client-secret-XYZ"),
        ("refresh_token", "refresh-ABC"),
    ]
    assert fake.requests[1].headers["Authorization"] == "Bearer access-1"


def test_client_credentials_grant(make_client: ClientFactory) -> None:
    fake = FakePardot([_token("access-cc"), STATS_OK])
    auth = ClientCredentialsAuth("SF_ID", "SF_SECRET", login_url="https://login.salesforce.test")
    make_client(fake, make_settings(auth), env=OAUTH_ENV).email_stats(5)
    assert _form(fake.requests[0]) == [
        ("grant_type", "client_credentials"),
        ("client_id", "client-id-1"),
        ("client_secret", "client-secret-XYZ"),
    ]
    assert fake.requests[1].headers["Authorization"] == "Bearer access-cc"


@pytest.mark.parametrize(
    "refusal",
    [
        Answer(fail_json(184, "access_token is invalid"), status=400),
        Answer(fail_json(184, "access_token is invalid"), status=401),
        Answer("Unauthorized", status=401, content_type="text/plain"),
    ],
    ids=["184-as-400", "184-as-401", "bare-401"],
)
def test_refused_token_is_refreshed_once_and_the_send_retried(
    make_client: ClientFactory, recorder: Recorder, refusal: Answer
) -> None:
    fake = FakePardot([_token("access-1"), refusal, _token("access-2"), SEND_OK])
    client = make_client(fake, make_settings(REFRESH_AUTH), env=OAUTH_ENV)
    assert client.send_list_email(LIST_SEND).id == 901
    assert [p for p, _ in recorder.exchanges] == [
        "POST /services/oauth2/token",
        "POST /api/email/version/4/do/send",
        "POST /services/oauth2/token",
        "POST /api/email/version/4/do/send",
    ]
    assert fake.requests[3].headers["Authorization"] == "Bearer access-2"
    assert client.calls == 2


def test_refresh_happens_only_once(make_client: ClientFactory) -> None:
    refused = Answer(fail_json(184, "access_token is invalid"), status=401)
    fake = FakePardot([_token("a1"), refused, _token("a2"), refused])
    client = make_client(fake, make_settings(REFRESH_AUTH), env=OAUTH_ENV)
    with pytest.raises(ApiAuthError) as caught:
        client.send_list_email(LIST_SEND)
    assert caught.value.code == 184
    assert len(fake.requests) == 4 and client.calls == 2


@pytest.mark.parametrize("auth", [StaticTokenAuth(TOKEN), TokenAuth("PARDOT_TOKEN")], ids=["static", "env"])
def test_static_tokens_are_not_refreshed(make_client: ClientFactory, auth: StaticTokenAuth | TokenAuth) -> None:
    fake = FakePardot(default=Answer(fail_json(184, "access_token is invalid"), status=401))
    client = make_client(fake, make_settings(auth), env={"PARDOT_TOKEN": TOKEN})
    with pytest.raises(ApiAuthError) as caught:
        client.email_stats(5)
    assert caught.value.code == 184
    assert client.calls == 1


@pytest.mark.parametrize("code", [181, 182, 201, 199, 1])
def test_other_auth_errors_are_not_refreshed(make_client: ClientFactory, code: int) -> None:
    fake = FakePardot([_token("a1"), Answer(fail_json(code, "no"), status=401)])
    client = make_client(fake, make_settings(REFRESH_AUTH), env=OAUTH_ENV)
    with pytest.raises(ApiAuthError) as caught:
        client.email_stats(5)
    assert caught.value.code == code
    assert len(fake.requests) == 2


def test_token_env_is_read_lazily(make_client: ClientFactory) -> None:
    env: dict[str, str] = {}
    fake = FakePardot(default=STATS_OK)
    client = make_client(fake, make_settings(TokenAuth("PARDOT_TOKEN")), env=env)
    env["PARDOT_TOKEN"] = "set-after-construction"
    client.email_stats(5)
    assert fake.requests[0].headers["Authorization"] == "Bearer set-after-construction"


def test_missing_env_var_is_a_config_error(make_client: ClientFactory) -> None:
    client = make_client(FakePardot(), make_settings(TokenAuth("PARDOT_TOKEN")), env={})
    with pytest.raises(ConfigError, match="PARDOT_TOKEN is not set"):
        client.email_stats(5)


def test_refused_oauth_grant_is_an_auth_error_without_secrets(make_client: ClientFactory) -> None:
    refusal = Answer(
        {"error": "invalid_grant", "error_description": "bad refresh-ABC for client-secret-XYZ"},
        status=400,
    )
    client = make_client(FakePardot([refusal]), make_settings(REFRESH_AUTH), env=OAUTH_ENV)
    with pytest.raises(ApiAuthError) as caught:
        client.email_stats(5)
    text = str(caught.value)
    assert "invalid_grant" in text
    assert "refresh-ABC" not in text and "client-secret-XYZ" not in text


def test_concurrent_refusals_refresh_the_token_once(make_client: ClientFactory) -> None:
    """Threads that all saw the old token refused share one new token."""
    state = {"tokens": 0}
    lock = threading.Lock()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/oauth2/token"):
            with lock:
                state["tokens"] += 1
                n = state["tokens"]
            return httpx.Response(200, json={"access_token": f"a{n}"})
        if request.headers["Authorization"] == "Bearer a1":
            return httpx.Response(401, json=fail_json(184, "expired"))
        return httpx.Response(200, json=ok_json("stats", STATS))

    fake = FakePardot()
    client = make_client(fake, make_settings(REFRESH_AUTH), env=OAUTH_ENV)
    client._http._transport = httpx.MockTransport(handler)  # same seam, stateful handler
    threads = [threading.Thread(target=client.email_stats, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert state["tokens"] == 2


# --- retries: reads -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "failure",
    [
        Answer(fail_json(66, "Please wait, before trying again")),
        Answer(fail_json("183", "Internal error, try again")),
        Answer("<html>oops</html>", status=500, content_type="text/html"),
        Answer(raises=httpx.ReadTimeout("timed out")),
        Answer(raises=httpx.RemoteProtocolError("Server disconnected")),
        Answer(raises=httpx.ConnectError("refused")),
    ],
    ids=["66", "183", "500", "read-timeout", "disconnect", "connect-refused"],
)
def test_reads_retry_retryable_failures(make_client: ClientFactory, failure: Answer) -> None:
    fake = FakePardot([failure, failure, STATS_OK])
    client = make_client(fake)
    assert client.email_stats(5).sent == 2
    assert client.calls == 3


@pytest.mark.parametrize(
    ("failure", "error"),
    [
        (Answer(fail_json(122, "Daily API rate limit met")), ApiQuotaExceeded),
        (Answer(fail_json(109, "not found")), ApiNotFound),
        (Answer(fail_json(13, "missing")), ApiValidationError),
        (Answer("{not json", status=200), ApiProtocolError),
    ],
    ids=["122", "109", "13", "garbage"],
)
def test_reads_do_not_retry_final_failures(make_client: ClientFactory, failure: Answer, error: type[Exception]) -> None:
    fake = FakePardot([failure, STATS_OK])
    client = make_client(fake)
    with pytest.raises(error):
        client.email_stats(5)
    assert client.calls == 1


def test_retries_stop_after_max_retries(make_client: ClientFactory) -> None:
    fake = FakePardot(default=Answer(fail_json(66, "wait")))
    client = make_client(fake, make_settings(max_retries=2))
    with pytest.raises(ApiRateLimited) as caught:
        client.email_stats(5)
    assert caught.value.code == 66
    assert client.calls == 3


def test_default_backoff_is_exponential_with_full_jitter(make_client: ClientFactory, recorder: Recorder) -> None:
    fake = FakePardot(default=Answer(fail_json(66, "wait")))
    client = make_client(fake, make_settings(max_retries=5), retry_wait=DEFAULT_RETRY_WAIT)
    with pytest.raises(ApiRateLimited):
        client.email_stats(5)
    assert len(recorder.sleeps) == 5
    for attempt, slept in enumerate(recorder.sleeps):
        assert 0 <= slept <= 0.5 * 2**attempt
    assert sum(recorder.sleeps) > 0


# --- retries: sends (exactly once) ----------------------------------------------------------


@pytest.mark.parametrize(
    "failure",
    [
        Answer(fail_json(66, "Please wait")),
        Answer(raises=httpx.ConnectError("[Errno 111] Connection refused")),
        Answer(raises=httpx.ConnectTimeout("timed out")),
        Answer(raises=httpx.PoolTimeout("no connection")),
    ],
    ids=["66", "connect-refused", "connect-timeout", "pool-timeout"],
)
def test_sends_retry_only_on_proof_of_non_processing(make_client: ClientFactory, failure: Answer) -> None:
    fake = FakePardot([failure, SEND_OK])
    client = make_client(fake)
    assert client.send_list_email(LIST_SEND).id == 901
    assert client.calls == 2


@pytest.mark.parametrize(
    ("failure", "code"),
    [
        (Answer(raises=httpx.ReadTimeout("timed out")), None),
        (Answer(raises=httpx.WriteTimeout("timed out")), None),
        (Answer(raises=httpx.ReadError("Connection reset by peer")), None),
        (Answer(raises=httpx.WriteError("Broken pipe")), None),
        (Answer(raises=httpx.RemoteProtocolError("Server disconnected")), None),
        (Answer("<html>Internal Server Error</html>", status=500, content_type="text/html"), None),
        (Answer("<html>Bad Gateway</html>", status=502, content_type="text/html"), None),
        (Answer(fail_json(183, "Internal error, try again"), status=500), 183),
        (Answer("{truncated", status=200), None),
        (Answer(ok_json("email", {"name": "no id"})), None),
    ],
    ids=[
        "read-timeout",
        "write-timeout",
        "reset",
        "write-error",
        "disconnect",
        "500",
        "502",
        "183",
        "garbage-200",
        "ok-without-id",
    ],
)
def test_sends_with_unknown_outcome_are_never_retried(
    make_client: ClientFactory, failure: Answer, code: int | None
) -> None:
    fake = FakePardot([failure, SEND_OK])
    client = make_client(fake)
    with pytest.raises(ApiOutcomeUnknown) as caught:
        client.send_list_email(LIST_SEND)
    assert caught.value.code == code
    assert client.calls == 1
    assert len(fake.requests) == 1


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (64, ApiValidationError),
        (55, ApiValidationError),
        (38, ApiValidationError),
        (68, ApiNotFound),
        (122, ApiQuotaExceeded),
        (244, ApiTransientError),
    ],
)
def test_refused_sends_raise_the_mapped_error_without_retry(
    make_client: ClientFactory, code: int, error: type[Exception]
) -> None:
    fake = FakePardot([Answer(fail_json(code, "refused"), status=400), SEND_OK])
    client = make_client(fake)
    with pytest.raises(error) as caught:
        client.send_list_email(LIST_SEND)
    assert type(caught.value) is error
    assert client.calls == 1


def test_export_create_may_be_retried_after_an_unknown_outcome(make_client: ClientFactory) -> None:
    created = Answer({"export": {"id": 7, "state": "Waiting", "isExpired": False}})
    fake = FakePardot([Answer(raises=httpx.ReadTimeout("timed out")), created])
    client = make_client(fake)
    assert client.export_create("prospect", "filter_by_updated_at", {"updated_after": "x"}).id == 7
    assert client.calls == 2


# --- no httpx error escapes, through the whole client ---------------------------------------


def _httpx_errors() -> list[Exception]:
    req = httpx.Request("GET", "https://pi.pardot.test/")
    found: list[Exception] = []
    for name in dir(httpx):
        cls = getattr(httpx, name)
        if isinstance(cls, type) and issubclass(cls, httpx.RequestError):
            found.append(cls("x", request=req))
    return found


@pytest.mark.parametrize("exc", _httpx_errors(), ids=lambda e: type(e).__name__)
def test_no_httpx_error_reaches_callers(make_client: ClientFactory, exc: Exception) -> None:
    fake = FakePardot(default=Answer(raises=exc))
    client = make_client(fake, make_settings(max_retries=1))
    for call in (lambda: client.send_list_email(LIST_SEND), lambda: client.email_stats(1)):
        try:
            call()
        except httpx.HTTPError as leaked:  # pragma: no cover - the failure being tested
            pytest.fail(f"{type(leaked).__name__} escaped unmapped")
        except Exception as error:
            assert type(error).__module__ == "orchestrator.errors"
            assert isinstance(error.__cause__, type(exc))


# --- secrets and personal data --------------------------------------------------------------


def test_no_secret_in_errors_logs_or_reprs(make_client: ClientFactory, caplog: pytest.LogCaptureFixture) -> None:
    echo = Answer(fail_json(13, "bad request from token access-1 and refresh-ABC"), status=400)
    busy = Answer(fail_json(66, "busy, token access-1"))
    fake = FakePardot([_token("access-1"), busy, echo])
    client = make_client(fake, make_settings(REFRESH_AUTH), env=OAUTH_ENV)
    caplog.set_level(logging.DEBUG, logger="orchestrator")
    with pytest.raises(ApiValidationError) as caught:
        client.email_stats(5)
    visible = " ".join(
        [
            str(caught.value),
            caught.value.api_message,
            repr(caught.value),
            caplog.text,
            repr(client),
            repr(client.settings),
            repr(client._tokens),
        ]
    )
    for secret in ("access-1", "refresh-ABC", "client-secret-XYZ"):
        assert secret not in visible
    assert "[REDACTED]" in str(caught.value)


@pytest.mark.parametrize(
    "failure",
    [
        Answer(fail_json(4, "Invalid prospect email address: jane.doe@example.com"), status=400),
        Answer(raises=httpx.ReadTimeout("timed out")),
    ],
    ids=["refusal", "timeout"],
)
def test_prospect_email_is_masked_in_one_to_one_errors(
    make_client: ClientFactory, caplog: pytest.LogCaptureFixture, failure: Answer
) -> None:
    caplog.set_level(logging.DEBUG, logger="orchestrator")
    client = make_client(FakePardot([failure]))
    with pytest.raises((ApiNotFound, ApiOutcomeUnknown)) as caught:
        client.send_one_to_one(BY_EMAIL)
    text = str(caught.value) + caught.value.api_message + caplog.text
    assert "jane.doe" not in text
    assert "j***" in str(caught.value)


def test_by_email_send_succeeds_and_decodes(make_client: ClientFactory) -> None:
    email = make_client(FakePardot(default=SEND_OK)).send_one_to_one(BY_EMAIL)
    assert (email.id, email.campaign_id, email.created_at) == (901, 77, datetime(2026, 11, 27, 10))


def test_scheduled_send_posts_iso_time(make_client: ClientFactory) -> None:
    fake = FakePardot(default=SEND_OK)
    when = datetime(2027, 3, 1, 14, tzinfo=UTC)
    send = ListEmailSend(campaign_id=1, list_ids=(2,), email_template_id=3, scheduled_time=when)
    make_client(fake).send_list_email(send)
    assert ("scheduled_time", "2027-03-01T14:00:00+00:00") in _form(fake.requests[0])


# --- concurrency ----------------------------------------------------------------------------


def test_in_flight_requests_never_exceed_the_limit(make_client: ClientFactory) -> None:
    """20 threads through one client: at most 5 inside the transport at once, and 5 reached.

    The first requests are held inside until a 6th joins them (which only a missing limit
    allows) or a bounded wait ends; after that the gate stays open.
    """
    gate = threading.Condition()
    state = {"inside": 0, "max": 0, "opened": False}

    def on_request(_: httpx.Request) -> None:
        with gate:
            state["inside"] += 1
            state["max"] = max(state["max"], state["inside"])
            gate.notify_all()
            gate.wait_for(lambda: bool(state["opened"]) or state["inside"] > 5, timeout=1.0)
            state["opened"] = True
            gate.notify_all()
            state["inside"] -= 1

    fake = FakePardot(default=Answer(ok_json("stats", STATS), on_request=on_request))
    client = make_client(fake)
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            client.email_stats(i)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert errors == []
    assert state["max"] == 5
    assert client.calls == 20


def test_max_in_flight_is_taken_from_settings(make_client: ClientFactory) -> None:
    client = make_client(FakePardot(), make_settings(max_in_flight=2))
    acquired = [client._in_flight.acquire(blocking=False) for _ in range(3)]
    assert acquired == [True, True, False]


def test_retry_wait_can_be_injected(make_client: ClientFactory, recorder: Recorder) -> None:
    fake = FakePardot([Answer(fail_json(66, "w")), STATS_OK])
    make_client(fake, retry_wait=tenacity.wait_fixed(7)).email_stats(1)
    assert recorder.sleeps == [7]


def test_no_retry_waits_past_the_calls_deadline(make_client: ClientFactory, recorder: Recorder) -> None:
    """A backoff that would end after the deadline is not slept: the real error is raised now."""
    fake = FakePardot(default=Answer(fail_json(66, "too many requests")))
    client = make_client(fake, make_settings(deadline_s=60.0), retry_wait=tenacity.wait_fixed(61))
    with pytest.raises(ApiRateLimited):
        client.read_email(5)
    assert client.calls == 1
    assert recorder.sleeps == []


def test_retries_within_the_deadline_go_ahead(make_client: ClientFactory, recorder: Recorder) -> None:
    fake = FakePardot([Answer(fail_json(66, "too many requests"))] * 2 + [Answer(ok_json("email", EMAIL))])
    client = make_client(fake, make_settings(deadline_s=60.0), retry_wait=tenacity.wait_fixed(5))
    assert client.read_email(901).id == 901
    assert recorder.sleeps == [5, 5]
