"""Keep secrets and prospects' addresses out of everything a human or a log sees.

Two separate jobs with two different rules:

* :func:`redact` removes *secrets* (tokens, client secrets, passwords, DSNs) completely. A
  secret is known by value, so the caller passes the values it holds; both the raw value and
  its URL-encoded form are replaced, because tokens also travel inside form bodies and URLs.
* :func:`mask_email` / :func:`mask_emails` shorten *personal data*: a prospect's address stays
  recognisable to the person who knows it (first letter and domain) without being readable by
  everyone who gets the log; a short tag (``j***@example.com#183e``) tells two addresses apart.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from urllib.parse import quote

__all__ = ["REDACTED", "mask_email", "mask_emails", "redact"]

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


#: The key of the short tag that tells masked addresses apart. A constant: an address masks the
#: same way in every run, plan and project, so a person can follow one recipient across them.
_TAG_KEY = b"orchestrator: tell masked addresses apart"
_TAG_LENGTH = 4  # hex digits: 65,536 tags, so two addresses in one plan practically never share one


def _tag(address: str) -> str:
    """A short keyed hash of ``address`` (case ignored, as Pardot matches addresses).

    It tells two addresses with the same first letter and domain apart without revealing either;
    like any hash it can confirm a guessed address, and with 16 bits one wrong guess in 65,536 passes too.
    """
    digest = hmac.new(_TAG_KEY, address.strip().lower().encode("utf-8"), hashlib.sha256).hexdigest()
    return digest[:_TAG_LENGTH]


def mask_email(address: str) -> str:
    """Return ``address`` with all but the first character of the local part hidden, and a short
    tag that tells different addresses apart (the same address always gets the same tag).

    >>> mask_email("jane.doe@example.com")
    'j***@example.com#183e'

    A value without ``@`` is masked whole: it is not an address we can show in part.
    """
    local, at, domain = address.rpartition("@")
    if not at:
        return "***"
    tag = _tag(f"{local}@{domain}")
    return f"***@{domain}#{tag}" if not local else f"{local[0]}***@{domain}#{tag}"


def mask_emails(text: str) -> str:
    """Mask every address found in ``text`` (plain or ``%40``-encoded) as :func:`mask_email` does,
    leaving the rest, and addresses already masked, as they are."""

    def _mask(match: re.Match[str]) -> str:
        local, domain = match["local"], match["domain"]
        if local.endswith("***"):  # already masked: masking twice must change nothing
            return match[0]
        return f"{local[0]}***{match['at']}{domain}#{_tag(f'{local}@{domain}')}"

    return _EMAIL.sub(_mask, text)


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each secret in ``text`` with :data:`REDACTED`.

    Longer secrets go first so that a secret containing another one is removed whole. Empty
    values are ignored (an unset variable is not a secret to look for).
    """
    variants: set[str] = set()
    for secret in secrets:
        if secret:
            variants.add(secret)
            variants.add(quote(secret, safe=""))
            variants.add(quote(secret))
    for value in sorted(variants, key=len, reverse=True):
        text = text.replace(value, REDACTED)
    return text
