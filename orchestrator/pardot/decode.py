"""Decode normalised envelope data (see :mod:`.envelope`) into the models.

Pardot's values arrive loosely typed: numbers as strings in XML, flags as ``1``/``""``,
rates as ``"98.42%"``, timestamps as ``YYYY-MM-DD HH:MM:SS``. Each coercion lives in one small
function here, and each refuses what it does not understand with ApiProtocolError naming the
field, rather than guessing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from orchestrator.errors import ApiProtocolError
from orchestrator.pardot.envelope import ApiFailure, as_list
from orchestrator.pardot.models import (
    STATS_COUNT_FIELDS,
    STATS_RATE_FIELDS,
    Campaign,
    Email,
    EmailStats,
    EmailTemplate,
    EmailTemplateSummary,
    ExportJob,
    ExportQueryResult,
    ListEmailSummary,
    OneToOneEmailSummary,
    PardotList,
    Prospect,
    User,
)

__all__ = [
    "QUERY_ROOTS",
    "as_bool",
    "as_datetime",
    "as_int",
    "as_rate",
    "decode_campaign",
    "decode_email",
    "decode_email_v5",
    "decode_export",
    "decode_export_query",
    "decode_list",
    "decode_list_emails_v5",
    "decode_one_to_one_emails_v5",
    "decode_query",
    "decode_stats",
    "decode_stats_v5",
    "decode_template",
    "decode_template_list",
    "decode_user",
    "embedded_failure",
    "list_ids_of",
    "v5_as_classic",
    "v5_values",
]

_TRUE = {"1", "true", "yes"}
_FALSE = {"", "0", "false", "no"}


def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ApiProtocolError(f"{what} is not an object: {type(value).__name__}")
    return value


def as_int(value: Any, field: str) -> int:
    """An integer given as a JSON number or as text (XML)."""
    if isinstance(value, bool):
        raise ApiProtocolError(f"{field} is a boolean, expected an integer")
    if isinstance(value, int):
        return value
    text = value.strip() if isinstance(value, str) else ""
    if text.lstrip("-").isascii() and text.lstrip("-").isdigit():  # "²" is a digit to isdigit, not to int
        return int(text)
    raise ApiProtocolError(f"{field} is not an integer: {value!r}")


def _opt_int(value: Any, field: str) -> int | None:
    return None if value is None or value == "" else as_int(value, field)


def as_bool(value: Any, field: str) -> bool:
    """Pardot's flags: ``1``/``"1"``/``true`` are true; ``""``/``0``/``false``/absent are false."""
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ApiProtocolError(f"{field} is not a flag: {value!r}")


def as_rate(value: Any, field: str) -> float:
    """A percentage: ``"98.42%"``, ``"98.42"`` or a number → 98.42; empty → 0.0 (nothing sent)."""
    if isinstance(value, bool):
        raise ApiProtocolError(f"{field} is a boolean, expected a rate")
    if isinstance(value, int | float):
        return float(value)
    if value is None or value == "":
        return 0.0
    if isinstance(value, str):
        try:
            return float(value.strip().removesuffix("%").strip())
        except ValueError:
            pass
    raise ApiProtocolError(f"{field} is not a rate: {value!r}")


