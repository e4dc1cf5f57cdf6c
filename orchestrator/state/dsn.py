"""Keep a PostgreSQL DSN's password out of every message, repr and log line.

libpq and psycopg sometimes quote parts of the connection string back in their errors (for
example ``missing "=" after "..."``), so errors are scrubbed by value: every password the DSN
holds, in every spelling it may take (raw, percent-encoded, quoted), plus anything that still
looks like ``password=...`` or the userinfo of ``scheme://userinfo@host`` (all of it, the user
included: a password may hold an unencoded ``@``).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

from orchestrator.redact import REDACTED, redact

__all__ = ["describe_dsn", "dsn_problem", "dsn_secrets", "scrub"]

# key=value form: password=secret, password = 'se cret', password='it\'s', password=se\ cret
_KV_PASSWORD = re.compile(r"(password\s*=\s*)('(?:\\.|[^'\\])*'?|(?:\\.|\S)+)", re.IGNORECASE)
# URL form: scheme://userinfo@host. The userinfo runs to the *last* '@' before a space: a
# password may hold unencoded '@', '/', ':' (libpq then reads part of it as the host or port).
_URL_USERINFO = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://)(\S*)(@)")
#: Shorter pieces of a mangled URL password are not worth garbling every message for.
_MIN_PIECE = 4


def conninfo_to_dict(dsn: str) -> dict[str, Any]:
    """psycopg's parse of ``dsn`` (psycopg is imported here: a SQLite project never loads it)."""
    from psycopg.conninfo import conninfo_to_dict as parse

    return parse(dsn)


def _psycopg_error() -> type[Exception]:
    import psycopg

    return psycopg.Error


def _split_userinfo(userinfo: str) -> tuple[str, str]:
    """``(user, secret)``: the user runs to the first ':' or '@', all the rest is secret."""
    cut = min((i for i in (userinfo.find(":"), userinfo.find("@")) if i >= 0), default=len(userinfo))
    return userinfo[:cut], userinfo[cut + 1 :]


def dsn_problem(dsn: str) -> str:
    """Why ``dsn`` cannot even be handed to libpq, or ``""``; never quotes the DSN.

    A control character or line break would be copied into libpq's errors and our messages,
    and a percent-escape that is not UTF-8 (``%80``) makes psycopg raise UnicodeDecodeError,
    not one of its own errors. Anything else libpq reports itself (scrubbed by the caller).
    """
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in dsn):
        return "contains a control character or line break"
    try:
        conninfo_to_dict(dsn)
    except UnicodeDecodeError:
        return "holds a %-escape that is not UTF-8 text"
    except _psycopg_error():
        return ""
    return ""


def dsn_secrets(dsn: str) -> list[str]:
    """Every spelling of the password(s) in ``dsn``, however malformed the DSN is."""
    found: list[str] = []
    try:
        password = conninfo_to_dict(dsn).get("password")
    except (_psycopg_error(), UnicodeDecodeError):  # a "%80" in the URL is not UTF-8
        password = None
    if password:
        found.append(str(password))
    for match in _KV_PASSWORD.finditer(dsn):
        raw = match.group(2)
        unquoted = raw.strip("'")
        found.extend([raw, unquoted, re.sub(r"\\(.)", r"\1", unquoted)])
    for match in _URL_USERINFO.finditer(dsn):
        userinfo = match.group(2)
        _user, secret = _split_userinfo(userinfo)
        found.extend([userinfo, unquote(userinfo), secret, unquote(secret)])
        # An unencoded '@', ':', '/' or '?' in a password makes libpq read a piece of it as the
        # host or port, and quote that piece back in its errors: scrub the pieces too, and a
        # short piece after the first '@' with its '@' (libpq's host starts there).
        found.extend(piece for piece in re.split(r"[@:/?#]", secret) if len(piece) >= _MIN_PIECE)
        host_start = userinfo.split("@", 1)[1] if "@" in userinfo else ""
        if host_start and len(host_start) < _MIN_PIECE:
            found.append(host_start + "@")
    return [secret for secret in found if secret]


def scrub(text: str, secrets: list[str]) -> str:
    """``text`` without any of ``secrets`` nor anything shaped like a password or URL userinfo."""
    text = redact(text, secrets)
    text = _KV_PASSWORD.sub(lambda m: m.group(1) + REDACTED, text)
    return _URL_USERINFO.sub(lambda m: m.group(1) + REDACTED + m.group(3), text)


def describe_dsn(dsn: str) -> str:
    """Where the DSN points (host, port, database, user), for reprs and messages: no secrets.

    A URL's userinfo is cut down to its user before libpq parses it, so a password holding an
    unencoded '@' cannot turn up as (part of) the host.
    """

    def user_only(match: re.Match[str]) -> str:
        user, _secret = _split_userinfo(match.group(2))
        return match.group(1) + (f"{user}@" if user else "")

    try:
        params = conninfo_to_dict(_URL_USERINFO.sub(user_only, dsn))
    except (_psycopg_error(), UnicodeDecodeError):  # a "%80" in the URL is not UTF-8
        return "an unparsable DSN"
    shown = [f"{name}={params[name]}" for name in ("host", "port", "dbname", "user") if name in params]
    return scrub(" ".join(shown), dsn_secrets(dsn)) or "the default PostgreSQL server"
