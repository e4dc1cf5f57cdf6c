"""Compliance checks on what will actually be sent (pure functions, no I/O, no clock).

The checks run on the *rendered* output, never on the source: an unsubscribe link that a
Jinja ``{% if %}`` drops, or that sits inside an HTML comment, does not reach the recipient
and so does not count.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from html.parser import HTMLParser

#: Unsubscribe / preference-center tokens Pardot understands: PML and HML in any brace and
#: letter case (``{{Unsubscribe}}``, ``{{{unsubscribe}}}``, ``%%email_preference_center%%``).
OPT_OUT_TOKEN = re.compile(
    r"%%(?:unsubscribe|email_preference_center)%%"
    r"|\{\{\{?\s*(?:unsubscribe|emailpreferencecenter)\s*\}\}\}?",
    re.IGNORECASE,
)

# Deliberately simple: catches typos (missing @, spaces, no dot in the domain) without
# pretending to implement RFC 5322; Pardot validates the rest (error 65).
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)

TOKEN_HELP = (
    'add an unsubscribe or preference-center link, e.g. <a href="%%unsubscribe%%">Unsubscribe</a> '  # noqa: S105 - help text, not a secret
    "or {{Unsubscribe}} / {{EmailPreferenceCenter}}"
)


class _VisibleMarkup(HTMLParser):
    """Collects everything of an HTML document except comments: text and attribute values."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.parts.extend(value for _, value in attrs if value)

    handle_startendtag = handle_starttag

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_without_comments(html: str) -> str:
    """The text and attribute values of ``html``; comments (and conditional comments) dropped."""
    parser = _VisibleMarkup()
    parser.feed(html)
    parser.close()
    return "\n".join(parser.parts)


def has_opt_out_token(text: str, *, is_html: bool) -> bool:
    """True when ``text`` carries an unsubscribe or preference-center token a recipient can use."""
    haystack = html_without_comments(text) if is_html else text
    return OPT_OUT_TOKEN.search(haystack) is not None


def is_valid_email(address: str) -> bool:
    """A syntactic check of one address (no display name)."""
    return len(address) <= 254 and _EMAIL.match(address) is not None


def content_problems(subject: str | None, text: str | None, html: str | None) -> list[tuple[str, str]]:
    """``(field, message)`` for each rule the rendered parts break; ``None`` parts are not sent."""
    problems: list[tuple[str, str]] = []
    if subject is not None and not subject.strip():
        problems.append(("subject", "the subject is empty after rendering"))
    if text is not None and not has_opt_out_token(text, is_html=False):
        problems.append(("text", f"the text part has no unsubscribe or preference-center link; {TOKEN_HELP}"))
    if html is not None and not has_opt_out_token(html, is_html=True):
        problems.append(
            (
                "html",
                "the HTML part has no unsubscribe or preference-center link in its rendered markup "
                f"(links inside HTML comments do not count); {TOKEN_HELP}",
            )
        )
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
