"""An opt-out link counts only when a recipient can see it and has something to click (issue 17).

The data-driven cases (tests/cases/invalid/unsubscribe-link-not-visible, and
tests/cases/valid/unsubscribe-link-visible-forms) hold one campaign per hiding form; this file
holds the invariants: wrappers that hide nothing never make a working link disappear, and one
hiding wrapper anywhere above it always does. The sandbox refuses such a send with error 64.
"""

from __future__ import annotations

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.policy import MISSING, OK, opt_out_status
from orchestrator.sandbox import SANDBOX_BASE_URL, SANDBOX_BUSINESS_UNIT, SANDBOX_TOKEN, SandboxApp, inprocess_transport

LINK = '<a href="%%unsubscribe%%">Unsubscribe</a>'

#: Wrappers that hide nothing (common email markup), as (opening, closing) tags.
NEUTRAL = [
    ('<div style="font-family: Arial; color: #333">', "</div>"),
    ('<p style="margin:0; font-size: 12px; line-height: 18px">', "</p>"),
    ('<span class="footer" style="display:inline-block">', "</span>"),
    ('<div style="overflow:hidden; max-height: 400px">', "</div>"),
    ('<div aria-hidden="false" role="presentation">', "</div>"),
    ('<div style="position:relative; left:-20px">', "</div>"),
    ('<div style="height:0">', "</div>"),  # zero height without overflow:hidden: content spills out, visible
    ('<table role="presentation"><tr><td style="padding: 8px; font-size: 0.9em">', "</td></tr></table>"),
    ('<center style="width:100%">', "</center>"),
]

#: Wrappers that hide everything inside them.
HIDING = [
    ('<div style="display:none">', "</div>"),
    ('<div style="DISPLAY : None !important">', "</div>"),
    ('<div style="visibility:hidden">', "</div>"),
    ('<div style="opacity: 0.0">', "</div>"),
    ('<div style="max-height:0px; overflow:hidden">', "</div>"),
    ('<div style="width:0;height:0;overflow:hidden">', "</div>"),
    ('<div style="font-size:0; line-height:0">', "</div>"),
    ('<div style="position:absolute; clip: rect(0, 0, 0, 0)">', "</div>"),
    ('<div style="position:absolute; left:-9999px">', "</div>"),
    ('<div style="mso-hide:all">', "</div>"),
    ('<div style="transform: scale(0)">', "</div>"),
    ("<div hidden>", "</div>"),
    ('<div aria-hidden="TRUE">', "</div>"),
    ("<svg>", "</svg>"),
    ("<math><mi>", "</mi></math>"),
    ('<object data="x">', "</object>"),
    ('<div class="gone">', "</div>"),  # hidden by the <style> rule every body carries
]

STYLE = "<style>.gone { display: none } .shown { color: #000 }</style>"


def _wrap(inner: str, wrappers: list[tuple[str, str]]) -> str:
    for opening, closing in reversed(wrappers):
        inner = opening + inner + closing
    return STYLE + "<p>Hello</p>" + inner


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(NEUTRAL), max_size=5))
def test_wrappers_that_hide_nothing_keep_the_link(wrappers: list[tuple[str, str]]) -> None:
    assert opt_out_status(_wrap(LINK, wrappers), is_html=True) == OK


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.sampled_from(NEUTRAL), max_size=4),
    st.sampled_from(HIDING),
    st.integers(min_value=0, max_value=4),
)
def test_one_hiding_wrapper_anywhere_above_the_link_removes_it(
    neutral: list[tuple[str, str]], hiding: tuple[str, str], depth: int
) -> None:
    if hiding[0].startswith(("<svg", "<math")) or "font-size:0" in hiding[0]:
        # An HTML <div> or <p> inside svg/math breaks out of it (HTML5 parsing), and a wrapper
        # below one with font-size:0 may size its text again: those hide only right above.
        depth = len(neutral)
    wrappers = [*neutral]
    wrappers.insert(min(depth, len(wrappers)), hiding)
    assert opt_out_status(_wrap(LINK, wrappers), is_html=True) == MISSING


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        # a <style> rule restores text an inline font-size:0 wrapper hides (the rule is read only then)
        ('<style>.col { font-size: 14px }</style><div style="font-size:0"><p class="col">' + LINK + "</p></div>", OK),
        ('<style>.col{font-size:150%}</style><div style="font-size:0"><p class="col">' + LINK + "</p></div>", MISSING),
        # the element's own style beats a rule for inherited properties...
        ('<style>.x { font-size: 0 }</style><p class="x" style="font-size: 12px">' + LINK + "</p>", OK),
        # ...but a rule that hides the box hides it (no cascade weighing: the hiding reading wins)
        ('<style>.x { display: none }</style><p class="x" style="display: block">' + LINK + "</p>", MISSING),
        ('<style>p.a { visibility: hidden } p.b { visibility: visible }</style><p class="a b">' + LINK + "</p>", OK),
        ("<style>/* .x { display: none } */</style><p class=x>" + LINK + "</p>", OK),
        ("<style>a::after { display: none } a:hover { display: none }</style>" + LINK, OK),
        ('<div style="overflow: hidden visible; height: 0">' + LINK + "</div>", OK),  # clips x only
        ('<div style="overflow-y: hidden; height: 0">' + LINK + "</div>", MISSING),
        ('<div style="position: absolute; right: 9999px">' + LINK + "</div>", MISSING),
        ('<a href="%%unsubscribe%%" style="font-size:0"><img src="u.png" alt="Unsubscribe" width="90"></a>', OK),
        ('<a href="%%unsubscribe%%"><img src="u.png" alt="Unsubscribe" style="display:none"></a>', MISSING),
        ('<a href="%%unsubscribe%%"><img src="u.png" alt=" "></a>', MISSING),
        ('<a href="%%unsubscribe%%">\u3164\u00ad</a>', MISSING),  # a Hangul filler and a soft hyphen
    ],
)
def test_style_rules_and_link_content(html: str, expected: str) -> None:
    assert opt_out_status(html, is_html=True) == expected


def test_the_sandbox_refuses_a_hidden_opt_out_link_with_error_64() -> None:
    """Pardot's error 64 in the sandbox is decided by the same check, so the two agree."""
    fields = {
        "campaign_id": "1001",
        "list_ids[]": "2001",
        "name": "hidden-link",
        "subject": "Hello",
        "from_email": "news@example.com",
        "from_name": "Acme",
        "text_content": "Bye: %%unsubscribe%%",
        "format": "json",
    }
    headers = {"Authorization": f"Bearer {SANDBOX_TOKEN}", "Pardot-Business-Unit-Id": SANDBOX_BUSINESS_UNIT}
    app = SandboxApp()
    try:
        with httpx.Client(transport=inprocess_transport(app), base_url=SANDBOX_BASE_URL, headers=headers) as client:
            hidden = {**fields, "html_content": '<div style="display:none">' + LINK + "</div>"}
            shown = {**fields, "html_content": LINK, "name": "shown-link"}
            refused = client.post("/api/email/version/4/do/send", data=hidden).json()
            accepted = client.post("/api/email/version/4/do/send", data=shown).json()
    finally:
        app.close()
    assert refused["@attributes"]["err_code"] == 64
    assert accepted["@attributes"]["stat"] == "ok"
