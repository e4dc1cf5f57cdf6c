"""Fault injection (deterministic), the daily limit, and the real loopback server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sandbox_helpers import AUTH, Clock, parse, send_form

from orchestrator.sandbox import (
    FAULT_KINDS,
    SANDBOX_BASE_URL,
    FaultConfig,
    SandboxApp,
    inprocess_transport,
    serve,
)
from orchestrator.sandbox.faults import FaultPlan

SEND = "/api/email/version/4/do/send"
FORM = {"format": "json", **send_form(campaign_id=1001, list_ids=[2001], email_template_id=4001)}
READ = "/api/emailTemplate/version/4/do/read/id/4001"


def sandbox_client(app: SandboxApp) -> httpx.Client:
    return httpx.Client(transport=inprocess_transport(app), base_url=SANDBOX_BASE_URL, headers=AUTH)


def recorded(client: httpx.Client) -> int:
    return len(client.get("/_sandbox/emails").json()["emails"])


def test_fault_draws_are_deterministic_per_seed() -> None:
    rates = dict.fromkeys(FAULT_KINDS, 0.1)
    first = [FaultPlan(FaultConfig(rates=rates, seed=7)).next_fault() for _ in range(1)]
    plan_a, plan_b = FaultPlan(FaultConfig(rates=rates, seed=7)), FaultPlan(FaultConfig(rates=rates, seed=7))
    seq_a = [plan_a.next_fault() for _ in range(300)]
    seq_b = [plan_b.next_fault() for _ in range(300)]
    other = FaultPlan(FaultConfig(rates=rates, seed=8))
    seq_c = [other.next_fault() for _ in range(300)]
    assert seq_a == seq_b and seq_a[:1] == first
    assert seq_a != seq_c
    assert set(seq_a) == {None, *FAULT_KINDS}  # every kind shows up at these rates
    assert 0.3 < seq_a.count(None) / 300 < 0.8


@pytest.mark.parametrize(("rate", "expected"), [(0.0, {None}), (1.0, {"error183"})])
def test_rates_zero_and_one(rate: float, expected: set[str | None]) -> None:
    plan = FaultPlan(FaultConfig(rates={"error183": rate}))
    assert {plan.next_fault() for _ in range(50)} == expected


@pytest.mark.parametrize("bad", [{"error99": 0.5}, {"error66": 1.5}, {"http500": -0.1}])
def test_fault_config_is_validated(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        FaultConfig(rates=bad)


def test_same_seed_same_answers_through_the_app() -> None:
    def run() -> list[int | None]:
        app = SandboxApp(faults=FaultConfig(rates={"error66": 0.3, "error183": 0.3}, seed=42))
        with sandbox_client(app) as c:
            return [parse(c.get(READ, params={"format": "json"})).code for _ in range(40)]

    first, second = run(), run()
    assert first == second
    assert {66, 183, None} == set(first)


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize(("kind", "code"), [("error66", 66), ("error183", 183)])
def test_error_faults_answer_with_their_code_and_record_nothing(kind: str, code: int, fmt: str) -> None:
    app = SandboxApp(faults=FaultConfig(rates={kind: 1.0}))
    with sandbox_client(app) as c:
        answer = parse(c.post(SEND, data={**FORM, "format": fmt}))
        assert (answer.stat, answer.code) == ("fail", code)
        assert recorded(c) == 0


def test_http500_fault_has_no_envelope() -> None:
    with sandbox_client(SandboxApp(faults=FaultConfig(rates={"http500": 1.0}))) as c:
        response = c.post(SEND, data=FORM)
        assert response.status_code == 500
        assert response.headers["content-type"].startswith("text/html")
        assert recorded(c) == 0


@pytest.mark.parametrize(("kind", "emails"), [("drop-before", 0), ("drop-after", 1)])
def test_drops_in_process_look_like_a_dropped_connection(kind: str, emails: int) -> None:
    with sandbox_client(SandboxApp(faults=FaultConfig(rates={kind: 1.0}))) as c:
        with pytest.raises(httpx.RemoteProtocolError, match="Server disconnected"):
            c.post(SEND, data=FORM)
        assert recorded(c) == emails
        log = c.get("/_sandbox/requests").json()["requests"]
        assert (log[-1]["fault"], log[-1]["status"]) == (kind, None)


def test_daily_limit_answers_122_until_the_next_day() -> None:
    clock = Clock()
    app = SandboxApp(clock=clock, faults=FaultConfig(daily_limit=3))
    with sandbox_client(app) as c:
        codes = [parse(c.get(READ, params={"format": "json"})).code for _ in range(5)]
        assert codes == [None, None, None, 122, 122]
        clock.advance(86400)
        assert parse(c.get(READ, params={"format": "json"})).code is None


def test_daily_usage_survives_between_commands(tmp_path: Path) -> None:
    db = tmp_path / "sandbox.db"
    for expected in ([None, None], [122]):
        app = SandboxApp(db_path=db, clock=Clock(), faults=FaultConfig(daily_limit=2))
        with sandbox_client(app) as c:
            assert [parse(c.get(READ, params={"format": "json"})).code for _ in expected] == expected
        app.close()


def test_faults_never_touch_sandbox_routes() -> None:
    rates = {"drop-before": 1.0}
    with sandbox_client(SandboxApp(faults=FaultConfig(rates=rates, daily_limit=0))) as c:
        assert c.get("/_sandbox/emails").status_code == 200
        assert c.get("/_sandbox/stats").json() == {"max_in_flight": 0, "requests": 0}


# -- over a real loopback server -------------------------------------------------------------


@pytest.fixture
def slow_server() -> Iterator[str]:
    app = SandboxApp(faults=FaultConfig(latency_ms=1500))
    with serve(app) as server:
        yield server.url
    app.close()


def test_sixth_concurrent_request_is_refused_with_66(slow_server: str) -> None:
    barrier = threading.Barrier(6)
    results: list[Any] = []
    lock = threading.Lock()

    def call() -> None:
        with httpx.Client(base_url=slow_server, headers=AUTH, timeout=20) as c:
            barrier.wait(timeout=10)
            answer = parse(c.get(READ, params={"format": "json"}))
        with lock:
            results.append(answer.code)

    threads = [threading.Thread(target=call) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(results, key=str) == [66, None, None, None, None, None]
    stats = httpx.get(f"{slow_server}/_sandbox/stats").json()
    assert stats == {"max_in_flight": 6, "requests": 6}


@pytest.mark.parametrize(("kind", "emails"), [("drop-before", 0), ("drop-after", 1)])
def test_drops_over_a_real_socket(kind: str, emails: int) -> None:
    app = SandboxApp(faults=FaultConfig(rates={kind: 1.0}))
    with serve(app) as server, httpx.Client(base_url=server.url, headers=AUTH, timeout=10) as c:
        with pytest.raises(httpx.RemoteProtocolError):
            c.post(SEND, data=FORM)
        assert recorded(c) == emails
    app.close()


def test_real_server_serves_both_formats() -> None:
    app = SandboxApp()
    with serve(app) as server, httpx.Client(base_url=server.url, headers=AUTH, timeout=10) as c:
        assert server.url.startswith("http://127.0.0.1:")
        assert parse(c.post(SEND, data=FORM)).stat == "ok"
        assert parse(c.get(READ)).body["emailTemplate"]["name"] == "welcome"
    app.close()
