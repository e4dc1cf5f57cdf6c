"""Real v5 answers (tests/pardot/bodies/real_v5/) through the version-5 client.

Each body names its source in ``PROVENANCE.yaml`` and keeps the size it had there. The email
objects decode as a v5 send's answer would; each error body, answered to a v5 send with a 4xx,
is Pardot's refusal (nothing sent), and with a 5xx it proves nothing (docs/wire-format.md,
"Version 5").
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
import tenacity
import yaml

from orchestrator.errors import ApiAuthError, ApiNotFound, ApiOutcomeUnknown, ApiValidationError
from orchestrator.pardot import decode
from orchestrator.pardot.client import PardotClient
from orchestrator.pardot.envelope import parse_envelope
from orchestrator.pardot.models import ListEmailSend

from .fakes import Answer, FakePardot, make_settings

REAL = Path(__file__).parent / "bodies" / "real_v5"
PROVENANCE: dict[str, dict[str, Any]] = yaml.safe_load((REAL / "PROVENANCE.yaml").read_text())["bodies"]
SEND = ListEmailSend(campaign_id=1, list_ids=(2,), email_template_id=3, name="n")


def test_every_body_is_documented_and_unchanged() -> None:
    files = {p.name for p in REAL.glob("*.json")}
    assert files == set(PROVENANCE)
    for name, source in PROVENANCE.items():
        assert (REAL / name).stat().st_size == source["size"], name
        assert source["repository"] and len(source["commit"]) == 40


def test_real_v5_email_objects_decode() -> None:
    envelope = parse_envelope((REAL / "amp_emails_first_page.json").read_bytes())
    assert envelope.ok and envelope.data["nextPageToken"] and envelope.data["nextPageUrl"]
    emails = [decode.decode_email_v5(value, one_to_one=True) for value in envelope.data["values"]]
    assert [(e.id, e.name, e.subject) for e in emails] == [
        (34277860, "Sending first email ever", "Few Moments Later"),
        (34277863, "Second email, on the roll", "Second email, unbelievable"),
    ]
    pacific = timezone(timedelta(hours=-7))
    updated = decode.as_datetime(envelope.data["values"][0]["updatedAt"], "updatedAt")
    assert updated == datetime(2025, 5, 16, 11, 27, 8, tzinfo=pacific)


def _send_answered(name: str, status: int) -> type[Exception]:
    fake = FakePardot([Answer((REAL / name).read_bytes(), status=status)])
    client = PardotClient(
        make_settings(version=5), transport=httpx.MockTransport(fake), env={},
        retry_wait=tenacity.wait_none(), sleep=lambda _: None,
    )
    with client:
        try:
            client.send_list_email(SEND)
        except Exception as error:
            assert len(fake.requests) == 1  # a send is never retried on these
            return type(error)
    raise AssertionError("the send was accepted")


@pytest.mark.parametrize(
    ("name", "refusal"),
    [
        ("amp_error_missing_fields.json", ApiValidationError),
        ("amp_error_missing_header.json", ApiAuthError),
        ("amp_error_not_found.json", ApiNotFound),
    ],
)
def test_real_v5_errors_refuse_a_send_only_with_a_4xx(name: str, refusal: type[Exception]) -> None:
    assert _send_answered(name, 400) is refusal
    assert _send_answered(name, 500) is ApiOutcomeUnknown
