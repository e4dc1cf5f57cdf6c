"""Keep secrets and prospects' addresses out of everything a human or a log sees.

Two separate jobs with two different rules:

* :func:`redact` removes *secrets* (tokens, client secrets, passwords, DSNs) completely. A
  secret is known by value, so the caller passes the values it holds; both the raw value and
  its URL-encoded forms are replaced, because tokens also travel inside form bodies and URLs.
* :func:`mask_email` / :func:`mask_emails` shorten *personal data*: a prospect's address stays
  recognisable to the person who knows it (first letter and domain) without being readable by
  everyone who gets the log.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

__all__ = ["REDACTED", "mask_email", "mask_emails", "redact", "secret_variants"]

#: What a secret is replaced with.
REDACTED = "[REDACTED]"

# An address in plain text or URL-encoded in a path ("jane%40example.com"). Deliberately loose:
# masking something that only looks like an address is harmless, missing a real one is not.
# The local part leaves out "/", "=", "?", "&" and quotes so that a path or query string in
# front of an address is not swallowed with it.
_EMAIL = re.compile(
    r"(?P<local>[A-Za-z0-9.!#$%*+^_{|}~-]+)(?P<at>@|%40)(?P<domain>[A-Za-z0-9.-]+\.[A-Za-z]{2,})",
    re.IGNORECASE,
)


def mask_email(address: str) -> str:
    """Return ``address`` with all but the first character of the local part hidden.

    >>> mask_email("jane.doe@example.com")
    'j***@example.com'

    A value without ``@`` is masked whole: it is not an address we can show in part.
    """
    local, at, domain = address.rpartition("@")
    if not at or not local:
        return "***" if not at else f"***@{domain}"
    return f"{local[0]}***@{domain}"


def mask_emails(text: str) -> str:
    """Mask every address found in ``text`` (plain or ``%40``-encoded), leaving the rest as is."""

    def _mask(match: re.Match[str]) -> str:
        return f"{match['local'][0]}***{match['at']}{match['domain']}"

    return _EMAIL.sub(_mask, text)


def secret_variants(secrets: Iterable[str]) -> list[str]:
    """Every spelling of each secret to look for, longest first: the value itself, and its
    URL-encoded forms (in a path, in a query string or form body)."""
    variants: set[str] = set()
    for secret in secrets:
        if secret:
            variants.update((secret, quote(secret, safe=""), quote(secret), quote_plus(secret)))
    return sorted(variants, key=len, reverse=True)


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each secret in ``text`` with :data:`REDACTED`.

    Longer secrets go first so that a secret containing another one is removed whole. Empty
    values are ignored (an unset variable is not a secret to look for).
    """
    for value in secret_variants(secrets):
        text = text.replace(value, REDACTED)
    return text
