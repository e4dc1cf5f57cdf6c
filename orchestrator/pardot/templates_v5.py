"""v5 email templates on the wire: the calls, the JSON body, and the decoded answer.

The one place a v5 email-template call is built and its answer decoded: the owned templates
(create, update, read, query) and the reads the plan-time checks and ``templates show/list``
make under ``api.version: 5`` (:class:`orchestrator.pardot.versions.RestApiV5`, which turns a
:class:`RemoteTemplate` into the project's ``EmailTemplate``) send the same requests, so a field
or paging fix reaches both.

Operations from the Email Template Object page, v5
(https://developer.salesforce.com/docs/marketing/pardot/guide/email-template-v5.html): create
``POST /api/v5/objects/email-templates``, read ``GET …/<id>``, update ``PATCH …/<id>``, query
``GET …``; fields ``name``, ``subject``, ``htmlMessage``, ``textMessage``, ``senderOptions``,
``replyToOptions``, the flags ``isListEmail``, ``isOneToOneEmail``, ``isAutoResponderEmail``,
``isDripEmail``, and ``id``, ``updatedAt`` read back (docs/wire-format.md, "Version 5: email
templates"). Pure: building a call or decoding an answer does no I/O; :mod:`.client` executes them.

The template's content travels in the project's own form (the mapping
``orchestrator.templates_owned.OwnedTemplate.content`` returns): :func:`template_body` turns it
into the v5 body, and :meth:`RemoteTemplate.content` turns an answer back into it, so one
fingerprint compares what the file says with what Pardot holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orchestrator.errors import ApiProtocolError
from orchestrator.pardot.decode import as_bool, as_int, v5_values
from orchestrator.pardot.endpoints import QUERY_PAGE, Call, v5_page

#: The v5 template-type flags.
FLAGS: tuple[str, ...] = ("isListEmail", "isOneToOneEmail", "isAutoResponderEmail", "isDripEmail")

#: What every read, create and update asks back: every field either user of a read needs, each
#: one the ET page documents as readable (docs/wire-format.md, "Version 5: email templates");
#: Pardot refuses a field it does not know.
TEMPLATE_FIELDS = ",".join(
    ("id", "name", "subject", "htmlMessage", "textMessage", "senderOptions", "replyToOptions", *FLAGS, "updatedAt")
)

#: What the query asks: ids and names (owned templates, ``import templates --all``), subjects
#: and flags (the one-to-one list). ``textMessage`` and ``htmlMessage`` are readable but not
#: queryable (ET, docs/wire-format.md "Version 5 reads"); a read asks them.
QUERY_FIELDS = ",".join(("id", "name", "subject", *FLAGS))

_PATH = "/api/v5/objects/email-templates"


def template_create(body: Mapping[str, Any]) -> Call:
    """POST a new template. Marked as a send: a create is not idempotent, so a retry needs proof
    that the first attempt made nothing (a second create would be a second template)."""
    return Call("emailTemplate.create(v5)", "POST", _PATH, (("fields", TEMPLATE_FIELDS),), json=body, is_send=True)


def template_update(template_id: int, body: Mapping[str, Any]) -> Call:
    """PATCH the fields in ``body`` of template ``template_id`` (the same body twice is harmless)."""
    return Call(
        "emailTemplate.update(v5)", "PATCH", f"{_PATH}/{int(template_id)}", (("fields", TEMPLATE_FIELDS),), json=body
    )


def template_read_v5(template_id: int) -> Call:
    """GET one template by id. Without ``deleted=true`` one in the recycle bin answers 404 like
    an unknown id (version5overview), which is what an archived template is to a send."""
    return Call("emailTemplate.read(v5)", "GET", f"{_PATH}/{int(template_id)}", (("fields", TEMPLATE_FIELDS),))


def template_query(page_token: str | None = None, *, limit: int = QUERY_PAGE) -> Call:
    """GET one page of templates (not those in the recycle bin), lowest id first; a page token
    travels with ``fields`` only. No filter by a flag is documented, so callers keep what they
    want of each page."""
    first = (("orderBy", "id asc"), ("limit", str(limit)))
    return v5_page("emailTemplate.query(v5)", _PATH, QUERY_FIELDS, page_token, first)


def template_body(content: Mapping[str, Any]) -> dict[str, Any]:
    """The v5 JSON body for the project's form of a template.

    ``senderOptions`` and ``replyToOptions`` use the object shapes the list-email body uses
    (``general_user`` with ``name`` and ``address``; ``general_address``): **UNCONFIRMED**, as
    there (docs/wire-format.md).
    """
    sender = content["sender"]
    body: dict[str, Any] = {
        "name": content["name"],
        "subject": content["subject"],
        "textMessage": content["text"],
        "htmlMessage": content.get("html"),
        "senderOptions": [{"type": "general_user", "name": sender["name"], "address": sender["email"]}],
        "replyToOptions": (
            [{"type": "general_address", "address": content["reply_to"]}] if content.get("reply_to") else []
        ),
    }
    for flag in FLAGS:
        body[flag] = bool(content.get("flags", {}).get(flag, False))
    return body


@dataclass(frozen=True)
class RemoteTemplate:
    """A template as Pardot holds it (a v5 read, create, update or query answer).

    ``sender_name`` and ``sender_email`` are the first sender option's, the project's form;
    ``sender_options`` are all of them as Pardot gave them (``templates show`` prints them).
    """

    id: int
    name: str
    subject: str
    text: str
    html: str | None
    sender_name: str | None
    sender_email: str | None
    reply_to: str | None
    flags: tuple[tuple[str, bool], ...]
    updated_at: str | None
    sender_options: tuple[Mapping[str, Any], ...] = ()

    def content(self) -> dict[str, Any]:
        """The project's form of this template (as :func:`template_body` reads it)."""
        return {
            "name": self.name,
            "subject": self.subject,
            "text": self.text,
            "html": self.html,
            "sender": {"name": self.sender_name, "email": self.sender_email},
            "reply_to": self.reply_to,
            "flags": dict(self.flags),
        }


