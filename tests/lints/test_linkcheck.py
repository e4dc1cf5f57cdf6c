"""``validate --check-links`` against loopback servers only: statuses, redirects, timeouts, once per URL.

The servers a test reads from are opted in with the private ``_allow_loopback_for_tests`` hook;
by default the link check refuses loopback (tests/lints/test_linkcheck_ssrf.py).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from orchestrator.linkcheck import LinkLimits, _allow_loopback_for_tests, check_urls
from tests.helpers import NOW, run

CASES = Path(__file__).resolve().parents[1] / "cases"
SEEN: Counter[tuple[str, str]] = Counter()


class _Handler(BaseHTTPRequestHandler):
    """/ok 200, /gone 404, /broken 500, /slow (answers after 2 s), /moved -> /ok, /loop -> itself,
    /get-only (405 to HEAD, 200 to GET), /ftp -> an ftp URL, /trickle (a header byte every 50 ms
    for 20 s)."""

    def _answer(self) -> None:
        SEEN[(self.command, self.path)] += 1
        path = self.path.split("?")[0]
        if path == "/slow":
            time.sleep(2)
        if path == "/trickle":
            self._trickle()
            return
        if path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/ok")
        elif path == "/loop":
            self.send_response(302)
            self.send_header("Location", "/loop")
        elif path == "/ftp":
            self.send_response(302)
            self.send_header("Location", "ftp://files.example.com/")
        elif path == "/get-only" and self.command == "HEAD":
            self.send_response(405)
        else:
            self.send_response({"/gone": 404, "/broken": 500}.get(path, 200))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _trickle(self) -> None:
        """Headers that never end: each read gets a byte well within any per-read timeout."""
        self.wfile.write(b"HTTP/1.1 200 OK\r\n")
        for _ in range(400):
            try:
                self.wfile.write(b"X")
                self.wfile.flush()
            except OSError:
                return
            time.sleep(0.05)

    do_HEAD = _answer
    do_GET = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture()
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    SEEN.clear()
    try:
        with _allow_loopback_for_tests(("127.0.0.1", httpd.server_address[1])):
            yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_statuses_redirects_and_timeouts(server: str) -> None:
    paths = ("/ok", "/gone", "/broken", "/slow", "/moved", "/loop", "/get-only", "/ftp")
    urls = [f"{server}{p}" for p in paths]
    results = check_urls(urls, LinkLimits(concurrency=4, timeout_s=0.5, deadline_s=20, max_redirects=3))
    broken = {url.removeprefix(server): r.describe() for url, r in results.items() if r.broken}
    assert broken == {
        "/gone": "answered HTTP 404",
        "/broken": "answered HTTP 500",
        "/slow": "timed out after 0.5 s",
        "/loop": "more than 3 redirects",
        "/ftp": "not checked: redirects to a ftp URL",
    }
    assert SEEN[("HEAD", "/ok")] == 2  # once itself, once as /moved's target
    assert SEEN[("GET", "/get-only")] == 1


def test_the_deadline_bounds_the_whole_run(server: str) -> None:
    urls = [f"{server}/slow?{i}" for i in range(4)]
    started = time.monotonic()
    results = check_urls(urls, LinkLimits(concurrency=2, timeout_s=5, deadline_s=0.5))
    assert time.monotonic() - started < 5  # not 4 x 2 s / 2 workers, nor per-request timeouts
    assert all("time budget" in r.describe() or "timed out" in r.describe() for r in results.values())


def test_a_server_trickling_headers_times_out_per_request(server: str) -> None:
    """httpx's timeout bounds each read; a byte every 50 ms never trips it. The deadline does."""
    started = time.monotonic()
    results = check_urls([f"{server}/trickle"], LinkLimits(timeout_s=0.5, deadline_s=30))
    assert time.monotonic() - started < 10  # the server trickles for 20 s
    assert results[f"{server}/trickle"].describe() == "timed out after 0.5 s"


def test_the_deadline_includes_shutdown_however_stuck_the_workers(server: str) -> None:
    """The run returns at its deadline: workers still reading are not waited for."""
    urls = [f"{server}/trickle?{i}" for i in range(3)]
    started = time.monotonic()
    results = check_urls(urls, LinkLimits(concurrency=3, timeout_s=60, deadline_s=0.5))
    assert time.monotonic() - started < 10  # the server trickles for 20 s
    assert {r.describe() for r in results.values()} == {"not checked within the 0.5 s time budget"}


def test_validate_check_links_reports_each_broken_link_once_per_campaign(server: str, tmp_path: Path) -> None:
    root = tmp_path / "project"
    (root / "campaigns").mkdir(parents=True)
    config = yaml.safe_load((CASES / "base.orchestrator.yaml").read_text())
    config["policy"]["lints"] = {"insecure-url": "off"}
    (root / "orchestrator.yaml").write_text(yaml.safe_dump(config))
    for name in ("one", "two"):
        (root / "campaigns" / f"{name}.yaml").write_text(
            f"""\
name: {name}
campaign: spring-2027
lists: [newsletter]
sender: {{name: Acme, email: news@example.com}}
subject: Hello
text: |
  {server}/ok {server}/gone
  %%unsubscribe%%
html: |
  <div style="display:none">Hi</div>
  <a href="{server}/ok">ok</a> <a href="{server}/gone">gone</a>
  <a href="%%unsubscribe%%">Unsubscribe</a>
schedule: {{now: true}}
"""
        )
    code, out, err = run(root, "validate", "--check-links", "--now", NOW)  # the fixture opted the server in
    assert code == 0, out + err  # broken links are warnings unless policy.lints says error
    lines = [line for line in out.splitlines() if "broken-link" in line]
    assert len(lines) == 4  # two campaigns x (html, text)
    expected = f"campaigns/one.yaml:9:7: warning: broken-link: '{server}/gone' answered HTTP 404 (rendered html line 2)"
    assert expected in lines
    assert SEEN[("HEAD", "/gone")] == 1 and SEEN[("HEAD", "/ok")] == 1  # each unique URL once
    config["policy"]["lints"]["broken-link"] = "error"
    (root / "orchestrator.yaml").write_text(yaml.safe_dump(config))
    assert run(root, "validate", "--check-links", "--now", NOW)[0] == 1
