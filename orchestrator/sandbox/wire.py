"""The sandbox's side of docs/wire-format.md: envelopes, flags and refusals.

Handlers build plain Python values (dicts, lists, scalars); this module turns them into the JSON
or XML envelope that the client parses. A refusal is a :class:`SandboxRefusal` carrying Pardot's
code, raised by a handler and rendered here as a fail envelope. The sandbox plays Pardot, so it
only says *which code*; what a code means to the orchestrator (auth, not found, retry, ...) is
decided in one place, on the client's side: :mod:`orchestrator.pardot.errormap`.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

from werkzeug.wrappers import Response

#: Pardot's messages for the codes the sandbox produces (docs/wire-format.md, "Error codes").
MESSAGES: Mapping[int, str] = {
    2: "Invalid action",
    3: "Invalid prospect ID",
    4: "Invalid prospect email address",
    5: "Invalid query parameters",
    7: "Invalid timestamp",
    8: "Invalid time range",
    10: "Invalid user ID",
    13: "Required parameter(s) missing",
    16: "Invalid ID",
    17: "Invalid ID range",
    19: "Invalid value specified for sort_by",
    20: "Invalid value specified for sort_order",
    21: "Invalid value specified for offset",
    23: "Invalid value specified for limit",
    38: "Invalid campaign ID",
    55: "Invalid list ID",
    60: "Invalid HTTP request method",
    64: "Email content missing required variables (%%unsubscribe%% or "
    "%%email_preference_center%%)",
    65: "Invalid email format",
    98: "Prospect not mailable",
    66: "You have exceeded your concurrent request limit. Please wait, before trying again",
    68: "Template with this id does not exist",
    109: "Requested record not found",
    122: "Daily API rate limit met",
    145: "Invalid archived parameter specified. Allowed values are true or false.",
    146: "Invalid archived parameter specified. Allowed values are true or false.",
    150: "Invalid JSON in request body",
    151: "Unsupported Content-Type; use application/json",
    152: "Request body is empty",
    153: "Missing required property",
    154: "Invalid property value",
    174: "Invalid procedure",
    175: "Invalid procedure argument",
    176: "Missing procedure argument",
    177: "Invalid procedure argument value",
    178: "The current state of the export does not allow the operation",
    180: "Invalid fields",
    181: "Required header is missing: Pardot-Business-Unit-Id",
    182: "Invalid header value: Pardot-Business-Unit-Id",
    183: "Internal error. Please try again",
    184: "access_token is invalid, unknown, or malformed",
    201: "Invalid business unit, or it is not active",
}

#: The codes the sandbox answers with HTTP 401 rather than 400. 184 comes with HTTP 400 as
#: Crim's client tests record it (PardotClient_SsoAuthTest serves errorInvalidSsoAccessToken.xml
#: with 400), and grouparoo's recordings show 400 for error 4.
#: **CHOICE**: 181/182 (missing/malformed business unit header) keep 401; nothing recorded.
_HTTP_401 = frozenset({181, 182})


class SandboxRefusal(Exception):
    """Pardot's "no" to a request: the sandbox's own type, rendered as a fail envelope.

    Deliberately not an :class:`orchestrator.errors.OrchestratorError`: the sandbox stands apart
    from the product it serves, and the client classifies the code it receives.
    """

    def __init__(self, code: int, message: str, *, http_status: int = 400, warning: str | None = None) -> None:
        super().__init__(f"Pardot error {code}: {message}")
        self.code = code
        self.message = message
        self.http_status = http_status
        self.warning = warning  # v5's Pardot-Warning header value, e.g. "201;Record In Recycle Bin"


def refuse(code: int, detail: str | None = None) -> SandboxRefusal:
    """The refusal for Pardot code ``code`` with its message; ``detail`` is appended."""
    message = MESSAGES[code] if detail is None else f"{MESSAGES[code]}: {detail}"
    return SandboxRefusal(code, message, http_status=401 if code in _HTTP_401 else 400)


#: Template flags, which XML renders ``1``/empty (Crim's emailTemplateRead.xml and
#: emailTemplateListOneToOne.xml); every other XML flag is ``true``/``false`` (Crim's
#: emailRead.xml ``<isOneToOne>true</isOneToOne>``, listRead.xml ``<is_public>false</is_public>``).
_TEMPLATE_FLAGS = frozenset({"isDripEmail", "isListEmail", "isOneToOneEmail", "isArchived", "isAutoResponderEmail"})


def flag(value: object) -> bool:
    """A flag as a boolean: JSON renders ``true``/``false`` (real v4 JSON does, e.g. grouparoo's
    recorded ``is_public: false``); XML renders it as the recorded fixtures do (:func:`_append`)."""
    return bool(value)


def ok(fmt: str, body: Mapping[str, Any]) -> Response:
    """A ``stat="ok"`` envelope holding ``body``'s keys as its roots."""
    if fmt == "json":
        payload = {"@attributes": {"stat": "ok", "version": 1}, **body}
        return Response(json.dumps(payload), status=200, mimetype="application/json")
    rsp = ET.Element("rsp", {"stat": "ok", "version": "1.0"})
    for key, value in body.items():
        _append(rsp, key, value)
    return _xml_response(rsp, 200)


def fail(fmt: str, error: SandboxRefusal) -> Response:
    """A ``stat="fail"`` envelope for ``error`` with the sandbox's HTTP status choice."""
    code = error.code
    status = error.http_status
    if fmt == "json":
        payload = {
            "@attributes": {"stat": "fail", "version": 1, "err_code": code},
            "err": error.message,
        }
        return Response(json.dumps(payload), status=status, mimetype="application/json")
    rsp = ET.Element("rsp", {"stat": "fail", "version": "1.0"})
    err = ET.SubElement(rsp, "err", {"code": str(code)})
    err.text = error.message
    return _xml_response(rsp, status)


def _xml_response(root: ET.Element, status: int) -> Response:
    text = '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")
    return Response(text, status=status, mimetype="application/xml")


def _append(parent: ET.Element, name: str, value: Any) -> None:
    """Objects become child elements, lists repeated elements of the same name."""
    if isinstance(value, list | tuple):
        for item in value:
            _append(parent, name, item)
        return
    node = ET.SubElement(parent, name)
    if isinstance(value, Mapping):
        for key, child in value.items():
            _append(node, key, child)
    elif isinstance(value, bool):
        numeric = name in _TEMPLATE_FLAGS
        node.text = ("1" if value else "") if numeric else ("true" if value else "false")
    elif value is not None:
        node.text = str(value)
