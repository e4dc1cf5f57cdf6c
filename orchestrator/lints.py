"""Email lints: the checks email teams run by hand before a send, on the rendered parts.

:func:`lint_email` is a pure function over one send's subject, text and HTML; it returns
:class:`Finding` values, never raises for odd content. Each lint is one function registered
with ``@lint(name, description)``; :data:`REGISTRY` and :data:`LINTS` are derived from them, so
adding a lint is adding a function (and its name to the schemas' ``lints`` enum).
:func:`lint_problems` turns findings into located :class:`Diagnostic` values with the level the
policy gives each lint (``warning`` by default; ``policy.lints: {image-alt: error}`` at project,
environment or campaign level makes it block ``validate`` and ``plan``; ``off`` silences it).

HTML is parsed with an HTML5 parser (selectolax's Lexbor backend) rather than patterns, so an
``<img>`` written in any legal way is found and a link inside a comment is not. The parser is
reached only through :func:`parse_html`, the one place to switch to a shared helper.

Limits and their sources (also in docs/policy.md):

* ``html-size``: Gmail clips a message whose HTML is over about 102 KB and hides the rest behind
  "[Message clipped] View entire message": the footer, and the unsubscribe link with it
  (https://www.spamresource.com/2022/01/what-is-gmail-clipping-and-what-to-do.html,
  https://www.sendx.io/help/why-are-my-emails-clipped). Counted as 102 × 1024 bytes of UTF-8.
* ``subject-length``: inboxes cut subjects at roughly 60 characters on desktop and 30 to 40 on
  phones (https://www.emailtooltester.com/en/blog/email-subject-lines-character-limit/,
  https://typecount.com/blog/email-subject-line-length); the lint fires above 60 characters,
  counted with merge tags filled from the built-in sample.
"""

from __future__ import annotations

import functools
import html as htmlmod
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from selectolax.lexbor import LexborHTMLParser

from orchestrator.errors import Diagnostic
from orchestrator.mergetags import DEFAULT_SAMPLE, Recipient, fill

if TYPE_CHECKING:
    from orchestrator.campaigns import Campaign
    from orchestrator.config import Policy
    from orchestrator.desired import DesiredSend

HTML_LIMIT_BYTES = 102 * 1024
SUBJECT_LIMIT = 60
_EMPTY = Recipient(label="a recipient with no fields")
_MERGE = re.compile(r"%%[A-Za-z_][A-Za-z0-9_]*%%|\{\{")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
# Browsers strip leading C0 controls and spaces, and tabs/newlines anywhere, before reading a URL's
# scheme (WHATWG URL standard), so "java\tscript:" is a javascript: URL.
_URL_NOISE = re.compile(r"[\x00-\x20]")
_HIDDEN = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*hidden|max-height\s*:\s*0|opacity\s*:\s*0(?![.\d])|mso-hide\s*:\s*all",
    re.IGNORECASE,
)
_TEXT_URL = re.compile(r"https?://[^\s<>\"')\]]+", re.IGNORECASE)


@dataclass(frozen=True, order=True)
class Finding:
    """One lint result: which lint, which part (``subject``/``text``/``html``), what, and where.

    ``line`` is the 1-based line in the *rendered* part (0 when not known).
    """

    lint: str
    part: str
    message: str
    line: int = 0


def parse_html(html: str) -> LexborHTMLParser:
    """The HTML5 parse of ``html`` (the one place that names the parser)."""
    return LexborHTMLParser(html)


class Email:
    """One send's rendered parts, parsed at most once whatever the number of lints reading them.

    ``None`` parts come from a template (Pardot fills them); ``kind`` is ``list`` or ``one-to-one``.
    """

    def __init__(self, subject: str | None, text: str | None, html: str | None, kind: str = "list") -> None:
        self.subject = subject
        self.text = text
        self.html = html
        self.kind = kind

    @functools.cached_property
    def tree(self) -> LexborHTMLParser:
        return parse_html(self.html or "")

    @functools.cached_property
    def links(self) -> list[str]:
        """Every ``href`` of an ``<a>`` or ``<area>``, in document order."""
        if self.html is None:
            return []
        return [anchor.attributes.get("href") or "" for anchor in self.tree.css("a[href], area[href]")]

    @functools.cached_property
    def images(self) -> list[tuple[str, dict[str, str | None]]]:
        """``(src, attributes)`` of every ``<img>``."""
        if self.html is None:
            return []
        return [((img.attributes.get("src") or "").strip(), dict(img.attributes)) for img in self.tree.css("img")]


#: What a lint is: a name (what ``policy.lints`` takes), what it checks, and the check itself.
Check = Callable[[Email], Iterable[Finding]]


