"""Level 1: recorded response bodies (tests/pardot/bodies/) through envelope parsing + decoding.

Each row names a body file, the decoder the client would apply, and the exact value (or error
class and code) expected. A body file that no row uses fails the suite, so the fixtures and
the table cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from orchestrator.errors import (
    ApiAuthError,
    ApiError,
    ApiNotFound,
    ApiProtocolError,
    ApiRateLimited,
    ApiValidationError,
)
from orchestrator.pardot import decode
from orchestrator.pardot.envelope import Envelope, parse_envelope
from orchestrator.pardot.errormap import error_for_code
from orchestrator.pardot.models import (
    Email,
    EmailStats,
    EmailTemplate,
    EmailTemplateSummary,
    ExportJob,
    ExportQueryResult,
)

BODIES = Path(__file__).parent / "bodies"


def _ok(envelope: Envelope) -> Envelope:
    if not envelope.ok:
        failure = envelope.failures[0]
        raise error_for_code(failure.code, "; ".join(f.message for f in envelope.failures))
    return envelope


def email(env: Envelope) -> Email:
    return decode.decode_email(_ok(env).root("email"))


def stats(env: Envelope) -> EmailStats:
    return decode.decode_stats(_ok(env).root("stats"))


def template(env: Envelope) -> EmailTemplate:
    data = _ok(env).root("emailTemplate")
    failure = decode.embedded_failure(data)
    if failure is not None:
        raise error_for_code(failure.code, failure.message)
    return decode.decode_template(data)


def templates(env: Envelope) -> list[EmailTemplateSummary]:
    return decode.decode_template_list(_ok(env).data.get("emailTemplates"))


def export(env: Envelope) -> ExportJob:
    return decode.decode_export(_ok(env).data)


def export_query(env: Envelope) -> ExportQueryResult:
    return decode.decode_export_query(_ok(env).root("result"))


def envelope_only(env: Envelope) -> Envelope:
    return _ok(env)


TEXT = "Hi %%first_name%%, unsubscribe: %%unsubscribe%%"
HTML = '<html><body><a href="%%unsubscribe%%">Unsubscribe</a></body></html>'
SEND_FROM = [
    {"type": "general_user", "value": "Marketing Team <mkt@example.com>"},
    {"type": "assigned_user"},
]
TPL_HTML = '<p>Hello %%first_name%%</p><a href="%%unsubscribe%%">u</a>'
STATS = EmailStats(
    sent=1000,
    delivered=984,
    total_clicks=120,
    unique_clicks=100,
    soft_bounced=10,
    hard_bounced=6,
    opt_outs=3,
    spam_complaints=1,
    opens=160,
    unique_opens=133,
    delivery_rate=98.42,
    opens_rate=13.52,
    click_through_rate=12.20,
    unique_click_through_rate=10.16,
    click_open_ratio=75.05,
    opt_out_rate=0.30,
    spam_complaint_rate=0.10,
)
WELCOME = EmailTemplateSummary(11, "Welcome", "Hi", True, False, False, True, False)
OLD = EmailTemplateSummary(12, "Old", "Old news", True, True, True, False, True)
PI = "https://pi.pardot.com/api/export/version/4/do/downloadResults/id/201917/file/"
SBX = "http://sandbox.local/api/export/version/4/do/downloadResults/id/7/file/"
T0, T5 = "2026-11-27 10:00:00", "2026-11-27 10:05:00"

OK_CASES: list[tuple[str, Callable[[Envelope], Any], Any]] = [
    (
        "email_read.xml",
        email,
        Email(
            id=12345,
            name="Spring launch",
            subject="Hello & welcome",
            text=TEXT,
            html=HTML,
            created_at=datetime(2017, 8, 11, 21, 41, 8),
            is_one_to_one=False,
            campaign_id=77,
            scheduled_time=None,
        ),
    ),
    (
        "email_read_no_message.xml",
        email,
        Email(12345, "Spring launch", "Hi", None, None, datetime(2017, 8, 11, 21, 41, 8), True, None, None),
    ),
    (
        "email_send_scheduled.json",
        email,
        Email(
            id=901,
            name="Autumn",
            subject="Autumn news",
            text="Bye %%unsubscribe%%",
            html='<p>Bye <a href="%%unsubscribe%%">x</a></p>',
            created_at=datetime(2026, 11, 27, 10, 0, 0),
            is_one_to_one=False,
            campaign_id=77,
            scheduled_time=datetime(2027, 3, 1, 14, 0, tzinfo=UTC),
        ),
    ),
    (
        "email_send_one_to_one.json",
        email,
        Email(902, "Welcome", "Welcome", "t", None, datetime(2026, 11, 27, 10, 0, 1), True, 77, None),
    ),
    ("stats.xml", stats, STATS),
    ("stats.json", stats, STATS),
    (
        "template_read.xml",
        template,
        EmailTemplate(
            id=6789,
            name="Newsletter",
            subject="Monthly news",
            html=TPL_HTML,
            text="Hello %%first_name%% %%unsubscribe%%",
            is_list_email=True,
            is_one_to_one_email=True,
            is_drip_email=False,
            is_autoresponder_email=False,
            is_archived=False,
            reply_to_address="reply@example.com",
            send_from=SEND_FROM,
        ),
    ),
    (
        "template_read.json",
        template,
        EmailTemplate(
            6789,
            "Newsletter",
            "Monthly news",
            TPL_HTML,
            "Hello %%first_name%% %%unsubscribe%%",
            True,
            True,
            False,
            False,
            False,
            None,
            SEND_FROM,
        ),
    ),
    ("templates_one.xml", templates, [WELCOME]),
    ("templates_one.json", templates, [WELCOME]),
    ("templates_many.xml", templates, [WELCOME, OLD]),
    ("templates_many.json", templates, [WELCOME, OLD]),
    ("templates_none.xml", templates, []),
    ("templates_none.json", templates, []),
    ("export_waiting_wrapped.json", export, ExportJob(7, "Waiting", False, (), T0, T0)),
    (
        "export_complete_string_unwrapped.json",
        export,
        ExportJob(201917, "Complete", False, (PI + "1",), T0, T5),
    ),
    (
        "export_complete_array_unwrapped.json",
        export,
        ExportJob(201917, "Complete", False, (PI + "1", PI + "2", PI + "3"), None, None),
    ),
    ("export_canceled.json", export, ExportJob(201917, "Canceled", False, (), None, None)),
    (
        "export_expired.xml",
        export,
        ExportJob(7, "Complete", True, (), "2026-11-01 10:00:00", "2026-11-01 10:05:00"),
    ),
    ("export_complete_one.xml", export, ExportJob(7, "Complete", False, (SBX + "1",), T0, T5)),
    (
        "export_complete_many.xml",
        export,
        ExportJob(7, "Complete", False, (SBX + "1", SBX + "2"), T0, T5),
    ),
    ("export_query_none.json", export_query, ExportQueryResult(0, ())),
    (
        "export_query_one.json",
        export_query,
        ExportQueryResult(1, (ExportJob(7, "Processing", False, (), T0, "2026-11-27 10:01:00"),)),
    ),
    (
        "export_query_many.xml",
        export_query,
        ExportQueryResult(
            2,
            (
                ExportJob(8, "Waiting", False, (), "2026-11-27 11:00:00", "2026-11-27 11:00:00"),
                ExportJob(7, "Failed", True, (), T0, "2026-11-27 10:01:00"),
            ),
        ),
    ),
]

ERROR_CASES: list[tuple[str, Callable[[Envelope], Any], type[ApiError], int | None, str]] = [
    ("template_read_error.xml", template, ApiNotFound, 68, "Template with this id does not exist"),
    ("template_read_error.json", template, ApiNotFound, 68, "Template with this id does not exist"),
    ("template_read_error_strcode.json", template, ApiNotFound, 86, "Invalid Template id"),
    ("fail_64.xml", envelope_only, ApiValidationError, 64, "%%unsubscribe%%"),
    ("fail_10000_two_params.xml", envelope_only, ApiValidationError, 10000, "Invalid subject"),
    ("fail_int_code.json", envelope_only, ApiNotFound, 3, "Invalid prospect ID"),
    ("fail_string_code.json", envelope_only, ApiRateLimited, 66, "concurrent request limit"),
    ("fail_v5_style.json", envelope_only, ApiAuthError, 184, "access_token is invalid"),
]

UNPARSEABLE = ["bad_doctype_entities.xml", "bad_html_error_page.html", "bad_truncated.json"]


def _envelope(name: str) -> Envelope:
    return parse_envelope((BODIES / name).read_bytes())


@pytest.mark.parametrize(("name", "decoder", "expected"), OK_CASES, ids=[c[0] for c in OK_CASES])
def test_recorded_body_decodes_to_expected_value(name: str, decoder: Callable[[Envelope], Any], expected: Any) -> None:
    assert decoder(_envelope(name)) == expected


@pytest.mark.parametrize(("name", "decoder", "error", "code", "fragment"), ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_recorded_failure_maps_to_error_with_code(
    name: str,
    decoder: Callable[[Envelope], Any],
    error: type[ApiError],
    code: int | None,
    fragment: str,
) -> None:
    with pytest.raises(error) as caught:
        decoder(_envelope(name))
    assert type(caught.value) is error
    assert caught.value.code == code
    assert fragment in str(caught.value)


@pytest.mark.parametrize("name", UNPARSEABLE)
def test_unparseable_body_is_a_protocol_error(name: str) -> None:
    with pytest.raises(ApiProtocolError):
        _envelope(name)


def test_every_body_file_is_used_by_a_case() -> None:
    used = {c[0] for c in OK_CASES} | {c[0] for c in ERROR_CASES} | set(UNPARSEABLE)
    assert {p.name for p in BODIES.iterdir() if p.is_file()} == used


def test_multiple_xml_errors_keep_every_message() -> None:
    env = _envelope("fail_10000_two_params.xml")
    assert [(f.code, f.message) for f in env.failures] == [
        (10000, "Invalid name"),
        (10000, "Invalid subject"),
    ]


def test_scheduled_time_keeps_its_offset() -> None:
    sent = email(_envelope("email_send_scheduled.json"))
    assert sent.scheduled_time is not None
    assert sent.scheduled_time.utcoffset() == timedelta(0)
