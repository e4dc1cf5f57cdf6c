"""``validate --check-links``: is every absolute URL of the rendered emails reachable?

Each unique URL is requested once with ``HEAD`` (``GET`` when a server refuses ``HEAD`` with
405 or 501, closed after the status line), a few at a time, each bounded in time, redirects
followed up to a limit, and the whole run bounded by a deadline. 4xx/5xx answers, timeouts and
connection failures become ``broken-link`` findings, located at every campaign that uses the
URL; like the other email lints they are warnings unless ``policy.lints`` says otherwise.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

from orchestrator import __version__
from orchestrator.errors import Diagnostic
from orchestrator.lints import campaign_lints, parse_html, part_path, rendered_line, show_value

if TYPE_CHECKING:
    from orchestrator.campaigns import Campaign
    from orchestrator.config import Policy
    from orchestrator.sends import DesiredSend

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
    transport: httpx.BaseTransport | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, LinkResult]:
    """Request each URL once, bounded by ``limits``; URLs not started or not answered when the
    deadline passes are reported as unchecked. A run lasts at most the deadline plus one request
    timeout (requests in flight are not cut short, only left unreported)."""
    todo = sorted(set(urls))
    results: dict[str, LinkResult] = {
        url: LinkResult(url, error=f"not checked: more than {MAX_URLS} links") for url in todo[MAX_URLS:]
    }
    todo = todo[:MAX_URLS]
    if not todo:
        return results
    client = httpx.Client(
        follow_redirects=True,
        max_redirects=limits.max_redirects,
        timeout=limits.timeout_s,
        transport=transport,
        headers={"User-Agent": f"orchestrator/{__version__} link check"},
    )
    started = clock()
    pool = ThreadPoolExecutor(max_workers=max(1, limits.concurrency), thread_name_prefix="linkcheck")
    try:
        pending: dict[Future[LinkResult], str] = {pool.submit(_check_one, client, url, limits): url for url in todo}
        while pending:
            left = limits.deadline_s - (clock() - started)
            if left <= 0:
                break
            done, _ = wait(pending, timeout=left, return_when=FIRST_COMPLETED)
            for future in done:
                results[pending.pop(future)] = future.result()
        for future, url in pending.items():
            future.cancel()
            results[url] = LinkResult(url, error=f"not checked within the {limits.deadline_s:g} s time budget")
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        client.close()
    return results


def _check_one(client: httpx.Client, url: str, limits: LinkLimits) -> LinkResult:
    try:
        response = client.head(url)
        if response.status_code in (405, 501):  # HEAD not supported: ask for the page, read no body
            with client.stream("GET", url) as streamed:
                return LinkResult(url, status=streamed.status_code)
        return LinkResult(url, status=response.status_code)
    except httpx.TooManyRedirects:
        return LinkResult(url, error=f"more than {limits.max_redirects} redirects")
    except httpx.TimeoutException:
        return LinkResult(url, error=f"timed out after {limits.timeout_s:g} s")
    except httpx.InvalidURL as exc:
        return LinkResult(url, error=f"invalid URL ({exc})")
    except httpx.HTTPError as exc:
        return LinkResult(url, error=f"unreachable ({type(exc).__name__}: {str(exc)[:200]})")


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
