"""v5 email templates on the wire: the calls, the JSON body, and the decoded answer.

Operations from the Email Template Object page, v5
(https://developer.salesforce.com/docs/marketing/pardot/guide/email-template-v5.html): create
``POST /api/v5/objects/email-templates``, read ``GET …/<id>``, update ``PATCH …/<id>``, query
``GET …``; fields ``name``, ``subject``, ``htmlMessage``, ``textMessage``, ``senderOptions``,
``replyToOptions`` and the flags ``isListEmail``, ``isOneToOneEmail``, ``isAutoResponderEmail``,
``isDripEmail`` (docs/wire-format.md, "Version 5: email templates"). Pure: building a call or
decoding an answer does no I/O; :mod:`.client` executes them.

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
from orchestrator.pardot.endpoints import Call

#: The v5 template-type flags.
FLAGS: tuple[str, ...] = ("isListEmail", "isOneToOneEmail", "isAutoResponderEmail", "isDripEmail")

#: What every template call asks back.
TEMPLATE_FIELDS = ",".join(
    ("id", "name", "subject", "htmlMessage", "textMessage", "senderOptions", "replyToOptions", *FLAGS, "updatedAt")
)

#: What the query asks: the names and ids it is read for. ``textMessage`` and ``htmlMessage``
#: are readable but not queryable (docs/wire-format.md, "Version 5 reads"); a read asks them.
QUERY_FIELDS = "id,name"

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
    """GET one template by id."""
    return Call("emailTemplate.read(v5)", "GET", f"{_PATH}/{int(template_id)}", (("fields", TEMPLATE_FIELDS),))


def template_query(page_token: str | None = None, *, limit: int = 200) -> Call:
    """GET one page of templates, lowest id first; a page token travels with ``fields`` only."""
    if page_token is not None:
        return Call(
            "emailTemplate.query(v5)", "GET", _PATH, (("fields", QUERY_FIELDS), ("nextPageToken", page_token))
        )
    params = (("fields", QUERY_FIELDS), ("orderBy", "id asc"), ("limit", str(limit)))
    return Call("emailTemplate.query(v5)", "GET", _PATH, params)


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
    """A template as Pardot holds it (a v5 read, create, update or query answer)."""

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
    """One template of an answer; a missing ``id`` or a wrong type is a protocol error."""
    if not isinstance(data, Mapping):
        raise ApiProtocolError(f"email template answer is not an object: {type(data).__name__}")
    try:
        template_id = int(data["id"])
    except (KeyError, TypeError, ValueError):
        raise ApiProtocolError("email template answer has no numeric id") from None
    sender = _first(data.get("senderOptions"))
    reply = _first(data.get("replyToOptions"))
    return RemoteTemplate(
        id=template_id,
        name=_text(data.get("name")),
        subject=_text(data.get("subject")),
        text=_text(data.get("textMessage")),
        html=data.get("htmlMessage") if isinstance(data.get("htmlMessage"), str) else None,
        sender_name=_optional(sender.get("name")),
        sender_email=_optional(sender.get("address")),
        reply_to=_optional(reply.get("address")),
        flags=tuple((flag, data.get(flag) is True) for flag in FLAGS),
        updated_at=_optional(data.get("updatedAt")),
    )


def decode_template_page(data: Any) -> tuple[list[RemoteTemplate], str | None]:
    """A query page: its templates and the next page's token (None on the last page)."""
    if not isinstance(data, Mapping) or not isinstance(data.get("values"), list):
        raise ApiProtocolError("email template query answer has no `values` list")
    token = data.get("nextPageToken")
    return [decode_template(item) for item in data["values"]], token if isinstance(token, str) and token else None


def _first(options: Any) -> Mapping[str, Any]:
    if isinstance(options, list) and options and isinstance(options[0], Mapping):
        return options[0]
    return {}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _optional(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
