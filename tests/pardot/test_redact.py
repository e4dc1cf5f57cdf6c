"""orchestrator.redact: secrets removed completely, prospect addresses masked."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.redact import REDACTED, mask_email, mask_emails, redact


@pytest.mark.parametrize(
    ("address", "masked"),
    [
        ("jane.doe@example.com", "j***@example.com#183e"),
        ("j@example.com", "j***@example.com#82bf"),
        ("@example.com", "***@example.com#"),
        ("not-an-address", "***"),
        ("a@b@example.com", "a***@example.com#"),
    ],
)
def test_mask_email(address: str, masked: str) -> None:
    assert mask_email(address).startswith(masked)


def test_mask_emails_in_text_plain_and_url_encoded() -> None:
    text = "Invalid prospect email jane.doe@example.com at /send/prospect_email/jane.doe%40example.com"
    assert mask_emails(text) == (
        "Invalid prospect email j***@example.com#183e at /send/prospect_email/j***%40example.com#183e"
    )


LOCAL = st.from_regex(r"[a-z0-9][a-z0-9._+-]{1,20}", fullmatch=True)
DOMAIN = st.from_regex(r"[a-z0-9]{1,10}\.(com|io|example)", fullmatch=True)
TAG = r"#[0-9a-f]{4}"


@given(local=LOCAL, domain=DOMAIN)
def test_masking_keeps_domain_first_letter_and_a_tag_only(local: str, domain: str) -> None:
    masked = mask_email(f"{local}@{domain}")
    assert re.fullmatch(re.escape(f"{local[0]}***@{domain}") + TAG, masked)
    assert mask_emails(f"x {local}@{domain} y") == f"x {masked} y"
    assert mask_email(f"{local.upper()}@{domain.upper()}").endswith(masked[-5:])  # case does not change the tag


@given(local=LOCAL, domain=DOMAIN)
def test_masking_twice_changes_nothing(local: str, domain: str) -> None:
    once = mask_emails(f"key/{local}@{domain}")
    assert mask_emails(once) == once


def test_two_addresses_with_the_same_first_letter_mask_apart_and_each_always_the_same() -> None:
    pat, paul = mask_email("pat@example.com"), mask_email("paul@example.com")
    assert pat != paul and pat.startswith("p***@example.com#") and paul.startswith("p***@example.com#")
    assert mask_email("pat@example.com") == pat  # stable: no per-run randomness


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
