"""Level 3: the client against the sandbox on a real loopback socket (orchestrator.sandbox.serve).

Only what needs real sockets: timeouts, dropped connections, connection refused, and the
in-flight limit across threads. Latencies are far from the timeouts they are compared with,
so the outcomes do not depend on the machine's speed.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import tenacity

from orchestrator.errors import ApiOutcomeUnknown, ApiTransientError
from orchestrator.pardot.client import PardotClient
from orchestrator.pardot.models import ListEmailSend
from orchestrator.pardot.settings import ApiSettings, StaticTokenAuth
from orchestrator.sandbox import (
    SANDBOX_BUSINESS_UNIT,
    SANDBOX_TOKEN,
    FaultConfig,
    SandboxApp,
    SandboxServer,
    serve,
)

SEND = ListEmailSend(campaign_id=1001, list_ids=(2001,), email_template_id=4001)


@contextmanager
def running(faults: FaultConfig = FaultConfig()) -> Iterator[SandboxServer]:
    app = SandboxApp(faults=faults)
    server = serve(app)
    try:
        yield server
    finally:
        server.shutdown()
        app.close()


def client_for(url: str, **overrides: Any) -> PardotClient:
    values: dict[str, Any] = {
        "base_url": url,
        "business_unit_id": SANDBOX_BUSINESS_UNIT,
        "auth": StaticTokenAuth(SANDBOX_TOKEN),
    }
    values.update(overrides)
    return PardotClient(ApiSettings(**values), env={}, retry_wait=tenacity.wait_none())


def inspect(server: SandboxServer, path: str) -> Any:
    return httpx.get(server.url + path, timeout=10).json()


def settled(server: SandboxServer, count: int) -> list[dict[str, Any]]:
    """The request log once ``count`` requests have finished on the server (bounded wait)."""
    deadline = time.monotonic() + 15
    while True:
        log: list[dict[str, Any]] = inspect(server, "/_sandbox/requests")["requests"]
        if sum(r["status"] is not None for r in log) >= count or time.monotonic() > deadline:
            return log
        time.sleep(0.05)


def test_plain_http_to_loopback_needs_no_insecure_flag() -> None:
    with running() as server, client_for(server.url) as client:
        assert client.read_template(4001).id == 4001
        assert server.url.startswith("http://127.0.0.1:")


def test_send_that_times_out_is_unknown_and_not_retried() -> None:
    with running(FaultConfig(latency_ms=1500)) as server:
        with client_for(server.url, timeout_s=0.2) as client:
            with pytest.raises(ApiOutcomeUnknown) as caught:
                client.send_list_email(SEND)
            assert isinstance(caught.value.__cause__, httpx.ReadTimeout)
            assert client.calls == 1
        # The server finished the send after the client gave up: the outcome really was open.
        assert [r["status"] for r in settled(server, 1)] == [200]
        assert len(inspect(server, "/_sandbox/emails")["emails"]) == 1


def test_read_that_times_out_is_retried() -> None:
    with running(FaultConfig(latency_ms=1500)) as server:
        with client_for(server.url, timeout_s=0.2, max_retries=2) as client:
            with pytest.raises(ApiTransientError) as caught:
                client.read_template(4001)
            assert isinstance(caught.value.__cause__, httpx.ReadTimeout)
            assert client.calls == 3
        assert len(settled(server, 3)) == 3


@pytest.mark.parametrize(("kind", "created"), [("drop-before", 0), ("drop-after", 1)])
def test_dropped_connection_leaves_a_send_unknown(kind: str, created: int) -> None:
    with running(FaultConfig(rates={kind: 1.0})) as server:
        with client_for(server.url) as client:
            with pytest.raises(ApiOutcomeUnknown) as caught:
                client.send_list_email(SEND)
            assert isinstance(caught.value.__cause__, httpx.TransportError)
            assert client.calls == 1
        # drop-after processed the send before hanging up: exactly why it is never retried.
        assert len(inspect(server, "/_sandbox/emails")["emails"]) == created


def test_dropped_connections_on_reads_are_retried() -> None:
    with running(FaultConfig(rates={"drop-before": 0.5, "drop-after": 0.3}, seed=11)) as server:
        with client_for(server.url, max_retries=20) as client:
            for _ in range(5):
                assert client.read_template(4001).id == 4001
        faults = {r["fault"] for r in inspect(server, "/_sandbox/requests")["requests"]}
    assert {"drop-before", "drop-after"} <= faults


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_connection_refused_proves_nothing_was_sent_so_a_send_retries() -> None:
    with client_for(f"http://127.0.0.1:{_free_port()}", max_retries=2) as client:
        with pytest.raises(ApiTransientError) as caught:
            client.send_list_email(SEND)
        assert isinstance(caught.value.__cause__, httpx.ConnectError)
        assert client.calls == 3


def _hammer(client: PardotClient, threads: int) -> list[BaseException]:
    errors: list[BaseException] = []

    def work() -> None:
        try:
            client.read_template(4001)
        except BaseException as exc:  # pragma: no cover - reported by the caller
            errors.append(exc)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    return errors


def test_twenty_threads_through_one_client_stay_within_five_in_flight() -> None:
    with running(FaultConfig(latency_ms=100)) as server:
        with client_for(server.url) as client:
            assert _hammer(client, 20) == []
            assert client.calls == 20
        stats = inspect(server, "/_sandbox/stats")
        log = inspect(server, "/_sandbox/requests")["requests"]
    assert 1 < stats["max_in_flight"] <= 5
    assert [r for r in log if r["err_code"] == 66] == []


def test_without_the_limit_the_sandbox_would_refuse_with_66() -> None:
    """Control: the same load with a limit of 20 overloads the sandbox (so the test above can fail)."""
    with running(FaultConfig(latency_ms=100)) as server:
        with client_for(server.url, max_in_flight=20, max_retries=50) as client:
            assert _hammer(client, 20) == []
        log = inspect(server, "/_sandbox/requests")["requests"]
    assert any(r["err_code"] == 66 for r in log)