def decode_template(data: Any) -> RemoteTemplate:
    """One template of an answer. A value of the wrong type (an id that is no integer, a flag
    that is no flag, options that are no list of objects) is a protocol error naming the field,
    not a guess; a field not asked (the query asks no messages) decodes empty."""
    if not isinstance(data, Mapping):
        raise ApiProtocolError(f"email template answer is not an object: {type(data).__name__}")
    senders = _options(data.get("senderOptions"), "senderOptions")
    replies = _options(data.get("replyToOptions"), "replyToOptions")
    sender = senders[0] if senders else {}
    return RemoteTemplate(
        id=as_int(data.get("id"), "emailTemplate.id"),
        name=_text(data.get("name")),
        subject=_text(data.get("subject")),
        text=_text(data.get("textMessage")),
        html=data.get("htmlMessage") if isinstance(data.get("htmlMessage"), str) else None,
        sender_name=_optional(sender.get("name")),
        sender_email=_optional(sender.get("address")),
        reply_to=_optional(replies[0].get("address")) if replies else None,
        flags=tuple((flag, as_bool(data.get(flag), f"emailTemplate.{flag}")) for flag in FLAGS),
        updated_at=_optional(data.get("updatedAt")),
        sender_options=senders,
    )


def decode_template_page(data: Any) -> list[RemoteTemplate]:
    """The templates of a query page (the client takes the next page's token, which may come as
    ``nextPageUrl`` alone)."""
    rows, _ = v5_values(data, "email template query")
    return [decode_template(row) for row in rows]


def _options(value: Any, field: str) -> tuple[Mapping[str, Any], ...]:
    """``senderOptions`` / ``replyToOptions``: an array of objects (ET); null or absent is none."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
        raise ApiProtocolError(f"emailTemplate.{field} is not a list of objects")
    return tuple(dict(item) for item in value)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _optional(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
