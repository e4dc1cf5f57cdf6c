"""Campaign, list and user reads (their v3/v4 queries: :mod:`orchestrator.sandbox.queries`), and
the v5 collections (list emails, one-to-one emails, email templates, campaigns, lists, users),
in Pardot's real shapes.

Shapes follow recorded answers (tests/pardot/bodies/real/): a list is ``{id, name, is_public,
is_dynamic, title, description, is_crm_visible, created_at, updated_at}`` with JSON booleans and
``null`` for unset text; a query answers ``{"result": {"total_results": N, <item>: ...}}`` with
the item absent for 0, an object for 1, an array for several. An unknown id answers Pardot's
code for that kind: 38 campaign, 55 list, 10 user. The v3/v4 queries are in
:mod:`orchestrator.sandbox.queries`.

The v5 list-email query implements what docs/wire-format.md says the client relies on:
``fields`` (required: error 13 without it), ``orderBy`` (``id asc`` / ``id desc``), ``limit``
(max 1000), ``deleted``, the documented time filters (``createdAtAfterOrEqualTo``,
``updatedAtAfterOrEqualTo``, ``sentAtAfterOrEqualTo``) and ``nextPageToken``, and answers
``nextPageUrl`` beside it; every other parameter is refused with v5's 400 answer, so the client
cannot come to depend on a filter Pardot does not document.

The other v5 collections the client reads (campaigns, lists, users, email templates, one-to-one
emails: :data:`V5_COLLECTIONS`) share one engine: ``fields`` required (13 without it, 57 for a
field the object's page does not list or marks write-only or not queryable), ``orderBy`` by id,
``limit``, ``deleted``, each collection's documented filters, ``nextPageToken`` with
``nextPageUrl`` beside it; anything else is refused (58). A read of an unknown id answers 404
with 192.

A deleted list email (``orchestrator sandbox emails delete``) is in the recycle bin, as
version5overview describes (pardot/api-docs, ``kb/api-version-5/version5overview``): a query
leaves it out unless ``deleted`` is ``true`` (only the recycle bin) or ``all``, with
``isDeleted: true``; a read answers 404 with ``Pardot-Warning: 201;Record In Recycle Bin``
unless ``deleted=true``.

A list email's read-only ``recipientLists`` / ``suppressionLists`` are answered as objects
``{"id": N}`` (the page does not show an element: docs/wire-format.md "Refresh"), never the
write-only ``recipientListIds`` / ``suppressionListIds``. :func:`reschedule_list_email` and
:func:`relist_list_email` change a waiting email's time or lists as an operator in Pardot's UI
can, for the ``plan --refresh`` tests.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from orchestrator.sandbox.dates import format_wire
from orchestrator.sandbox.params import Params
from orchestrator.sandbox.store import Store
from orchestrator.sandbox.wire import SandboxRefusal, refuse

#: Pardot's code for an unknown id of each kind (error-codes page), and the item key of a query.
_INVALID: Mapping[str, int] = {"campaign": 38, "list": 55, "user": 10}
TABLES: Mapping[str, str] = {"campaign": "campaigns", "list": "lists", "user": "users"}
#: The seed has no creation times for these objects: one fixed instant, like Pardot's wire form.
SEEDED_AT = "2026-01-05 09:00:00"


def object_body(kind: str, row: sqlite3.Row) -> dict[str, Any]:
    """The wire body of one campaign, list or user (a read's root, a query's item)."""
    if kind == "campaign":
        return {"id": row["id"], "name": row["name"], "cost": None}
    if kind == "list":
        return {
            "id": row["id"],
            "name": row["name"],
            "is_public": False,
            "is_dynamic": False,
            "title": None,
            "description": None,
            "is_crm_visible": False,
            "created_at": SEEDED_AT,
            "updated_at": SEEDED_AT,
        }
    return {
        "id": row["id"],
        "email": row["email"],
        "first_name": row["first_name"],
        "last_name": row["last_name"],
        "job_title": None,
        "role": "Administrator",
        "created_at": SEEDED_AT,
        "updated_at": SEEDED_AT,
    }


def read_object(store: Store, kind: str, raw_id: str) -> dict[str, Any]:
    """``{kind: {...}}`` for one campaign, list or user; the kind's invalid-id code otherwise."""
    row = None
    if raw_id.isdigit():
        with store.reading() as conn:
            row = conn.execute(f"SELECT * FROM {TABLES[kind]} WHERE id = ?", (int(raw_id),)).fetchone()  # noqa: S608
    if row is None:
        raise refuse(_INVALID[kind], raw_id)
    return {kind: object_body(kind, row)}


