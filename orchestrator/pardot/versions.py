"""One object per Pardot API version: its paths, encoding, decoding and error rules.

The client is written once and asks the version object chosen for it (in
:func:`orchestrator.connect.build_client`, from ``api.version``) how to build each call, how to
read each answer, and which failures prove that a send was not processed. Nothing else in the
product knows which version it talks to: a send's payload (``DesiredSend.payload``) stays the
project's own form, and only the version object translates it, so no fingerprint of an applied
send changes when an account moves from v4 to v5.

* :class:`ClassicApi` (:data:`V3`, :data:`V4`): ``/api/<object>/version/<n>/do/<op>``, form
  parameters, ``<rsp>`` / ``@attributes`` envelopes (docs/wire-format.md).
* :class:`RestApiV5` (:data:`V5`): list-email and one-to-one sends, list-email statistics, email
  and template reads (templates through :mod:`.templates_v5`, the owned templates' builder and
  decoder) and the campaign, list and user look-ups through ``/api/v5/objects/...``
  with JSON bodies, ``fields``, token paging and ``{"code", "message"}`` errors
  (docs/wire-format.md, "Version 5" and "Version 5 reads"); a send v5 cannot carry (tags, a
  prospect by address) keeps the v4 path. Prospects and exports still use the v4 paths
  (``LEGACY_NUMBER``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from orchestrator.errors import ApiError, ApiProtocolError, ApiValidationError
from orchestrator.pardot import decode, endpoints, errormap, templates_v5
from orchestrator.pardot.endpoints import Call
from orchestrator.pardot.envelope import Envelope
from orchestrator.pardot.models import (
    Email,
    EmailStats,
    EmailTemplate,
    EmailTemplateSummary,
    ListEmailSend,
    OneToOneSend,
)
from orchestrator.pardot.templates_v5 import RemoteTemplate

__all__ = [
    "V3",
    "V4",
    "V5",
    "VERSIONS",
    "ApiVersion",
    "ClassicApi",
    "RestApiV5",
    "api_version",
]


class ApiVersion(Protocol):
    """What the client needs from an API version; every method is pure (no I/O)."""

    @property
    def number(self) -> int:
        """``api.version``: 3, 4 or 5."""
        ...

    @property
    def pages_by_token(self) -> bool:
        """Queries page by ``nextPageToken`` (v5), not by ``id_greater_than`` (v3/v4)."""
        ...

    def template_read(self, template_id: int, *, archived: bool) -> Call: ...
    def template_list_one_to_one(self, *, archived: bool, page_token: str | None = None) -> Call: ...
    def list_send(self, send: ListEmailSend) -> Call: ...
    def one_to_one_send(self, send: OneToOneSend) -> Call: ...
    def email_read(self, email_id: int, *, include_message: bool) -> Call: ...
    def email_read_fallback(self, email_id: int, *, include_message: bool) -> Call | None: ...
    def email_stats(self, email_id: int) -> Call: ...
    def object_read(self, obj: str, object_id: int) -> Call: ...
    def object_query(self, obj: str, *, id_greater_than: int = 0, page_token: str | None = None) -> Call: ...
    def prospect_read(self, *, prospect_id: int | None = None, email: str | None = None) -> Call: ...
    def export_create(
        self, obj: str, procedure: str, arguments: Mapping[str, str], fields: Sequence[str] | None
    ) -> Call: ...
    def export_read(self, export_id: int) -> Call: ...
    def export_query(self, filters: Mapping[str, str | None]) -> Call: ...
    def export_cancel(self, export_id: int) -> Call: ...

    def decode_template(self, envelope: Envelope) -> EmailTemplate: ...
    def decode_template_list(self, envelope: Envelope) -> list[EmailTemplateSummary]: ...
    def decode_sent(self, call: Call, envelope: Envelope) -> Email: ...
    def decode_email(self, call: Call, envelope: Envelope) -> Email: ...
    def decode_stats(self, envelope: Envelope) -> EmailStats: ...
    def decode_object(self, obj: str, envelope: Envelope) -> object: ...
    def decode_query_page(self, obj: str, envelope: Envelope) -> tuple[list[object], str | None]: ...

    def error_for_code(
        self,
        code: int | None,
        message: str,
        *,
        http_status: int | None = None,
        is_send: bool = False,
        call: Call | None = None,
    ) -> ApiError: ...
    def error_for_status(self, status: int, reason: str, *, is_send: bool = False) -> ApiError: ...
    def proves_not_sent(self, error: BaseException) -> bool: ...


@dataclass(frozen=True)
class ClassicApi:
    """Pardot's v3 and v4 API: the same surface, told apart by the number in every path."""

    number: int

    # --- paths and encoding ---------------------------------------------------------------

    @property
    def _legacy(self) -> int:
        """The number in ``/version/<n>/`` paths."""
        return self.number

    def template_read(self, template_id: int, *, archived: bool) -> Call:
        return endpoints.template_read(self._legacy, template_id, archived=archived)

    @property
    def pages_by_token(self) -> bool:
        return False

    def template_list_one_to_one(self, *, archived: bool, page_token: str | None = None) -> Call:
        """The one call of the unpaged v3/v4 list (``page_token`` is v5's)."""
        return endpoints.template_list_one_to_one(self._legacy, archived=archived)

    def list_send(self, send: ListEmailSend) -> Call:
        return endpoints.list_send(self._legacy, send)

    def one_to_one_send(self, send: OneToOneSend) -> Call:
        return endpoints.one_to_one_send(self._legacy, send)

    def email_read(self, email_id: int, *, include_message: bool) -> Call:
        return endpoints.email_read(self._legacy, email_id, include_message=include_message)

    def email_read_fallback(self, email_id: int, *, include_message: bool) -> Call | None:
        """Where else to look when the email read answers "not found": nowhere (v3/v4 reads both kinds)."""
        return None

    def email_stats(self, email_id: int) -> Call:
        return endpoints.email_stats(self._legacy, email_id)

    def object_read(self, obj: str, object_id: int) -> Call:
        return endpoints.object_read(self._legacy, obj, object_id)

    def object_query(self, obj: str, *, id_greater_than: int = 0, page_token: str | None = None) -> Call:
        """A v3/v4 query page by ``id_greater_than`` (``page_token`` is v5's)."""
        return endpoints.object_query(self._legacy, obj, id_greater_than=id_greater_than)

    def prospect_read(self, *, prospect_id: int | None = None, email: str | None = None) -> Call:
        return endpoints.prospect_read(self._legacy, prospect_id=prospect_id, email=email)

    def export_create(
        self, obj: str, procedure: str, arguments: Mapping[str, str], fields: Sequence[str] | None
    ) -> Call:
        return endpoints.export_create(self._legacy, obj, procedure, arguments, fields)

    def export_read(self, export_id: int) -> Call:
        return endpoints.export_read(self._legacy, export_id)

    def export_query(self, filters: Mapping[str, str | None]) -> Call:
        return endpoints.export_query(self._legacy, filters)

    def export_cancel(self, export_id: int) -> Call:
        return endpoints.export_cancel(self._legacy, export_id)

    # --- decoding -------------------------------------------------------------------------

    def decode_template(self, envelope: Envelope) -> EmailTemplate:
        """A template read; the error a ``stat="ok"`` answer can carry inside is raised (§3.4)."""
        data = envelope.root("emailTemplate")
        failure = decode.embedded_failure(data) if isinstance(data, Mapping) else None
        if failure is not None:
            raise self.error_for_code(failure.code, failure.message)
        return decode.decode_template(data)

    def decode_template_list(self, envelope: Envelope) -> list[EmailTemplateSummary]:
        data = envelope.data.get("emailTemplates")
        failure = decode.embedded_failure(data) if isinstance(data, Mapping) else None
        if failure is not None:
            raise self.error_for_code(failure.code, failure.message)
        return decode.decode_template_list(data)

    def decode_sent(self, call: Call, envelope: Envelope) -> Email:
        """The ``email`` root of a send answer (the client turns a failure into "unknown")."""
        return decode.decode_email(envelope.root("email"))

    def decode_email(self, call: Call, envelope: Envelope) -> Email:
        return decode.decode_email(envelope.root("email"))

    def decode_stats(self, envelope: Envelope) -> EmailStats:
        return decode.decode_stats(envelope.root("stats"))

    def decode_object(self, obj: str, envelope: Envelope) -> object:
        """The ``<obj>`` root of a read: the item :mod:`.decode`'s ``decode_<obj>`` reads."""
        return envelope.root(obj)

    def decode_query_page(self, obj: str, envelope: Envelope) -> tuple[list[object], str | None]:
        """A v3/v4 query ``result``'s items; no token (the client pages by id)."""
        _total, page = decode.decode_query(envelope.root("result"), decode.QUERY_ROOTS[obj])
        return list(page), None

    # --- errors and the exactly-once rule -------------------------------------------------

    def error_for_code(
        self,
        code: int | None,
        message: str,
        *,
        http_status: int | None = None,
        is_send: bool = False,
        call: Call | None = None,
    ) -> ApiError:
        """The error for Pardot's code; ``call`` is the call it answered (None: a decoded answer)."""
        return errormap.error_for_code(code, message, http_status=http_status, is_send=is_send)

    def error_for_status(self, status: int, reason: str, *, is_send: bool = False) -> ApiError:
        return errormap.error_for_status(status, reason, is_send=is_send)

    def proves_not_sent(self, error: BaseException) -> bool:
        return errormap.proves_not_sent(error)


