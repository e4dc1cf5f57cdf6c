"""The edge of previews: screenshots from a real headless Chromium, driven by Playwright.

Playwright for Python drives the system's Chromium (``executable_path``); it never downloads a
browser at run time (``playwright install`` is not needed). One browser serves every preview of
a run, with one page per width, reused from send to send: starting Chromium costs about a
second, a screenshot tens of milliseconds.

The page is isolated the way a careful mail client is: JavaScript is off and every network
request is refused (remote images show as missing), so opening a preview contacts no tracker
and no host, in CI or on a reviewer's laptop. Refusing requests in the page
(``context.route``, offline mode) is not enough: Chromium's browser process fetches favicons
and opens speculative connections on its own, past both. So the browser itself can reach
nothing: every host name resolves to "not found" (``--host-resolver-rules``), and every
request, loopback included, goes to a proxy at a loopback port this process holds and never
listens on. The document shown is the one written as ``preview.html``, with its
Content-Security-Policy (:mod:`orchestrator.preview.csp`).

An email is hostile input, so one cannot cost the others their screenshots: each page has its
own time budget, and a page that runs over it (or crashes its renderer) gets a notice image
instead, on a fresh page. A very tall or wide page is cut at :data:`MAX_HEIGHT` ×
:data:`MAX_WIDTH` CSS pixels, with a banner saying so (a 300,000 px page took 18 s and 1.1 GB).
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from orchestrator.errors import BrowserUnavailable, OrchestratorError
from orchestrator.preview.csp import with_csp

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Playwright

#: The Debian/Ubuntu package's binary; ``ORCHESTRATOR_CHROMIUM`` names another one.
DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ENV = "ORCHESTRATOR_CHROMIUM"
INSTALL_HINT = (
    "install Chromium (`apt-get install chromium` on Debian/Ubuntu) or point "
    f"{CHROMIUM_ENV} at a Chromium or Chrome binary; preview.html and text.txt were still written"
)
_TIMEOUT_MS = 20_000
#: Seconds one email may take to load and be photographed, per width.
PAGE_TIMEOUT_S = 15.0
#: The largest screenshot, in CSS pixels; a page beyond it is cut, with a banner saying so.
MAX_HEIGHT = 10_000
MAX_WIDTH = 3_000
_BANNER_PX = 36


@dataclass(frozen=True)
class Width:
    """One screenshot: its file name and viewport width in CSS pixels."""

    filename: str
    width: int


DESKTOP = Width("desktop.png", 800)
MOBILE = Width("mobile.png", 375)
WIDTHS = (DESKTOP, MOBILE)


def chromium_path(environ: dict[str, str] | None = None) -> str:
    """The Chromium binary to drive: ``$ORCHESTRATOR_CHROMIUM`` or :data:`DEFAULT_CHROMIUM`."""
    value = (environ if environ is not None else os.environ).get(CHROMIUM_ENV, "").strip()
    return value or DEFAULT_CHROMIUM


class Screenshotter:
    """A context manager holding one headless Chromium and one page per width."""

    def __init__(
        self,
        executable: str | None = None,
        widths: tuple[Width, ...] = WIDTHS,
        *,
        page_timeout_s: float = PAGE_TIMEOUT_S,
    ) -> None:
        self.executable = executable or chromium_path()
        self.widths = widths
        self.page_timeout_s = page_timeout_s
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._contexts: dict[str, BrowserContext] = {}
        self._pages: dict[str, Page] = {}
        self._dead_proxy: socket.socket | None = None

    def __enter__(self) -> Screenshotter:
        path = Path(self.executable)
        if not path.is_file() or not os.access(path, os.X_OK):
            raise BrowserUnavailable(f"no Chromium at {self.executable}", hint=INSTALL_HINT)
        try:
            from playwright.sync_api import Error, sync_playwright
        except ImportError:
            raise BrowserUnavailable(
                "the Playwright library is not installed",
                hint="pip install 'pardot-orchestrator[preview]' (it uses the system Chromium; no browser download)",
            ) from None
        try:
            self._dead_proxy = _dead_port()
            self._playwright = sync_playwright().start()
            self._browser = self._playwright.chromium.launch(
                executable_path=str(path), args=_isolating_args(self._dead_proxy), timeout=_TIMEOUT_MS
            )
            for width in self.widths:
                context = self._browser.new_context(
                    viewport={"width": width.width, "height": 600}, java_script_enabled=False, offline=True
                )
                context.route("**/*", _refuse)
                context.set_default_timeout(_TIMEOUT_MS)
                self._contexts[width.filename] = context
                self._pages[width.filename] = context.new_page()
        except Error as exc:
            self.close()
            raise BrowserUnavailable(
                f"Chromium at {self.executable} did not start: {_first_line(exc)}", hint=INSTALL_HINT
            ) from None
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop the browser and the Playwright driver (safe to call twice)."""
        if self._browser is not None:
            with contextlib.suppress(Exception):  # already gone: nothing left to release
                self._browser.close()
            self._browser = None
        if self._playwright is not None:
            self._playwright.stop()
            self._playwright = None
        if self._dead_proxy is not None:
            self._dead_proxy.close()
            self._dead_proxy = None
        self._contexts, self._pages = {}, {}

    def page(self, filename: str) -> Page:
        """The live page of one width (tests read the rendered DOM through it)."""
        return self._pages[filename]

    def shoot(self, html: str, folder: Path, *, write: Callable[[Path, bytes], None]) -> list[Path]:
        """Load ``html`` (with its CSP) at every width and save PNGs into ``folder`` through ``write``.

        A page that fails on its own (over its time budget, renderer crashed) gets notice images,
        and the next email a fresh page; only a browser that is gone stops the run.
        """
        from playwright.sync_api import Error

        document = with_csp(html)
        failure: str | None = None
        written = []
        for width in self.widths:
            target = folder / width.filename
            if failure is None:
                try:
                    data = self._capture(width, document)
                except Error as exc:  # its TimeoutError too: this page's problem
                    failure = self._page_failed(width, folder, exc)
            if failure is not None:
                data = self._notice(width, failure)
            try:
                write(target, data)
            except OSError as exc:
                raise OrchestratorError(f"cannot write {target}: {exc.strerror}") from None
            written.append(target)
        return written

    def _capture(self, width: Width, document: str) -> bytes:
        """One screenshot within the page's time budget: the whole page, or its top-left part
        up to the size limits, with a banner saying where it was cut."""
        page = self._pages[width.filename]
        ends = time.monotonic() + self.page_timeout_s
        page.set_content(document, wait_until="load", timeout=_ms_left(ends))
        wide, tall = page.locator(":root").evaluate(
            "root => [root.scrollWidth, root.scrollHeight]", timeout=_ms_left(ends)
        )
        if wide <= MAX_WIDTH and tall <= MAX_HEIGHT:
            return page.screenshot(full_page=True, animations="disabled", timeout=_ms_left(ends))
        shown_wide, shown_tall = max(min(wide, MAX_WIDTH), width.width), min(tall, MAX_HEIGHT)
        return page.screenshot(
            full_page=True,
            animations="disabled",
            timeout=_ms_left(ends),
            clip={"x": 0, "y": 0, "width": shown_wide, "height": shown_tall},
            style=_banner_css(
                f"Cut at {shown_tall:,} of {tall:,} px (see preview.html)"
                if wide <= MAX_WIDTH
                else f"Cut at {shown_wide:,} x {shown_tall:,} of {wide:,} x {tall:,} px (see preview.html)",
                top=shown_tall - _BANNER_PX,
            ),
        )

    def _page_failed(self, width: Width, folder: Path, exc: BaseException) -> str:
        """Why this email has no screenshot; its page is replaced, or the run ends if the browser is gone."""
        if self._browser is None or not self._browser.is_connected():
            raise BrowserUnavailable(
                f"Chromium stopped while rendering {folder.name}: {_first_line(exc)}",
                hint="check the HTML opens in a browser; preview.html and text.txt were written",
            ) from None
        reason = _first_line(exc)
        if "Timeout" in type(exc).__name__ or "Timeout" in reason:
            reason = f"it took more than {self.page_timeout_s:g} s to render"
        self._renew(width)
        return reason

    def _renew(self, width: Width) -> None:
        """A fresh page for ``width`` (the old one may still be busy with a hostile email)."""
        with contextlib.suppress(Exception):  # a crashed or stuck page: nothing to save
            self._pages[width.filename].close(run_before_unload=False)
        self._pages[width.filename] = self._contexts[width.filename].new_page()

    def _notice(self, width: Width, reason: str) -> bytes:
        """An image in place of a screenshot, saying why there is none."""
        import html as htmlmod

        page = self._pages[width.filename]
        page.set_content(
            '<!doctype html><meta charset="utf-8"><body style="font: 16px sans-serif; padding: 24px">'
            f"<h1 style='color: #b00020'>No screenshot</h1><p>{htmlmod.escape(reason)}.</p>"
            "<p>preview.html and text.txt hold the email.</p>",
            timeout=_TIMEOUT_MS,
        )
        return page.screenshot(timeout=_TIMEOUT_MS)


