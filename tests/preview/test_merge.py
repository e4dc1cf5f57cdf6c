"""Merge-tag filling for previews: a pure function, so plain examples and hypothesis suffice."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from orchestrator.mergetags import PLACEHOLDER_BASE, Recipient, fill

ADA = Recipient("ada", first_name="Ada", last_name="Lovelace", email="ada@example.com", company="Analytical",
                fields={"Favourite_Colour__c": "teal"})
EMPTY = Recipient("empty")


def html(content: str, who: Recipient = ADA) -> str:
    return fill(content, who, is_html=True, year=2027)


def text(content: str, who: Recipient = ADA) -> str:
    return fill(content, who, is_html=False, year=2027)


def test_pml_and_hml_recipient_fields() -> None:
    expected = "Ada Lovelace <ada@example.com> at Analytical"
    assert text("%%first_name%% %%last_name%% <%%email%%> at %%company%%") == expected
    assert text("{{Recipient.FirstName}} {{ Recipient.LastName }} {{{Recipient.Company}}}") == "Ada Lovelace Analytical"


def test_custom_fields_match_in_any_spelling() -> None:
    spellings = "%%favourite_colour%% {{Recipient.Favourite_Colour__c}} {{Recipient.FavouriteColour}}"
    assert text(spellings) == "teal teal teal"


def test_a_field_the_sample_lacks_is_blank_as_in_pardot() -> None:
    assert text("[%%job_title%%][{{Recipient.City}}]", EMPTY) == "[][]"


def test_if_else_and_unless_blocks_nest() -> None:
    content = (
        "{{#if Recipient.FirstName}}Hi {{Recipient.FirstName}}"
        "{{#unless Recipient.Company}}!{{/unless}}{{else}}Hello{{/if}}"
    )
    assert text(content) == "Hi Ada"
    assert text(content, EMPTY) == "Hello"
    assert text(content, Recipient("x", first_name="Bo")) == "Hi Bo!"


def test_values_are_escaped_in_html_even_in_triple_braces() -> None:
    hostile = Recipient("x", first_name="<script>x</script>", company='"><img src=x onerror=alert(1)>')
    out = html("<p>{{{Recipient.FirstName}}} <a title='{{Recipient.Company}}'>%%first_name%%</a></p>", hostile)
    assert "<script>" not in out and "<img" not in out
    assert "&lt;script&gt;" in out
    assert text("{{{Recipient.FirstName}}}", hostile) == "<script>x</script>"  # the text part is plain text


def test_opt_out_tags_become_placeholder_links() -> None:
    out = html('<a href="%%unsubscribe%%">Leave</a> <a href="{{EmailPreferenceCenter}}">Prefs</a> {{Unsubscribe}}')
    assert f'<a href="{PLACEHOLDER_BASE}unsubscribe">Leave</a>' in out
    assert f'<a href="{PLACEHOLDER_BASE}email-preferences">Prefs</a>' in out
    assert out.endswith(f'<a href="{PLACEHOLDER_BASE}unsubscribe">[Unsubscribe]</a>')  # bare tag: a visible link
    assert text("Stop: %%unsubscribe%%") == f"Stop: {PLACEHOLDER_BASE}unsubscribe"


def test_non_recipient_tags_show_as_placeholders() -> None:
    assert text("{{Sender.FullName}} / %%user_email%% / {{{Organization.Address}}} / {{Current_Year}}") == (
        "[Sender.FullName] / [user_email] / [Organization.Address] / 2027"
    )


def test_malformed_blocks_stay_as_written() -> None:
    assert text("{{#if Recipient.FirstName}}never closed") == "{{#if Recipient.FirstName}}never closed"
    assert text("stray {{/if}} and {{else}}") == "stray {{/if}} and {{else}}"


@given(st.text(alphabet=st.sampled_from(list("{}#/%ifelsunRcpt. aA<>\"'")), max_size=200))
def test_fill_never_raises_and_leaves_tagless_text_alone(content: str) -> None:
    out = text(content)
    html(content)
    if "{{" not in content and "%%" not in content:
        assert out == content


@given(st.text(max_size=100).filter(lambda s: "{{" not in s and "%%" not in s and "}}" not in s))
def test_text_without_tags_is_unchanged(content: str) -> None:
    assert text(content) == content and html(content) == content
