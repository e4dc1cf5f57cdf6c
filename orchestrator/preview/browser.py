"""The edge of previews: screenshots from a real headless Chromium, driven by Playwright.

Playwright for Python drives the system's Chromium (``executable_path``); it never downloads a
browser at run time (``playwright install`` is not needed). One browser serves every preview of
a run, with one page per width, reused from send to send: starting Chromium costs about a
second, a screenshot tens of milliseconds.

The page is isolated the way a careful mail client is: JavaScript is off and every network
request is refused (remote images show as missing), so opening a preview contacts no tracker
and no host, in CI or on a reviewer's laptop.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from orchestrator.errors import BrowserUnavailable, OrchestratorError

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Playwright

#: The Debian/Ubuntu package's binary; ``ORCHESTRATOR_CHROMIUM`` names another one.
DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ENV = "ORCHESTRATOR_CHROMIUM"
INSTALL_HINT = (
    "install Chromium (`apt-get install chromium` on Debian/Ubuntu) or point "
    f"{CHROMIUM_ENV} at a Chromium or Chrome binary; preview.html and text.txt were still written"
)
_TIMEOUT_MS = 20_000


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

    def __init__(self, executable: str | None = None, widths: tuple[Width, ...] = WIDTHS) -> None:
        self.executable = executable or chromium_path()
        self.widths = widths
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._pages: dict[str, Page] = {}

    def __enter__(self) -> Screenshotter:
        path = Path(self.executable)
        if not path.is_file() or not os.access(path, os.X_OK):
            raise BrowserUnavailable(f"no Chromium at {self.executable}", hint=INSTALL_HINT)
        try:
            from playwright.sync_api import Error, sync_playwright
        except ImportError:
            raise BrowserUnavailable(
                "the Playwright library is not installed",
                hint="pip install 'orchestrator[preview]' (it uses the system Chromium; no browser download)",
            ) from None
        try:
            self._playwright = sync_playwright().start()
            self._browser = self._playwright.chromium.launch(
                executable_path=str(path), args=["--disable-dev-shm-usage", "--disable-gpu"], timeout=_TIMEOUT_MS
            )
            for width in self.widths:
                context = self._browser.new_context(
                    viewport={"width": width.width, "height": 600}, java_script_enabled=False, offline=True
                )
                context.route("**/*", _refuse)
                context.set_default_timeout(_TIMEOUT_MS)
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
        self._pages = {}

    def page(self, filename: str) -> Page:
        """The live page of one width (tests read the rendered DOM through it)."""
        return self._pages[filename]

    def shoot(self, html: str, folder: Path, *, write: Callable[[Path, bytes], None]) -> list[Path]:
        """Load ``html`` at every width and save full-page PNGs into ``folder`` through ``write``."""
        from playwright.sync_api import Error

        written = []
        for width in self.widths:
            page = self._pages[width.filename]
            target = folder / width.filename
            try:
                page.set_content(html, wait_until="load")
                data = page.screenshot(full_page=True, animations="disabled")
            except Error as exc:
                raise BrowserUnavailable(
                    f"Chromium could not render {folder.name}: {_first_line(exc)}",
                    hint="check the HTML opens in a browser; preview.html and text.txt were written",
                ) from None
            try:
                write(target, data)
            except OSError as exc:
                raise OrchestratorError(f"cannot write {target}: {exc.strerror}") from None
            written.append(target)
        return written


def _refuse(route: Any) -> None:
    """Every request of a preview page is aborted: no image, font or tracker is fetched."""
    route.abort("blockedbyclient")


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