def read_prospects(store: Store, *, raw_id: str | None = None, email: str | None = None) -> dict[str, Any]:
    """``{"prospect": ...}``: one prospect by id, or every live prospect with ``email`` (a list when
    several, as v4 answers for an account that allows several prospects per address); error 3
    "Invalid prospect ID" or 4 "Invalid prospect email address" when there is none."""
    with store.reading() as conn:
        if raw_id is not None:
            rows = (
                conn.execute("SELECT * FROM prospects WHERE id = ? AND deleted = 0", (int(raw_id),)).fetchall()
                if raw_id.isdigit()
                else []
            )
        else:
            rows = conn.execute(
                "SELECT * FROM prospects WHERE lower(email) = lower(?) AND deleted = 0 ORDER BY id", (email,)
            ).fetchall()
    if not rows:
        raise refuse(3, raw_id) if raw_id is not None else refuse(4, email)
    bodies = [
        {
            "id": row["id"],
            "email": row["email"],
            "first_name": row["first_name"],
            "last_name": row["last_name"],
            "company": row["company"],
            "opted_out": bool(row["opted_out"]),
            "is_do_not_email": False,
        }
        for row in rows
    ]
    return {"prospect": bodies[0] if len(bodies) == 1 else bodies}


# --- v5 list emails ------------------------------------------------------------------------

#: The readable fields the list-email page documents that the sandbox answers. ``scheduledTime``,
#: ``recipientListIds`` and ``suppressionListIds`` are not among them: the page marks them
#: write-only (create only), so a query never returns them. The lists are readable as
#: ``recipientLists`` / ``suppressionLists`` ("Recipient Lists[]", read-only fields).
_V5_FIELDS = (
    "id",
    "name",
    "campaignId",
    "subject",
    "createdAt",
    "updatedAt",
    "sentAt",
    "isSent",
    "isDeleted",
    "recipientLists",
    "suppressionLists",
)
#: The list-email query's documented time filters (inclusive: "after or equal to"), by the field
#: each compares (list-email-v5 page, Query; docs/wire-format.md cites it).
TIME_FILTERS: Mapping[str, str] = {
    "createdAtAfterOrEqualTo": "createdAt",
    "updatedAtAfterOrEqualTo": "updatedAt",
    "sentAtAfterOrEqualTo": "sentAt",
}
_V5_PARAMS = frozenset({"fields", "orderBy", "limit", "deleted", "nextPageToken", *TIME_FILTERS})
_V5_ORDERS = {"id asc": "ASC", "id desc": "DESC"}
V5_QUERY_PATH = "/api/v5/objects/list-emails"


def v5_refuse(status: int, code: int, message: str) -> SandboxRefusal:
    """A v5 refusal with its HTTP status (what the client makes of it is errormap's business)."""
    return SandboxRefusal(code, message, http_status=status)


def _utc_wire(text: str) -> datetime:
    return datetime.fromisoformat(text.replace(" ", "T")).replace(tzinfo=UTC)


