"""List and one-to-one sends: Pardot's validation rules, then the email and its recipients.

Every check runs before anything is written, and the email row and its recipient rows are
written in one transaction: a refused send records nothing, an accepted one records everything.
Recipients of a list send are the union of the lists, minus the suppression lists, minus
opted-out (and deleted) prospects unless the send is operational; each prospect once.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from orchestrator.policy import OK, opt_out_status
from orchestrator.sandbox.dates import format_wire, parse_instant
from orchestrator.sandbox.params import Params
from orchestrator.sandbox.store import Store
from orchestrator.sandbox.wire import flag, refuse

_EMAIL_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


@dataclass(frozen=True)
class Target:
    """Who a one-to-one send goes to: by id (error 3 when unknown) or by email (error 4)."""

    prospect_id: str | None = None
    prospect_email: str | None = None


@dataclass(frozen=True)
class _Content:
    name: str
    subject: str
    text: str | None
    html: str | None
    template_id: int | None


def send_list_email(store: Store, params: Params, now: datetime, *, allow_hml_unsubscribe: bool = False) -> int:
    """Validate a list send, record it with its recipients, and return the new email id.

    ``allow_hml_unsubscribe``: whether the HML opt-out tokens satisfy error 64's rule (see
    :func:`_content`).
    """
    list_ids_raw = params.array("list_ids")
    if not list_ids_raw:
        raise refuse(13, "list_ids[]")
    with store.transaction() as conn:
        operational = _operational(conn, params)
        campaign_id = _campaign(conn, params)
        list_ids = _existing_ids(conn, "lists", list_ids_raw, 55)
        suppression_ids = _existing_ids(conn, "lists", params.array("suppression_list_ids"), 55)
        content = _content(conn, params, kind="list", allow_hml=allow_hml_unsubscribe)
        scheduled = _scheduled_time(params)
        email_id = _insert_email(
            conn, params, content, now,
            kind="list", campaign_id=campaign_id, operational=operational,
            list_ids=list_ids, suppression_ids=suppression_ids, scheduled=scheduled,
        )
        _insert_list_recipients(conn, email_id, list_ids, suppression_ids, operational)
    return email_id


def send_one_to_one(
    store: Store, params: Params, target: Target, now: datetime, *, allow_hml_unsubscribe: bool = False
) -> int:
    """Validate a one-to-one send, record it with its one recipient, return the email id."""
    with store.transaction() as conn:
        operational = _operational(conn, params)
        campaign_id = _campaign(conn, params)
        content = _content(conn, params, kind="one-to-one", allow_hml=allow_hml_unsubscribe)
        prospect_id = _target_prospect(conn, target, operational)
        email_id = _insert_email(
            conn, params, content, now,
            kind="one-to-one", campaign_id=campaign_id, operational=operational,
            list_ids=(), suppression_ids=(), scheduled=None,
        )
        conn.execute(
            "INSERT INTO email_recipients (email_id, prospect_id) VALUES (?, ?)",
            (email_id, prospect_id),
        )
    return email_id


def list_recipients(
    list_ids: Sequence[int],
    suppression_ids: Sequence[int],
    operational: bool,
) -> str:
    """The SQL selecting a list send's recipient ids (placeholders: lists, then suppression)."""
    lists = ",".join("?" * len(list_ids))
    suppressed = ",".join("?" * len(suppression_ids))
    sql = (
        "SELECT DISTINCT m.prospect_id FROM list_members m"  # noqa: S608 - placeholders only
        " JOIN prospects p ON p.id = m.prospect_id"
        f" WHERE m.list_id IN ({lists}) AND m.deleted = 0 AND p.deleted = 0"
    )
    if suppression_ids:
        sql += (
            " AND m.prospect_id NOT IN (SELECT prospect_id FROM list_members"  # noqa: S608
            f" WHERE deleted = 0 AND list_id IN ({suppressed}))"
        )
    if not operational:
        sql += " AND p.opted_out = 0"
    return sql


