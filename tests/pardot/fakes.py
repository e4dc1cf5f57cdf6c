"""Test doubles for the Pardot client tests (imported by conftest and the test modules).

``FakePardot`` is a tiny scripted Pardot for ``httpx.MockTransport``. It fakes the remote
API, not our code: each request pops the next scripted answer (a body, a status, or an
exception to raise as the transport would), and every request is recorded.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from orchestrator.pardot.client import PardotClient
from orchestrator.pardot.settings import ApiSettings, AuthSettings, StaticTokenAuth

BASE_URL = "https://pi.pardot.test"
BU = "0Uv000000TESTBUAAA"
TOKEN = "tok-STATIC-0123456789"


def ok_json(root: str, value: Any) -> dict[str, Any]:
    return {"@attributes": {"stat": "ok", "version": 1}, root: value}


def fail_json(code: int | str, message: str) -> dict[str, Any]:
    return {"@attributes": {"stat": "fail", "version": 1, "err_code": code}, "err": message}


EMAIL = {
    "id": 901,
    "name": "Autumn",
    "subject": "Autumn news",
    "message": {"text": "t %%unsubscribe%%", "html": ""},
    "created_at": "2026-11-27 10:00:00",
    "isOneToOne": "",
    "campaign_id": 77,
    "scheduled_time": "",
}


@dataclass
class Answer:
    """One scripted answer: a JSON document, raw bytes, or an exception to raise."""

    body: Any = None
    status: int = 200
    raises: Exception | None = None
    content_type: str = "application/json"
    on_request: Callable[[httpx.Request], None] | None = None


@dataclass
class FakePardot:
    """Answers requests in script order; with the script used up, repeats ``default``."""

    script: list[Answer] = field(default_factory=list)
    default: Answer | None = None
    requests: list[httpx.Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        with self.lock:
            self.requests.append(request)
            answer = self.script.pop(0) if self.script else self.default
        if answer is None:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        if answer.on_request is not None:
            answer.on_request(request)
        if answer.raises is not None:
            raise answer.raises
        if isinstance(answer.body, bytes):
            content = answer.body
        elif isinstance(answer.body, str):
            content = answer.body.encode()
        else:
            content = json.dumps(answer.body).encode()
        return httpx.Response(answer.status, content=content, headers={"content-type": answer.content_type})

    def paths(self) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.requests]


def make_settings(auth: AuthSettings | None = None, **overrides: Any) -> ApiSettings:
    values: dict[str, Any] = {
        "base_url": BASE_URL,
        "business_unit_id": BU,
        "auth": auth or StaticTokenAuth(TOKEN),
    }
    values.update(overrides)
    return ApiSettings(**values)


@dataclass
class Recorder:
    """A tracer and a fake ``sleep`` that record what the client did."""

    exchanges: list[tuple[str, int | None]] = field(default_factory=list)
    sleeps: list[float] = field(default_factory=list)

    def tracer(self, request: httpx.Request, response: httpx.Response | None) -> None:
        status = response.status_code if response is not None else None
        self.exchanges.append((f"{request.method} {request.url.path}", status))

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


ClientFactory = Callable[..., PardotClient]