@dataclass(frozen=True)
class Lint:
    """One lint. ``check`` is ``None`` for a lint run elsewhere (``broken-link`` needs the network:
    :mod:`orchestrator.linkcheck`, under ``validate --check-links``)."""

    name: str
    description: str
    check: Check | None


#: Every lint in the order the schemas list them; :data:`LINTS` is derived from it.
REGISTRY: list[Lint] = []


def lint(name: str, description: str) -> Callable[[Check], Check]:
    """Register the decorated function as the check of lint ``name`` (the one place a lint is added)."""

    def register(check: Check) -> Check:
        REGISTRY.append(Lint(name, description, check))
        return check

    return register


def lint_email(subject: str | None, text: str | None, html: str | None, *, kind: str = "list") -> list[Finding]:
    """Every lint finding for one send's rendered parts; ``None`` parts come from a template."""
    email = Email(subject, text, html, kind)
    return sorted({f for entry in REGISTRY if entry.check is not None for f in entry.check(email)})


@lint("html-size", "HTML part larger than 102 KB (Gmail clips it, hiding the footer and unsubscribe link)")
def html_size(email: Email) -> list[Finding]:
    size = len(email.html.encode("utf-8")) if email.html is not None else 0
    if size <= HTML_LIMIT_BYTES:
        return []
    message = (
        f"the HTML part is {size / 1024:.1f} KB; Gmail clips messages over 102 KB and hides the rest, "
        "the unsubscribe link included: shorten it or move content to a web page"
    )
    return [Finding("html-size", "html", message)]


@lint("image-alt", "an image without an alt attribute")
def image_alt(email: Email) -> list[Finding]:
    return [
        Finding(
            "image-alt",
            "html",
            f'image {show_value(src)} has no alt attribute: add a description, or alt="" if it is decorative',
            rendered_line(email.html or "", src),
        )
        for src, attributes in email.images
        if "alt" not in attributes
    ]


@lint("insecure-url", "an image or link over plain http://")
def insecure_url(email: Email) -> list[Finding]:
    html = email.html or ""
    out = [
        Finding(
            "insecure-url",
            "html",
            f"image {show_value(src)} is loaded over plain http://: use https://",
            rendered_line(html, src),
        )
        for src, _ in email.images
        if src.lower().startswith("http://")
    ]
    for href in _filled_by_pardot_excluded(email.links):
        if _URL_NOISE.sub("", href).lower().startswith("http://"):
            message = f"link {show_value(href)} uses plain http://: use https://"
            out.append(Finding("insecure-url", "html", message, rendered_line(html, href)))
    return out


@lint("javascript-link", "a javascript: link")
def javascript_link(email: Email) -> list[Finding]:
    return [
        Finding(
            "javascript-link",
            "html",
            f"javascript: link {show_value(href)}: mail clients block scripts",
            rendered_line(email.html or "", href),
        )
        for href in _filled_by_pardot_excluded(email.links)
        if _URL_NOISE.sub("", href).lower().startswith("javascript:")
    ]


@lint("link-scheme", "a link without a scheme (relative links do not work in email)")
def link_scheme(email: Email) -> list[Finding]:
    out = []
    for href in _filled_by_pardot_excluded(email.links):
        bare = _URL_NOISE.sub("", href)
        if not bare:
            out.append(Finding("link-scheme", "html", "a link has an empty href"))
        elif not bare.startswith("#") and not _SCHEME.match(bare):
            message = (
                f"link {show_value(href)} has no scheme: an email has no base address, write the full https:// URL"
            )
            out.append(Finding("link-scheme", "html", message, rendered_line(email.html or "", href)))
    return out


def _filled_by_pardot_excluded(links: list[str]) -> list[str]:
    """``links`` without ``%%unsubscribe%%``, ``{{EmailPreferenceCenter}}`` and the like: Pardot fills them."""
    return [href for href in links if not (_MERGE.search(href) and not _SCHEME.match(_URL_NOISE.sub("", href)))]


@lint("subject-empty", "a subject that is empty for a recipient missing the merge fields it uses")
def subject_empty(email: Email) -> list[Finding]:
    subject = email.subject
    if subject is None or not _MERGE.search(subject) or fill(subject, _EMPTY, is_html=False, year=2000).strip():
        return []
    message = (
        "the subject is empty for a prospect without the merge fields it uses; "
        "add a fallback, e.g. {{#if Recipient.FirstName}}…{{else}}…{{/if}}"
    )
    return [Finding("subject-empty", "subject", message)]


