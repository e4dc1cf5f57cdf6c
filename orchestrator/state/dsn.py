"""Keep a PostgreSQL DSN's password out of every message, repr and log line.

libpq and psycopg sometimes quote parts of the connection string back in their errors (for
example ``missing "=" after "..."``), so errors are scrubbed by value: every password the DSN
holds, in every spelling it may take (raw, percent-encoded, quoted), plus anything that still
looks like ``password=...`` or ``scheme://user:...@``.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

import psycopg
from psycopg.conninfo import conninfo_to_dict

from orchestrator.redact import REDACTED, redact

__all__ = ["describe_dsn", "dsn_secrets", "scrub"]

# key=value form: password=secret, password = 'se cret', password='it\'s'
_KV_PASSWORD = re.compile(r"(password\s*=\s*)('(?:\\.|[^'\\])*'?|\S+)", re.IGNORECASE)
# URL form: postgresql://user:secret@host; the password runs to the last '@' before a space.
_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)(\S*)(@)")
#: Shorter pieces of a mangled URL password are not worth garbling every message for.
_MIN_PIECE = 4


def dsn_secrets(dsn: str) -> list[str]:
    """Every spelling of the password(s) in ``dsn``, however malformed the DSN is."""
    found: list[str] = []
    try:
        password = conninfo_to_dict(dsn).get("password")
    except psycopg.Error:
        password = None
    if password:
        found.append(str(password))
    for match in _KV_PASSWORD.finditer(dsn):
        raw = match.group(2)
        found.extend([raw, raw.strip("'"), raw.strip("'").replace("\\'", "'")])
    for match in _URL_PASSWORD.finditer(dsn):
        raw = match.group(2)
        found.extend([raw, unquote(raw)])
        # An unencoded "/" or "?" in a password makes libpq read a piece of it as the port,
        # and quote that piece back in its error: scrub the pieces too.
        found.extend(piece for piece in re.split(r"[/?#]", raw) if len(piece) >= _MIN_PIECE)
    return [secret for secret in found if secret]


def scrub(text: str, secrets: list[str]) -> str:
    """``text`` without any of ``secrets`` nor anything shaped like a password."""
    text = redact(text, secrets)
    text = _KV_PASSWORD.sub(lambda m: m.group(1) + REDACTED, text)
    return _URL_PASSWORD.sub(lambda m: m.group(1) + REDACTED + m.group(3), text)


def describe_dsn(dsn: str) -> str:
    """Where the DSN points (host, port, database, user), for reprs and messages: no secrets."""
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.Error:
        return "an unparsable DSN"
    shown = [f"{name}={params[name]}" for name in ("host", "port", "dbname", "user") if name in params]
    return scrub(" ".join(shown), dsn_secrets(dsn)) or "the default PostgreSQL server"
