"""Rendering: HML/PML pass through byte-for-byte, Jinja stays Jinja, the sandbox holds."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from orchestrator.errors import RenderError
from orchestrator.policy import has_opt_out_token
from orchestrator.render import Renderer, Source, is_literal, protect_hml

HML_TAGS = [
    "{{Recipient.FirstName}}",
    "{{{Recipient.Street}}}",
    "{{Unsubscribe}}",
    "{{EmailPreferenceCenter}}",
    "{{#if Recipient.Company}}",
    "{{/if}}",
    "{{else}}",
    "{{unsubscribe}}",
    "{{{emailpreferencecenter}}}",
    "{{Sender.FirstName}}",
    "{{#unless Recipient.Title}}",
    "{{/unless}}",
    "{{View_Online}}",
    "{{Current_Year}}",
    "%%first_name%%",
    "%%unsubscribe%%",
    "%%email_preference_center%%",
    "%%account_address%%",
]


@pytest.fixture
def renderer(tmp_path: Path) -> Renderer:
    return Renderer(tmp_path)


@pytest.mark.parametrize("tag", HML_TAGS)
@pytest.mark.parametrize("part", ["subject", "text", "html"])
def test_merge_tags_pass_through_byte_for_byte(renderer: Renderer, tag: str, part: str) -> None:
    assert renderer.render(Source(part, inline=f"a {tag} b {{{{ x }}}}"), {"x": 1}) == f"a {tag} b 1"


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.one_of(st.sampled_from(HML_TAGS), st.text(alphabet="abc XYZ.,!%-<>\n", max_size=12)),
        max_size=12,
    )
)
def test_any_mix_of_text_and_merge_tags_renders_unchanged(chunks: list[str]) -> None:
    source = "".join(chunks)
    rendered = Renderer(Path(".")).render(Source("text", inline=source), {})
    assert rendered == source


@settings(max_examples=300)
@given(st.text(alphabet="ab <>&\"'{}%#-+\n\r\t\u00e9\u2028", max_size=40), st.sampled_from(["subject", "text", "html"]))
def test_a_literal_source_is_what_jinja_renders_it_to(text: str, part: str) -> None:
    """The shortcut for sources without Jinja syntax gives exactly what compiling them would:
    a leading comment forces the Jinja path for the same text."""
    assume(is_literal(text))
    renderer = Renderer(Path("."))
    through_jinja = renderer.render(Source(part, inline="{# #}" + text), {})
    assert renderer.render(Source(part, inline=text), {}) == through_jinja == text


def test_carriage_returns_still_go_through_jinja(renderer: Renderer) -> None:
    assert not is_literal("a\r\nb")
    assert renderer.render(Source("text", inline="a\r\nb"), {}) == "a\nb"


def test_a_literal_source_counts_against_the_budget(renderer: Renderer) -> None:
    from orchestrator.render import RenderBudget

    with pytest.raises(RenderError, match="larger than 10 characters"):
        renderer.render(Source("text", inline="x" * 11), {}, RenderBudget(chars=10))


def test_jinja_still_works_next_to_hml(renderer: Renderer) -> None:
    src = "{% if vip %}{{Recipient.FirstName}}, {{ offer }}{% else %}{{else}}{% endif %}"
    assert renderer.render(Source("text", inline=src), {"vip": True, "offer": "20%"}) == "{{Recipient.FirstName}}, 20%"


def test_existing_raw_blocks_are_left_alone() -> None:
    src = "{% raw %}{{Unsubscribe}} {{ jinja }}{% endraw %} {{Unsubscribe}}"
    assert protect_hml(src).count("{% raw %}") == 2
    assert Renderer(Path(".")).render(Source("text", inline=src), {}) == "{{Unsubscribe}} {{ jinja }} {{Unsubscribe}}"


def test_html_is_autoescaped_text_is_not(renderer: Renderer) -> None:
    assert renderer.render(Source("html", inline="{{ v }}"), {"v": "<b>&"}) == "&lt;b&gt;&amp;"
    assert renderer.render(Source("text", inline="{{ v }}"), {"v": "<b>&"}) == "<b>&"


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("{{ ''.__class__ }}", "unsafe"),
        ("{{ x.__globals__ }}", "undefined"),
        ("{{ cycler.__init__.__globals__ }}", "unsafe"),
        ("{{ missing }}", "undefined variable"),
        ("{% include '../../etc/passwd' %}", "not found inside"),
        ("{% include '/etc/passwd' %}", "not found inside"),
        ("{% if %}", "syntax error"),
    ],
)
def test_refusals(renderer: Renderer, source: str, fragment: str) -> None:
    with pytest.raises(RenderError, match=fragment):
        renderer.render(Source("text", inline=source), {"x": 1})


@pytest.mark.parametrize(
    ("text", "is_html", "expected"),
    [
        ("%%unsubscribe%%", False, True),
        ("%%email_preference_center%%", False, True),
        ("{{Unsubscribe}}", False, False),  # HML counts only with policy.allow_hml_unsubscribe
        ("%%UNSUBSCRIBE%%", False, False),  # Pardot documents the lower-case token
        ("{{unsubscribe}}", True, False),
        ('<a href="%%unsubscribe%%">u</a>', True, True),
        ("<!-- %%unsubscribe%% -->", True, False),
        ("<!--[if mso]>%%unsubscribe%%<![endif]-->", True, False),
        ("%%unsubscribe", False, False),
        ('<!-- <a href="%%unsubscribe%%">x</a>', True, False),  # never closed: a comment to the end
        ('<!-- x -- > <a href="%%unsubscribe%%">u</a> -->', True, False),  # "-- >" does not end it
        ('<!--> <a href="%%unsubscribe%%">u</a>', True, True),  # "<!-->" is an empty comment
        ("<p>&#37;&#37;unsubscribe&#37;&#37;</p>", True, False),  # Pardot never sees the tag
        ('<a href="&#37;&#37;unsubscribe&#37;&#37;">u</a>', True, False),
        ("<style>/* %%unsubscribe%% */</style>", True, False),
        ("<script>var u = '%%unsubscribe%%'</script>", True, False),
        ("<title>%%unsubscribe%%</title>", True, False),
        ("<textarea>%%unsubscribe%%</textarea>", True, False),
        ('<img alt="%%unsubscribe%%" src="x.png">', True, False),
        ("<template><a href='%%unsubscribe%%'>u</a></template>", True, False),
        ("<a href=%%unsubscribe%%>u</a>", True, True),
        ("<p>Unsubscribe: %%unsubscribe%%</p>", True, False),  # visible text, but nothing to click
        ("<STYLE>x</STYLE><A HREF='%%email_preference_center%%'>u</A>", True, True),
        ("{{Unsubscribe.Link}}", False, False),
        ("unsubscribe here", False, False),
        # issue 10's reproductions: each passed the regex check with no working link
        ('<a data-href="%%unsubscribe%%">u</a>', True, False),
        ('<a title="href=%%unsubscribe%%">u</a>', True, False),
        ('<img alt="href=%%unsubscribe%%" src="x">', True, False),
        ('<link href="%%unsubscribe%%">', True, False),
        ('<base href="%%unsubscribe%%">', True, False),
        ('<?xml href="%%unsubscribe%%"?>', True, False),
        ('<!DOCTYPE html href="%%unsubscribe%%">', True, False),
        ('</a href="%%unsubscribe%%">', True, False),
        ('<p>x</p><a href="%%unsubscribe%%"', True, False),  # unclosed at the end of the file
        ('{{#if Recipient.X}}<a href="%%unsubscribe%%">u</a>{{/if}}', True, False),
        ('{{#unless Recipient.X}}<a href="%%unsubscribe%%">u</a>{{/unless}}', True, False),
        ('<a href="https://x.example/?u=%%unsubscribe%%">u</a>', True, False),
        ("{{#if Recipient.X}}%%unsubscribe%%{{/if}}", False, False),
        # what does count
        ('<a href=" %%unsubscribe%%\n">u</a>', True, True),  # trimmed like a browser does
        ('<map name="m"><area href="%%email_preference_center%%"></map>', True, True),
        ('{{#if Recipient.X}}<a href="%%unsubscribe%%">u</a>{{/if}}<a href="%%unsubscribe%%">u</a>', True, True),
        ('<noscript><a href="%%unsubscribe%%">u</a></noscript>', True, False),
        ('<div hidden><a href="%%unsubscribe%%">u</a></div>', True, False),
        ('<a hidden href="%%unsubscribe%%">u</a>', True, False),
    ],
)
def test_opt_out_token_detection(text: str, is_html: bool, expected: bool) -> None:
    assert has_opt_out_token(text, is_html=is_html) is expected


@pytest.mark.parametrize(
    ("text", "is_html"),
    [
        ("{{Unsubscribe}}", False),
        ("{{{ EmailPreferenceCenter }}}", False),
        ("{{unsubscribe}}", False),
        ('<a href="{{Unsubscribe}}">u</a>', True),
        ("<STYLE>x</STYLE><A HREF='{{EmailPreferenceCenter}}'>u</A>", True),
        ("<a href='{{{ unsubscribe }}}'>u</a>", True),
    ],
)
def test_hml_tokens_count_only_when_the_policy_allows_them(text: str, is_html: bool) -> None:
    assert has_opt_out_token(text, is_html=is_html, allow_hml=True) is True
    assert has_opt_out_token(text, is_html=is_html, allow_hml=False) is False


def test_bytecode_cache_never_mixes_html_and_text_escaping(tmp_path: Path) -> None:
    """The same source in the text and the HTML part must keep its own escaping across runs."""
    (tmp_path / "shared.j2").write_text("{{ v }}")
    cache = tmp_path / "cache"
    for _ in range(2):  # the second round runs from the cache
        r = Renderer(tmp_path, cache_dir=cache)
        assert r.render(Source("text", inline="{{ v }}"), {"v": "<b>"}) == "<b>"
        assert r.render(Source("html", inline="{{ v }}"), {"v": "<b>"}) == "&lt;b&gt;"
        assert r.render(Source("text", file=tmp_path / "shared.j2"), {"v": "<b>"}) == "<b>"
        assert r.render(Source("html", file=tmp_path / "shared.j2"), {"v": "<b>"}) == "&lt;b&gt;"
    assert any(cache.rglob("*.cache"))


def test_cached_render_equals_uncached(tmp_path: Path) -> None:
    src = "{{#if Recipient.X}}{{ n }}{{/if}} %%unsubscribe%%"
    cached = Renderer(tmp_path, cache_dir=tmp_path / "c")
    cached.render(Source("html", inline=src), {"n": 1})
    again = Renderer(tmp_path, cache_dir=tmp_path / "c").render(Source("html", inline=src), {"n": 2})
    assert (
        again
        == Renderer(tmp_path).render(Source("html", inline=src), {"n": 2})
        == "{{#if Recipient.X}}2{{/if}} %%unsubscribe%%"
    )