def _insert_list_recipients(
    conn: sqlite3.Connection,
    email_id: int,
    list_ids: Sequence[int],
    suppression_ids: Sequence[int],
    operational: bool,
) -> None:
    select = list_recipients(list_ids, suppression_ids, operational)
    conn.execute(
        "INSERT INTO email_recipients (email_id, prospect_id) SELECT ?, prospect_id FROM"  # noqa: S608
        f" ({select}) ORDER BY prospect_id",
        (email_id, *list_ids, *suppression_ids),
    )


def _operational(conn: sqlite3.Connection, params: Params) -> bool:
    """``operational_email=true`` needs the account feature (**CHOICE**: error 65)."""
    operational = params.boolean("operational_email")
    if operational:
        row = conn.execute(
            "SELECT value FROM meta WHERE key = 'operational_email_enabled'"
        ).fetchone()
        if row is None or not json.loads(row["value"]):
            raise refuse(65, "Operational email is not enabled for this account")
    return operational


def _campaign(conn: sqlite3.Connection, params: Params) -> int:
    raw = params.get("campaign_id")
    if raw is None:
        raise refuse(13, "campaign_id")
    (campaign_id,) = _existing_ids(conn, "campaigns", (raw,), 38)
    return campaign_id


def _existing_ids(
    conn: sqlite3.Connection, table: str, raw_ids: Sequence[str], code: int
) -> tuple[int, ...]:
    """Parse ids and check each exists in ``table``; the first bad one is refused with ``code``."""
    ids: list[int] = []
    for raw in raw_ids:
        try:
            value = int(raw)
        except ValueError:
            raise refuse(code, raw) from None
        row = conn.execute(f"SELECT 1 FROM {table} WHERE id = ?", (value,)).fetchone()  # noqa: S608
        if row is None:
            raise refuse(code, str(value))
        if value not in ids:
            ids.append(value)
    return tuple(ids)


def _content(conn: sqlite3.Connection, params: Params, *, kind: str, allow_hml: bool = False) -> _Content:
    """Apply the template (if any), then the overrides; enforce the three required-field ways.

    Error 64 (no opt-out link) is decided by :func:`orchestrator.policy.opt_out_status`, the
    function ``validate`` and ``plan`` use, so the sandbox and the policy can never disagree:
    by default only the documented ``%%unsubscribe%%`` / ``%%email_preference_center%%`` count;
    the HML forms only when the sandbox runs with ``allow_hml_unsubscribe`` (the project's
    ``policy.allow_hml_unsubscribe``, or ``sandbox serve --allow-hml-unsubscribe``).
    """
    template = _template(conn, params, kind)
    text = params.get("text_content")
    html = params.get("html_content")
    name = params.get("name")
    subject = params.get("subject")
    if template is None:
        has_sender = bool(params.get("from_email") and params.get("from_name")) or bool(
            params.get("from_user_id")
        )
        if not (text and name and subject and has_sender):
            raise refuse(
                13,
                "email_template_id, or text_content, name, subject and "
                "(from_email and from_name, or from_user_id)",
            )
    _check_sender(conn, params)
    content = _Content(
        name=name or (str(template["name"]) if template else ""),
        subject=subject or (str(template["subject"]) if template else ""),
        text=text if text is not None else (template["text"] if template else None),
        html=html if html is not None else (template["html"] if template else None),
        template_id=int(template["id"]) if template else None,
    )
    for label, body in (("text_content", content.text), ("html_content", content.html)):
        if body and opt_out_status(body, is_html=label == "html_content", allow_hml=allow_hml) != OK:
            raise refuse(64, label)
    return content


def _template(conn: sqlite3.Connection, params: Params, kind: str) -> sqlite3.Row | None:
    raw = params.get("email_template_id")
    if raw is None:
        return None
    try:
        template_id = int(raw)
    except ValueError:
        raise refuse(68, raw) from None
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM templates WHERE id = ?", (template_id,)
    ).fetchone()
    if row is None or row["archived"]:
        raise refuse(68, str(template_id))
    usable = row["is_list_email"] if kind == "list" else row["is_one_to_one_email"]
    if not usable:
        raise refuse(68, f"template {template_id} is not enabled for {kind} emails")
    return row


