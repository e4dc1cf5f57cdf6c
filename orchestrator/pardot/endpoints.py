"""Every v3/v4 and v5 resource the client uses, as a pure description of one HTTP call (v5
email templates apart: :mod:`.templates_v5` builds those).

A :class:`Call` says what to send and how careful to be about it (``is_send``); building one
does no I/O, so the paths, parameters and retry classes of every endpoint can be tested
without a server. :mod:`.client` executes them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from orchestrator.errors import ApiValidationError
from orchestrator.pardot.models import EXPORT_STATES, ListEmailSend, OneToOneSend

__all__ = [
    "Call",
    "email_read",
    "email_stats",
    "email_v5_read",
    "emails_v5_sent_since",
    "export_cancel",
    "export_create",
    "export_query",
    "export_read",
    "list_email_v5_read",
    "list_emails_v5_query",
    "list_send",
    "object_query",
    "object_read",
    "object_v5_query",
    "object_v5_read",
    "one_to_one_send",
    "template_list_one_to_one",
    "template_read",
    "v5_page",
]

MAX_EXPORT_FIELDS = 150
EXPORT_SORT_BY = ("id", "created_at", "updated_at")
EXPORT_SORT_ORDER = ("ascending", "descending")


@dataclass(frozen=True)
class Call:
    """One request: method, path under the base URL, parameters, and its retry class.

    ``params`` go in the query string for GET and in a form body for POST; ``json`` replaces
    the form body (export create), and then ``params`` stay in the query string.
    ``is_send`` marks a non-idempotent call that must never be retried without proof that
    Pardot did not process it. ``masks_emails``: the call carries a prospect's address, so
    every message about it is masked.
    """

    name: str
    method: str
    path: str
    params: tuple[tuple[str, str], ...] = ()
    json: Mapping[str, Any] | None = field(default=None, hash=False)
    is_send: bool = False
    masks_emails: bool = False

    @property
    def is_v5(self) -> bool:
        """A v5 REST call: no ``format`` parameter, JSON only (version5overview)."""
        return self.path.startswith("/api/v5/")


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _path(obj: str, version: int, op: str, *segments: str) -> str:
    tail = "".join(f"/{quote(s, safe='')}" for s in segments)
    return f"/api/{obj}/version/{version}/do/{op}{tail}"


def template_read(version: int, template_id: int, *, archived: bool) -> Call:
    """GET one email template; ``archived=False`` makes an archived one "not found"."""
    return Call(
        "emailTemplate.read",
        "GET",
        _path("emailTemplate", version, "read", "id", str(template_id)),
        (("archived", _bool(archived)),),
    )


def template_list_one_to_one(version: int, *, archived: bool) -> Call:
    """GET the templates enabled for one-to-one emails."""
    return Call(
        "emailTemplate.listOneToOne",
        "GET",
        _path("emailTemplate", version, "listOneToOne"),
        (("archived", _bool(archived)),),
    )


def list_send(version: int, send: ListEmailSend) -> Call:
    """POST a list email (validated locally first: ApiValidationError with code None)."""
    return Call(
        "email.send(list)",
        "POST",
        _path("email", version, "send"),
        tuple(send.to_params()),
        is_send=True,
    )


def one_to_one_send(version: int, send: OneToOneSend) -> Call:
    """POST a one-to-one email to ``/send/prospect_id/<id>`` or ``/send/prospect_email/<e>``."""
    params = tuple(send.to_params())
    if send.prospect_id is not None:
        path = _path("email", version, "send", "prospect_id", str(send.prospect_id))
        return Call("email.send(prospect_id)", "POST", path, params, is_send=True)
    assert send.prospect_email is not None  # validate() guarantees exactly one
    path = _path("email", version, "send", "prospect_email", send.prospect_email)
    return Call(
        "email.send(prospect_email)",
        "POST",
        path,
        params,
        is_send=True,
        masks_emails=True,
    )


def email_read(version: int, email_id: int, *, include_message: bool) -> Call:
    """GET one email; without the message bodies when ``include_message`` is false."""
    return Call(
        "email.read",
        "GET",
        _path("email", version, "read", "id", str(email_id)),
        (("include_message", _bool(include_message)),),
    )


def email_stats(version: int, email_id: int) -> Call:
    """GET the statistics of one list email."""
    return Call("email.stats", "GET", _path("email", version, "stats", "id", str(email_id)))


def export_create(
    version: int,
    obj: str,
    procedure: str,
    arguments: Mapping[str, str],
    fields: Sequence[str] | None,
) -> Call:
    """POST a new export job (JSON body).

    Not a send: a duplicated export costs API calls but changes nothing and sends nothing,
    so creating one may be retried after an unknown outcome like any read.
    """
    if fields is not None and len(fields) > MAX_EXPORT_FIELDS:
        raise ApiValidationError(f"an export may name at most {MAX_EXPORT_FIELDS} fields, not {len(fields)}")
    body: dict[str, Any] = {
        "object": obj,
        "procedure": {"name": procedure, "arguments": dict(arguments)},
    }
    if fields is not None:
        body["fields"] = list(fields)
    return Call("export.create", "POST", _path("export", version, "create"), json=body)


def export_read(version: int, export_id: int) -> Call:
    """GET one export job's state and, once complete, its result URLs."""
    return Call("export.read", "GET", _path("export", version, "read", "id", str(export_id)))


