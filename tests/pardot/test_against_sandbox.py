"""Level 2: the client against the in-process sandbox (no socket), every endpoint and error code.

The sandbox follows docs/wire-format.md; these tests prove client and sandbox agree on it in
both formats and both API versions, and that each error code in the wire format's table
reaches the caller as the right orchestrator error with ``.code`` set.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import tenacity
import yaml

from orchestrator.errors import (
    ApiAuthError,
    ApiError,
    ApiNotFound,
    ApiOutcomeUnknown,
    ApiQuotaExceeded,
    ApiRateLimited,
    ApiValidationError,
)
from orchestrator.pardot.client import PardotClient
from orchestrator.pardot.envelope import parse_envelope
from orchestrator.pardot.errormap import error_for_code
from orchestrator.pardot.models import ListEmailSend, OneToOneSend
from orchestrator.pardot.settings import ApiSettings, StaticTokenAuth
from orchestrator.sandbox import (
    SANDBOX_BASE_URL,
    SANDBOX_BUSINESS_UNIT,
    SANDBOX_TOKEN,
    ExportConfig,
    FaultConfig,
    SandboxApp,
    inprocess_transport,
)

from .fakes import Recorder

START = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
UNSUB = "Bye %%unsubscribe%%"


def _settings(**overrides: Any) -> ApiSettings:
    values: dict[str, Any] = {
        "base_url": SANDBOX_BASE_URL,
        "business_unit_id": SANDBOX_BUSINESS_UNIT,
        "auth": StaticTokenAuth(SANDBOX_TOKEN),
        "allow_insecure": True,
    }
    values.update(overrides)
    return ApiSettings(**values)


class Sandbox:
    """One in-process sandbox and the clients made for it."""

    def __init__(self, **app_args: Any) -> None:
        app_args.setdefault("clock", lambda: START)
        self.app = SandboxApp(**app_args)
        self.recorder = Recorder()
        self._clients: list[PardotClient] = []

    def client(self, **overrides: Any) -> PardotClient:
        client = PardotClient(
            _settings(**overrides),
            transport=inprocess_transport(self.app),
            env={},
            tracer=self.recorder.tracer,
            retry_wait=tenacity.wait_none(),
            sleep=self.recorder.sleep,
        )
        self._clients.append(client)
        return client

    def inspect(self, path: str) -> Any:
        with httpx.Client(transport=inprocess_transport(self.app), base_url=SANDBOX_BASE_URL) as h:
            return h.get(path).json()

    def raw(self, method: str, path: str, *, headers: dict[str, str] | None = None, **kwargs: Any) -> httpx.Response:
        """A request the client would never make, with valid credentials unless overridden."""
        sent = {
            "Authorization": f"Bearer {SANDBOX_TOKEN}",
            "Pardot-Business-Unit-Id": SANDBOX_BUSINESS_UNIT,
            **(headers or {}),
        }
        with httpx.Client(transport=inprocess_transport(self.app), base_url=SANDBOX_BASE_URL) as h:
            return h.request(method, path, headers=sent, **kwargs)

    def close(self) -> None:
        for client in self._clients:
            client.close()
        self.app.close()


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    box = Sandbox()
    yield box
    box.close()


@pytest.fixture(params=["json", "xml"])
def fmt(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=[3, 4])
def version(request: pytest.FixtureRequest) -> int:
    return int(request.param)


# --- templates ------------------------------------------------------------------------------


def test_read_template(sandbox: Sandbox, fmt: str, version: int) -> None:
    template = sandbox.client(format=fmt, version=version).read_template(4001)
    assert (template.id, template.name, template.subject) == (4001, "welcome", "Welcome, %%first_name%%")
    assert "%%unsubscribe%%" in template.html and "%%unsubscribe%%" in template.text
    assert template.html.startswith("<html>")
    assert (template.is_list_email, template.is_one_to_one_email, template.is_archived) == (
        True,
        True,
        False,
    )
    assert template.reply_to_address == "jane@example.com"
    assert template.send_from == [{"type": "general_user", "user_id": 3001}]


def test_archived_template_is_hidden_unless_asked_for(sandbox: Sandbox, fmt: str) -> None:
    client = sandbox.client(format=fmt)
    with pytest.raises(ApiNotFound) as caught:
        client.read_template(4003)
    assert caught.value.code == 68
    assert client.read_template(4003, archived=True).is_archived


def test_unknown_template_is_68(sandbox: Sandbox, fmt: str) -> None:
    with pytest.raises(ApiNotFound) as caught:
        sandbox.client(format=fmt).read_template(999999)
    assert caught.value.code == 68


def test_list_one_to_one_templates(sandbox: Sandbox, fmt: str, version: int) -> None:
    client = sandbox.client(format=fmt, version=version)
    assert [t.id for t in client.list_one_to_one_templates()] == [4001, 4002]
    everything = client.list_one_to_one_templates(archived=True)
    assert [(t.id, t.is_archived) for t in everything] == [
        (4001, False),
        (4002, False),
        (4003, True),
    ]
    assert all(t.is_one_to_one_email for t in everything)


def _seed_with_templates(ids: set[int]) -> dict[str, Any]:
    demo = Path(__file__).parents[2] / "orchestrator" / "sandbox" / "demo_seed.yaml"
    seed = yaml.safe_load(demo.read_text())
    seed["templates"] = [t for t in seed["templates"] if t["id"] in ids]
    return dict(seed)


@pytest.mark.parametrize(("ids", "expected"), [({4001}, [4001]), (set(), [])])
def test_one_or_no_one_to_one_template(fmt: str, ids: set[int], expected: list[int]) -> None:
    """The single-object and absent forms of ``templates``."""
    box = Sandbox(seed=_seed_with_templates(ids))
    try:
        assert [t.id for t in box.client(format=fmt).list_one_to_one_templates()] == expected
    finally:
        box.close()


# --- sends ----------------------------------------------------------------------------------


def test_list_send_with_every_parameter(sandbox: Sandbox, fmt: str, version: int) -> None:
    when = datetime(2027, 3, 1, 14, 0, tzinfo=UTC)
    send = ListEmailSend(
        campaign_id=1001,
        list_ids=(2001, 2002),
        suppression_list_ids=(2003,),
        email_template_id=4001,
        name="spring-launch",
        subject="Spring is here",
        from_assigned_user=True,
        replyto_email="reply@example.com",
        tags=("spring", "launch"),
        operational_email=True,
        scheduled_time=when,
    )
    email = sandbox.client(format=fmt, version=version).send_list_email(send)
    assert email.name == "spring-launch" and email.campaign_id == 1001
    assert email.scheduled_time == when
    assert email.created_at == START.replace(tzinfo=None)
    [recorded] = sandbox.inspect("/_sandbox/emails")["emails"]
    assert recorded["id"] == email.id
    assert recorded["list_ids"] == [2001, 2002]
    assert recorded["suppression_list_ids"] == [2003]
    assert recorded["tags"] == ["spring", "launch"]
    assert recorded["operational"] is True
    assert recorded["kind"] != "one_to_one" and recorded["recipients"] > 0


@pytest.mark.parametrize(
    "content",
    [
        {"text_content": UNSUB, "name": "n", "subject": "s", "from_email": "jane@example.com", "from_name": "Jane"},
        {"text_content": UNSUB, "html_content": '<p><a href="%%unsubscribe%%">Unsubscribe</a></p>', "name": "n",
         "subject": "s", "from_user_id": 3001},
    ],
    ids=["from-email-and-name", "from-user-id"],
)
def test_list_send_without_template(sandbox: Sandbox, fmt: str, content: dict[str, Any]) -> None:
    send = ListEmailSend(campaign_id=1001, list_ids=(2001,), **content)
    email = sandbox.client(format=fmt).send_list_email(send)
    assert email.text == UNSUB and email.subject == "s"


def test_one_to_one_by_id_and_by_email(sandbox: Sandbox, fmt: str, version: int) -> None:
    client = sandbox.client(format=fmt, version=version)
    by_id = client.send_one_to_one(OneToOneSend(campaign_id=1001, prospect_id=1234, email_template_id=4002))
    by_email = client.send_one_to_one(
        OneToOneSend(campaign_id=1001, prospect_email="jane.prospect@example.com", email_template_id=4001)
    )
    assert by_id.is_one_to_one and by_email.is_one_to_one
    assert by_id.id != by_email.id
    recipients = [sandbox.inspect(f"/_sandbox/emails/{e.id}/recipients")["prospect_ids"] for e in (by_id, by_email)]
    assert recipients == [[1234], [1235]]


def test_read_email_with_and_without_message(sandbox: Sandbox, fmt: str, version: int) -> None:
    client = sandbox.client(format=fmt, version=version)
    sent = client.send_list_email(ListEmailSend(campaign_id=1001, list_ids=(2001,), email_template_id=4001))
    full = client.read_email(sent.id)
    bare = client.read_email(sent.id, include_message=False)
    assert full.id == bare.id == sent.id
    assert full.text is not None and "%%unsubscribe%%" in full.text
    assert full.html is not None and full.html.startswith("<html>")
    assert (bare.text, bare.html) == (None, None)


def test_email_stats(sandbox: Sandbox, fmt: str, version: int) -> None:
    client = sandbox.client(format=fmt, version=version)
    sent = client.send_list_email(ListEmailSend(campaign_id=1001, list_ids=(2001,), email_template_id=4001))
    stats = client.email_stats(sent.id)
    assert stats.sent > 0
    assert stats.delivered <= stats.sent
    assert 0.0 <= stats.delivery_rate <= 100.0
    assert stats.delivery_rate == pytest.approx(100 * stats.delivered / stats.sent, abs=0.01)


# --- error codes from docs/wire-format.md ---------------------------------------------------

TEMPLATE: dict[str, Any] = {"email_template_id": 4001}


@pytest.mark.parametrize(
    ("call", "error", "code"),
    [
        (lambda c: c.send_one_to_one(OneToOneSend(campaign_id=1001, prospect_id=999999, **TEMPLATE)), ApiNotFound, 3),
        (
            lambda c: c.send_one_to_one(OneToOneSend(campaign_id=1001, prospect_id=5007, **TEMPLATE)),
            ApiValidationError,
            98,
        ),  # opted out: "Prospect not mailable"
        (
            lambda c: c.send_one_to_one(
                OneToOneSend(campaign_id=1001, prospect_email="nobody@example.com", **TEMPLATE)
            ),
            ApiNotFound,
            4,
        ),
        (
            lambda c: c.send_list_email(
                ListEmailSend(
                    campaign_id=1001, list_ids=(2001,), text_content=UNSUB, name="n", subject="s", from_user_id=99
                )
            ),
            ApiValidationError,
            10,
        ),
        (
            lambda c: c.send_list_email(ListEmailSend(campaign_id=9, list_ids=(2001,), **TEMPLATE)),
            ApiValidationError,
            38,
        ),
        (
            lambda c: c.send_list_email(ListEmailSend(campaign_id=1001, list_ids=(9,), **TEMPLATE)),
            ApiValidationError,
            55,
        ),
        (
            lambda c: c.send_list_email(
                ListEmailSend(campaign_id=1001, list_ids=(2001,), suppression_list_ids=(9,), **TEMPLATE)
            ),
            ApiValidationError,
            55,
        ),
        (
            lambda c: c.send_list_email(
                ListEmailSend(
                    campaign_id=1001, list_ids=(2001,), text_content="no link", name="n", subject="s", from_user_id=3001
                )
            ),
            ApiValidationError,
            64,
        ),
        (
            lambda c: c.send_list_email(
                ListEmailSend(
                    campaign_id=1001,
                    list_ids=(2001,),
                    text_content=UNSUB,
                    name="n",
                    subject="s",
                    from_email="not-an-address",
                    from_name="x",
                )
            ),
            ApiValidationError,
            65,
        ),
        (
            lambda c: c.send_list_email(
                ListEmailSend(campaign_id=1001, list_ids=(2001,), replyto_email="bad@", **TEMPLATE)
            ),
            ApiValidationError,
            65,
        ),
        (
            lambda c: c.send_list_email(ListEmailSend(campaign_id=1001, list_ids=(2001,), email_template_id=999)),
            ApiNotFound,
            68,
        ),
        (lambda c: c.read_email(999999), ApiNotFound, 109),
        (lambda c: c.email_stats(999999), ApiNotFound, 109),
        (lambda c: c.export_read(999999), ApiNotFound, 109),
    ],
    ids=[
        "3-unknown",
        "3-opted-out",
        "4",
        "10",
        "38",
        "55-list",
        "55-suppression",
        "64",
        "65-from",
        "65-replyto",
        "68-send",
        "109-read",
        "109-stats",
        "109-export",
    ],
)
def test_refusals_map_to_errors_with_code(
    sandbox: Sandbox, fmt: str, call: Any, error: type[ApiError], code: int
) -> None:
    client = sandbox.client(format=fmt)
    with pytest.raises(error) as caught:
        call(client)
    assert type(caught.value) is error
    assert caught.value.code == code
    assert client.calls == 1
    assert sandbox.inspect("/_sandbox/emails")["emails"] == []


def test_unknown_prospect_email_is_masked_in_the_message(sandbox: Sandbox) -> None:
    with pytest.raises(ApiNotFound) as caught:
        sandbox.client().send_one_to_one(
            OneToOneSend(campaign_id=1001, prospect_email="nobody@example.com", **TEMPLATE)
        )
    assert "nobody@example.com" not in str(caught.value)
    assert "n***@example.com" in str(caught.value)


def test_operational_email_not_enabled_is_65(fmt: str) -> None:
    seed = _seed_with_templates({4001})
    seed["operational_email_enabled"] = False
    box = Sandbox(seed=seed)
    try:
        send = ListEmailSend(campaign_id=1001, list_ids=(2001,), operational_email=True, **TEMPLATE)
        with pytest.raises(ApiValidationError) as caught:
            box.client(format=fmt).send_list_email(send)
        assert caught.value.code == 65
    finally:
        box.close()


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"auth": StaticTokenAuth("wrong-token")}, 184),
        ({"business_unit_id": "not-a-bu"}, 182),
        ({"business_unit_id": "0Uv000000OTHERBUAA"}, 201),
    ],
)
def test_credentials_refused(sandbox: Sandbox, fmt: str, overrides: dict[str, Any], code: int) -> None:
    client = sandbox.client(format=fmt, **overrides)
    with pytest.raises(ApiAuthError) as caught:
        client.send_list_email(ListEmailSend(campaign_id=1001, list_ids=(2001,), **TEMPLATE))
    assert caught.value.code == code
    assert client.calls == 1
    assert "wrong-token" not in str(caught.value)


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "error", "code"),
    [
        ("PUT", "/api/email/version/4/do/read/id/1", {}, ApiValidationError, 60),
        ("POST", "/api/email/version/4/do/send", {"data": {"campaign_id": "1001"}}, ApiValidationError, 13),
        (
            "GET",
            "/api/emailTemplate/version/4/do/read/id/4001",
            {"params": {"archived": "maybe"}},
            ApiValidationError,
            145,
        ),
        (
            "POST",
            "/api/export/version/4/do/create",
            {"content": b"{not json", "headers": {"Content-Type": "application/json"}},
            ApiValidationError,
            150,
        ),
        (
            "POST",
            "/api/export/version/4/do/create",
            {"content": b"{}", "headers": {"Content-Type": "text/plain"}},
            ApiValidationError,
            151,
        ),
        (
            "POST",
            "/api/export/version/4/do/create",
            {"content": b"", "headers": {"Content-Type": "application/json"}},
            ApiValidationError,
            152,
        ),
    ],
    ids=["60", "13-send", "145-archived", "150", "151", "152"],
)
def test_codes_the_client_never_provokes_still_parse_and_map(
    sandbox: Sandbox,
    fmt: str,
    method: str,
    path: str,
    kwargs: dict[str, Any],
    error: type[ApiError],
    code: int,
) -> None:
    """The client validates these away locally; the sandbox's envelopes still map correctly."""
    rest = {k: v for k, v in kwargs.items() if k != "params"}
    params = {**kwargs.get("params", {}), "format": fmt}
    response = sandbox.raw(method, path, params=params, **rest)
    envelope = parse_envelope(response.content)
    assert not envelope.ok
    failure = envelope.failures[0]
    assert failure.code == code
    assert type(error_for_code(failure.code, failure.message)) is error