def _check_sender(conn: sqlite3.Connection, params: Params) -> None:
    user = params.get("from_user_id")
    if user is not None:
        _existing_ids(conn, "users", (user,), 10)
    for name in ("from_email", "replyto_email"):
        value = params.get(name)
        if value is not None and not _EMAIL_ADDRESS.match(value):
            raise refuse(65, name)


def _scheduled_time(params: Params) -> str | None:
    raw = params.get("scheduled_time")
    if raw is None:
        return None
    try:
        return parse_instant(raw).isoformat()
    except ValueError:
        raise refuse(13, "scheduled_time must be ISO-8601") from None


def _target_prospect(conn: sqlite3.Connection, target: Target, operational: bool) -> int:
    """Resolve the one-to-one target; an opted-out one is error 3 unless operational."""
    row: sqlite3.Row | None
    if target.prospect_id is not None:
        try:
            pid = int(target.prospect_id)
        except ValueError:
            raise refuse(3, target.prospect_id) from None
        row = conn.execute(
            "SELECT id, opted_out FROM prospects WHERE id = ? AND deleted = 0", (pid,)
        ).fetchone()
        if row is None:
            raise refuse(3, str(pid))
    elif target.prospect_email is not None:
        row = conn.execute(
            "SELECT id, opted_out FROM prospects WHERE lower(email) = lower(?) AND deleted = 0"
            " ORDER BY id LIMIT 1",
            (target.prospect_email,),
        ).fetchone()
        if row is None:
            raise refuse(4, target.prospect_email)
    else:
        raise refuse(13, "prospect_id or prospect_email")
    if row["opted_out"] and not operational:
        # 98 "Prospect not mailable" is the code Pardot documents for an opted-out (or
        # Do Not Email) recipient (error-codes page); pardot/api-docs#38 once saw 3 for an
        # opted-out prospect emailed by address. The client treats both as a refusal.
        raise refuse(98, f"prospect {row['id']} has opted out")
    return int(row["id"])


def _insert_email(
    conn: sqlite3.Connection,
    params: Params,
    content: _Content,
    now: datetime,
    *,
    kind: str,
    campaign_id: int,
    operational: bool,
    list_ids: Sequence[int],
    suppression_ids: Sequence[int],
    scheduled: str | None,
) -> int:
    sender: dict[str, str | bool | None] = {
        key: params.get(key)
        for key in ("from_name", "from_email", "from_user_id", "replyto_email")
        if params.get(key) is not None
    }
    sender["from_assigned_user"] = params.boolean("from_assigned_user")
    sender["from_account_owner"] = params.boolean("from_account_owner")
    cursor = conn.execute(
        "INSERT INTO emails (kind, name, subject, text, html, campaign_id, template_id, list_ids,"
        " suppression_list_ids, tags, operational, scheduled_time, created_at, sender)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            kind, content.name, content.subject, content.text, content.html, campaign_id,
            content.template_id, json.dumps(list(list_ids)), json.dumps(list(suppression_ids)),
            json.dumps(list(params.array("tags"))), operational, scheduled, format_wire(now),
            json.dumps(sender),
        ),
    )
    return int(cursor.lastrowid or 0)


def read_email_row(conn: sqlite3.Connection, raw_id: str) -> sqlite3.Row:
    """The recorded email with id ``raw_id``; error 109 when there is none."""
    try:
        email_id = int(raw_id)
    except ValueError:
        raise refuse(109, raw_id) from None
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM emails WHERE id = ? AND deleted_at IS NULL", (email_id,)
    ).fetchone()
    if row is None:  # a deleted email is in the recycle bin: not found, like one never sent
        raise refuse(109, f"email {email_id}")
    return row


def delete_email(store: Store, email_id: int, now: datetime) -> dict[str, Any] | None:
    """Move email ``email_id`` to the recycle bin, as an operator does in Pardot's UI.

    Afterwards v3/v4 reads answer 109 "not found" and v5 shows it only with ``deleted``
    (``isDeleted: true``). Its recipients and statistics stay. ``None`` when there is no such
    email, or it is deleted already. Returns ``{id, name, kind, deleted_at}``.
    """
    stamp = format_wire(now)
    with store.transaction() as conn:
        row = conn.execute(
            "SELECT id, name, kind FROM emails WHERE id = ? AND deleted_at IS NULL", (email_id,)
        ).fetchone()
        if row is None:
            return None
        conn.execute("UPDATE emails SET deleted_at = ? WHERE id = ?", (stamp, email_id))
    return {"id": row["id"], "name": row["name"], "kind": row["kind"], "deleted_at": stamp}