def export_cancel(version: int, export_id: int) -> Call:
    """POST a cancel; treated as retryable (cancelling twice cannot send anything)."""
    return Call("export.cancel", "POST", _path("export", version, "cancel", "id", str(export_id)))


def _choice(name: str, value: str | None, allowed: tuple[str, ...]) -> None:
    if value is not None and value not in allowed:
        raise ApiValidationError(f"export query {name} must be one of {allowed}, not {value!r}")


def export_query(version: int, filters: Mapping[str, str | None]) -> Call:
    """GET the list of exports matching ``filters`` (None values are left out)."""
    _choice("status", filters.get("status"), EXPORT_STATES)
    _choice("sort_by", filters.get("sort_by"), EXPORT_SORT_BY)
    _choice("sort_order", filters.get("sort_order"), EXPORT_SORT_ORDER)
    params = tuple((k, v) for k, v in filters.items() if v is not None)
    return Call("export.query", "GET", _path("export", version, "query"), params)


#: v3/v4 objects whose ``read``/``query`` the client uses to check and list ids.
READABLE_OBJECTS = ("campaign", "list", "user")
#: v3/v4 queries return at most 200 rows per call (campaign/list/user query docs).
QUERY_PAGE = 200


def object_read(version: int, obj: str, object_id: int) -> Call:
    """GET one campaign, list or user by id: ``/api/<obj>/version/<v>/do/read/id/<id>``."""
    if obj not in READABLE_OBJECTS:
        raise ApiValidationError(f"cannot read a {obj!r}")
    return Call(f"{obj}.read", "GET", _path(obj, version, "read", "id", str(object_id)))


def prospect_read(version: int, *, prospect_id: int | None = None, email: str | None = None) -> Call:
    """GET one prospect by id, or the prospects with one address (v4 may hold several):
    ``/api/prospect/version/<v>/do/read/id/<id>`` or ``.../do/read/email/<email>``."""
    if prospect_id is not None:
        return Call("prospect.read", "GET", _path("prospect", version, "read", "id", str(prospect_id)))
    if email is None:
        raise ApiValidationError("a prospect read needs an id or an email address")
    return Call("prospect.read(email)", "GET", _path("prospect", version, "read", "email", email), masks_emails=True)


def object_query(version: int, obj: str, *, id_greater_than: int = 0) -> Call:
    """GET one page of campaigns, lists or users in id order, after ``id_greater_than``.

    Paging by a high-water mark (``id_greater_than`` with ``sort_by=id``) rather than by
    ``offset`` is what Pardot's bulk-data-pull guide recommends (docs/wire-format.md).
    """
    if obj not in READABLE_OBJECTS:
        raise ApiValidationError(f"cannot query {obj!r}")
    params = (
        ("id_greater_than", str(id_greater_than)),
        ("sort_by", "id"),
        ("sort_order", "ascending"),
        ("limit", str(QUERY_PAGE)),
    )
    return Call(f"{obj}.query", "GET", _path(obj, version, "query"), params)


