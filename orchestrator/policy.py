"""Compliance checks on what will actually be sent (pure functions, no I/O, no clock).

The checks run on the *rendered* output, never on the source: an unsubscribe link that a
Jinja ``{% if %}`` drops, or that sits inside an HTML comment, does not reach the recipient
and so does not count.  HTML is checked on its HTML5 parse (:mod:`orchestrator.htmlparse`).
"""

from __future__ import annotations

import functools
import re
from datetime import datetime, timedelta

from orchestrator.htmlparse import parse_html
from orchestrator.textsafe import first_control

#: The tokens Pardot's v3/v4 send API documents: text_content and html_content "Must contain
#: either %%unsubscribe%% or %%email_preference_center%%" (Pardot API docs, "Send a list email"
#: and "Send a one-to-one email" parameter tables: pardot/api-docs on GitHub,
#: docs/kb/api-version-4/emails.md at commit 458561a; also the project's seed copy of the docs);
#: a send without one fails with error 64 ("Email content missing required variables").
PML_TOKENS: tuple[str, ...] = ("%%unsubscribe%%", "%%email_preference_center%%")

#: The HML forms (``{{Unsubscribe}}``, ``{{{EmailPreferenceCenter}}}``, any letter case). Whether
#: the send API accepts them is unconfirmed (pardot/api-docs#211), so they count only when the
#: project sets ``policy.allow_hml_unsubscribe: true``.
HML_TOKEN = re.compile(r"\{\{\{?\s*(?:unsubscribe|emailpreferencecenter)\s*\}\}\}?", re.IGNORECASE)

# HML block helpers ({{#if Recipient.X}}...{{/if}}, {{#unless}}, {{#each}}): content inside one
# reaches only some recipients, so an opt-out link there does not count.
_HML_BLOCK = re.compile(r"\{\{\s*([#/])\s*([A-Za-z_]\w*)[^{}]*\}\}")

# Deliberately simple: catches typos (missing @, spaces, no dot in the domain) without
# pretending to implement RFC 5322; Pardot validates the rest (error 65).
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)


def token_help(*, allow_hml: bool = False) -> str:
    """How to fix a missing link, naming only the tokens this project accepts."""
    hml = " (or {{Unsubscribe}} / {{EmailPreferenceCenter}}, allowed by policy.allow_hml_unsubscribe)"
    return (
        'add an unsubscribe or preference-center link, e.g. <a href="%%unsubscribe%%">Unsubscribe</a> '
        "or %%email_preference_center%%" + (hml if allow_hml else "")
    )


#: The help text for the default policy (PML tokens only).
TOKEN_HELP = token_help()

#: :func:`opt_out_status` results.
OK, MISSING, CONDITIONAL = "ok", "missing", "conditional"


def is_opt_out_token(value: str, *, allow_hml: bool = False) -> bool:
    """True when ``value`` (a trimmed ``href``) is exactly an accepted opt-out token."""
    return value in PML_TOKENS or (allow_hml and HML_TOKEN.fullmatch(value) is not None)


def _has_token_text(text: str, allow_hml: bool) -> bool:
    return any(token in text for token in PML_TOKENS) or (allow_hml and HML_TOKEN.search(text) is not None)


def strip_hml_blocks(text: str) -> str:
    """``text`` without the content of HML block helpers (what a recipient matching no condition gets).

    Blocks nest; an unclosed block runs to the end (conservative); a stray closing tag is ignored.
    """
    out: list[str] = []
    depth = 0
    pos = 0
    for match in _HML_BLOCK.finditer(text):
        if match.group(1) == "#":
            if depth == 0:
                out.append(text[pos : match.start()])
            depth += 1
        elif depth > 0:
            depth -= 1
            if depth == 0:
                pos = match.end()
    if depth == 0:
        out.append(text[pos:])
    return "".join(out)


def _html_has_link(html: str, allow_hml: bool) -> bool:
    if not _has_token_text(html, allow_hml):  # fast path: no token anywhere, nothing to parse
        return False
    wanted = functools.partial(is_opt_out_token, allow_hml=allow_hml)
    return next(parse_html(html).iter_links(wanted), None) is not None