def email_body(row: sqlite3.Row, *, include_message: bool) -> dict[str, Any]:
    """The ``email`` root of send and read answers (docs/wire-format.md)."""
    body: dict[str, Any] = {"id": row["id"], "name": row["name"], "subject": row["subject"]}
    if include_message:
        body["message"] = {"text": row["text"], "html": row["html"]}
    body["created_at"] = row["created_at"]
    body["isOneToOne"] = flag(row["kind"] == "one-to-one")
    body["campaign_id"] = row["campaign_id"]
    body["scheduled_time"] = row["scheduled_time"]  # null when not scheduled, as real v4 JSON
    return body


# --- v5 creates: POST /api/v5/objects/list-emails and /api/v5/objects/emails ----------------

#: The v5 JSON fields a create accepts, with the v3/v4 parameter each becomes, so that v5 sends
#: pass exactly the validation v3/v4 sends pass (list-email-v5 and email-v5 pages).
_V5_SCALARS = {
    "campaignId": ("campaign_id", int),
    "name": ("name", str),
    "subject": ("subject", str),
    "textMessage": ("text_content", str),
    "htmlMessage": ("html_content", str),
    "emailTemplateId": ("email_template_id", int),
    "scheduledTime": ("scheduled_time", str),
    "trackerDomainId": ("tracker_domain_id", int),
}
_V5_LISTS = {"recipientListIds": "list_ids", "suppressionListIds": "suppression_list_ids"}
_V5_OTHER = frozenset({"isOperational", "senderOptions", "replyToOptions"})
#: v3/v4 names in refusal messages, as v5 spells them.
_V5_NAMES = (
    ("list_ids[]", "recipientListIds"),
    ("email_template_id", "emailTemplateId"),
    ("text_content", "textMessage"),
    ("html_content", "htmlMessage"),
    ("campaign_id", "campaignId"),
    ("scheduled_time", "scheduledTime"),
    ("(from_email and from_name, or from_user_id)", "senderOptions"),
    ("from_email", "senderOptions.address"),
    ("replyto_email", "replyToOptions.address"),
    ("prospect_id or prospect_email", "prospectId"),
)
#: What a create answer may return: readable fields only. ``recipientListIds``,
#: ``suppressionListIds``, ``scheduledTime`` and ``isOperational`` are write-only (list-email-v5).
_V5_READABLE = frozenset(
    {"id", "name", "subject", "campaignId", "emailTemplateId", "createdAt", "updatedAt", "sentAt",
     "isSent", "isPaused", "isDeleted", "operationalEmail", "textMessage", "htmlMessage", "prospectId"}
)


def _v5_property(name: str, value: Any, kind: type) -> str:
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise refuse(154, f"{name} must be an integer")
    if kind is str and not isinstance(value, str):
        raise refuse(154, f"{name} must be a string")
    return str(value)


def _v5_senders(options: Any, scalars: dict[str, str]) -> None:
    """``senderOptions``: ``general_user`` (address, name), ``specific_user`` (userId),
    ``assigned_user``, ``account_owner`` → the v3/v4 sender parameters."""
    if not isinstance(options, list) or not all(isinstance(o, dict) for o in options):
        raise refuse(154, "senderOptions must be an array of objects")
    for option in options:
        kind = option.get("type")
        if kind == "general_user":
            for key, param in (("address", "from_email"), ("name", "from_name")):
                if key in option:
                    scalars[param] = _v5_property(f"senderOptions.{key}", option[key], str)
        elif kind == "specific_user":
            scalars["from_user_id"] = _v5_property("senderOptions.userId", option.get("userId"), int)
        elif kind in ("assigned_user", "account_owner"):
            scalars[f"from_{kind}"] = "true"
        else:
            raise refuse(154, f"senderOptions.type {kind!r} is not one the sandbox knows")