#: v5 list-email fields a send asks back: readable ones only (write-only ``recipientListIds``,
#: ``suppressionListIds`` and ``scheduledTime`` are never returned; list-email-v5 page).
V5_LIST_EMAIL_FIELDS = "id,name,subject,campaignId,emailTemplateId,createdAt,isSent,operationalEmail"
#: The same for one-to-one emails: fields of the email-v5 page (``createdAt`` is not among those
#: it shows, so it is not asked: a field Pardot does not know would make it refuse the create).
V5_EMAIL_FIELDS = "id,name,subject,campaignId,prospectId,sentAt"


@dataclass(frozen=True)
class RestApiV5(ClassicApi):
    """Pardot's v5 API for sends, statistics, email and template reads and id look-ups; v4
    paths for prospects and exports.

    v5 splits emails into ``list-emails`` and ``emails``, so an email read by id asks the list
    emails first and the one-to-one emails when that answers "not found". Prospects keep the v4
    path (an address may name several prospects there, as the project expects), and v5's export
    surface is unconfirmed (pardot-api.md §1.7). The same account and token answer the v4 paths.
    """

    number: int = 5
    LEGACY_NUMBER: ClassVar[int] = 4

    @property
    def _legacy(self) -> int:
        return self.LEGACY_NUMBER

    def list_send(self, send: ListEmailSend) -> Call:
        """``POST /api/v5/objects/list-emails`` with a JSON body (create = send).

        A send with tags goes through the v4 path: v5's create takes no tags (tagging is a
        separate ``do/addTag`` call, which would make one send two irreversible calls).
        """
        if send.tags:
            return endpoints.list_send(self._legacy, send)
        return Call(
            "listEmail.create(v5)",
            "POST",
            "/api/v5/objects/list-emails",
            (("fields", V5_LIST_EMAIL_FIELDS),),
            json=list_email_body(send),
            is_send=True,
        )

    def one_to_one_send(self, send: OneToOneSend) -> Call:
        """``POST /api/v5/objects/emails``; by address or with tags, the v4 path.

        v5's create names the prospect by ``prospectId`` only and takes no tags (email-v5 page);
        resolving an address first could pick another of several prospects sharing it, so such
        a send keeps the v4 path, which names the prospect exactly as the project does.
        """
        if send.tags or send.prospect_id is None:
            return endpoints.one_to_one_send(self._legacy, send)
        return Call(
            "email.create(v5)",
            "POST",
            "/api/v5/objects/emails",
            (("fields", V5_EMAIL_FIELDS),),
            json=one_to_one_body(send),
            is_send=True,
        )

    @property
    def pages_by_token(self) -> bool:
        return True

    def template_read(self, template_id: int, *, archived: bool) -> Call:
        """The one v5 template read (:mod:`.templates_v5`, shared with the owned templates);
        ``archived`` has no v5 counterpart that reads back (no ``isDeleted`` is confirmed for
        templates), so one in the recycle bin is "not found", the safe reading for a send."""
        return templates_v5.template_read_v5(template_id)

    def template_list_one_to_one(self, *, archived: bool, page_token: str | None = None) -> Call:
        """A page of the one v5 template query; the recycle bin is never listed (as above)."""
        return templates_v5.template_query(page_token)

    def email_read(self, email_id: int, *, include_message: bool) -> Call:
        return endpoints.email_v5_read(email_id, one_to_one=False, include_message=include_message)

    def email_read_fallback(self, email_id: int, *, include_message: bool) -> Call | None:
        """A list-email 404: the id may be a one-to-one email's (``/api/v5/objects/emails/<id>``)."""
        return endpoints.email_v5_read(email_id, one_to_one=True, include_message=include_message)

    def object_read(self, obj: str, object_id: int) -> Call:
        return endpoints.object_v5_read(obj, object_id)

    def object_query(self, obj: str, *, id_greater_than: int = 0, page_token: str | None = None) -> Call:
        """A v5 query page by token (``id_greater_than`` is v3/v4's)."""
        return endpoints.object_v5_query(obj, page_token=page_token)

    def decode_template(self, envelope: Envelope) -> EmailTemplate:
        return _email_template(templates_v5.decode_template(envelope.data))

    def decode_template_list(self, envelope: Envelope) -> list[EmailTemplateSummary]:
        """One page of the template query, the one-to-one templates kept (no documented filter)."""
        templates = [_email_template(held) for held in templates_v5.decode_template_page(envelope.data)]
        return [_template_summary(t) for t in templates if t.is_one_to_one_email]

    def decode_email(self, call: Call, envelope: Envelope) -> Email:
        if not call.is_v5:
            return super().decode_email(call, envelope)
        return decode.decode_email_v5(envelope.data, one_to_one="/objects/emails/" in call.path)

    def decode_object(self, obj: str, envelope: Envelope) -> object:
        return decode.v5_as_classic(obj, envelope.data)

    def decode_query_page(self, obj: str, envelope: Envelope) -> tuple[list[object], str | None]:
        rows, token = decode.v5_values(envelope.data, obj)
        return [decode.v5_as_classic(obj, row) for row in rows], token

    def email_stats(self, email_id: int) -> Call:
        """``GET /api/v5/objects/list-emails/<id>/stats`` (list-email-v5 page, "Statistics")."""
        return Call("listEmail.stats(v5)", "GET", f"/api/v5/objects/list-emails/{email_id}/stats")

    def decode_stats(self, envelope: Envelope) -> EmailStats:
        return decode.decode_stats_v5(envelope.data)

    def decode_sent(self, call: Call, envelope: Envelope) -> Email:
        if not call.is_v5:
            return super().decode_sent(call, envelope)
        return decode.decode_email_v5(envelope.data, one_to_one=call.path.endswith("/emails"))

    def error_for_code(
        self,
        code: int | None,
        message: str,
        *,
        http_status: int | None = None,
        is_send: bool = False,
        call: Call | None = None,
    ) -> ApiError:
        """v5's rule for a v5 call; a call on a v4 path keeps v4's (refusals come with HTTP 200 there)."""
        if call is None or not call.is_v5:
            return super().error_for_code(code, message, http_status=http_status, is_send=is_send)
        return errormap.error_for_code_v5(code, message, http_status=http_status, is_send=is_send)