def _v5_full(row: sqlite3.Row, now: datetime) -> dict[str, Any]:
    """Every readable field of one list email, with aware datetimes for the time fields.

    ``sentAt`` is the scheduled time once it has passed (the creation time for a send "now"),
    and null while the email waits: an assumption (the page does not say what a scheduled email
    answers), kept on the safe side, since a refresh then reports a wait, never a send.
    """
    created = _utc_wire(str(row["created_at"]))
    scheduled = datetime.fromisoformat(row["scheduled_time"]) if row["scheduled_time"] else None
    deleted = _utc_wire(str(row["deleted_at"])) if row["deleted_at"] else None
    # A scheduled email deleted before its time never goes out.
    sent = (scheduled is None or scheduled <= now) and (deleted is None or (scheduled or created) <= deleted)
    changes = [created]
    for column in ("deleted_at", "updated_at"):
        if row[column]:
            changes.append(_utc_wire(str(row[column])))
    return {
        "id": row["id"],
        "name": row["name"],
        "campaignId": row["campaign_id"],
        "subject": row["subject"],
        "createdAt": created,
        "updatedAt": max(changes),
        "sentAt": (scheduled or created) if sent else None,
        "isSent": sent,
        "isDeleted": row["deleted_at"] is not None,
        "textMessage": row["text"],
        "htmlMessage": row["html"],
        "recipientLists": _v5_lists(row["list_ids"]),
        "suppressionLists": _v5_lists(row["suppression_list_ids"]),
    }


def _v5_lists(stored: str) -> list[dict[str, Any]]:
    """``recipientLists`` / ``suppressionLists``: the page types them "Recipient Lists[]" without
    showing an element; **CHOICE** (UNCONFIRMED, docs/wire-format.md "Refresh"): objects with
    the list's ``id``, in the order they were given (the client also reads bare ids)."""
    return [{"id": int(list_id)} for list_id in json.loads(stored)]


def _v5_email(row: sqlite3.Row, fields: tuple[str, ...], now: datetime) -> dict[str, Any]:
    full = _v5_full(row, now)
    return {name: (full[name].isoformat() if isinstance(full[name], datetime) else full[name]) for name in fields}


#: Readable on a read but not queryable (list-email-v5 page).
_V5_READ_ONLY_ON_READ = ("textMessage", "htmlMessage")


def _fields(raw: str | None, *, read: bool = False) -> tuple[str, ...]:
    if not raw:
        # Pardot's answer, as recorded (docs/wire-format.md): code 13, the v3/v4 code for a
        # missing required parameter on the error-codes page.
        raise v5_refuse(400, 13, "One or more required parameters are missing: fields")
    fields = tuple(f.strip() for f in raw.split(",") if f.strip())
    allowed = (*_V5_FIELDS, *_V5_READ_ONLY_ON_READ) if read else _V5_FIELDS
    unknown = [f for f in fields if f not in allowed]
    if unknown:
        raise v5_refuse(400, 57, f"Invalid fields: {', '.join(unknown)}")
    return fields


#: ``deleted`` on a v5 query: which emails it selects (version5overview: defaults to false).
_DELETED_FILTERS = {
    "false": "deleted_at IS NULL",
    "true": "deleted_at IS NOT NULL",
    "all": "1 = 1",
}


def _deleted_filter(raw: str | None) -> str:
    value = (raw or "false").lower()
    if value not in _DELETED_FILTERS:
        raise v5_refuse(400, 58, "deleted must be true, false or all")
    return value


def _time_filters(params: Params) -> dict[str, str]:
    """The time filters of a first page, checked: v5 DateTimes carry an offset (version5overview)."""
    out: dict[str, str] = {}
    for name in TIME_FILTERS:
        value = params.get(name)
        if value is None:
            continue
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise v5_refuse(400, 58, f"Invalid date time value for {name}: {value}") from None
        if moment.utcoffset() is None:
            raise v5_refuse(400, 58, f"Invalid date time value for {name} (no offset): {value}")
        out[name] = moment.isoformat()
    return out


def _passes(full: Mapping[str, Any], filters: Mapping[str, str]) -> bool:
    for name, value in filters.items():
        seen = full[TIME_FILTERS[name]]
        if seen is None or seen < datetime.fromisoformat(value):
            return False
    return True


