"""Control characters in user text: finding them (to refuse them) and escaping them (to show them).

A campaign's subject, names and tags end up in a reviewer's terminal, a pull-request comment and
an HTML report.  An ANSI escape sequence (``ESC [ 2 J``) in a subject can erase earlier plan lines
on a terminal, and a line break can forge plan lines or break out of a Markdown block; neither has
any business in a subject line.  So the loader refuses them where a human reads the value, and
every output that shows user text escapes whatever slipped through.

Invisible *format* characters (Unicode category ``Cf``: the bidirectional overrides and isolates
such as U+202E, zero-width spaces and joiners, U+FEFF, U+061C, U+180E, tag characters) are legal
in an email, so they are not refused, but they are escaped wherever control characters are: a
U+202E in a subject can make a plan line read backwards, and a zero-width space can make two
different send keys look the same to a reviewer.
"""

from __future__ import annotations

import re

#: C0 controls, DEL and C1 controls (U+0080-U+009F: some terminals read U+009B as CSI, the same
#: as ``ESC [``), plus the Unicode line and paragraph separators, which break lines as well.
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
#: The same, minus the tab, line feed and carriage return a multi-line email body legitimately holds.
BODY_CONTROL = re.compile("[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f-\x9f]")
#: Every Unicode format character (category ``Cf``, Unicode 16), as ranges: soft hyphen, Arabic
#: and Syriac marks, U+180E, zero-width space/joiners and LRM/RLM, the bidi embeddings and
#: overrides (U+202A-U+202E) and isolates (U+2066-U+2069), invisible operators, U+FEFF,
#: interlinear annotations, and the tag characters. ``tests/test_output_safety.py`` checks that
#: it covers every ``Cf`` character the running Python knows.
FORMAT_CHARS = (
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f"
)
_SHOWN = re.compile(f"[\x00-\x1f\x7f-\x9f\u2028\u2029{FORMAT_CHARS}]")
_SHOWN_BODY = re.compile(f"[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f-\x9f{FORMAT_CHARS}]")


def first_control(text: str, *, body: bool = False) -> str | None:
    """The first control character of ``text``, shown as ``U+001B``; ``None`` when there is none."""
    found = (BODY_CONTROL if body else CONTROL).search(text)
    return None if found is None else f"U+{ord(found.group(0)):04X}"


def escape_control(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with each control or invisible format character written as a visible escape
    (``\\x1b``, ``\\u202e``, ``\\U000e0041``)."""
    pattern = _SHOWN_BODY if keep_newlines else _SHOWN
    return pattern.sub(_escape_one, text)


def escape_char(char: str) -> str:
    """One character as a Python-style escape: ``\\x1b``, ``\\u202e``, ``\\U000e0041``."""
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _escape_one(match: re.Match[str]) -> str:
    return escape_char(match.group(0))