def _email_template(held: RemoteTemplate) -> EmailTemplate:
    """A v5 template as the checks and ``templates show`` read any version's: ``senderOptions``
    and ``replyToOptions`` stand where v3/v4 put ``sendFromData`` and ``replyToAddress``, and a
    template in the recycle bin answers 404, so one that reads is never archived."""
    flags = dict(held.flags)
    return EmailTemplate(
        id=held.id,
        name=held.name,
        subject=held.subject,
        html=held.html or "",
        text=held.text,
        is_list_email=flags["isListEmail"],
        is_one_to_one_email=flags["isOneToOneEmail"],
        is_drip_email=flags["isDripEmail"],
        is_autoresponder_email=flags["isAutoResponderEmail"],
        is_archived=False,
        reply_to_address=held.reply_to,
        send_from=[dict(option) for option in held.sender_options],
    )


def _template_summary(template: EmailTemplate) -> EmailTemplateSummary:
    """The one-to-one list's entry for a template (its bodies left out)."""
    return EmailTemplateSummary(
        id=template.id,
        name=template.name,
        subject=template.subject,
        is_one_to_one_email=template.is_one_to_one_email,
        is_archived=template.is_archived,
        is_autoresponder_email=template.is_autoresponder_email,
        is_drip_email=template.is_drip_email,
        is_list_email=template.is_list_email,
    )


