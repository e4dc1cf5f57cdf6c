"""Who may use a served sandbox's control routes, and how large a request may be (issue 17).

Against a real loopback server (``orchestrator.sandbox.serve``): a page in the user's browser
could POST ``text/plain`` to ``/_sandbox/clock`` with any ``Host`` (DNS rebinding) and move the
sandbox clock; a 1 GB POST cost 2.1 GB of memory. Now a control route needs a loopback ``Host``
with the server's port, a state-changing one the token and JSON, and every body is capped.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest
from sandbox_helpers import AUTH

from orchestrator.sandbox import SANDBOX_BASE_URL, SANDBOX_TOKEN, SandboxApp, SandboxServer, inprocess_transport, serve
from orchestrator.sandbox.control import MAX_API_BODY, MAX_CONTROL_BODY

TOKEN = {"Authorization": f"Bearer {SANDBOX_TOKEN}"}
SEND = "/api/email/version/4/do/send"


@pytest.fixture
def server(app: SandboxApp) -> Iterator[SandboxServer]:
    with serve(app) as running:
        yield running


def _now(server: SandboxServer) -> str:
    now: str = httpx.get(f"{server.url}/_sandbox/clock", timeout=10).json()["now"]
    return now


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        # what a web page can send without a CORS preflight: text/plain, no credentials
        ({"Content-Type": "text/plain"}, b'{"advance_seconds": 86400}', 401),
        ({**TOKEN, "Content-Type": "text/plain"}, b'{"advance_seconds": 86400}', 415),
        ({**TOKEN, "Content-Type": "application/x-www-form-urlencoded"}, b"advance_seconds=86400", 415),
        ({"Authorization": "Bearer wrong", "Content-Type": "application/json"}, b'{"advance_seconds": 86400}', 401),
    ],
)
def test_moving_the_clock_needs_the_token_and_json(
    server: SandboxServer, headers: dict[str, str], body: bytes, status: int
) -> None:
    before = _now(server)
    answer = httpx.post(f"{server.url}/_sandbox/clock", content=body, headers=headers, timeout=10)
    assert answer.status_code == status, answer.text
    assert "error" in answer.json()
    assert _now(server) == before  # the fixture's clock stands still: nothing moved it


def test_with_the_token_and_json_the_clock_moves(server: SandboxServer) -> None:
    moved = httpx.post(f"{server.url}/_sandbox/clock", json={"set": "2027-01-01T00:00:00Z"}, headers=TOKEN, timeout=10)
    assert moved.status_code == 200
    assert _now(server).startswith("2027-01-01T00:00:00")


@pytest.mark.parametrize(
    "host",
    [
        "evil.example:{port}",  # a rebound page's own name
        "evil.example",
        "127.0.0.1:{other}",  # loopback, but not this server's port
        "10.0.0.8:{port}",  # an address, but not loopback
        "localhost.evil.example:{port}",
        "[::2]:{port}",
        "bad host:{port}",
    ],
)
def test_control_routes_need_a_loopback_host_with_the_servers_port(server: SandboxServer, host: str) -> None:
    shown = host.format(port=server.port, other=server.port + 1)
    for method, path, body in (
        ("GET", "/_sandbox/emails", None),
        ("GET", "/_sandbox/requests", None),
        ("POST", "/_sandbox/clock", {"advance_seconds": 60}),
        ("DELETE", "/_sandbox/emails/70001", None),
    ):
        answer = httpx.request(method, f"{server.url}{path}", headers={**TOKEN, "Host": shown}, json=body, timeout=10)
        assert answer.status_code == 403, (method, path, answer.text)
        assert "Host" in answer.json()["error"]


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST:{port}", "127.8.9.10:{port}"])
def test_loopback_hosts_read_the_control_routes(server: SandboxServer, host: str) -> None:
    answer = httpx.get(f"{server.url}/_sandbox/emails", headers={"Host": host.format(port=server.port)}, timeout=10)
    assert answer.status_code == 200
    assert answer.json() == {"emails": []}


@pytest.mark.parametrize(
    ("host", "status"), [("evil.example:{port}", 403), ("localhost:{port}", 200), ("10.1.2.3:9", 200)]
)
def test_api_routes_refuse_a_host_name_other_than_localhost(server: SandboxServer, host: str, status: int) -> None:
    """A rebound page would send its own name; a client elsewhere addresses the server by IP."""
    read = "/api/emailTemplate/version/4/do/read/id/4001"
    answer = httpx.get(f"{server.url}{read}?format=json", headers={**AUTH, "Host": host.format(port=server.port)})
    assert answer.status_code == status, answer.text


def _raw_post(server: SandboxServer, path: str, declared: int, sent: int) -> bytes:
    """POST declaring ``declared`` bytes but sending only ``sent``, then read the answer."""
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {declared}\r\n\r\n"
        )
        sock.sendall(head.encode() + b"a" * sent)
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer.partition(b"\r\n\r\n")[2]) < _length(answer):
            chunk = sock.recv(4096)  # the server keeps the connection open, waiting for the rest
            if not chunk:
                break
            answer += chunk
        return answer


def _length(answer: bytes) -> int:
    for line in answer.partition(b"\r\n\r\n")[0].split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


@pytest.mark.parametrize(("path", "limit"), [(SEND, MAX_API_BODY), ("/_sandbox/clock", MAX_CONTROL_BODY)])
def test_a_declared_oversized_body_is_refused_before_it_is_read(server: SandboxServer, path: str, limit: int) -> None:
    """The reported 1 GB POST: answered 413 after a megabyte, so the rest was never needed."""
    answer = _raw_post(server, path, declared=1 << 30, sent=1 << 20)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert f"request body over {limit} bytes".encode() in answer


def test_a_chunked_oversized_body_is_refused(server: SandboxServer) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(MAX_API_BODY // 65536 + 2):
            yield b"a" * 65536

    headers = {**AUTH, "Content-Type": "application/x-www-form-urlencoded"}
    answer = httpx.post(f"{server.url}{SEND}", content=chunks(), headers=headers, timeout=60)
    assert answer.status_code == 413
    assert httpx.get(f"{server.url}/_sandbox/emails", timeout=10).json() == {"emails": []}


def test_a_chunked_body_under_the_limit_is_read_whole(server: SandboxServer) -> None:
    form = (
        b"format=json&campaign_id=1001&list_ids%5B%5D=2001&name=chunked&subject=Hi&from_email=a%40example.com"
        b"&from_name=A&text_content=Bye+%25%25unsubscribe%25%25"
    )
    headers = {**AUTH, "Content-Type": "application/x-www-form-urlencoded"}
    answer = httpx.post(f"{server.url}{SEND}", content=iter([form]), headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.json()["email"]["name"] == "chunked"


def test_the_largest_send_the_orchestrator_renders_fits_under_the_cap() -> None:
    """1 Mi rendered characters (render.MAX_OUTPUT_CHARS), each at worst 12 bytes form-encoded."""
    from orchestrator.render_budget import MAX_OUTPUT_CHARS

    assert MAX_OUTPUT_CHARS * 12 + 64 * 1024 <= MAX_API_BODY


def test_in_process_the_token_is_still_required_but_not_the_host(app: SandboxApp) -> None:
    with httpx.Client(transport=inprocess_transport(app), base_url=SANDBOX_BASE_URL) as client:
        assert client.get("/_sandbox/emails").status_code == 200  # Host sandbox.local: no socket, no page
        assert client.post("/_sandbox/clock", json={"advance_seconds": 60}).status_code == 401
        assert client.post("/_sandbox/clock", json={"advance_seconds": 60}, headers=TOKEN).status_code == 200
