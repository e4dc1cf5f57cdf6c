"""``importing.template_files``: the files ``import templates`` writes load as a schema-valid
template file and render, through the project's own loader and renderer, to Pardot's subject,
text and HTML byte for byte, whatever the content holds."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from orchestrator.importing import ImportedTemplate, template_files, template_name
from orchestrator.render import Renderer, Source
from orchestrator.schemas import validate_document
from orchestrator.yamlload import Document, load_yaml_text

#: Text rich in what Jinja, YAML and HML read as their own.
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
        "\r",
        "\n",
        "\r\n",
        "\x85",
        "\u2028",
        " ",
        "  \n",
        "\t",
        "{{Recipient.FirstName}}",
        "{{{Recipient.Street}}}",
        "{{#if Recipient.X}}",
        "{{/if}}",
        "%%unsubscribe%%",
        "{% raw %}",
        "{% endraw %}",
        "<p>",
        "'",
        '"',
        "x",
    ]
)
_TEXT = st.one_of(st.text(), st.lists(_PIECES | st.text(max_size=3)).map("".join))
_SUBJECT = _TEXT.filter(lambda text: text != "")  # the schema needs a subject; Pardot requires one too

_written = itertools.count()


@pytest.fixture(scope="module")
def renderer(tmp_path_factory: pytest.TempPathFactory) -> Renderer:
    return Renderer(tmp_path_factory.mktemp("templates"))


def _template(subject: str, text: str, html: str | None) -> ImportedTemplate:
    return ImportedTemplate(
        name=f"imported-{next(_written)}",
        template_id=4004,
        pardot_name="Imported",
        subject=subject,
        text=text,
        html=html,
        sender={"name": "Jane Doe", "email": "jane@example.com"},
        reply_to=None,
        flags={"isListEmail": True, "isOneToOneEmail": False, "isAutoResponderEmail": False, "isDripEmail": False},
    )


def _write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        with (folder / name).open("x", encoding="utf-8", newline="") as handle:
            handle.write(text)


@settings(max_examples=200, deadline=None)
@given(subject=_SUBJECT, text=_TEXT, html=st.none() | _TEXT)
@example(subject="{{ x }} {%", text="a\r\n{#\n", html="{% endraw %}\r{{Recipient.FirstName}}  \n")
@example(subject="\x85", text="", html=None)
def test_the_written_files_render_to_pardots_content(
    renderer: Renderer, subject: str, text: str, html: str | None
) -> None:
    template = _template(subject, text, html)
    files = template_files(template)
    _write(renderer.root, files)
    yaml_name = f"{template.name}.yaml"
    document = load_yaml_text(files[yaml_name], yaml_name)
    assert isinstance(document, Document), document
    assert validate_document("email-template", document) == []
    data = document.data
    assert data["name"] == template.name and data["text_file"] == f"{template.name}.txt.j2"
    assert renderer.render(Source("subject", inline=data["subject"], where=yaml_name), {}) == subject
    assert renderer.render(Source("text", file=renderer.root / data["text_file"], where="t"), {}) == text
    if html is None:
        assert "html_file" not in data and len(files) == 2
    else:
        assert renderer.render(Source("html", file=renderer.root / data["html_file"], where="h"), {}) == html


@pytest.mark.parametrize(
    ("pardot", "expected"),
    [("Spring Newsletter", "spring-newsletter"), ("welcome", "welcome"), ("¡¿!", "template-7"), ("A__b--C", "a-b-c")],
)
def test_a_pardot_name_becomes_a_file_name(pardot: str, expected: str) -> None:
    assert template_name(pardot, 7) == expected
