"""Keep secrets and prospects' addresses out of everything a human or a log sees.

Two separate jobs with two different rules:

* :func:`redact` removes *secrets* (tokens, client secrets, passwords, DSNs) completely. A
  secret is known by value, so the caller passes the values it holds; both the raw value and
  its URL-encoded forms are replaced, because tokens also travel inside form bodies and URLs.
  The values of every environment variable the configuration names (each ``*_env`` setting)
  are *registered* when the configuration is loaded (:func:`register_secrets`), and every
  output the CLI writes (stdout, stderr, saved plans, Markdown parts) passes through
  :func:`scrub`, so a library error that quotes a value (libpq quoting a DSN that was in fact
  a client secret) cannot carry it into a log.
* :func:`mask_email` / :func:`mask_emails` shorten *personal data*: a prospect's address stays
  recognisable to the person who knows it (first letter and domain) without being readable by
  everyone who gets the log; a short tag (``j***@example.com#183e``) tells two addresses apart.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

__all__ = [
    "MIN_SECRET_LENGTH",
    "REDACTED",
    "forget_secrets",
    "mask_email",
    "mask_emails",
    "redact",
    "register_secrets",
    "registered_secrets",
    "scrub",
    "scrub_data",
    "secret_variable_names",
    "secret_variants",
]

#: What a secret is replaced with.
REDACTED = "[REDACTED]"
#: Shorter values are not registered: no credential is that short, and replacing a word such
#: as ``test`` everywhere would garble every output.
MIN_SECRET_LENGTH = 6

#: The values registered for this run (see :func:`register_secrets`).
_registered: set[str] = set()

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


def secret_variable_names(settings: Any) -> set[str]:
    """The environment variables named by every ``*_env`` key in ``settings``, at any depth.

    Every such key names a credential (``token_env``, ``client_secret_env``, ``dsn_env``...):
    the schema gives the ``_env`` suffix to nothing else.
    """
    names: set[str] = set()
    if isinstance(settings, Mapping):
        for key, value in settings.items():
            if str(key).endswith("_env") and isinstance(value, str):
                names.add(value)
            else:
                names |= secret_variable_names(value)
    elif isinstance(settings, list | tuple):
        for item in settings:
            names |= secret_variable_names(item)
    return names


def register_secrets(values: Iterable[str | None]) -> None:
    """Add ``values`` to the secrets :func:`scrub` removes for the rest of this run.

    A value is registered as it is and stripped of surrounding blanks (how it is used); values
    shorter than :data:`MIN_SECRET_LENGTH` are left out.
    """
    for value in values:
        for form in {value or "", (value or "").strip()}:
            if len(form) >= MIN_SECRET_LENGTH:
                _registered.add(form)


def registered_secrets() -> frozenset[str]:
    """The secrets registered so far."""
    return frozenset(_registered)


def forget_secrets() -> None:
    """Forget every registered secret (the run is over)."""
    _registered.clear()


def registered_spellings() -> tuple[str, ...]:
    """Every spelling :func:`scrub` looks for (:func:`secret_variants` of the registered secrets)."""
    return _variants(frozenset(_registered)) if _registered else ()


def scrub(text: str) -> str:
    """``text`` without any registered secret."""
    for value in registered_spellings():
        text = text.replace(value, REDACTED)
    return text


@functools.lru_cache(maxsize=4)
def _variants(secrets: frozenset[str]) -> tuple[str, ...]:
    """:func:`secret_variants` once per set of secrets: computing the URL-encoded spellings took
    0.1 ms per string scrubbed, 30 s of a ``state list --json`` of 100,000 records whose state
    is in PostgreSQL (its DSN is a registered secret)."""
    return tuple(secret_variants(secrets))


def scrub_data(value: Any) -> Any:
    """JSON-shaped ``value`` with every registered secret removed from its strings (and keys).

    Done on the data rather than on the serialised text, so a secret holding a quote or a
    backslash is found even though JSON escapes it, and the result is still valid JSON.
    """
    if not _registered:
        return value
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, Mapping):
        return {scrub(k) if isinstance(k, str) else k: scrub_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub_data(item) for item in value]
    return value
