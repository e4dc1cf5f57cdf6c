"""A pull request's links cannot make ``validate --check-links`` probe the runner's own network.

Loopback spellings are tried against a real loopback server that counts the connections it
accepts: it must count none. Private and link-local addresses are never contacted by a test:
``socket.create_connection`` (what httpcore opens connections with) is replaced by one that
records every attempt and refuses all but the loopback servers opted in, and names reach those
addresses only through a ``socket.getaddrinfo`` that answers from a table.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.linkcheck import LinkLimits, _allow_loopback_for_tests, check_urls
from orchestrator.public_http import AddressGuard, RefusedAddress, is_public, literal_address
from tests.helpers import NOW, run

CASES = Path(__file__).resolve().parents[1] / "cases"
LIMITS = LinkLimits(concurrency=4, timeout_s=5, deadline_s=30)


class _Handler(BaseHTTPRequestHandler):
    """``/to?url=U`` redirects to U; anything else answers 200 and records its ``Host`` header."""

    server: _Server

    def _answer(self) -> None:
        self.server.hosts.append(self.headers.get("Host", ""))
        target = parse_qs(urlsplit(self.path).query).get("url")
        if self.path.startswith("/to") and target:
            self.send_response(302)
            self.send_header("Location", target[0])
        else:
            self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_HEAD = _answer
    do_GET = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    """A loopback HTTP server that counts every TCP connection it accepts, before any byte is read."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.connections = 0
        self.hosts: list[str] = []

    def verify_request(self, request: Any, client_address: Any) -> bool:
        self.connections += 1
        return True

    @property
    def port(self) -> int:
        return int(self.server_address[1])


@pytest.fixture()
def counter() -> Iterator[_Server]:
    """The target every hostile link aims at; never opted in."""
    yield from _serve()


@pytest.fixture()
def redirector() -> Iterator[_Server]:
    """A server the test opts in (it stands for a public site): it redirects wherever it is told."""
    for server in _serve():
        with _allow_loopback_for_tests(("127.0.0.1", server.port)):
            yield server


def _serve() -> Iterator[_Server]:
    server = _Server()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Network:
    """What the link check asked of the operating system: lookups and connection attempts."""

    names: dict[str, list[str]] = field(default_factory=dict)
    lookups: list[str] = field(default_factory=list)
    connects: list[tuple[str, int]] = field(default_factory=list)
    reroute: dict[tuple[str, int], tuple[str, int]] = field(default_factory=dict)


