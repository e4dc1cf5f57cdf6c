"""Control characters in user text: finding them (to refuse them) and escaping them (to show them).

A campaign's subject, names and tags end up in a reviewer's terminal, a pull-request comment and
an HTML report.  An ANSI escape sequence (``ESC [ 2 J``) in a subject can erase earlier plan lines
on a terminal, and a line break can forge plan lines or break out of a Markdown block; neither has
any business in a subject line.  So the loader refuses them where a human reads the value, and
every output that shows user text escapes whatever slipped through.
"""

from __future__ import annotations

import re

#: C0 controls, DEL and C1 controls (U+0080-U+009F: some terminals read U+009B as CSI, the same
#: as ``ESC [``), plus the Unicode line and paragraph separators, which break lines as well.
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
#: The same, minus the tab, line feed and carriage return a multi-line email body legitimately holds.
BODY_CONTROL = re.compile("[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f-\x9f]")


def first_control(text: str, *, body: bool = False) -> str | None:
    """The first control character of ``text``, shown as ``U+001B``; ``None`` when there is none."""
    found = (BODY_CONTROL if body else CONTROL).search(text)
    return None if found is None else f"U+{ord(found.group(0)):04X}"


def escape_control(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with each control character written as a visible ``\\x1b``-style escape."""
    pattern = BODY_CONTROL if keep_newlines else CONTROL
    return pattern.sub(_escape_one, text)


def _escape_one(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
