"""v5 email templates in the sandbox: create and update (PATCH).

Reads and queries are those every v5 collection shares (``objects.V5_COLLECTIONS``).

Operations and field names from the Email Template Object page, v5
(https://developer.salesforce.com/docs/marketing/pardot/guide/email-template-v5.html): create is
``POST /api/v5/objects/email-templates``, read ``GET …/<id>``, update ``PATCH …/<id>``, query
``GET …``; the conventions (``fields`` required on reads, ``{"code", "message"}`` errors with a
4xx status, ``values``/``nextPageToken``/``nextPageUrl``, DateTimes with the account's offset)
are Version 5 Overview's, as for list emails (docs/wire-format.md, "Version 5").

The rows live in the same ``templates`` table the v3/v4 reads serve, so a template made through
v5 is readable through v4 too; ``template_times`` holds what v5 adds (creation and update
times, the campaign). **CHOICES** (the page excerpts available do not settle them): ``name``,
``subject`` and ``textMessage`` are required on create (13 when missing); a create answers
``id`` alone without ``fields``; the sender is stored as the ``senderOptions`` given.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from orchestrator.sandbox.dates import format_wire
from orchestrator.sandbox.store import Store
from orchestrator.sandbox.wire import SandboxRefusal, refuse

_FLAGS = {
    "isListEmail": "is_list_email",
    "isOneToOneEmail": "is_one_to_one_email",
    "isDripEmail": "is_drip_email",
    "isAutoResponderEmail": "is_autoresponder_email",
}

#: Fields a create or update may set, and their JSON types.
_WRITABLE: Mapping[str, tuple[type, ...]] = {
    "name": (str,),
    "subject": (str,),
    "htmlMessage": (str, type(None)),
    "textMessage": (str,),
    "campaignId": (int, type(None)),
    "senderOptions": (list,),
    "replyToOptions": (list,),
    **dict.fromkeys(_FLAGS, (bool,)),
}

#: Fields a read or query may ask for.
READABLE = frozenset({*_WRITABLE, "id", "isDeleted", "createdAt", "updatedAt"})

_REQUIRED_ON_CREATE = ("name", "subject", "textMessage")


def _refuse(status: int, code: int, message: str) -> SandboxRefusal:
    return SandboxRefusal(code, message, http_status=status)


def _fields(raw: str | None, *, required: bool = True) -> tuple[str, ...]:
    if not raw:
        if not required:
            return ("id",)
        raise _refuse(400, 13, "One or more required parameters are missing: fields")
    fields = tuple(f.strip() for f in raw.split(",") if f.strip())
    unknown = [f for f in fields if f not in READABLE]
    if unknown:
        raise _refuse(400, 57, f"Invalid fields: {', '.join(unknown)}")
    return fields


def _checked_body(body: Any) -> dict[str, Any]:
    """The JSON object of a create or update: writable fields of the right types, or 154."""
    if not isinstance(body, dict):
        raise refuse(150)
    if not body:
        raise refuse(152)
    for name, value in body.items():
        types = _WRITABLE.get(name)
        if types is None:
            raise refuse(154, f"{name} is not a writable field of an email template")
        if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
            raise refuse(154, f"{name} has the wrong type")
    return body


def create(store: Store, body: Any, fields_raw: str | None, now: datetime) -> tuple[int, dict[str, Any]]:
    """``POST /api/v5/objects/email-templates``: the new id and the answer (HTTP 201)."""
    fields = _fields(fields_raw, required=False)
    data = _checked_body(body)
    missing = [name for name in _REQUIRED_ON_CREATE if not data.get(name)]
    if missing:
        raise _refuse(400, 13, f"One or more required parameters are missing: {', '.join(missing)}")
    stamp = format_wire(now)
    with store.transaction() as conn:
        cursor = conn.execute(
            "INSERT INTO templates (id, name, subject, html, text, is_list_email, is_one_to_one_email,"
            " is_drip_email, is_autoresponder_email, archived, reply_to_address, send_from)"
            " VALUES ((SELECT COALESCE(MAX(id), 0) + 1 FROM templates), ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
            (
                data["name"],
                data["subject"],
                data.get("htmlMessage") or "",
                data["textMessage"],
                *(int(bool(data.get(flag, False))) for flag in _FLAGS),
                json.dumps(data.get("replyToOptions", [])),
                json.dumps(data.get("senderOptions", [])),
            ),
        )
        template_id = int(cursor.lastrowid or 0)
        conn.execute(
            "INSERT INTO template_times (template_id, campaign_id, created_at, updated_at) VALUES (?, ?, ?, ?)",
            (template_id, data.get("campaignId"), stamp, stamp),
        )
        row = _row(conn, template_id)
    assert row is not None  # just written in this transaction
    return template_id, _answer(row, fields)


def update(store: Store, raw_id: str, body: Any, fields_raw: str | None, now: datetime) -> dict[str, Any]:
    """``PATCH /api/v5/objects/email-templates/<id>``: the given fields changed, the rest kept."""
    fields = _fields(fields_raw, required=False)
    data = _checked_body(body)
    row = _existing(store, raw_id)
    columns = {
        "name": data.get("name"),
        "subject": data.get("subject"),
        "html": data.get("htmlMessage") if "htmlMessage" in data else None,
        "text": data.get("textMessage"),
        **{column: int(data[flag]) for flag, column in _FLAGS.items() if flag in data},
        "reply_to_address": json.dumps(data["replyToOptions"]) if "replyToOptions" in data else None,
        "send_from": json.dumps(data["senderOptions"]) if "senderOptions" in data else None,
    }
    if "htmlMessage" in data and data["htmlMessage"] is None:
        columns["html"] = ""
    changes = {column: value for column, value in columns.items() if value is not None}
    with store.transaction() as conn:
        for column, value in changes.items():  # column names come from the fixed map above
            conn.execute(f"UPDATE templates SET {column} = ? WHERE id = ?", (value, row["id"]))  # noqa: S608
        conn.execute(
            "INSERT INTO template_times (template_id, campaign_id, created_at, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (template_id) DO UPDATE SET updated_at = excluded.updated_at",
            (row["id"], data.get("campaignId"), format_wire(now), format_wire(now)),
        )
        if "campaignId" in data:
            conn.execute(
                "UPDATE template_times SET campaign_id = ? WHERE template_id = ?", (data["campaignId"], row["id"])
            )
        fresh = _row(conn, int(row["id"]))
    assert fresh is not None
    return _answer(fresh, fields)


def _existing(store: Store, raw_id: str) -> sqlite3.Row:
    row = None
    if raw_id.isdigit():
        with store.reading() as conn:
            row = _row(conn, int(raw_id))
    if row is None or row["archived"]:
        raise _refuse(404, 192, "Object does not exist")
    return row


def _row(conn: sqlite3.Connection, template_id: int) -> sqlite3.Row | None:
    found: sqlite3.Row | None = conn.execute(
        "SELECT t.*, m.campaign_id, m.created_at, m.updated_at FROM templates t"
        " LEFT JOIN template_times m ON m.template_id = t.id WHERE t.id = ?",
        (template_id,),
    ).fetchone()
    return found


def _options(raw: str | None) -> list[Any]:
    try:
        value = json.loads(raw or "[]")
    except ValueError:
        return []
    return value if isinstance(value, list) else []


def _time(raw: str | None) -> str | None:
    """A stored UTC time as v5 writes it: ISO 8601 with the account's offset (UTC here)."""
    if not raw:
        return None
    return datetime.fromisoformat(raw.replace(" ", "T")).replace(tzinfo=UTC).isoformat()


def _answer(row: sqlite3.Row, fields: tuple[str, ...]) -> dict[str, Any]:
    """The asked fields of one template, no others (write-only or unasked fields never leak)."""
    full: dict[str, Any] = {
        "id": row["id"],
        "name": row["name"],
        "subject": row["subject"],
        "htmlMessage": row["html"] or None,
        "textMessage": row["text"],
        "campaignId": row["campaign_id"],
        "senderOptions": _options(row["send_from"]),
        "replyToOptions": _options(row["reply_to_address"]) if (row["reply_to_address"] or "").startswith("[") else [],
        **{flag: bool(row[column]) for flag, column in _FLAGS.items()},
        "isDeleted": bool(row["archived"]),
        "createdAt": _time(row["created_at"]),
        "updatedAt": _time(row["updated_at"]),
    }
    return {name: full[name] for name in fields}