@functools.lru_cache(maxsize=1024)
def opt_out_status(body: str, *, is_html: bool, allow_hml: bool = False) -> str:
    """Whether ``body`` gives every recipient a working opt-out link: ``ok``, ``missing`` or ``conditional``.

    HTML counts only an ``<a>`` or ``<area>`` whose ``href`` is the token itself, in the HTML5
    parse of the rendered markup (so not inside a comment, template, script, style, noscript,
    svg, math or object element, nor in any other attribute), that a recipient can see and click:
    not hidden by an attribute or by CSS on it or an ancestor, and for ``<a>`` with visible text
    or an image with alt text (:mod:`orchestrator.visibility`).  Text counts
    the token anywhere.  In both, a token only inside an HML ``{{#if}}``/``{{#unless}}`` block is
    ``conditional``.

    The sandbox enforces its error 64 with this same function, so the two cannot disagree.
    Pure, so memoized: every occurrence of a cron campaign usually renders the same body, and
    parsing is most of the cost of this check.
    """
    check = _html_has_link if is_html else _has_token_text
    if not check(body, allow_hml):
        return MISSING
    if "{{" in body and _HML_BLOCK.search(body) is not None and not check(strip_hml_blocks(body), allow_hml):
        return CONDITIONAL
    return OK


def has_opt_out_token(text: str, *, is_html: bool, allow_hml: bool = False) -> bool:
    """True when ``text`` carries an unsubscribe or preference-center link every recipient gets."""
    return opt_out_status(text, is_html=is_html, allow_hml=allow_hml) == OK


def opt_out_message(part: str, status: str, *, allow_hml: bool = False) -> str:
    """The message for a part (``text`` / ``HTML``) whose :func:`opt_out_status` is not ``ok``."""
    if status == CONDITIONAL:
        return (
            f"the {part} part's unsubscribe or preference-center link is only inside an HML "
            "{{#if}}/{{#unless}} block, so some recipients would get none; "
            "put one outside the block"
        )
    if part == "HTML":
        return (
            "the HTML part has no unsubscribe or preference-center link in its rendered markup "
            '(only a visible <a href="TOKEN"> with text or an image with alt text, or <area href="TOKEN">, '
            "counts: not a token in other attributes, comments, scripts, styles, svg, math, object or "
            "unclosed elements, nor a link hidden by the hidden or aria-hidden attribute or by CSS such as "
            "display:none, visibility:hidden, font-size:0, opacity:0, zero size with overflow:hidden or an "
            f"off-screen position, inline or in a <style> rule); {token_help(allow_hml=allow_hml)}"
        )
    return f"the {part} part has no unsubscribe or preference-center link; {token_help(allow_hml=allow_hml)}"


def is_valid_email(address: str) -> bool:
    """A syntactic check of one address (no display name)."""
    return len(address) <= 254 and _EMAIL.match(address) is not None


def content_problems(
    subject: str | None, text: str | None, html: str | None, *, allow_hml: bool = False
) -> list[tuple[str, str]]:
    """``(field, message)`` for each rule the rendered parts break; ``None`` parts are not sent.

    ``allow_hml`` is the project's ``policy.allow_hml_unsubscribe``.
    """
    problems: list[tuple[str, str]] = []
    if subject is not None:
        if not subject.strip():
            problems.append(("subject", "the subject is empty after rendering"))
        control = first_control(subject)
        if control is not None:
            problems.append(
                (
                    "subject",
                    f"the rendered subject contains the control character {control} (a line break, tab or "
                    "terminal escape); a subject is one line of plain text",
                )
            )
    for field, part, body, is_html in (("text", "text", text, False), ("html", "HTML", html, True)):
        if body is None:
            continue
        control = first_control(body, body=True)
        if control is not None:
            problems.append(
                (field, f"the rendered {part} part contains the control character {control}; remove it")
            )
        status = opt_out_status(body, is_html=is_html, allow_hml=allow_hml)
        if status != OK:
            problems.append((field, opt_out_message(part, status, allow_hml=allow_hml)))
    return problems


def address_problems(fields: dict[str, str | None]) -> list[tuple[str, str]]:
    """``(field, message)`` for each address in ``fields`` that is not a valid email address."""
    return [
        (name, f"{value!r} is not a valid email address")
        for name, value in fields.items()
        if value is not None and not is_valid_email(value)
    ]


def lead_time_problem(scheduled: datetime | None, now: datetime, min_lead: timedelta) -> str | None:
    """A message when a future send time is closer to ``now`` than ``min_lead`` allows."""
    if scheduled is None or scheduled <= now:
        return None
    if scheduled - now < min_lead:
        minutes = (scheduled - now).total_seconds() / 60
        return (
            f"scheduled {minutes:.0f} min from now, inside the minimum lead time of "
            f"{min_lead} (policy.min_lead_time): move the send later"
        )
    return None
