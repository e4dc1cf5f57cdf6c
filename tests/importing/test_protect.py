"""``importing.protect``: rendering protected Pardot content gives it back byte for byte."""

from __future__ import annotations

import html
from pathlib import Path

import defusedxml.ElementTree as ET
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from orchestrator.importing import protect
from orchestrator.render import Renderer, Source

REAL = Path(__file__).parent.parent / "pardot" / "bodies" / "real"

#: Text rich in what Jinja and HML read as their own.
_PIECES = st.sampled_from(
    [
        "{",
        "}",
        "{{",
        "}}",
        "{%",
        "%}",
        "{#",
        "#}",
        "-",
        "'",
        '"',
        "\r",
        "\n",
        "\r\n",
        " ",
        "raw",
        "endraw",
        "{{Recipient.FirstName}}",
        "{{{Recipient.Street}}}",
        "{{#if Recipient.X}}",
        "{{/if}}",
        "{{else}}",
        "{{unsubscribe}}",
        "%%first_name%%",
        "{% raw %}",
        "{% endraw %}",
        "<p>",
        "&",
        "x",
        "A",
    ]
)
_TEXT = st.one_of(st.text(), st.lists(_PIECES | st.text(max_size=3)).map("".join))


@pytest.fixture(scope="module")
def renderer(tmp_path_factory: pytest.TempPathFactory) -> Renderer:
    return Renderer(tmp_path_factory.mktemp("campaigns"))


def _render(renderer: Renderer, part: str, source: str) -> str:
    return renderer.render(Source(part, inline=source, where="test"), {})


@settings(max_examples=400, deadline=None)
@given(text=_TEXT, part=st.sampled_from(["subject", "text", "html"]))
@example(text="{{{{Recipient.X}}}}", part="html")
@example(text="{\r\n{{x}}{%-", part="text")
def test_protect_round_trips(renderer: Renderer, text: str, part: str) -> None:
    assert _render(renderer, part, protect(text)) == text


def test_hml_and_pml_tags_stay_readable() -> None:
    text = "Hi {{Recipient.FirstName}} %%first_name%% {{Unsubscribe}}"
    assert protect(text) == text
    assert protect("{{ price }}") == "{{ '{{' }} price }}"


def _email_contents() -> list[tuple[str, str]]:
    """Every subject and body of the recorded real email and template reads."""
    found: list[tuple[str, str]] = []
    for path in sorted(REAL.glob("*.xml")):
        root = ET.parse(path).getroot()
        for element in root.iter():
            if element.tag in {"subject", "text", "html", "htmlMessage", "textMessage"} and element.text:
                found.append((path.name, element.text))
    return found


def test_real_bodies_round_trip(renderer: Renderer) -> None:
    contents = _email_contents()
    assert any(name == "crim_email_read.xml" for name, _ in contents)
    for name, content in contents:
        for value in (content, html.unescape(content)):
            part = "html" if "<" in value else "text"
            assert _render(renderer, part, protect(value)) == value, name