def _decode_token(token: str) -> tuple[str, int, int, str, dict[str, str]]:
    try:
        state = json.loads(base64.urlsafe_b64decode(token.encode()))
        order, limit, after = str(state["o"]), int(state["l"]), int(state["a"])
        deleted = str(state.get("d", "false"))
        filters = {str(k): str(v) for k, v in dict(state.get("f", {})).items()}
        if order not in _V5_ORDERS.values() or deleted not in _DELETED_FILTERS or not set(filters) <= set(TIME_FILTERS):
            raise ValueError(order)
    except (ValueError, KeyError, TypeError):
        raise v5_refuse(400, 211, "Invalid page token") from None
    return order, limit, after, deleted, filters


def query_list_emails_v5(store: Store, params: Params, now: datetime, *, base_url: str = "") -> dict[str, Any]:
    """``GET /api/v5/objects/list-emails``: list emails only, in id order, filtered by time, paged.

    The answer carries ``nextPageToken`` and ``nextPageUrl`` (``base_url`` + the query path with
    ``fields`` and the token) while more pages follow; the token carries the order, the limit,
    ``deleted`` and the time filters, since only ``fields`` may travel with it.
    """
    unknown = sorted(set(params.scalars) - _V5_PARAMS)
    if unknown:
        raise v5_refuse(400, 58, f"Unsupported parameter(s): {', '.join(unknown)}")
    fields = _fields(params.get("fields"))
    token = params.get("nextPageToken")
    if token is not None:
        order, limit, after, deleted, filters = _decode_token(token)
    else:
        order = _V5_ORDERS.get((params.get("orderBy") or "id asc").lower(), "")
        if not order:
            raise v5_refuse(400, 59, "orderBy must be 'id asc' or 'id desc' in the sandbox")
        limit = min(params.integer("limit") or 200, 1000)
        after = 0 if order == "ASC" else 2**62
        deleted = _deleted_filter(params.get("deleted"))
        filters = _time_filters(params)
    compare = ">" if order == "ASC" else "<"
    page: list[dict[str, Any]] = []
    more = False
    with store.reading() as conn:
        rows = conn.execute(
            f"SELECT * FROM emails WHERE kind = 'list' AND {_DELETED_FILTERS[deleted]}"  # noqa: S608
            f" AND id {compare} ? ORDER BY id {order}",
            (after,),
        )
        for row in rows:
            full = _v5_full(row, now)
            if not _passes(full, filters):
                continue
            if len(page) == limit:
                more = True
                break
            page.append(full)
    body: dict[str, Any] = {
        "values": [
            {name: (full[name].isoformat() if isinstance(full[name], datetime) else full[name]) for name in fields}
            for full in page
        ]
    }
    if more:
        state = {"o": order, "l": limit, "a": page[-1]["id"], "d": deleted, "f": filters}
        next_token = base64.urlsafe_b64encode(json.dumps(state).encode()).decode()
        body["nextPageToken"] = next_token
        query = urlencode({"fields": ",".join(fields), "nextPageToken": next_token})
        body["nextPageUrl"] = f"{base_url.rstrip('/')}{V5_QUERY_PATH}?{query}"
    return body


def reschedule_list_email(store: Store, email_id: int, moment: datetime, now: datetime) -> bool:
    """Move a list email that has not gone out to ``moment``, as an operator can in Pardot's UI.

    What a refresh must notice (``plan --refresh``). False when there is no such list email, or
    it is deleted or sent already.
    """
    with store.transaction() as conn:
        row = conn.execute(
            "SELECT scheduled_time FROM emails WHERE id = ? AND kind = 'list' AND deleted_at IS NULL", (email_id,)
        ).fetchone()
        if row is None or row["scheduled_time"] is None or datetime.fromisoformat(row["scheduled_time"]) <= now:
            return False
        conn.execute(
            "UPDATE emails SET scheduled_time = ?, updated_at = ? WHERE id = ?",
            (moment.astimezone(UTC).isoformat(), format_wire(now), email_id),
        )
    return True


