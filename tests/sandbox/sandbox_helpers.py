"""Helpers for the sandbox tests: a controllable clock and a parser for both wire formats."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from defusedxml import ElementTree

from orchestrator.sandbox import (
    SANDBOX_BUSINESS_UNIT,
    SANDBOX_TOKEN,
)

AUTH = {"Authorization": f"Bearer {SANDBOX_TOKEN}", "Pardot-Business-Unit-Id": SANDBOX_BUSINESS_UNIT}
START = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)


class Clock:
    """A clock that only moves when told to."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Answer:
    """A parsed Pardot answer: ``stat``, ``code`` (on failure) and the body as plain data."""

    status: int
    stat: str
    code: int | None
    message: str | None
    body: dict[str, Any]


def xml_to_data(element: Any) -> Any:
    """Children become dict keys, repeated children lists, leaves their text ('' when empty)."""
    children = list(element)
    if not children:
        return element.text or ""
    result: dict[str, Any] = {}
    for child in children:
        value = xml_to_data(child)
        if child.tag in result:
            if not isinstance(result[child.tag], list):
                result[child.tag] = [result[child.tag]]
            result[child.tag].append(value)
        else:
            result[child.tag] = value
    return result


def parse(response: httpx.Response) -> Answer:
    """Parse either format; XML goes through defusedxml."""
    if response.headers["content-type"].startswith("application/json"):
        data = response.json()
        attrs = data.pop("@attributes")
        return Answer(
            response.status_code, attrs["stat"], attrs.get("err_code"), data.get("err"), data
        )
    root = ElementTree.fromstring(response.content)
    assert root.tag == "rsp"
    if root.get("stat") == "fail":
        err = root.find("err")
        return Answer(response.status_code, "fail", int(err.get("code")), err.text, {})
    body = xml_to_data(root)
    return Answer(response.status_code, "ok", None, None, body if isinstance(body, dict) else {})


def send_form(**fields: Any) -> dict[str, Any]:
    """Form fields for a send, with arrays under their ``[]`` keys."""
    form: dict[str, Any] = {}
    for key, value in fields.items():
        if key in ("list_ids", "suppression_list_ids", "tags"):
            form[f"{key}[]"] = [str(v) for v in value]
        else:
            form[key] = str(value).lower() if isinstance(value, bool) else str(value)
    return form


def sandbox_json(client: httpx.Client, path: str) -> Any:
    return json.loads(client.get(path).content)
