"""Email lints: the checks email teams run by hand before a send, on the rendered parts.

:func:`lint_email` is a pure function over one send's subject, text and HTML; it returns
:class:`Finding` values, never raises for odd content. :func:`lint_problems` turns findings into
located :class:`Diagnostic` values with the level the policy gives each lint (``warning`` by
default; ``policy.lints: {image-alt: error}`` at project, environment or campaign level makes
it block ``validate`` and ``plan``; ``off`` silences it).

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

import html as htmlmod
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from selectolax.lexbor import LexborHTMLParser

from orchestrator.errors import Diagnostic
from orchestrator.mergetags import DEFAULT_SAMPLE, Recipient, fill

if TYPE_CHECKING:
    from orchestrator.campaigns import Campaign
    from orchestrator.config import Policy
    from orchestrator.desired import DesiredSend

#: Every lint, with what it checks (names are what ``policy.lints`` takes; the schemas list them too).
LINTS: dict[str, str] = {
    "html-size": "HTML part larger than 102 KB (Gmail clips it, hiding the footer and unsubscribe link)",
    "image-alt": "an image without an alt attribute",
    "insecure-url": "an image or link over plain http://",
    "javascript-link": "a javascript: link",
    "link-scheme": "a link without a scheme (relative links do not work in email)",
    "subject-empty": "a subject that is empty for a recipient missing the merge fields it uses",
    "subject-length": "a subject longer than 60 characters",
    "preheader": "a list email without preheader text",
    "text-link": "a link in the HTML part missing from the text part",
    "broken-link": "a link that answers 4xx/5xx or times out (validate --check-links)",
}
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


def lint_email(subject: str | None, text: str | None, html: str | None, *, kind: str = "list") -> list[Finding]:
    """Every lint finding for one send's rendered parts; ``None`` parts come from a template."""
    findings: list[Finding] = []
    if subject is not None:
        findings += _subject(subject)
    if html is not None:
        findings += _html(html, text, kind)
    return sorted(set(findings))


def _subject(subject: str) -> list[Finding]:
    out = []
    if _MERGE.search(subject) and not fill(subject, _EMPTY, is_html=False, year=2000).strip():
        out.append(
            Finding(
                "subject-empty",
                "subject",
                "the subject is empty for a prospect without the merge fields it uses; "
                "add a fallback, e.g. {{#if Recipient.FirstName}}…{{else}}…{{/if}}",
            )
        )
    shown = fill(subject, DEFAULT_SAMPLE, is_html=False, year=2000)
    if len(shown) > SUBJECT_LIMIT:
        out.append(
            Finding(
                "subject-length",
                "subject",
                f"the subject is {len(shown)} characters (with the sample's merge fields); inboxes cut it "
                f"after about {SUBJECT_LIMIT}, phones after 30 to 40: put the point first or shorten it",
            )
        )
    return out


def _html(html: str, text: str | None, kind: str) -> list[Finding]:
    out = []
    size = len(html.encode("utf-8"))
    if size > HTML_LIMIT_BYTES:
        out.append(
            Finding(
                "html-size",
                "html",
                f"the HTML part is {size / 1024:.1f} KB; Gmail clips messages over 102 KB and hides the rest, "
                "the unsubscribe link included: shorten it or move content to a web page",
            )
        )
    tree = parse_html(html)
    for img in tree.css("img"):
        src = (img.attributes.get("src") or "").strip()
        if "alt" not in img.attributes:
            message = f'image {show_value(src)} has no alt attribute: add a description, or alt="" if it is decorative'
            out.append(Finding("image-alt", "html", message, rendered_line(html, src)))
        if src.lower().startswith("http://"):
            message = f"image {show_value(src)} is loaded over plain http://: use https://"
            out.append(Finding("insecure-url", "html", message, rendered_line(html, src)))
    links = []
    for anchor in tree.css("a[href], area[href]"):
        href = anchor.attributes.get("href") or ""
        links.append(href)
        out += _link(href, html)
    if kind == "list" and not _has_preheader(tree):
        out.append(
            Finding(
                "preheader",
                "html",
                "no preheader text: inboxes show the first text of the email next to the subject; add a hidden "
                'preheader first in the body, e.g. <div style="display:none">…</div>',
            )
        )
    if text is not None:
        out += _missing_in_text(links, text, html)
    return out


def _link(href: str, html: str) -> list[Finding]:
    """Findings for one link target (its line is looked up only when something is found)."""
    found = _link_problem(href)
    return [] if found is None else [Finding(found[0], "html", found[1], rendered_line(html, href))]


def _link_problem(href: str) -> tuple[str, str] | None:
    bare = _URL_NOISE.sub("", href)
    if _MERGE.search(href) and not _SCHEME.match(bare):
        return None  # %%unsubscribe%%, {{EmailPreferenceCenter}}: Pardot fills them
    lowered = bare.lower()
    if lowered.startswith("javascript:"):
        return "javascript-link", f"javascript: link {show_value(href)}: mail clients block scripts"
    if lowered.startswith("http://"):
        return "insecure-url", f"link {show_value(href)} uses plain http://: use https://"
    if not bare:
        return "link-scheme", "a link has an empty href"
    if not bare.startswith("#") and not _SCHEME.match(bare):
        return (
            "link-scheme",
            f"link {show_value(href)} has no scheme: an email has no base address, write the full https:// URL",
        )
    return None


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


def _missing_in_text(links: list[str], text: str, html: str) -> list[Finding]:
    in_text = {u.rstrip(".,;:!?") for u in _TEXT_URL.findall(text)}
    in_text |= {u.rstrip("/") for u in in_text}
    out = []
    seen = set()
    for href in links:
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
                    rendered_line(html, href),
                )
            )
    return out


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