def relist_list_email(
    store: Store, email_id: int, list_ids: Sequence[int], suppression_ids: Sequence[int], now: datetime
) -> bool:
    """Give a list email that has not gone out other recipient and suppression lists, as an
    operator can in Pardot's UI; its recipients follow (the sandbox resolves them at creation).

    What a refresh must notice (``plan --refresh``). False when there is no such list email, or
    it is deleted or sent already; an unknown list is refused with error 55, as a send is.
    """
    from orchestrator.sandbox.sends import list_recipients  # sends knows who a list send reaches

    if not list_ids:
        raise refuse(13, "list_ids[]")
    with store.transaction() as conn:
        for list_id in (*list_ids, *suppression_ids):
            if conn.execute("SELECT 1 FROM lists WHERE id = ?", (list_id,)).fetchone() is None:
                raise refuse(55, str(list_id))
        row = conn.execute(
            "SELECT scheduled_time, operational FROM emails WHERE id = ? AND kind = 'list' AND deleted_at IS NULL",
            (email_id,),
        ).fetchone()
        if row is None or row["scheduled_time"] is None or datetime.fromisoformat(row["scheduled_time"]) <= now:
            return False
        conn.execute(
            "UPDATE emails SET list_ids = ?, suppression_list_ids = ?, updated_at = ? WHERE id = ?",
            (json.dumps(list(list_ids)), json.dumps(list(suppression_ids)), format_wire(now), email_id),
        )
        conn.execute("DELETE FROM email_recipients WHERE email_id = ?", (email_id,))
        select = list_recipients(list_ids, suppression_ids, bool(row["operational"]))
        conn.execute(
            f"INSERT INTO email_recipients (email_id, prospect_id) SELECT ?, prospect_id FROM ({select})"  # noqa: S608
            " ORDER BY prospect_id",
            (email_id, *list_ids, *suppression_ids),
        )
    return True


def read_list_email_v5(store: Store, raw_id: str, params: Params, now: datetime) -> dict[str, Any]:
    """``GET /api/v5/objects/list-emails/<id>``: one list email, or v5's 404.

    ``deleted=true`` returns it whether or not it is in the recycle bin; by default one there is
    404 like an unknown id, with the ``Pardot-Warning`` header saying why (version5overview).
    """
    fields = _fields(params.get("fields"), read=True)
    include_deleted = (params.get("deleted") or "false").lower() == "true"
    row = None
    if raw_id.isdigit():
        with store.reading() as conn:
            row = conn.execute("SELECT * FROM emails WHERE id = ? AND kind = 'list'", (int(raw_id),)).fetchone()
    if row is None:
        raise v5_refuse(404, 192, "Object does not exist")
    if row["deleted_at"] is not None and not include_deleted:
        raise SandboxRefusal(192, "Object does not exist", http_status=404, warning="201;Record In Recycle Bin")
    return _v5_email(row, fields, now)


# --- the other v5 collections: campaigns, lists, users, email templates, one-to-one emails -------


def _iso(text: str | None) -> str | None:
    return None if text is None else _utc_wire(text).isoformat()


def _campaign_v5(row: sqlite3.Row, now: datetime) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "isDeleted": False, "folderId": None}


def _list_v5(row: sqlite3.Row, now: datetime) -> dict[str, Any]:
    seeded = _iso(SEEDED_AT)
    return {
        "id": row["id"], "name": row["name"], "title": None, "description": None, "isPublic": False,
        "isDynamic": False, "isDeleted": False, "folderId": None, "campaignId": None,
        "createdAt": seeded, "updatedAt": seeded,
    }  # fmt: skip


def _user_v5(row: sqlite3.Row, now: datetime) -> dict[str, Any]:
    seeded = _iso(SEEDED_AT)
    return {
        "id": row["id"], "email": row["email"], "firstName": row["first_name"], "username": row["email"],
        "jobTitle": None, "isDeleted": False, "createdAt": seeded, "updatedAt": seeded,
    }  # fmt: skip


def _sender_options(send_from: str | None) -> list[dict[str, Any]]:
    """The seed's v3/v4 ``sendFromData`` entries as v5 ``senderOptions`` (``user_id`` → ``userId``)."""
    options = []
    for entry in json.loads(send_from or "[]"):
        option = {("userId" if key == "user_id" else key): value for key, value in dict(entry).items()}
        options.append(option)
    return options


