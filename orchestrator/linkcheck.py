"""``validate --check-links``: is every absolute URL of the rendered emails reachable?

Each unique URL is requested once with ``HEAD`` (``GET`` when a server refuses ``HEAD`` with
405 or 501, closed after the status line), a few at a time, each bounded in time (all its
redirects included), redirects followed up to a limit, and the whole run bounded by a deadline
that includes its shutdown. 4xx/5xx answers, timeouts and connection failures become
``broken-link`` findings, located at every campaign that uses the URL; like the other email
lints they are warnings unless ``policy.lints`` says otherwise.

The URLs come from a pull request, so only public addresses are requested, hop by hop
(:mod:`orchestrator.public_http`): a link to, or redirecting to, a loopback, private or
link-local address is reported "not checked" without a packet sent to it, which says nothing
about whether anything listens there.
"""

from __future__ import annotations

import contextlib
import queue
import re
import ssl
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

from orchestrator import __version__
from orchestrator.errors import Diagnostic
from orchestrator.lints import campaign_lints, parse_html, part_path, rendered_line, show_value
from orchestrator.public_http import AddressGuard, PublicTransport, RefusedAddress, request_deadline

if TYPE_CHECKING:
    from orchestrator.campaigns import Campaign
    from orchestrator.config import Policy
    from orchestrator.desired import DesiredSend

MAX_URLS = 500
_URL = re.compile(r"https?://[^\s<>\"')\]]+", re.IGNORECASE)
_MERGE = re.compile(r"%%|\{\{")


@dataclass(frozen=True)
class LinkSite:
    """Where a URL is used: the campaign, the part (``html`` or ``text``) and its rendered line."""

    campaign: str
    part: str
    line: int = 0


@dataclass(frozen=True)
class LinkResult:
    """The answer for one URL: a status code, or an error text (timeout, refused, too many redirects)."""

    url: str
    status: int | None = None
    error: str | None = None

    @property
    def broken(self) -> bool:
        return self.error is not None or (self.status is not None and self.status >= 400)

    def describe(self) -> str:
        if self.error is not None:
            return self.error
        return f"answered HTTP {self.status}"


@dataclass(frozen=True)
class LinkLimits:
    """Bounds of a link check: parallel requests, seconds per request and in all, redirects."""

    concurrency: int = 8
    timeout_s: float = 10.0
    deadline_s: float = 60.0
    max_redirects: int = 5

    def over_budget(self) -> str:
        """What a URL not answered by the run's deadline is reported as."""
        return f"not checked within the {self.deadline_s:g} s time budget"


def collect_links(sends: Iterable[DesiredSend]) -> dict[str, set[LinkSite]]:
    """Every absolute http(s) URL in the sends' HTML (links and images) and text parts, with its sites.

    URLs holding merge tags are skipped: Pardot fills them per recipient.
    """
    found: dict[str, set[LinkSite]] = {}

    def add(url: str, send: DesiredSend, part: str) -> None:
        url = url.strip()
        if re.match(r"^https?://", url, re.IGNORECASE) and not _MERGE.search(url) and len(url) <= 2048:
            line = rendered_line((send.html if part == "html" else send.text) or "", url)
            found.setdefault(url, set()).add(LinkSite(send.campaign, part, line))

    for send in sends:
        if send.html:
            tree = parse_html(send.html)
            for node in tree.css("a[href], area[href]"):
                add(node.attributes.get("href") or "", send, "html")
            for node in tree.css("img[src]"):
                add(node.attributes.get("src") or "", send, "html")
        if send.text:
            for url in _URL.findall(send.text):
                add(url.rstrip(".,;:!?"), send, "text")
    return found


def check_urls(
    urls: Iterable[str],
    limits: LinkLimits = LinkLimits(),
    *,
    guard: AddressGuard | None = None,
) -> dict[str, LinkResult]:
    """Request each URL once, bounded by ``limits``; URLs not answered when the deadline passes
    are reported as unchecked, and the call returns then: workers still busy are left behind
    (daemon threads whose every socket operation also stops at the deadline), never waited for.

    Only public addresses are requested (:mod:`orchestrator.public_http`); ``guard`` defaults to
    that, plus the loopback sockets a test opened with :func:`_allow_loopback_for_tests`.
    """
    todo = sorted(set(urls))
    results: dict[str, LinkResult] = {
        url: LinkResult(url, error=f"not checked: more than {MAX_URLS} links") for url in todo[MAX_URLS:]
    }
    todo = todo[:MAX_URLS]
    if not todo:
        return results
    run_end = time.monotonic() + limits.deadline_s
    jobs: queue.SimpleQueue[str] = queue.SimpleQueue()
    answers: queue.SimpleQueue[LinkResult] = queue.SimpleQueue()
    for url in todo:
        jobs.put(url)
    stop = threading.Event()
    chosen = guard if guard is not None else AddressGuard.allowing(_test_loopback)
    tls = httpx.create_ssl_context(trust_env=False)
    for _ in range(min(max(1, limits.concurrency), len(todo))):
        worker = _Worker(chosen, tls, limits, run_end, jobs, answers, stop)
        threading.Thread(target=worker.run, name="linkcheck", daemon=True).start()
    waiting = set(todo)
    try:
        while waiting:
            left = run_end - time.monotonic()
            if left <= 0:
                break
            try:
                result = answers.get(timeout=left)
            except queue.Empty:
                break
            results[result.url] = result
            waiting.discard(result.url)
    finally:
        stop.set()
    for url in waiting:
        results[url] = LinkResult(url, error=limits.over_budget())
    return results


