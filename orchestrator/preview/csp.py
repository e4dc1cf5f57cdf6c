"""A preview document that makes no request when opened: a Content-Security-Policy, first thing.

``preview.html`` is an email from a pull request, opened by a reviewer in an ordinary browser
from a CI artifact; its scripts, remote images, fonts, style sheets and frames must not run or
load there, any more than in the screenshots. A ``<meta http-equiv="Content-Security-Policy">``
placed before everything else governs the whole document. The document is parsed (as the
browser will) and written back with that element first in ``<head>``: no markup in the email,
however malformed, comes before it.

A CSP does not stop what is not a fetch by the document: ``<meta http-equiv="refresh">``
navigates, connection hints (``preconnect``, ``dns-prefetch``, ``prerender``) open sockets or
resolve names, and Chromium opens a connection to a frame's or embedded object's host before
the CSP refuses the frame. Mail clients drop all of these; here they are disarmed the same way
(the attribute that gives them effect is removed), so the preview shows what a recipient's
client does.
"""

from __future__ import annotations

from selectolax.lexbor import LexborHTMLParser

#: Inline styles and ``data:`` images, fonts and media show; nothing else loads, runs or submits.
POLICY = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:; media-src data:; "
    "base-uri 'none'; form-action 'none'"
)
_HINTS = frozenset({"preconnect", "dns-prefetch", "prerender", "prefetch", "preload", "modulepreload"})


def with_csp(html: str) -> str:
    """``html`` with :data:`POLICY` as the first element of its head, refreshes and connection hints disarmed."""
    tree = LexborHTMLParser(html, scripting=False)  # <noscript> content as elements, so it is disarmed too
    for meta in tree.css("meta[http-equiv]"):
        if (meta.attributes.get("http-equiv") or "").strip().lower() == "refresh":
            del meta.attrs["http-equiv"]
    for link in tree.css("link[rel]"):
        if _HINTS & set((link.attributes.get("rel") or "").lower().split()):
            del link.attrs["rel"]
    for frame in tree.css("iframe[src], frame[src], embed[src], object[data]"):
        del frame.attrs["data" if frame.tag == "object" else "src"]
    policy = LexborHTMLParser(f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">').css_first("meta")
    head = tree.head
    assert policy is not None and head is not None  # an HTML5 parse always has a head
    if head.child is None:
        head.insert_child(policy)
    else:
        head.child.insert_before(policy)
    return tree.html or ""
