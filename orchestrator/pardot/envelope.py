"""Turn a v3/v4 response body, JSON or XML, into one normalised :class:`Envelope`.

Both formats end up as the same JSON-shaped data, so the decoders in :mod:`.decode` are
written once. The XML rule is the one Pardot's own JSON follows: an element with children
becomes a dict, a leaf becomes its text (``""`` when empty), and a repeated child name becomes
a list; attributes are dropped except on ``<rsp>`` and ``<err>``. That keeps the
"single-vs-list" quirk identical in both formats, and :func:`as_list` resolves it.

XML is parsed with defusedxml only: a response with a DTD or entity declarations is refused,
never expanded. Nesting is bounded in both formats (:data:`MAX_NESTING`): a hostile answer of
``[`` x 200,000 or 100,000 nested elements is a protocol error, not a RecursionError.

Accepted real-world variants (docs/wire-format.md, "client must also accept"): ``err_code``
as a string, bodies without ``@attributes`` (the unwrapped export form), several ``<err>``
nodes (error 10000), a UTF-8 BOM, and v5-style ``{"code": N, "message": ...}`` failures.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as safe_xml
from defusedxml import DefusedXmlException

from orchestrator.errors import ApiProtocolError

__all__ = ["MAX_NESTING", "ApiFailure", "Envelope", "as_list", "parse_envelope"]

#: Deepest nesting of objects/arrays (JSON) or elements (XML) accepted in an answer. Pardot's
#: deepest, a template list, has 5 levels; 100 is generous and far from Python's recursion limit.
MAX_NESTING = 100


@dataclass(frozen=True)
class ApiFailure:
    """One error Pardot reported: its code (None when it gave none) and its message."""

    code: int | None
    message: str


@dataclass(frozen=True)
class Envelope:
    """A parsed response: success with its data, or failure with the errors Pardot listed."""

    ok: bool
    data: Mapping[str, Any]
    failures: tuple[ApiFailure, ...] = ()

    def root(self, name: str) -> Any:
        """The value under ``name`` (e.g. ``"email"``); ApiProtocolError when it is missing."""
        if name not in self.data:
            raise ApiProtocolError(f"response has no <{name}> (keys: {sorted(self.data)})")
        return self.data[name]


def as_list(value: Any) -> list[Any]:
    """Pardot's collection quirk: absent/empty → [], one object → [it], an array → itself."""
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    return [value]


def parse_envelope(body: bytes) -> Envelope:
    """Parse a JSON or XML body (sniffed from its first character, not trusted headers).

    Raises ApiProtocolError when the body is neither, or is not a Pardot envelope.
    """
    text_start = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if text_start in (b"{", b"["):
        return _parse_json(body)
    if text_start == b"<":
        return _parse_xml(body)
    raise ApiProtocolError(f"response is neither JSON nor XML ({len(body)} bytes)")


# --- JSON ------------------------------------------------------------------------------------


def _parse_json(body: bytes) -> Envelope:
    try:
        doc = json.loads(body)
    except RecursionError as exc:
        raise ApiProtocolError(f"JSON response nests deeper than {MAX_NESTING} levels") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiProtocolError(f"response is not valid JSON: {exc}") from exc
    if _json_depth(doc) > MAX_NESTING:
        raise ApiProtocolError(f"JSON response nests deeper than {MAX_NESTING} levels")
    if not isinstance(doc, dict):
        raise ApiProtocolError("JSON response is not an object")
    attributes = doc.get("@attributes")
    data = {k: v for k, v in doc.items() if k != "@attributes"}
    if isinstance(attributes, dict):
        if attributes.get("stat") == "fail" or "err" in doc:
            return Envelope(False, data, _json_failures(attributes.get("err_code"), _err_messages(doc)))
        return Envelope(True, data)
    if "err" in doc:
        return Envelope(False, data, _json_failures(doc.get("err_code"), doc.get("err")))
    if isinstance(doc.get("code"), int) and "message" in doc and "id" not in doc:
        return Envelope(False, data, (ApiFailure(doc["code"], str(doc["message"])),))
    return Envelope(True, data)


def _err_messages(doc: Mapping[str, Any]) -> Any:
    """``err``; else the per-item ``errors`` map a batch answer carries (``{"0": "Invalid ..."}``).

    A real ``stat="fail"`` batch answer comes with HTTP 200, no ``err_code`` and no ``err``
    (grouparoo's recordings, tests/pardot/bodies/real/); its messages are kept, not lost.
    """
    if "err" in doc:
        return doc["err"]
    errors = doc.get("errors")
    if isinstance(errors, Mapping):
        return [f"item {key}: {message}" for key, message in errors.items()]
    return errors


def _json_depth(doc: Any) -> int:
    """How deeply ``doc`` nests (a scalar is 0), walked without recursion; stops past the limit."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_NESTING:
            break
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _json_failures(code: Any, err: Any) -> tuple[ApiFailure, ...]:
    """``err`` is usually one message; tolerate a list of them (one code for all)."""
    messages = [str(m) for m in as_list(err)] or ["(no message)"]
    parsed = _code(code)
    return tuple(ApiFailure(parsed, m) for m in messages)


def _code(value: Any) -> int | None:
    """An error code given as int or string; None when absent or not a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


# --- XML -------------------------------------------------------------------------------------


def _parse_xml(body: bytes) -> Envelope:
    try:
        root = safe_xml.fromstring(body)
    except (ParseError, DefusedXmlException, ValueError) as exc:
        raise ApiProtocolError(f"response is not acceptable XML: {type(exc).__name__}") from exc
    if _xml_depth(root) > MAX_NESTING:
        raise ApiProtocolError(f"XML response nests deeper than {MAX_NESTING} elements")
    if root.tag != "rsp":
        raise ApiProtocolError(f"XML response root is <{root.tag}>, not <rsp>")
    errors = root.findall("err")
    if root.get("stat") == "fail" or errors:
        failures = tuple(ApiFailure(_code(e.get("code")), e.text or "") for e in errors)
        return Envelope(False, {}, failures or (ApiFailure(None, "(no message)"),))
    return Envelope(True, _children(root))


def _xml_depth(root: Element) -> int:
    """How deeply elements nest under ``root`` (root alone is 1), walked without recursion."""
    deepest = 0
    stack = [(root, 1)]
    while stack:
        element, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > MAX_NESTING:
            break
        stack.extend((child, depth + 1) for child in element)
    return deepest


def _children(element: Element) -> dict[str, Any]:
    """Children by tag; a tag seen twice or more becomes a list, in document order."""
    result: dict[str, Any] = {}
    for child in element:
        value = _value(child)
        if child.tag not in result:
            result[child.tag] = value
        elif isinstance(result[child.tag], _Repeated):
            result[child.tag].append(value)
        else:
            result[child.tag] = _Repeated([result[child.tag], value])
    return {k: list(v) if isinstance(v, _Repeated) else v for k, v in result.items()}


def _value(element: Element) -> Any:
    if len(element):
        return _children(element)
    return element.text or ""


class _Repeated(list[Any]):
    """Marks a list built from repeated tags, so a leaf that is itself a list is not confused."""