def test_missing_business_unit_header_is_181(sandbox: Sandbox) -> None:
    response = sandbox.raw(
        "GET",
        "/api/email/version/4/do/read/id/1",
        headers={
            "Pardot-Business-Unit-Id": "",
        },
    )
    failure = parse_envelope(response.content).failures[0]
    assert failure.code == 181
    assert type(error_for_code(181, failure.message)) is ApiAuthError


def test_daily_limit_is_122_and_not_retried(fmt: str) -> None:
    box = Sandbox(faults=FaultConfig(daily_limit=1))
    try:
        client = box.client(format=fmt)
        client.read_template(4001)
        with pytest.raises(ApiQuotaExceeded) as caught:
            client.read_template(4001)
        assert caught.value.code == 122
        assert client.calls == 2
        assert box.recorder.sleeps == []
    finally:
        box.close()


@pytest.mark.parametrize("kind", ["error66", "error183", "http500", "drop-before", "drop-after"])
def test_reads_ride_out_injected_faults(kind: str) -> None:
    box = Sandbox(faults=FaultConfig(rates={kind: 0.5}, seed=7))
    try:
        client = box.client(max_retries=20)
        for template_id in (4001, 4002, 4001, 4002, 4001, 4002):
            assert client.read_template(template_id).id == template_id
        faults = [r["fault"] for r in box.inspect("/_sandbox/requests")["requests"]]
        assert kind in faults
        assert client.calls == len(faults)
    finally:
        box.close()