#: The v5 list-email fields the reconcile query asks for (list-email-v5 page, read-only fields).
LIST_EMAIL_V5_FIELDS = "id,name,campaignId,createdAt,isSent,isDeleted"


def list_emails_v5_query(*, page_token: str | None = None, limit: int = 200) -> Call:
    """GET one page of v5 list emails, newest id first, the recycle bin included.

    Only parameters version5overview documents for every object are used (``fields``,
    ``orderBy``, ``limit``, ``deleted``). The list-email page documents no filter by name, so
    matching by name happens client-side; ``state reconcile`` uses the creation-time filter
    instead (:func:`list_emails_v5_since`), and this newest-first scan stays for
    ``state resolve``'s look-up by name. A page token may only travel with ``fields``.
    """
    if page_token is not None:
        params: tuple[tuple[str, str], ...] = (("fields", LIST_EMAIL_V5_FIELDS), ("nextPageToken", page_token))
    else:
        params = (
            ("fields", LIST_EMAIL_V5_FIELDS),
            ("orderBy", "id desc"),
            ("limit", str(limit)),
            ("deleted", "all"),
        )
    return Call("listEmail.query(v5)", "GET", "/api/v5/objects/list-emails", params)


#: What a refresh reads of each list email (``plan --refresh``): the reconcile fields, plus the
#: readable ``subject``, ``sentAt``, ``recipientLists`` and ``suppressionLists`` (list-email-v5
#: page, read-only fields; ``scheduledTime``, ``recipientListIds`` and ``suppressionListIds``
#: are write-only).
LIST_EMAIL_V5_REFRESH_FIELDS = (
    "id,name,campaignId,subject,createdAt,sentAt,isSent,isDeleted,recipientLists,suppressionLists"
)
#: The refresh fields without the lists: asked for when Pardot refused the lists' fields (their
#: element shape is UNCONFIRMED, docs/wire-format.md "Refresh"), so a refresh can still run.
LIST_EMAIL_V5_REFRESH_FIELDS_NO_LISTS = "id,name,campaignId,subject,createdAt,sentAt,isSent,isDeleted"


def list_emails_v5_since(
    created_since: str | None, *, page_token: str | None = None, limit: int = 200, lists: bool = True
) -> Call:
    """GET one page of the v5 list emails created at or after ``created_since`` (ISO 8601 with an
    offset), oldest id first, the recycle bin included: the refresh's query.

    ``createdAtAfterOrEqualTo`` is one of the list-email query's documented time filters
    (docs/wire-format.md, "Refresh"); a page token travels with ``fields`` only. ``lists=False``
    leaves ``recipientLists`` and ``suppressionLists`` out of ``fields``.
    """
    fields = LIST_EMAIL_V5_REFRESH_FIELDS if lists else LIST_EMAIL_V5_REFRESH_FIELDS_NO_LISTS
    if page_token is not None:
        params: tuple[tuple[str, str], ...] = (("fields", fields), ("nextPageToken", page_token))
    else:
        params = (
            ("fields", fields),
            ("orderBy", "id asc"),
            ("limit", str(limit)),
            ("deleted", "all"),
        )
        if created_since is not None:
            params += (("createdAtAfterOrEqualTo", created_since),)
    return Call("listEmail.query(v5)", "GET", "/api/v5/objects/list-emails", params)


def list_email_v5_read(email_id: int) -> Call:
    """GET one v5 list email by id (used to confirm v5 sees emails sent through v3/v4)."""
    return Call(
        "listEmail.read(v5)",
        "GET",
        f"/api/v5/objects/list-emails/{email_id}",
        (("fields", LIST_EMAIL_V5_FIELDS),),
    )


# --- v5 reads: emails, id look-ups (docs/wire-format.md, "Version 5 reads") ------------------
# Email templates are built in templates_v5.py alone, for every caller.


