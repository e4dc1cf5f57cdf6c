"""Compliance checks on what will actually be sent (pure functions, no I/O, no clock).

The checks run on the *rendered* output, never on the source: an unsubscribe link that a
Jinja ``{% if %}`` drops, or that sits inside an HTML comment, does not reach the recipient
and so does not count.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

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


# HTML5 comment rules, as a browser applies them: "<!-->" and "<!--->" are empty comments, a
# comment ends at "-->" or "--!>", and an unterminated one runs to the end of the document.
_COMMENT = re.compile(r"<!--(?:-?>|.*?(?:-->|--!>|\Z))", re.DOTALL)
# Elements whose content is never a usable link: not rendered, or rendered as plain text.
_INERT = re.compile(
    r"<(script|style|title|textarea|template|noscript|xmp|iframe|noembed|noframes)\b[^>]*>.*?(?:</\1\s*>|\Z)",
    re.DOTALL | re.IGNORECASE,
)
_TAG = re.compile(r"<[^>]*>")
_HREF = re.compile(r"""\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.IGNORECASE)


def usable_html(html: str) -> str:
    """Where an opt-out token in ``html`` can reach a recipient: link targets and visible text.

    Works on the raw markup on purpose: Pardot replaces merge tags in the raw HTML, so a token
    written with character references (``&#37;&#37;unsubscribe&#37;&#37;``) is not one. Comments
    (HTML5 rules), and the content of script, style, title, textarea and similar elements, are
    dropped; of the remaining tags only ``href`` values count (an ``alt`` text is no link).
    """
    live = _INERT.sub(" ", _COMMENT.sub(" ", html))
    hrefs = [next(v for v in m.groups() if v is not None) for m in _HREF.finditer(live)]
    return "\n".join([*hrefs, _TAG.sub(" ", live)])


def has_opt_out_token(text: str, *, is_html: bool) -> bool:
    """True when ``text`` carries an unsubscribe or preference-center token a recipient can use."""
    haystack = usable_html(text) if is_html else text
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
                f"(links inside HTML comments, scripts, styles or alt texts do not count); {TOKEN_HELP}",
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