def test_persistent_66_gives_up_after_max_retries() -> None:
    box = Sandbox(faults=FaultConfig(rates={"error66": 1.0}))
    try:
        client = box.client(max_retries=3)
        with pytest.raises(ApiRateLimited) as caught:
            client.send_list_email(ListEmailSend(campaign_id=1001, list_ids=(2001,), **TEMPLATE))
        assert caught.value.code == 66
        assert client.calls == 4
        assert box.inspect("/_sandbox/emails")["emails"] == []
    finally:
        box.close()


@pytest.mark.parametrize(
    ("kind", "code", "created"),
    [("error183", 183, False), ("http500", None, False), ("drop-before", None, False), ("drop-after", None, True)],
)
def test_sends_under_faults_are_unknown_and_not_retried(kind: str, code: int | None, created: bool) -> None:
    box = Sandbox(faults=FaultConfig(rates={kind: 1.0}))
    try:
        client = box.client()
        with pytest.raises(ApiOutcomeUnknown) as caught:
            client.send_list_email(ListEmailSend(campaign_id=1001, list_ids=(2001,), **TEMPLATE))
        assert caught.value.code == code
        assert client.calls == 1
        emails = box.inspect("/_sandbox/emails")["emails"]
        assert len(emails) == (1 if created else 0)
    finally:
        box.close()


