"""``importing.protect``: rendering protected Pardot content gives it back byte for byte."""

from __future__ import annotations

import html
import itertools
from pathlib import Path

import defusedxml.ElementTree as ET
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from orchestrator.importing import Adopted, campaign_files, campaign_yaml, protect
from orchestrator.render import Renderer, Source
from orchestrator.yamlload import Document, load_yaml_text

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


def _adopted(subject: str, text: str, body: str) -> Adopted:
    return Adopted(
        name="imported",
        campaign=1001,
        lists=[2001],
        suppression_lists=[],
        sender={"user": 3001},
        subject=subject,
        text=text,
        html=body,
        schedule={"now": True},
        email_id=7,
    )


@settings(max_examples=200, deadline=None)
@given(subject=_TEXT, text=_TEXT, body=_TEXT)
@example(subject="\x85", text="a\u2028b\n", body="\u2029\r\n{{x}}\n ")  # YAML's other line breaks
@example(subject=" lead", text="trailing  \n\n", body="\ttab\n  indented\n")
def test_the_written_file_renders_to_pardots_content(renderer: Renderer, subject: str, text: str, body: str) -> None:
    """The whole way: YAML as written, loaded by the project's loader, rendered by its renderer."""
    document = load_yaml_text(campaign_yaml(_adopted(subject, text, body)), "imported.yaml")
    assert isinstance(document, Document), document
    data = document.data
    assert _render(renderer, "subject", data["subject"]) == subject
    assert _render(renderer, "text", data["text"]) == text
    assert _render(renderer, "html", data["html"]) == body


_written = itertools.count()


@settings(max_examples=200, deadline=None)
@given(body=_TEXT)
@example(body="\x85\u2028 trailing  \n\r\n{{{{Recipient.X}}}}")
@example(body="{{A\r}}")  # an HML-shaped tag holding a carriage return (found by this test)
def test_the_written_html_file_renders_to_pardots_html(renderer: Renderer, body: str) -> None:
    """The HTML as ``import email`` writes it (``NAME.html.j2``, UTF-8), read by the project's loader."""
    adopted = _adopted("s", "t", body)
    files = campaign_files(adopted)
    assert "html_file: imported.html.j2" in files["imported.yaml"]
    path = renderer.root / f"imported-{next(_written)}.html.j2"
    with path.open("x", encoding="utf-8", newline="") as handle:
        handle.write(files["imported.html.j2"])
    assert renderer.render(Source("html", file=path, where=path.name), {}) == body