@lint("subject-length", "a subject longer than 60 characters")
def subject_length(email: Email) -> list[Finding]:
    if email.subject is None:
        return []
    shown = fill(email.subject, DEFAULT_SAMPLE, is_html=False, year=2000)
    if len(shown) <= SUBJECT_LIMIT:
        return []
    message = (
        f"the subject is {len(shown)} characters (with the sample's merge fields); inboxes cut it "
        f"after about {SUBJECT_LIMIT}, phones after 30 to 40: put the point first or shorten it"
    )
    return [Finding("subject-length", "subject", message)]


@lint("preheader", "a list email without preheader text")
def preheader(email: Email) -> list[Finding]:
    if email.html is None or email.kind != "list" or _has_preheader(email.tree):
        return []
    message = (
        "no preheader text: inboxes show the first text of the email next to the subject; add a hidden "
        'preheader first in the body, e.g. <div style="display:none">…</div>'
    )
    return [Finding("preheader", "html", message)]


def _has_preheader(tree: LexborHTMLParser) -> bool:
    """A hidden element with text (``display:none`` and the like), or one named ``preheader``."""
    root = tree.body or tree.root
    if root is None:
        return False
    for node in root.traverse(include_text=False):
        attrs = node.attributes
        marker = f"{attrs.get('class') or ''} {attrs.get('id') or ''}".lower()
        hidden = _HIDDEN.search(attrs.get("style") or "") is not None
        if (hidden or "preheader" in marker) and (node.text(deep=True) or "").strip():
            return True
    return False


@lint("text-link", "a link in the HTML part missing from the text part")
def text_link(email: Email) -> list[Finding]:
    if email.text is None or email.html is None:
        return []
    in_text = {u.rstrip(".,;:!?") for u in _TEXT_URL.findall(email.text)}
    in_text |= {u.rstrip("/") for u in in_text}
    out = []
    seen = set()
    for href in email.links:
        url = href.strip()
        if not re.match(r"^https?://", url, re.IGNORECASE) or _MERGE.search(url) or url in seen:
            continue
        seen.add(url)
        if url not in in_text and url.rstrip("/") not in in_text:
            out.append(
                Finding(
                    "text-link",
                    "html",
                    f"link {show_value(url)} is in the HTML part but not in the text part: "
                    "text-only readers cannot follow it",
                    rendered_line(email.html, href),
                )
            )
    return out


REGISTRY.append(Lint("broken-link", "a link that answers 4xx/5xx or times out (validate --check-links)", None))

#: Every lint, with what it checks (names are what ``policy.lints`` takes; the schemas list them too).
LINTS: dict[str, str] = {entry.name: entry.description for entry in REGISTRY}


def rendered_line(html: str, value: str) -> int:
    """The rendered line where ``value`` first appears (raw or HTML-escaped); 0 if not found."""
    if not value:
        return 0
    for needle in (value, htmlmod.escape(value), htmlmod.escape(value, quote=False)):
        at = html.find(needle)
        if at >= 0:
            return html.count("\n", 0, at) + 1
    return 0


def show_value(value: str) -> str:
    """A URL as shown in a message: bounded, control characters made visible."""
    cleaned = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in value)
    return repr(cleaned if len(cleaned) <= 100 else cleaned[:97] + "...")


# --- from findings to located diagnostics -------------------------------------------------


def lint_problems(sends: Iterable[DesiredSend], campaigns: Iterable[Campaign], policy: Policy) -> list[Diagnostic]:
    """Diagnostics for the lint findings of ``sends``, at the level ``policy`` (merged with each
    campaign's ``policy:``) gives each lint; identical content is linted once."""
    by_name = {c.name: c for c in campaigns}
    cache: dict[tuple[Any, ...], list[Finding]] = {}
    problems: set[Diagnostic] = set()
    for send in sends:
        campaign = by_name.get(send.campaign)
        if campaign is None:
            continue
        levels = policy.merged(campaign_lints(campaign))
        key = (send.subject, send.text, send.html, send.kind)
        if key not in cache:
            cache[key] = lint_email(send.subject, send.text, send.html, kind=send.kind)
        for finding in cache[key]:
            level = levels.lint_level(finding.lint)
            if level == "off":
                continue
            problems.add(campaign.diagnostic(part_path(campaign.data, finding.part), _message(finding), level))
    return sorted(problems)


def campaign_lints(campaign: Campaign) -> dict[str, Any] | None:
    raw = campaign.data.get("policy")
    return {"lints": raw["lints"]} if isinstance(raw, Mapping) and "lints" in raw else None


def part_path(data: Mapping[str, Any], part: str) -> tuple[str, ...]:
    for key in (part, f"{part}_file", "template"):
        if key in data:
            return (key,)
    return ()


def _message(finding: Finding) -> str:
    where = f" (rendered {finding.part} line {finding.line})" if finding.line else ""
    return f"{finding.lint}: {finding.message}{where}"