@dataclass
class _Worker:
    """One thread of a link check, with its own client (so no connection is shared across threads)."""

    guard: AddressGuard
    tls: ssl.SSLContext
    limits: LinkLimits
    run_end: float
    jobs: queue.SimpleQueue[str]
    answers: queue.SimpleQueue[LinkResult]
    stop: threading.Event

    def run(self) -> None:
        client = httpx.Client(
            transport=PublicTransport(self.guard, ssl_context=self.tls),
            follow_redirects=False,  # each hop is checked here, and its connection by the guard
            timeout=self.limits.timeout_s,
            trust_env=False,  # no proxy from the environment, no .netrc credentials to any host
            headers={"User-Agent": f"orchestrator/{__version__} link check"},
        )
        with client:
            while not self.stop.is_set():
                try:
                    url = self.jobs.get_nowait()
                except queue.Empty:
                    return
                request_end = time.monotonic() + self.limits.timeout_s
                timed_out = f"timed out after {self.limits.timeout_s:g} s"
                if request_end >= self.run_end:  # the run's deadline comes first and is what a timeout means
                    request_end, timed_out = self.run_end, self.limits.over_budget()
                with request_deadline(request_end):
                    try:
                        result = _check_one(client, url, self.limits, timed_out)
                    except Exception as exc:  # an answer for every URL, and no dead thread to wait for
                        result = LinkResult(url, error=f"not checked ({type(exc).__name__}: {str(exc)[:200]})")
                self.answers.put(result)


def _check_one(client: httpx.Client, url: str, limits: LinkLimits, timed_out: str) -> LinkResult:
    """The status at the end of ``url``'s redirects (each hop requested, and checked, in turn);
    ``timed_out`` is the answer when the request's deadline passes."""
    current, redirected = url, False
    try:
        for hop in range(limits.max_redirects + 1):
            redirected = hop > 0
            response = _status(client, current)
            location = response.headers.get("location")
            if not response.is_redirect or location is None:
                return LinkResult(url, status=response.status_code)
            target = response.url.join(location)
            if target.scheme not in ("http", "https"):
                return LinkResult(url, error=f"not checked: redirects to a {target.scheme or 'relative'} URL")
            current = str(target)
        return LinkResult(url, error=f"more than {limits.max_redirects} redirects")
    except RefusedAddress as exc:  # nothing was sent: say so, and nothing about the port
        after = " (after a redirect)" if redirected else ""
        return LinkResult(url, error=f"not checked: {exc.host} is a private/loopback address{after}")
    except httpx.TimeoutException:
        return LinkResult(url, error=timed_out)
    except httpx.InvalidURL as exc:
        return LinkResult(url, error=f"invalid URL ({exc})")
    except httpx.HTTPError as exc:
        return LinkResult(url, error=f"unreachable ({type(exc).__name__}: {str(exc)[:200]})")


def _status(client: httpx.Client, url: str) -> httpx.Response:
    """``HEAD url``; ``GET`` (closed after the status line) when a server refuses ``HEAD`` with 405 or 501."""
    response = client.head(url)
    if response.status_code not in (405, 501):
        return response
    with client.stream("GET", url) as streamed:
        return streamed


#: Loopback sockets the default guard lets through; only :func:`_allow_loopback_for_tests` sets it.
_test_loopback: frozenset[tuple[str, int]] = frozenset()


@contextlib.contextmanager
def _allow_loopback_for_tests(*sockets: tuple[str, int]) -> Iterator[None]:
    """A test hook: within the block, ``check_urls`` may also reach these loopback ``(address, port)`` pairs.

    Neither a setting nor an environment variable can do this, so a pull request cannot.
    """
    global _test_loopback
    before = _test_loopback
    AddressGuard.allowing(sockets)  # refuses anything but loopback
    _test_loopback = before | frozenset(sockets)
    try:
        yield
    finally:
        _test_loopback = before


def link_problems(
    results: dict[str, LinkResult],
    sites: dict[str, set[LinkSite]],
    campaigns: Iterable[Campaign],
    policy: Policy,
) -> list[Diagnostic]:
    """A ``broken-link`` diagnostic per broken URL and campaign using it, at the policy's level."""
    by_name = {c.name: c for c in campaigns}
    problems: set[Diagnostic] = set()
    for url, result in results.items():
        if not result.broken:
            continue
        for site in sites.get(url, ()):
            campaign = by_name.get(site.campaign)
            if campaign is None:
                continue
            level = policy.merged(campaign_lints(campaign)).lint_level("broken-link")
            if level == "off":
                continue
            problems.add(
                campaign.diagnostic(
                    part_path(campaign.data, site.part),
                    f"broken-link: {show_value(url)} {result.describe()} "
                    f"(rendered {site.part} line {site.line})",
                    level,
                )
            )
    return sorted(problems)