def test_66_on_a_send_is_retried_and_sends_once() -> None:
    box = Sandbox(faults=FaultConfig(rates={"error66": 0.6}, seed=3))
    try:
        client = box.client(max_retries=30)
        client.send_list_email(ListEmailSend(campaign_id=1001, list_ids=(2001,), **TEMPLATE))
        assert len(box.inspect("/_sandbox/emails")["emails"]) == 1
        assert client.calls >= 1
    finally:
        box.close()


def test_no_secret_in_the_sandbox_request_log(sandbox: Sandbox) -> None:
    sandbox.client().read_template(4001)
    log = str(sandbox.inspect("/_sandbox/requests"))
    assert SANDBOX_TOKEN not in log


# --- exports --------------------------------------------------------------------------------


def _rows(chunks: Iterator[bytes]) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(b"".join(chunks).decode())))


def test_export_lifecycle(sandbox: Sandbox, fmt: str, version: int) -> None:
    client = sandbox.client(format=fmt, version=version)
    job = client.export_create("prospect", "filter_by_updated_at", {"updated_after": "2026-01-01"}, ["id", "email"])
    assert (job.state, job.is_expired, job.result_refs) == ("Waiting", False, ())
    sandbox.app.advance_clock(1.5)
    assert client.export_read(job.id).state == "Processing"
    sandbox.app.advance_clock(1)
    done = client.export_read(job.id)
    assert done.state == "Complete" and len(done.result_refs) == 1
    assert f"/api/export/version/{version}/do/downloadResults/id/{job.id}/file/1" in done.result_refs[0]
    with client.export_download(done.result_refs[0]) as chunks:
        rows = _rows(chunks)
    assert list(rows[0]) == ["id", "email"]
    assert {"id": "1234", "email": "ada@example.com"} in rows