def _template_v5(row: sqlite3.Row, now: datetime) -> dict[str, Any]:
    """One template; what v5 adds to a v3/v4 row (times, campaign, reply-to) is in
    ``template_times`` and the reply-to column, written by a v5 create or update
    (:mod:`orchestrator.sandbox.email_templates`); a seeded template has none of it."""
    times = {k: (_utc_wire(str(row[c])).isoformat() if row[c] else None) for k, c in (("createdAt", "t_created"),
             ("updatedAt", "t_updated"))}
    reply = row["reply_to_address"] or ""
    return {**times, "replyToOptions": json.loads(reply) if reply.startswith("[") else [],
        "campaignId": row["t_campaign"],
        "id": row["id"], "name": row["name"], "subject": row["subject"], "textMessage": row["text"],
        "htmlMessage": row["html"], "isOneToOneEmail": bool(row["is_one_to_one_email"]),
        "isListEmail": bool(row["is_list_email"]), "isDripEmail": bool(row["is_drip_email"]),
        "isAutoResponderEmail": bool(row["is_autoresponder_email"]),
        "senderOptions": _sender_options(row["send_from"]), "trackerDomainId": None, "folderId": None,
        "isDeleted": bool(row["archived"]),
    }  # fmt: skip


def _one_to_one_v5(row: sqlite3.Row, now: datetime) -> dict[str, Any]:
    """One one-to-one email. ``sentAt`` is null while it waits for its ``scheduledTime`` (which
    is write-only, never returned); the recipient is ``prospectId``."""
    created = _utc_wire(str(row["created_at"]))
    scheduled = datetime.fromisoformat(row["scheduled_time"]) if row["scheduled_time"] else None
    sent = scheduled is None or scheduled <= now
    return {
        "id": row["id"], "name": row["name"], "subject": row["subject"], "campaignId": row["campaign_id"],
        "prospectId": row["prospect_id"], "emailTemplateId": row["template_id"], "listEmailId": None,
        "textMessage": row["text"], "htmlMessage": row["html"], "createdAt": created.isoformat(),
        "sentAt": (scheduled or created).isoformat() if sent else None, "isDeleted": row["deleted_at"] is not None,
    }  # fmt: skip


#: A filter on one field: the field, and how a row's value compares with the parameter's.
_ID_FILTERS: Mapping[str, tuple[str, str]] = {
    "id": ("id", "=="),
    "idGreaterThan": ("id", ">"),
    "idGreaterThanOrEqualTo": ("id", ">="),
    "idLessThan": ("id", "<"),
    "idLessThanOrEqualTo": ("id", "<="),
}
_COMPARE: Mapping[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: a == b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
}


@dataclass(frozen=True)
class V5Collection:
    """One v5 collection the sandbox serves: its rows, their v5 bodies, fields and filters.

    ``readable`` are the fields a read may ask; a query may ask those less ``not_queryable``.
    ``filters`` map each accepted query parameter to (field, comparison); DateTime filters take
    a value with an offset.
    """

    path: str
    select: str
    body: Callable[[sqlite3.Row, datetime], dict[str, Any]]
    readable: frozenset[str]
    filters: Mapping[str, tuple[str, str]]
    not_queryable: frozenset[str] = frozenset()
    dates: frozenset[str] = frozenset()
    id_column: str = "id"