def v5_page(name: str, path: str, fields: str, page_token: str | None, first: tuple[tuple[str, str], ...]) -> Call:
    """A v5 query page: ``first`` on page one; with a token, ``fields`` and the token only
    (version5overview: only ``fields`` may accompany ``nextPageToken``)."""
    if page_token is not None:
        return Call(name, "GET", path, (("fields", fields), ("nextPageToken", page_token)))
    return Call(name, "GET", path, (("fields", fields), *first))


#: v5 collection of each object the id look-ups read, and the fields asked: each named on the
#: object's v5 page (campaign-v5, list-v5, user-v5). The user page lists no last name.
V5_COLLECTIONS = {"campaign": "campaigns", "list": "lists", "user": "users"}
V5_OBJECT_FIELDS = {"campaign": "id,name", "list": "id,name,isDynamic,isPublic", "user": "id,email,firstName"}


def object_v5_read(obj: str, object_id: int) -> Call:
    """GET one campaign, list or user: ``/api/v5/objects/<collection>/<id>?fields=...``."""
    if obj not in V5_COLLECTIONS:
        raise ApiValidationError(f"cannot read a {obj!r}")
    path = f"/api/v5/objects/{V5_COLLECTIONS[obj]}/{object_id}"
    return Call(f"{obj}.read(v5)", "GET", path, (("fields", V5_OBJECT_FIELDS[obj]),))


def object_v5_query(obj: str, *, page_token: str | None = None, limit: int = QUERY_PAGE) -> Call:
    """GET one page of campaigns, lists or users in id order (``orderBy=id asc``), by token."""
    if obj not in V5_COLLECTIONS:
        raise ApiValidationError(f"cannot query {obj!r}")
    path = f"/api/v5/objects/{V5_COLLECTIONS[obj]}"
    first = (("orderBy", "id asc"), ("limit", str(limit)))
    return v5_page(f"{obj}.query(v5)", path, V5_OBJECT_FIELDS[obj], page_token, first)


#: What an email read asks (list-email-v5 and email-v5 pages): ``textMessage`` and
#: ``htmlMessage`` are readable (not queryable) and asked only when the message is wanted.
LIST_EMAIL_V5_READ_FIELDS = "id,name,subject,campaignId,createdAt,sentAt"
EMAIL_V5_READ_FIELDS = "id,name,subject,campaignId,sentAt"
_MESSAGE_FIELDS = ",textMessage,htmlMessage"


def email_v5_read(email_id: int, *, one_to_one: bool, include_message: bool) -> Call:
    """GET one list email (``/list-emails/<id>``) or one-to-one email (``/emails/<id>``)."""
    collection, fields = ("emails", EMAIL_V5_READ_FIELDS) if one_to_one else ("list-emails", LIST_EMAIL_V5_READ_FIELDS)
    if include_message:
        fields += _MESSAGE_FIELDS
    name = "email.read(v5)" if one_to_one else "listEmail.read(v5)"
    return Call(name, "GET", f"/api/v5/objects/{collection}/{email_id}", (("fields", fields),))


#: What reconciling a one-to-one send reads of each email (email-v5 page): ``prospectId`` is a
#: create field of the page's first table, read back; ``sentAt`` is read-only.
EMAIL_V5_RECONCILE_FIELDS = "id,name,campaignId,prospectId,sentAt"


def emails_v5_sent_since(sent_since: str, *, page_token: str | None = None, limit: int = QUERY_PAGE) -> Call:
    """GET one page of the v5 one-to-one emails sent at or after ``sent_since`` (ISO 8601 with
    an offset), oldest id first, the recycle bin included.

    ``sentAtAfterOrEqualTo`` is the email query's documented time filter (docs/wire-format.md,
    "Reconciling unknown sends"); no filter by ``name`` or ``prospectId`` is confirmed, so both
    are matched client-side.
    """
    first = (("orderBy", "id asc"), ("limit", str(limit)), ("deleted", "all"), ("sentAtAfterOrEqualTo", sent_since))
    return v5_page("email.query(v5)", "/api/v5/objects/emails", EMAIL_V5_RECONCILE_FIELDS, page_token, first)