def _sender_options(send: ListEmailSend | OneToOneSend) -> list[dict[str, Any]]:
    """The project's sender fields as v5 ``senderOptions`` (most specific first, as v4 reads them)."""
    options: list[dict[str, Any]] = []
    if send.from_assigned_user:
        options.append({"type": "assigned_user"})
    if send.from_account_owner:
        options.append({"type": "account_owner"})
    if send.from_user_id is not None:
        options.append({"type": "specific_user", "userId": send.from_user_id})
    if send.from_email or send.from_name:
        option: dict[str, Any] = {"type": "general_user"}
        if send.from_email:
            option["address"] = send.from_email
        if send.from_name:
            option["name"] = send.from_name
        options.append(option)
    return options


def _content_body(send: ListEmailSend | OneToOneSend) -> dict[str, Any]:
    body: dict[str, Any] = {"campaignId": send.campaign_id}
    for key, value in (
        ("name", send.name),
        ("subject", send.subject),
        ("textMessage", send.text_content),
        ("htmlMessage", send.html_content),
        ("emailTemplateId", send.email_template_id),
    ):
        if value is not None:
            body[key] = value
    senders = _sender_options(send)
    if senders:
        body["senderOptions"] = senders
    if send.replyto_email:
        body["replyToOptions"] = [{"type": "general_address", "address": send.replyto_email}]
    if send.operational_email:
        body["isOperational"] = True
    if send.tags:
        raise ApiValidationError("v5 list and one-to-one email creation takes no tags (list-email-v5, email-v5 pages)")
    return body


