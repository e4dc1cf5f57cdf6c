"""orchestrator.redact: secrets removed completely, prospect addresses masked."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.redact import REDACTED, mask_email, mask_emails, redact


@pytest.mark.parametrize(
    ("address", "masked"),
    [
        ("jane.doe@example.com", "j***@example.com"),
        ("j@example.com", "j***@example.com"),
        ("@example.com", "***@example.com"),
        ("not-an-address", "***"),
        ("a@b@example.com", "a***@example.com"),
    ],
)
def test_mask_email(address: str, masked: str) -> None:
    assert mask_email(address) == masked


def test_mask_emails_in_text_plain_and_url_encoded() -> None:
    text = "Invalid prospect email jane.doe@example.com at /send/prospect_email/jane.doe%40example.com"
    assert mask_emails(text) == ("Invalid prospect email j***@example.com at /send/prospect_email/j***%40example.com")


LOCAL = st.from_regex(r"[a-z0-9][a-z0-9._+-]{1,20}", fullmatch=True)
DOMAIN = st.from_regex(r"[a-z0-9]{1,10}\.(com|io|example)", fullmatch=True)


@given(local=LOCAL, domain=DOMAIN)
def test_masking_keeps_domain_and_first_letter_only(local: str, domain: str) -> None:
    masked = mask_email(f"{local}@{domain}")
    assert masked == f"{local[0]}***@{domain}"
    found = mask_emails(f"x {local}@{domain} y")
    assert found == f"x {local[0]}***@{domain} y"


def test_redact_replaces_raw_and_url_encoded_forms() -> None:
    secret = "ab+c/d=="
    text = f"token={secret} form=token%3D{quote(secret, safe='')} again {secret}"
    cleaned = redact(text, [secret])
    assert secret not in cleaned
    assert quote(secret, safe="") not in cleaned
    assert cleaned.count(REDACTED) == 3


def test_redact_ignores_empty_secrets_and_prefers_longest() -> None:
    assert redact("abc abcdef", ["", "abc", "abcdef"]) == f"{REDACTED} {REDACTED}"


@given(
    secret=st.text(min_size=1, max_size=30),
    before=st.text(max_size=30),
    after=st.text(max_size=30),
)
def test_redacted_text_never_contains_the_secret(secret: str, before: str, after: str) -> None:
    assert secret not in redact(before + secret + after, [secret]) or secret in REDACTED