_MESSAGES = frozenset({"textMessage", "htmlMessage"})
#: Each collection's fields and filters, from its v5 page (docs/wire-format.md, "Version 5 reads").
V5_COLLECTIONS: Mapping[str, V5Collection] = {
    "campaigns": V5Collection(
        "/api/v5/objects/campaigns", "SELECT * FROM campaigns", _campaign_v5,
        frozenset({"id", "name", "isDeleted", "folderId"}), _ID_FILTERS,
    ),
    "lists": V5Collection(
        "/api/v5/objects/lists", "SELECT * FROM lists", _list_v5,
        frozenset({"id", "name", "title", "description", "isPublic", "isDynamic", "isDeleted", "folderId",
                   "campaignId", "createdAt", "updatedAt"}),
        _ID_FILTERS,
    ),
    "users": V5Collection(
        "/api/v5/objects/users", "SELECT * FROM users", _user_v5,
        frozenset({"id", "email", "firstName", "username", "jobTitle", "isDeleted", "createdAt", "updatedAt"}),
        _ID_FILTERS,
    ),
    "email-templates": V5Collection(
        "/api/v5/objects/email-templates",
        "SELECT t.*, m.campaign_id AS t_campaign, m.created_at AS t_created, m.updated_at AS t_updated"
        " FROM templates t LEFT JOIN template_times m ON m.template_id = t.id",
        _template_v5,
        frozenset({"id", "name", "subject", "textMessage", "htmlMessage", "isOneToOneEmail", "isListEmail",
                   "isDripEmail", "isAutoResponderEmail", "senderOptions", "replyToOptions", "trackerDomainId",
                   "folderId", "campaignId", "isDeleted", "createdAt", "updatedAt"}),
        _ID_FILTERS, not_queryable=_MESSAGES,
    ),
    "emails": V5Collection(
        "/api/v5/objects/emails",
        "SELECT e.*, r.prospect_id AS prospect_id FROM emails e LEFT JOIN email_recipients r ON r.email_id = e.id"
        " WHERE e.kind = 'one-to-one'",
        _one_to_one_v5,
        frozenset({"id", "name", "subject", "campaignId", "prospectId", "emailTemplateId", "listEmailId",
                   "textMessage", "htmlMessage", "createdAt", "sentAt", "isDeleted"}),
        {**_ID_FILTERS, "sentAtAfterOrEqualTo": ("sentAt", ">="), "sentAtBeforeOrEqualTo": ("sentAt", "<=")},
        not_queryable=_MESSAGES, dates=frozenset({"sentAtAfterOrEqualTo", "sentAtBeforeOrEqualTo"}),
        id_column="e.id",
    ),
}  # fmt: skip


def _collection_fields(collection: V5Collection, raw: str | None, *, query: bool) -> tuple[str, ...]:
    if not raw:
        raise v5_refuse(400, 13, "One or more required parameters are missing: fields")
    fields = tuple(f.strip() for f in raw.split(",") if f.strip())
    allowed = collection.readable - (collection.not_queryable if query else frozenset())
    unknown = [f for f in fields if f not in allowed]
    if unknown:
        raise v5_refuse(400, 57, f"Invalid fields: {', '.join(unknown)}")
    return fields


def _filter_values(collection: V5Collection, params: Params) -> dict[str, str]:
    out: dict[str, str] = {}
    for name in collection.filters:
        value = params.get(name)
        if value is None:
            continue
        if name in collection.dates:
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                raise v5_refuse(400, 58, f"Invalid date time value for {name}: {value}") from None
            if moment.utcoffset() is None:
                raise v5_refuse(400, 58, f"Invalid date time value for {name} (no offset): {value}")
            out[name] = moment.isoformat()
        elif not value.isdigit():
            raise v5_refuse(400, 58, f"Invalid integer value for {name}: {value}")
        else:
            out[name] = value
    return out


def _matches(collection: V5Collection, body: Mapping[str, Any], filters: Mapping[str, str]) -> bool:
    for name, value in filters.items():
        field, op = collection.filters[name]
        seen = body[field]
        if seen is None:
            return False
        if name in collection.dates:
            if not _COMPARE[op](datetime.fromisoformat(seen), datetime.fromisoformat(value)):
                return False
        elif not _COMPARE[op](int(seen), int(value)):
            return False
    return True


def _collection_token(token: str, collection: V5Collection) -> tuple[str, int, int, str, dict[str, str]]:
    try:
        state = json.loads(base64.urlsafe_b64decode(token.encode()))
        order, limit, after, deleted = str(state["o"]), int(state["l"]), int(state["a"]), str(state["d"])
        filters = {str(k): str(v) for k, v in dict(state["f"]).items()}
        if order not in _V5_ORDERS.values() or deleted not in _DELETED_FILTERS or not set(filters) <= set(
            collection.filters
        ):
            raise ValueError(order)
    except (ValueError, KeyError, TypeError):
        raise v5_refuse(400, 211, "Invalid page token") from None
    return order, limit, after, deleted, filters