@pytest.fixture()
def network(monkeypatch: pytest.MonkeyPatch) -> Network:
    """``getaddrinfo`` answers from ``Network.names``; ``create_connection`` records every attempt and
    refuses it unless it is loopback (or ``reroute``d to loopback): no packet leaves the machine."""
    seen = Network()
    real_lookup, real_connect = socket.getaddrinfo, socket.create_connection

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        seen.lookups.append(str(host))
        if isinstance(host, str) and host in seen.names:
            return [
                (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                for a in seen.names[host]
            ]
        return real_lookup(host, port, *args, **kwargs)

    def create_connection(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        seen.connects.append((str(address[0]), int(address[1])))
        target = seen.reroute.get(address, address)
        try:
            loopback = ipaddress.ip_address(target[0]).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ConnectionRefusedError(f"the test refused a connection to {address}")
        return real_connect(target, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    return seen


LOOPBACK_SPELLINGS = (
    "127.0.0.1",
    "2130706433",  # 127.0.0.1 as one number
    "0x7f.1",
    "127.1",
    "017700000001",  # octal
    "0x7f000001",
    "127.0.0.1.",
    "[::ffff:127.0.0.1]",
    "[::ffff:7f00:1]",
    "user:secret@127.0.0.1",
    "localhost",
    "LocalHost",
    "[::1]",
)


def test_every_loopback_spelling_is_refused_without_a_connection(counter: _Server) -> None:
    urls = [f"http://{host}:{counter.port}/admin" for host in LOOPBACK_SPELLINGS]
    results = check_urls(urls, LIMITS)
    assert counter.connections == 0
    for url in urls:
        assert results[url].describe().startswith("not checked: "), url
        assert results[url].describe().endswith("is a private/loopback address"), url


def test_redirects_to_loopback_private_and_metadata_addresses_are_refused(
    counter: _Server, redirector: _Server, network: Network
) -> None:
    network.names["intranet.example"] = ["10.0.0.1"]
    targets = {
        f"http://127.0.0.1:{counter.port}/": "127.0.0.1",
        f"http://2130706433:{counter.port}/": "2130706433",
        f"http://[::ffff:127.0.0.1]:{counter.port}/": "::ffff:127.0.0.1",
        "http://169.254.169.254/latest/meta-data/": "169.254.169.254",
        "http://10.0.0.1:8080/": "10.0.0.1",
        "http://192.168.1.1/": "192.168.1.1",
        "https://intranet.example/": "intranet.example",
    }
    base = f"http://127.0.0.1:{redirector.port}/to?url="
    results = check_urls([base + target for target in targets], LIMITS)
    for target, host in targets.items():
        assert results[base + target].describe() == (
            f"not checked: {host} is a private/loopback address (after a redirect)"
        )
    assert counter.connections == 0
    assert {address for address in network.connects} == {("127.0.0.1", redirector.port)}


PRIVATE = (
    "10.0.0.1:8080",
    "169.254.169.254",
    "192.168.1.1",
    "172.16.0.1",
    "100.64.0.1",  # carrier-grade NAT
    "0.0.0.0",
    "224.0.0.1",  # multicast
    "255.255.255.255",
    "[fe80::1]",
    "[fd00::1]",
    "[fec0::1]",  # site-local
    "[::]",
    "[ff02::1]",
    "[::ffff:10.0.0.1]",
    "[::ffff:169.254.169.254]",
    "[2002:a00:1::]",  # 6to4 of 10.0.0.1
    "[64:ff9b::a9fe:a9fe]",  # NAT64 of 169.254.169.254
    "0xa9fea9fe",  # 169.254.169.254 as one hexadecimal number
    "10.1",  # 10.0.0.1, short form
    "intranet.example",
    "mixed.example",  # one public address and one private: refused
)


def test_private_link_local_and_reserved_addresses_are_refused_before_connecting(network: Network) -> None:
    network.names["intranet.example"] = ["10.0.0.1"]
    network.names["mixed.example"] = ["93.184.216.34", "10.0.0.1"]
    urls = [f"http://{host}/" for host in PRIVATE]
    results = check_urls(urls, LIMITS)
    assert network.connects == []
    assert {url: r.describe() for url, r in results.items() if "private/loopback" not in r.describe()} == {}
    assert sorted(network.lookups) == ["intranet.example", "mixed.example"]  # numbers are read, not looked up


def test_the_connection_goes_to_the_address_checked_and_the_host_header_keeps_the_name(
    counter: _Server, network: Network
) -> None:
    """One lookup, a connection to that address (not the name again), ``Host`` still the name."""
    network.names["www.example.com"] = ["93.184.216.34"]
    network.reroute[("93.184.216.34", 80)] = ("127.0.0.1", counter.port)  # stands in for the public host
    results = check_urls(["http://www.example.com/page"], LIMITS)
    assert results["http://www.example.com/page"].describe() == "answered HTTP 200"
    assert [name for name in network.lookups if literal_address(name) is None] == ["www.example.com"]
    assert network.connects == [("93.184.216.34", 80)]
    assert counter.hosts == ["www.example.com"]


def test_tls_names_the_host_the_link_names_not_the_address(network: Network) -> None:
    """The TLS ClientHello (plain text on the wire) carries the link's name as SNI."""
    hello: list[bytes] = []
    with socket.create_server(("127.0.0.1", 0)) as listener:

        def accept_one() -> None:
            connection, _ = listener.accept()
            with connection:
                hello.append(connection.recv(4096))

        reader = threading.Thread(target=accept_one, daemon=True)
        reader.start()
        network.names["secure.example.com"] = ["93.184.216.34"]
        network.reroute[("93.184.216.34", 443)] = ("127.0.0.1", listener.getsockname()[1])
        results = check_urls(["https://secure.example.com/"], LIMITS)
        reader.join(10)
    assert results["https://secure.example.com/"].broken  # our listener speaks no TLS
    assert network.connects == [("93.184.216.34", 443)]
    assert hello and b"secure.example.com" in hello[0]


def test_validate_reports_refused_links_as_not_checked_and_nothing_about_ports(
    counter: _Server, network: Network, tmp_path: Path
) -> None:
    root = tmp_path / "project"
    (root / "campaigns").mkdir(parents=True)
    config = yaml.safe_load((CASES / "base.orchestrator.yaml").read_text())
    config["policy"]["lints"] = {"insecure-url": "off"}
    (root / "orchestrator.yaml").write_text(yaml.safe_dump(config))
    (root / "campaigns" / "probe.yaml").write_text(
        f"""\
name: probe
campaign: spring-2027
lists: [newsletter]
sender: {{name: Acme, email: news@example.com}}
subject: Hello
text: |
  http://127.1:{counter.port}/ http://10.0.0.1:22/ http://169.254.169.254/latest/meta-data/
  %%unsubscribe%%
schedule: {{now: true}}
"""
    )
    code, out, err = run(root, "validate", "--check-links", "--format", "github", "--now", NOW)
    assert code == 0, out + err
    notes = [line for line in out.splitlines() if "broken-link" in line]
    assert len(notes) == 3
    assert all("is a private/loopback address" in line for line in notes)
    assert not any(word in out.lower() for word in ("refused", "http 2", "http 4", "timed out"))
    assert counter.connections == 0 and network.connects == []


@pytest.mark.parametrize(
    ("spelling", "address"),
    [
        ("127.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("127.0.0.1.", "127.0.0.1"),
        ("[::ffff:127.0.0.1]", "::ffff:7f00:1"),
        ("10.1", "10.0.0.1"),
        ("www.example.com", None),
        ("127.0.0.1.nip.io", None),
    ],
)
def test_numeric_hosts_are_read_as_the_resolver_reads_them(spelling: str, address: str | None) -> None:
    assert literal_address(spelling) == (None if address is None else ipaddress.ip_address(address))


def test_public_addresses_pass_and_ipv4_inside_ipv6_is_judged_as_itself() -> None:
    for text in ("93.184.216.34", "2606:2800:220:1::", "::ffff:93.184.216.34", "64:ff9b::5db8:d822"):
        assert is_public(ipaddress.ip_address(text)), text
    assert not is_public(ipaddress.ip_address("2002:7f00:1::"))  # 6to4 wrapping 127.0.0.1


def test_only_loopback_sockets_can_be_opted_in() -> None:
    with pytest.raises(ValueError, match="only loopback"):
        AddressGuard.allowing([("10.0.0.1", 80)])
    guard = AddressGuard.allowing([("127.0.0.1", 8080)])
    assert guard.addresses("127.0.0.1", 8080, None) == [ipaddress.ip_address("127.0.0.1")]
    with pytest.raises(RefusedAddress):
        guard.addresses("127.0.0.1", 8081, None)  # another port of the same address


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_every_spelling_of_an_ipv4_address_is_judged_as_that_address(number: int) -> None:
    """Decimal, hexadecimal and dotted forms of one address: all refused, or all allowed, together."""
    address = ipaddress.IPv4Address(number)
    spellings = (str(address), str(number), hex(number), f"{number >> 24}.{number & 0xFFFFFF}")
    guard = AddressGuard()
    for spelling in spellings:
        assert literal_address(spelling) == address
        if is_public(address):
            assert guard.addresses(spelling, 80, None) == [address]
        else:
            with pytest.raises(RefusedAddress):
                guard.addresses(spelling, 80, None)