#: The fields a v5 create requires (the pages' "required editable fields" tables).
V5_REQUIRED = {"list": ("name", "campaignId", "recipientListIds"), "one-to-one": ("name", "campaignId", "prospectId")}


def _require(body: Mapping[str, Any], kind: str) -> None:
    missing = [name for name in V5_REQUIRED[kind] if body.get(name) in (None, "", [])]
    if missing:
        raise ApiValidationError(f"a v5 {kind} email create needs {', '.join(missing)}")


def list_email_body(send: ListEmailSend) -> dict[str, Any]:
    """The JSON body of a v5 list-email create; validated first (ApiValidationError, code None)."""
    send.validate()
    body = _content_body(send)
    body["recipientListIds"] = list(send.list_ids)
    if send.suppression_list_ids:
        body["suppressionListIds"] = list(send.suppression_list_ids)
    if send.scheduled_time is not None:
        body["scheduledTime"] = send.scheduled_time.isoformat()
    _require(body, "list")
    return body


def one_to_one_body(send: OneToOneSend) -> dict[str, Any]:
    """The JSON body of a v5 email create (one prospect, by id)."""
    send.validate()
    if send.prospect_id is None:
        raise ApiValidationError("a v5 one-to-one send names its prospect by id (prospectId), not by address")
    body = _content_body(send)
    body["prospectId"] = send.prospect_id
    _require(body, "one-to-one")
    return body


V3 = ClassicApi(3)
V4 = ClassicApi(4)
V5 = RestApiV5()

#: Every supported version by its number (``api.version`` in orchestrator.yaml).
VERSIONS: dict[int, ApiVersion] = {3: V3, 4: V4, 5: V5}


def api_version(number: int) -> ApiVersion:
    """The version object for ``api.version``; ApiProtocolError for one the client lacks."""
    try:
        return VERSIONS[number]
    except KeyError:
        raise ApiProtocolError(f"no Pardot API version {number!r}") from None