def as_datetime(value: Any, field: str) -> datetime | None:
    """``YYYY-MM-DD HH:MM:SS`` (naive, account time zone) or ISO-8601; empty → None."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ApiProtocolError(f"{field} is not a date-time: {value!r}")


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _opt_text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def embedded_failure(data: Mapping[str, Any]) -> ApiFailure | None:
    """The error a ``stat="ok"`` template answer can carry inside itself (§3.4), if any."""
    code = data.get("errorCode")
    flagged = data.get("error") not in (None, "", 0, "0", False, "false")
    if not flagged and code in (None, "", 0, "0"):
        return None
    number = None if code in (None, "") else as_int(code, "emailTemplate.errorCode")
    return ApiFailure(number, _text(data.get("errorMessage")) or "template error")


def decode_email(value: Any) -> Email:
    """The ``email`` root of a send or read answer."""
    data = _mapping(value, "email")
    message = data.get("message")
    body = _mapping(message, "email.message") if message not in (None, "") else {}
    return Email(
        id=as_int(data.get("id"), "email.id"),
        name=_text(data.get("name")),
        subject=_text(data.get("subject")),
        text=_opt_text(body.get("text")) if body else None,
        html=_opt_text(body.get("html")) if body else None,
        created_at=as_datetime(data.get("created_at"), "email.created_at"),
        is_one_to_one=as_bool(data.get("isOneToOne"), "email.isOneToOne"),
        campaign_id=_opt_int(data.get("campaign_id"), "email.campaign_id"),
        scheduled_time=as_datetime(data.get("scheduled_time"), "email.scheduled_time"),
    )


def decode_stats(value: Any) -> EmailStats:
    """The ``stats`` root: ten counts and seven percentage rates, each possibly unknown.

    Real v4 JSON renders a figure Pardot does not have (the stats of an email that is only
    scheduled, for one) as ``null``; XML renders it as an empty element. Such a figure, or a
    missing one, decodes to 0 and is named in :attr:`EmailStats.unknown`, so output can show
    "—" instead of a made-up zero. A value that is present but not a number is still refused.
    """
    data = _mapping(value, "stats")
    unknown = {name for name in (*STATS_COUNT_FIELDS, *STATS_RATE_FIELDS) if data.get(name) in (None, "")}
    count = {name: 0 if name in unknown else as_int(data[name], f"stats.{name}") for name in STATS_COUNT_FIELDS}
    rate = {name: 0.0 if name in unknown else as_rate(data[name], f"stats.{name}") for name in STATS_RATE_FIELDS}
    return EmailStats(
        sent=count["sent"],
        delivered=count["delivered"],
        total_clicks=count["total_clicks"],
        unique_clicks=count["unique_clicks"],
        soft_bounced=count["soft_bounced"],
        hard_bounced=count["hard_bounced"],
        opt_outs=count["opt_outs"],
        spam_complaints=count["spam_complaints"],
        opens=count["opens"],
        unique_opens=count["unique_opens"],
        delivery_rate=rate["delivery_rate"],
        opens_rate=rate["opens_rate"],
        click_through_rate=rate["click_through_rate"],
        unique_click_through_rate=rate["unique_click_through_rate"],
        click_open_ratio=rate["click_open_ratio"],
        opt_out_rate=rate["opt_out_rate"],
        spam_complaint_rate=rate["spam_complaint_rate"],
        unknown=frozenset(unknown),
    )


def _send_from(value: Any) -> list[dict[str, Any]]:
    """``sendFromData``: a JSON array in a string (documented), or already-structured data."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError) as exc:  # RecursionError: "[" x 200,000
            raise ApiProtocolError("emailTemplate.sendFromData is not JSON") from exc
    items = as_list(value)
    if not all(isinstance(item, dict) for item in items):
        raise ApiProtocolError("emailTemplate.sendFromData is not a list of objects")
    return [dict(item) for item in items]


def decode_template(value: Any) -> EmailTemplate:
    """The ``emailTemplate`` root of a read (callers check :func:`embedded_failure` first)."""
    data = _mapping(value, "emailTemplate")
    options = data.get("sendOptions")
    send_options = _mapping(options, "emailTemplate.sendOptions") if options else {}
    return EmailTemplate(
        id=as_int(data.get("id"), "emailTemplate.id"),
        name=_text(data.get("name")),
        subject=_text(data.get("subject")),
        html=_text(data.get("htmlMessage")),
        text=_text(data.get("textMessage")),
        is_list_email=as_bool(data.get("isListEmail"), "emailTemplate.isListEmail"),
        is_one_to_one_email=as_bool(data.get("isOneToOneEmail"), "emailTemplate.isOneToOneEmail"),
        is_drip_email=as_bool(data.get("isDripEmail"), "emailTemplate.isDripEmail"),
        is_autoresponder_email=as_bool(data.get("isAutoResponderEmail"), "emailTemplate.isAutoResponderEmail"),
        is_archived=as_bool(data.get("isArchived"), "emailTemplate.isArchived"),
        reply_to_address=_opt_text(send_options.get("replyToAddress")),
        send_from=_send_from(send_options.get("sendFromData")),
    )


def _summary(value: Any) -> EmailTemplateSummary:
    data = _mapping(value, "templates[]")
    return EmailTemplateSummary(
        id=as_int(data.get("id"), "templates.id"),
        name=_text(data.get("name")),
        subject=_text(data.get("subject")),
        is_one_to_one_email=as_bool(data.get("isOneToOneEmail"), "templates.isOneToOneEmail"),
        is_archived=as_bool(data.get("isArchived"), "templates.isArchived"),
        is_autoresponder_email=as_bool(data.get("isAutoResponderEmail"), "templates.isAutoResponderEmail"),
        is_drip_email=as_bool(data.get("isDripEmail"), "templates.isDripEmail"),
        is_list_email=as_bool(data.get("isListEmail"), "templates.isListEmail"),
    )


def decode_template_list(value: Any) -> list[EmailTemplateSummary]:
    """The ``emailTemplates`` root: ``templates`` absent, one object, or an array."""
    if value in (None, ""):
        return []
    data = _mapping(value, "emailTemplates")
    return [_summary(item) for item in as_list(data.get("templates"))]


def decode_export(value: Any) -> ExportJob:
    """One export job, wrapped in ``export`` or not; ``resultRefs`` absent/string/array."""
    data = _mapping(value, "export")
    if "export" in data and "id" not in data:
        data = _mapping(data["export"], "export")
    refs = tuple(str(ref).strip() for ref in as_list(data.get("resultRefs")) if str(ref).strip())
    return ExportJob(
        id=as_int(data.get("id"), "export.id"),
        state=_text(data.get("state")),
        is_expired=as_bool(data.get("isExpired"), "export.isExpired"),
        result_refs=refs,
        created_at=_opt_text(data.get("createdAt")),
        updated_at=_opt_text(data.get("updatedAt")),
    )


def decode_export_query(value: Any) -> ExportQueryResult:
    """The ``result`` root of a query: ``total_results`` and ``export`` absent/object/array."""
    data = _mapping(value, "result")
    return ExportQueryResult(
        total_results=as_int(data.get("total_results"), "result.total_results"),
        exports=tuple(decode_export(item) for item in as_list(data.get("export"))),
    )


def decode_campaign(value: Any) -> Campaign:
    """The ``campaign`` root of a read, or one item of a query."""
    data = _mapping(value, "campaign")
    return Campaign(id=as_int(data.get("id"), "campaign.id"), name=_text(data.get("name")))


def decode_list(value: Any) -> PardotList:
    """The ``list`` root of a read, or one item of a query (flags JSON booleans, or text in XML)."""
    data = _mapping(value, "list")
    return PardotList(
        id=as_int(data.get("id"), "list.id"),
        name=_text(data.get("name")),
        is_dynamic=as_bool(data.get("is_dynamic"), "list.is_dynamic"),
        is_public=as_bool(data.get("is_public"), "list.is_public"),
    )


def decode_user(value: Any) -> User:
    """The ``user`` root of a read, or one item of a query."""
    data = _mapping(value, "user")
    return User(
        id=as_int(data.get("id"), "user.id"),
        email=_text(data.get("email")),
        first_name=_text(data.get("first_name")),
        last_name=_text(data.get("last_name")),
    )


def decode_prospect(value: Any) -> Prospect:
    """One ``prospect`` of a read (flags JSON booleans/numbers, or text in XML; absent is false)."""
    data = _mapping(value, "prospect")
    return Prospect(
        id=as_int(data.get("id"), "prospect.id"),
        email=_text(data.get("email")),
        opted_out=as_bool(data.get("opted_out"), "prospect.opted_out"),
        is_do_not_email=as_bool(data.get("is_do_not_email"), "prospect.is_do_not_email"),
        first_name=_text(data.get("first_name")),
        last_name=_text(data.get("last_name")),
        company=_text(data.get("company")),
    )


#: The item key inside a v3/v4 query ``result`` for each object.
QUERY_ROOTS: dict[str, str] = {
    "campaign": "campaign",
    "list": "list",
    "user": "user",
    "listMembership": "list_membership",
    "prospect": "prospect",
}


def decode_query(value: Any, item_key: str) -> tuple[int | None, list[Any]]:
    """A v3/v4 query ``result``: ``total_results`` (None when absent) and its items.

    Items are absent when there are none, an object when there is one, an array when several
    (grouparoo's recordings of list and listMembership queries show all three).
    """
    if value in (None, ""):
        return 0, []
    data = _mapping(value, "result")
    total = _opt_int(data.get("total_results"), "result.total_results")
    return total, as_list(data.get(item_key))


def _aware(value: Any, what: str) -> datetime | None:
    """A v5 DateTime: ISO-8601 with the account's offset (version5overview, "Data Types"); None for null."""
    moment = as_datetime(value, what)
    if moment is not None and moment.utcoffset() is None:
        raise ApiProtocolError(f"{what} has no offset: {value!r}")
    return moment


def decode_list_emails_v5(value: Any) -> tuple[list[ListEmailSummary], str | None]:
    """A v5 query answer ``{"values": [...], "nextPageToken": ...}``: the emails and the token."""
    data = _mapping(value, "list-emails answer")
    values = data.get("values")
    if not isinstance(values, list):
        raise ApiProtocolError("list-emails answer has no values array")
    emails = []
    for item in values:
        row = _mapping(item, "list-emails value")
        created = _aware(row.get("createdAt"), "listEmail.createdAt")
        emails.append(
            ListEmailSummary(
                id=as_int(row.get("id"), "listEmail.id"),
                name=_text(row.get("name")),
                campaign_id=_opt_int(row.get("campaignId"), "listEmail.campaignId"),
                created_at=created,
                is_sent=as_bool(row.get("isSent"), "listEmail.isSent"),
                is_deleted=as_bool(row.get("isDeleted"), "listEmail.isDeleted"),
                subject=_text(row["subject"]) if row.get("subject") is not None else None,
                sent_at=_aware(row.get("sentAt"), "listEmail.sentAt"),
                recipient_list_ids=_as_set(list_ids_of(row.get("recipientLists"))),
                suppression_list_ids=_as_set(list_ids_of(row.get("suppressionLists"))),
            )
        )
    token = data.get("nextPageToken")
    return emails, (str(token) if token not in (None, "") else None)


def list_ids_of(value: Any) -> tuple[int, ...] | None:
    """The list ids of a v5 list email's read-only ``recipientLists`` / ``suppressionLists``, in
    Pardot's order, each once.

    The list-email page types them "Recipient Lists[]" / "Suppression Lists[]" ("an array of the
    lists used for this list email") without showing an element, so both plausible shapes are
    read: integer ids, or objects with an integer ``id`` (docs/wire-format.md, "Refresh":
    UNCONFIRMED). None (absent, null, any other shape, or an id below 1) means the lists were not
    given: the refresh says "not checked" and ``import email`` asks for ``--list``, instead of
    failing or guessing "no lists".
    """
    if not isinstance(value, list):
        return None
    ids: list[int] = []
    for item in value:
        raw = item.get("id") if isinstance(item, Mapping) else item
        if isinstance(raw, bool) or not isinstance(raw, int | str):
            return None
        try:
            ident = as_int(raw, "listEmail.recipientLists.id")
        except ApiProtocolError:
            return None
        if ident < 1:
            return None
        if ident not in ids:
            ids.append(ident)
    return tuple(ids)


def _as_set(ids: tuple[int, ...] | None) -> frozenset[int] | None:
    return None if ids is None else frozenset(ids)


def decode_email_v5(value: Any, *, one_to_one: bool) -> Email:
    """A v5 list email or email object (create or read answer): a flat object of the asked fields.

    ``scheduledTime`` is write-only on create (list-email-v5 page), so it is never read back:
    the record keeps the time the project asked for.
    """
    data = _mapping(value, "v5 email")
    return Email(
        id=as_int(data.get("id"), "email.id"),
        name=_text(data.get("name")),
        subject=_text(data.get("subject")),
        text=_opt_text(data.get("textMessage")),
        html=_opt_text(data.get("htmlMessage")),
        created_at=_aware(data.get("createdAt"), "email.createdAt"),
        is_one_to_one=one_to_one,
        campaign_id=_opt_int(data.get("campaignId"), "email.campaignId"),
        scheduled_time=None,
    )


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def decode_stats_v5(value: Any) -> EmailStats:
    """A v5 ``list-emails/<id>/stats`` answer: the 17 v3/v4 figures, named in camelCase
    (``totalClicks``, ``uniqueOpens``, ``deliveryRate``...: **UNCONFIRMED**, docs/wire-format.md)."""
    data = _mapping(value, "v5 stats")
    return decode_stats({name: data.get(_camel(name)) for name in (*STATS_COUNT_FIELDS, *STATS_RATE_FIELDS)})


# --- v5 reads: values and tokens, id look-ups (templates: templates_v5.py) ---------------------


def v5_values(value: Any, what: str) -> tuple[list[Mapping[str, Any]], str | None]:
    """A v5 query answer ``{"values": [...], "nextPageToken": ...}``: its rows and the token."""
    data = _mapping(value, f"{what} answer")
    values = data.get("values")
    if not isinstance(values, list):
        raise ApiProtocolError(f"{what} answer has no values array")
    token = data.get("nextPageToken")
    return [_mapping(item, f"{what} value") for item in values], (str(token) if token not in (None, "") else None)


def decode_one_to_one_emails_v5(value: Any) -> tuple[list[OneToOneEmailSummary], str | None]:
    """A v5 email query page: the one-to-one emails and the next page's token."""
    rows, token = v5_values(value, "emails")
    return [
        OneToOneEmailSummary(
            id=as_int(row.get("id"), "email.id"),
            name=_text(row.get("name")),
            campaign_id=_opt_int(row.get("campaignId"), "email.campaignId"),
            prospect_id=_opt_int(row.get("prospectId"), "email.prospectId"),
            sent_at=_aware(row.get("sentAt"), "email.sentAt"),
        )
        for row in rows
    ], token


#: v3/v4 item keys for the v5 fields of each looked-up object (campaign-v5, list-v5, user-v5),
#: so that one decoder serves both.
_CLASSIC_KEYS: dict[str, dict[str, str]] = {
    "campaign": {"id": "id", "name": "name"},
    "list": {"id": "id", "name": "name", "isDynamic": "is_dynamic", "isPublic": "is_public"},
    "user": {"id": "id", "email": "email", "firstName": "first_name"},
}


def v5_as_classic(obj: str, value: Any) -> dict[str, Any]:
    """A v5 campaign, list or user with its v3/v4 keys (for :func:`decode_campaign` and the rest)."""
    data = _mapping(value, f"v5 {obj}")
    return {classic: data.get(v5) for v5, classic in _CLASSIC_KEYS[obj].items()}