#: Required on create: the first field table of the list-email-v5 and email-v5 pages.
_V5_REQUIRED = {"list": ("name", "campaignId", "recipientListIds"), "one-to-one": ("name", "campaignId", "prospectId")}


def v5_params(body: Any, *, kind: str) -> Params:
    """The v3/v4 parameters of a v5 create body; refusals 150-154 for a body that is not one,
    13 for a missing required field."""
    if not isinstance(body, dict):
        raise refuse(150, "the body must be a JSON object")
    if not body:
        raise refuse(152)
    missing = [name for name in _V5_REQUIRED[kind] if body.get(name) in (None, "", [])]
    if missing:
        raise refuse(13, ", ".join(missing))
    scalars: dict[str, str] = {}
    arrays: dict[str, tuple[str, ...]] = {}
    allowed = set(_V5_SCALARS) | _V5_OTHER | ({"prospectId"} if kind == "one-to-one" else set(_V5_LISTS))
    for name, value in body.items():
        if name not in allowed:
            raise refuse(154, f"{name} is not a writable field of this object")
        if value is None:
            continue
        if name in _V5_SCALARS:
            param, typ = _V5_SCALARS[name]
            scalars[param] = _v5_property(name, value, typ)
        elif name in _V5_LISTS:
            if not isinstance(value, list):
                raise refuse(154, f"{name} must be an array of list ids")
            arrays[_V5_LISTS[name]] = tuple(_v5_property(name, item, int) for item in value)
        elif name == "prospectId":
            scalars["prospect_id"] = _v5_property(name, value, int)
        elif name == "isOperational":
            if not isinstance(value, bool):
                raise refuse(154, "isOperational must be true or false")
            scalars["operational_email"] = "true" if value else "false"
        elif name == "senderOptions":
            _v5_senders(value, scalars)
        else:  # replyToOptions
            if not isinstance(value, list) or not all(isinstance(o, dict) for o in value):
                raise refuse(154, "replyToOptions must be an array of objects")
            for option in value:
                if option.get("type") != "general_address":
                    raise refuse(154, f"replyToOptions.type {option.get('type')!r} is not one the sandbox knows")
                scalars["replyto_email"] = _v5_property("replyToOptions.address", option.get("address"), str)
    return Params(scalars=scalars, arrays=arrays)


def v5_message(message: str) -> str:
    """A refusal message with the v3/v4 parameter names replaced by v5's field names."""
    for old, new in _V5_NAMES:
        message = message.replace(old, new)
    return message


def v5_fields(raw: str | None) -> tuple[str, ...]:
    """The ``fields`` a create answer returns (``id`` when none are asked: **CHOICE**)."""
    fields = tuple(f.strip() for f in (raw or "id").split(",") if f.strip())
    unknown = [f for f in fields if f not in _V5_READABLE]
    if unknown:
        raise refuse(180, ", ".join(unknown))
    return fields


def v5_email_body(row: sqlite3.Row, fields: Sequence[str], now: datetime, prospect_id: int | None) -> dict[str, Any]:
    """A created list email or email as v5 returns it: the asked readable fields, DateTimes
    with the account's offset (the sandbox's account is on UTC: ``+00:00``)."""
    created = parse_instant(str(row["created_at"]))
    scheduled = parse_instant(row["scheduled_time"]) if row["scheduled_time"] else None
    sent = scheduled is None or scheduled <= now
    full: dict[str, Any] = {
        "id": row["id"],
        "name": row["name"],
        "subject": row["subject"],
        "campaignId": row["campaign_id"],
        "emailTemplateId": row["template_id"],
        "createdAt": created.isoformat(),
        "updatedAt": created.isoformat(),
        "sentAt": ((scheduled or created).isoformat() if sent else None),
        "isSent": sent,
        "isPaused": False,
        "isDeleted": row["deleted_at"] is not None,
        "operationalEmail": bool(row["operational"]),
        "textMessage": row["text"],
        "htmlMessage": row["html"],
        "prospectId": prospect_id,
    }
    return {name: full[name] for name in fields}