def test_export_split_over_several_files(fmt: str) -> None:
    box = Sandbox(exports=ExportConfig(rows_per_file=10))
    try:
        client = box.client(format=fmt)
        job = client.export_create("prospect", "filter_by_updated_at", {"updated_after": "2026-01-01"})
        box.app.advance_clock(60)
        done = client.export_read(job.id)
        assert len(done.result_refs) > 1
        ids: list[str] = []
        for url in done.result_refs:
            with client.export_download(url) as chunks:
                ids += [row["id"] for row in _rows(chunks)]
        assert len(ids) == len(set(ids)) == 52
    finally:
        box.close()


def test_export_with_no_data_has_no_result_refs(sandbox: Sandbox, fmt: str) -> None:
    client = sandbox.client(format=fmt)
    job = client.export_create(
        "prospect",
        "filter_by_updated_at",
        {"updated_after": "2020-01-01", "updated_before": "2020-02-01"},
    )
    sandbox.app.advance_clock(60)
    done = client.export_read(job.id)
    assert (done.state, done.result_refs) == ("Complete", ())


def test_export_cancel_and_178(sandbox: Sandbox, fmt: str) -> None:
    client = sandbox.client(format=fmt)
    job = client.export_create("prospect", "filter_by_updated_at", {"updated_after": "2026-01-01"})
    assert client.export_cancel(job.id).state == "Canceled"
    with pytest.raises(ApiValidationError) as caught:
        client.export_cancel(job.id)
    assert caught.value.code == 178