def _in_bin(collection: V5Collection, body: Mapping[str, Any], deleted: str) -> bool:
    """Does ``deleted`` (false / true / all) select this row?"""
    if deleted == "all":
        return True
    return bool(body.get("isDeleted")) == (deleted == "true")


def query_v5(
    store: Store, name: str, params: Params, now: datetime, *, base_url: str = ""
) -> dict[str, Any]:
    """``GET /api/v5/objects/<name>``: one page of ``values``, with ``nextPageToken`` and
    ``nextPageUrl`` while more follow (the token carries order, limit, ``deleted`` and filters,
    since only ``fields`` may travel with it)."""
    collection = V5_COLLECTIONS[name]
    allowed = {"fields", "orderBy", "limit", "deleted", "nextPageToken", *collection.filters}
    unknown = sorted(set(params.scalars) - allowed)
    if unknown:
        raise v5_refuse(400, 58, f"Unsupported parameter(s): {', '.join(unknown)}")
    fields = _collection_fields(collection, params.get("fields"), query=True)
    token = params.get("nextPageToken")
    if token is not None:
        order, limit, after, deleted, filters = _collection_token(token, collection)
    else:
        order = _V5_ORDERS.get((params.get("orderBy") or "id asc").lower(), "")
        if not order:
            raise v5_refuse(400, 59, "orderBy must be 'id asc' or 'id desc' in the sandbox")
        limit = min(params.integer("limit") or 200, 1000)
        after = 0 if order == "ASC" else 2**62
        deleted = _deleted_filter(params.get("deleted"))
        filters = _filter_values(collection, params)
    with store.reading() as conn:
        rows = conn.execute(f"{collection.select} ORDER BY {collection.id_column} {order}").fetchall()
    page: list[dict[str, Any]] = []
    more = False
    for row in rows:
        if (row["id"] <= after) if order == "ASC" else (row["id"] >= after):
            continue
        body = collection.body(row, now)
        if not _in_bin(collection, body, deleted) or not _matches(collection, body, filters):
            continue
        if len(page) == limit:
            more = True
            break
        page.append(body)
    answer: dict[str, Any] = {"values": [{f: body[f] for f in fields} for body in page]}
    if more:
        state = {"o": order, "l": limit, "a": page[-1]["id"], "d": deleted, "f": filters}
        next_token = base64.urlsafe_b64encode(json.dumps(state).encode()).decode()
        answer["nextPageToken"] = next_token
        query = urlencode({"fields": ",".join(fields), "nextPageToken": next_token})
        answer["nextPageUrl"] = f"{base_url.rstrip('/')}{collection.path}?{query}"
    return answer


def read_v5(store: Store, name: str, raw_id: str, params: Params, now: datetime) -> dict[str, Any]:
    """``GET /api/v5/objects/<name>/<id>``: the asked fields, or v5's 404 (192); one in the recycle
    bin is 404 with ``Pardot-Warning: 201`` unless ``deleted=true``."""
    collection = V5_COLLECTIONS[name]
    unknown = sorted(set(params.scalars) - {"fields", "deleted"})
    if unknown:
        raise v5_refuse(400, 58, f"Unsupported parameter(s): {', '.join(unknown)}")
    fields = _collection_fields(collection, params.get("fields"), query=False)
    row = None
    if raw_id.isdigit():
        with store.reading() as conn:
            where = " AND " if " WHERE " in collection.select else " WHERE "
            row = conn.execute(f"{collection.select}{where}{collection.id_column} = ?", (int(raw_id),)).fetchone()
    if row is None:
        raise v5_refuse(404, 192, "Object does not exist")
    body = collection.body(row, now)
    if body.get("isDeleted") and (params.get("deleted") or "false").lower() != "true":
        raise SandboxRefusal(192, "Object does not exist", http_status=404, warning="201;Record In Recycle Bin")
    return {f: body[f] for f in fields}