def _isolating_args(dead_proxy: socket.socket) -> list[str]:
    """Chromium flags under which the browser, not only the page, can reach no host at all."""
    host, port = dead_proxy.getsockname()[:2]
    return [
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--host-resolver-rules=MAP * ~NOTFOUND",  # every name, and address, resolves to nothing
        f"--proxy-server=http://{host}:{port}",  # and anything that gets past goes nowhere
        "--proxy-bypass-list=<-loopback>",  # loopback too (Chromium bypasses proxies for it by default)
        "--disable-background-networking",
        "--no-pings",
    ]


def _dead_port() -> socket.socket:
    """A loopback TCP port held (bound, never listening) while the browser runs: connecting is refused."""
    held = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    held.bind(("127.0.0.1", 0))
    return held


def _ms_left(ends: float) -> float:
    """Milliseconds left until ``ends`` (at least 1: Playwright reads 0 as "no timeout")."""
    return max(1.0, (ends - time.monotonic()) * 1000)


def _banner_css(text: str, *, top: int) -> str:
    """A red strip across the screenshot at ``top``, shown only while it is taken."""
    quoted = text.replace("\\", "").replace('"', "")
    return (
        "html::after { "
        f'content: "{quoted}" !important; position: absolute !important; top: {top}px !important; '
        f"left: 0 !important; right: 0 !important; height: {_BANNER_PX}px !important; "
        "display: block !important; background: #b00020 !important; color: #fff !important; "
        f"font: bold 13px/{_BANNER_PX}px sans-serif !important; text-align: center !important; "
        "white-space: nowrap !important; overflow: hidden !important; "
        "z-index: 2147483647 !important; }"
    )


def _refuse(route: Any) -> None:
    """Every request of a preview page is aborted: no image, font or tracker is fetched."""
    route.abort("blockedbyclient")


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