def test_expired_export_cannot_be_downloaded(sandbox: Sandbox, fmt: str) -> None:
    client = sandbox.client(format=fmt)
    job = client.export_create("prospect", "filter_by_updated_at", {"updated_after": "2026-01-01"})
    sandbox.app.advance_clock(60)
    [url] = client.export_read(job.id).result_refs
    sandbox.app.advance_clock(8 * 24 * 3600)
    expired = client.export_read(job.id)
    assert expired.is_expired and expired.result_refs == ()
    with pytest.raises(ApiValidationError) as caught:  # noqa: SIM117 - raised on entry
        with client.export_download(url):
            pass
    assert caught.value.code == 178


def test_export_query_filters_and_sorting(sandbox: Sandbox, fmt: str) -> None:
    client = sandbox.client(format=fmt)
    first = client.export_create("prospect", "filter_by_updated_at", {"updated_after": "2026-01-01"})
    sandbox.app.advance_clock(10)
    second = client.export_create("visitor", "filter_by_updated_at", {"updated_after": "2026-01-01"})
    everything = client.export_query(sort_by="id", sort_order="ascending")
    assert [j.id for j in everything.exports] == [first.id, second.id]
    assert everything.total_results == 2
    assert [j.id for j in client.export_query().exports] == [second.id, first.id]
    only = client.export_query(object="visitor")
    assert (only.total_results, [j.id for j in only.exports]) == (1, [second.id])
    complete = client.export_query(status="Complete")
    assert complete.total_results == 1 and complete.exports[0].id == first.id
    window = client.export_query(created_after=(START + timedelta(seconds=5)).strftime("%Y-%m-%d %H:%M:%S"))
    assert [j.id for j in window.exports] == [second.id]
    assert client.export_query(status="Failed").exports == ()


@pytest.mark.parametrize(
    ("obj", "procedure", "arguments", "fields", "code"),
    [
        ("nonsense", "filter_by_updated_at", {"updated_after": "today"}, None, 154),
        ("prospect", "filter_by_nothing", {"updated_after": "today"}, None, 174),
        ("prospect", "filter_by_updated_at", {"updated_after": "today", "colour": "red"}, None, 175),
        ("prospect", "filter_by_updated_at", {}, None, 176),
        ("prospect", "filter_by_updated_at", {"updated_after": "not a date at all"}, None, 177),
        ("prospect", "filter_by_updated_at", {"updated_after": "today"}, ["id", "shoe_size"], 180),
    ],
    ids=["154", "174", "175", "176", "177", "180"],
)
def test_export_create_refusals(
    sandbox: Sandbox,
    fmt: str,
    obj: str,
    procedure: str,
    arguments: dict[str, str],
    fields: list[str] | None,
    code: int,
) -> None:
    with pytest.raises(ApiValidationError) as caught:
        sandbox.client(format=fmt).export_create(obj, procedure, arguments, fields)
    assert caught.value.code == code


def test_tracer_records_the_exact_sequence(sandbox: Sandbox) -> None:
    client = sandbox.client()
    client.read_template(4001)
    client.send_list_email(ListEmailSend(campaign_id=1001, list_ids=(2001,), **TEMPLATE))
    assert sandbox.recorder.exchanges == [
        ("GET /api/emailTemplate/version/4/do/read/id/4001", 200),
        ("POST /api/email/version/4/do/send", 200),
    ]
