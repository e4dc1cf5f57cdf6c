"""The client against a hostile server on a loopback socket: size caps, deadlines, nesting.

Reproductions (issue 10), pointed at a fake server on 127.0.0.1: a 3 GB body was read whole
(MemoryError at 1.4 GB RSS); a response trickling one byte every 2 s hung past 45 s with no
overall deadline; ``[`` x 200,000 in JSON and 100,000 nested XML elements raised RecursionError.
Here the caps and deadlines are small (64 KiB, 1.5 s) so each case ends in about a second;
the server's own bounds make the old code end too (slowly, or with another error).
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
import tenacity

from orchestrator.errors import ApiAuthError, ApiOutcomeUnknown, ApiProtocolError, ApiTransientError
from orchestrator.pardot.client import PardotClient
from orchestrator.pardot.envelope import parse_envelope
from orchestrator.pardot.models import ListEmailSend
from orchestrator.pardot.settings import ApiSettings, ClientCredentialsAuth, StaticTokenAuth

from .hostile import answer, elapsed, endless, hostile, trickle

SEND = ListEmailSend(campaign_id=1001, list_ids=(2001,), email_template_id=4001)
TOKEN = "tok-hostile-0123456789"
CAP = 64 * 1024
#: What the server offers when it is told to send "3 GB": enough to tell reading-it-all apart.
OFFERED = 48 * 1024 * 1024
THREE_GB = 3 * 1024**3
#: Each exchange's deadline, and how long a test may take before we call it a hang.
DEADLINE = 1.5
HANG = DEADLINE + 2.5


def client_for(url: str, **overrides: Any) -> PardotClient:
    values: dict[str, Any] = {
        "base_url": url,
        "business_unit_id": "0Uv000000TESTBUAAA",
        "auth": StaticTokenAuth(TOKEN),
        "timeout_s": 1.0,
        "max_retries": 0,
        "max_response_bytes": CAP,
        "deadline_s": DEADLINE,
        "download_deadline_s": DEADLINE,
    }
    values.update(overrides)
    return PardotClient(ApiSettings(**values), env={}, retry_wait=tenacity.wait_none())


# --- body size caps ---------------------------------------------------------------------------


@pytest.mark.parametrize("declared", [THREE_GB, None], ids=["content-length-3GB", "no-length"])
def test_a_huge_answer_to_a_read_is_refused_at_the_cap(declared: int | None) -> None:
    with hostile(endless(declared=declared, offered=OFFERED)) as server:
        with client_for(server.url, max_retries=3) as client:
            with pytest.raises(ApiProtocolError, match="larger than the 65,536-byte limit") as caught:
                client.read_email(5)
            assert client.calls == 1  # not retried: the next answer would be as large
        server.close()
        assert TOKEN not in str(caught.value)
        # The client stopped reading at the cap: the server could not push its 48 MiB.
        assert server.hits[0].written < OFFERED // 4


def test_a_huge_answer_to_a_send_is_an_unknown_outcome() -> None:
    with hostile(endless(declared=None, offered=OFFERED)) as server, client_for(server.url, max_retries=3) as client:
        with pytest.raises(ApiOutcomeUnknown, match="larger than the 65,536-byte limit"):
            client.send_list_email(SEND)
        assert client.calls == 1


def test_an_answer_within_the_cap_is_read() -> None:
    body = b'{"@attributes": {"stat": "ok"}, "email": {"id": 5, "name": "n", "subject": "s"}}'
    with hostile(answer(body)) as server, client_for(server.url) as client:
        assert client.read_email(5).id == 5


def test_a_huge_oauth_answer_is_refused_at_its_own_cap() -> None:
    with hostile(endless(declared=None, offered=OFFERED)) as server:
        auth = ClientCredentialsAuth("CLIENT_ID", "CLIENT_SECRET", login_url=server.url)
        env = {"CLIENT_ID": "client-id-1", "CLIENT_SECRET": "client-secret-1"}
        settings = ApiSettings(
            server.url, "0Uv000000TESTBUAAA", auth, timeout_s=1.0, deadline_s=DEADLINE, max_token_response_bytes=CAP
        )
        with PardotClient(settings, env=env) as client, pytest.raises(ApiAuthError, match="65,536-byte limit"):
            client.read_email(5)


# --- the overall deadline --------------------------------------------------------------------


def test_a_read_trickled_one_byte_at_a_time_ends_at_the_deadline() -> None:
    with hostile(trickle(every_s=0.2, count=60)) as server, client_for(server.url, max_retries=5) as client:
        start = time.monotonic()
        with pytest.raises(ApiTransientError, match="deadline") as caught:
            client.read_email(5)
        took = elapsed(start)
    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)
    # Retries included: the deadline is the whole call's, so the five retries do not start.
    assert DEADLINE - 0.1 <= took < HANG
    assert len(server.hits) == 1


@pytest.mark.parametrize("headers_too", [False, True], ids=["body", "headers"])
def test_a_trickled_send_is_unknown_at_the_deadline(headers_too: bool) -> None:
    behaviour = trickle(every_s=0.2, count=60, headers_too=headers_too)
    with hostile(behaviour) as server, client_for(server.url, max_retries=5) as client:
        start = time.monotonic()
        with pytest.raises(ApiOutcomeUnknown, match="may or may not have been processed") as caught:
            client.send_list_email(SEND)
        took = elapsed(start)
        assert client.calls == 1  # the request was written: never retried
    assert "deadline" in str(caught.value)
    assert took < HANG


def test_a_trickled_export_download_ends_at_the_download_deadline() -> None:
    with hostile(trickle(every_s=0.2, count=60, content_type="text/csv")) as server, client_for(server.url) as client:
        url = f"{server.url}/api/export/version/4/do/downloadResults/id/7/file/1"
        start = time.monotonic()
        received: list[bytes] = []
        with pytest.raises(ApiTransientError, match="deadline"), client.export_download(url) as chunks:
            received.extend(chunks)
        took = elapsed(start)
    assert 0 < len(b"".join(received)) < 60
    assert took < HANG


def test_the_deadline_backend_is_installed_under_httpx() -> None:
    """Guards the one use of httpx/httpcore internals: an upgrade that breaks it fails here."""
    from orchestrator.pardot.transport import DeadlineBackend

    with client_for("http://127.0.0.1:9") as client:
        pool = client._http._transport._pool  # type: ignore[attr-defined]
        assert isinstance(pool._network_backend, DeadlineBackend)


# --- nesting -----------------------------------------------------------------------------------

DEEP_JSON = b"[" * 200_000
DEEP_OBJECT = b'{"a":' * 200_000
DEEP_XML = b'<rsp stat="ok">' + b"<a>" * 100_000 + b"</a>" * 100_000 + b"</rsp>"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(DEEP_JSON, "application/json"), (DEEP_OBJECT, "application/json"), (DEEP_XML, "text/xml")],
    ids=["json-array", "json-object", "xml"],
)
def test_deep_nesting_from_a_server_is_a_protocol_error(body: bytes, content_type: str) -> None:
    with (
        hostile(answer(body, content_type)) as server,
        client_for(server.url, max_response_bytes=1 << 20) as client,
        pytest.raises(ApiProtocolError, match="nests deeper than 100"),
    ):
        client.read_email(5)


def test_deep_nesting_in_answer_to_a_send_is_an_unknown_outcome() -> None:
    with (
        hostile(answer(DEEP_JSON)) as server,
        client_for(server.url, max_response_bytes=1 << 20) as client,
        pytest.raises(ApiOutcomeUnknown),
    ):
        client.send_list_email(SEND)


@pytest.mark.parametrize("depth", [99, 100])
def test_nesting_up_to_the_limit_is_accepted(depth: int) -> None:
    inner = b'{"a":' * (depth - 1) + b"1" + b"}" * (depth - 1)
    assert parse_envelope(b'{"@attributes": {"stat": "ok"}, "x": ' + inner + b"}").ok
    xml = b'<rsp stat="ok">' + b"<a>" * (depth - 1) + b"x" + b"</a>" * (depth - 1) + b"</rsp>"
    assert parse_envelope(xml).ok


def test_nesting_past_the_limit_is_refused() -> None:
    inner = b'{"a":' * 100 + b"1" + b"}" * 100
    with pytest.raises(ApiProtocolError, match="JSON response nests deeper than 100 levels"):
        parse_envelope(b'{"@attributes": {"stat": "ok"}, "x": ' + inner + b"}")
    xml = b'<rsp stat="ok">' + b"<a>" * 100 + b"x" + b"</a>" * 100 + b"</rsp>"
    with pytest.raises(ApiProtocolError, match="XML response nests deeper than 100 elements"):
        parse_envelope(xml)


def test_deep_json_inside_send_from_data_is_a_protocol_error() -> None:
    """``sendFromData`` is a JSON document inside a string (§3.4): bounded as well."""
    import json

    template = {"id": 1, "name": "t", "sendOptions": {"sendFromData": "[" * 200_000}}
    body = json.dumps({"@attributes": {"stat": "ok"}, "emailTemplate": template}).encode()
    with (
        hostile(answer(body)) as server,
        client_for(server.url, max_response_bytes=1 << 20) as client,
        pytest.raises(ApiProtocolError, match="sendFromData"),
    ):
        client.read_template(1)


# --- download origin ----------------------------------------------------------------------------


def test_a_download_on_another_port_of_the_same_host_gets_no_token() -> None:
    """Before: only the host was compared, so the token went to 127.0.0.1:<other port>."""
    csv = answer(b"id\n1\n", "text/csv")
    with hostile(csv) as api, hostile(csv) as other, client_for(api.url) as client:
        url = f"{other.url}/api/export/version/4/do/downloadResults/id/7/file/1"
        with pytest.raises(ApiProtocolError, match="refusing to send credentials"):  # noqa: SIM117
            with client.export_download(url):
                pass
        other.close()
        assert other.hits == []
        # The API's own origin is fine.
        with client.export_download(f"{api.url}/api/export/version/4/do/downloadResults/id/7/file/1") as chunks:
            assert b"".join(chunks) == b"id\n1\n"
