"""Whether a recipient can see an element of a parsed email, and whether a link shows anything.

An element is hidden when it or an ancestor is inert or foreign content (``svg``, ``math``,
``object``... which email clients drop, or render without HTML links), carries the ``hidden``
attribute or ``aria-hidden="true"`` (a screen-reader user is a recipient too), or is hidden by
CSS (:mod:`orchestrator.csshiding`), inline or from a ``<style>`` rule. A link shows something
when it holds drawn text (not blank or zero-width, font size above zero, not indented away) or
an image with alt text that is larger than a tracking pixel.

Cost matters (``validate`` checks every campaign's opt-out link): elements are read once each,
and a ``<style>`` rule's selector is run over the document only when its answer is needed. Rules
that can hide are always needed; rules that can only show (``font-size:14px`` restoring text in
a ``font-size:0`` wrapper, ``visibility:visible``) only when an inherited property would
otherwise hide. Where the cascade is approximated (specificity and ``!important`` between rules
are not weighed, media queries are ignored), the reading that hides wins.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser, LexborNode, SelectolaxError

from orchestrator import csshiding

__all__ = ["INERT_ELEMENTS", "Visibility"]

#: Elements whose descendants a recipient never sees as clickable content, even if the parser
#: builds elements inside them (``<noscript>`` does when scripting is off). ``svg`` and ``math``
#: hold foreign content that email clients strip or do not render as HTML links; ``object``,
#: ``iframe``, ``canvas``, ``video`` and ``audio`` show their children only as a fallback.
INERT_ELEMENTS = frozenset(
    {
        "template", "script", "style", "noscript", "title", "textarea", "head",
        "svg", "math", "object", "iframe", "canvas", "video", "audio",
    }
)

#: Letters that draw nothing (fillers and the blank Braille pattern), beyond spaces and the
#: format characters (zero-width space, joiners, soft hyphen: Unicode category Cf).
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")

_TEXT = "-text"

#: What an inherited property's value does to the content below: hide it, show it (the nearest
#: declaration decides), or defer to the parent (``inherit``; a relative font size of a zero
#: size is zero).
HIDE, SHOW, DEFER = "hide", "show", "defer"


def _visibility_verdict(value: str) -> str:
    shown = csshiding.visibility({"visibility": value})
    return DEFER if shown is None else (SHOW if shown else HIDE)


def _font_size_verdict(value: str) -> str:
    size = csshiding.font_size({"font-size": value})
    return {csshiding.ZERO: HIDE, csshiding.ABSOLUTE: SHOW}.get(size or "", DEFER)


def _text_indent_verdict(value: str) -> str:
    if value in ("inherit", "unset", "revert"):
        return DEFER
    return HIDE if csshiding.text_off_screen({"text-indent": value}) else SHOW


#: The inherited properties that can hide, and how to read them.
_INHERITED: Mapping[str, Callable[[str], str]] = {
    "visibility": _visibility_verdict,
    "font-size": _font_size_verdict,
    "text-indent": _text_indent_verdict,
}
#: Inherited properties that hide an element with its images; the others hide only text.
_BOX_INHERITED = ("visibility",)
_TEXT_ONLY_INHERITED = ("font-size", "text-indent")


@dataclass(frozen=True)
class _Rule:
    """A ``<style>`` rule: its declarations, and whether any of them can hide."""

    selector: str
    declarations: Mapping[str, str]
    can_hide: bool


def _can_hide(d: Mapping[str, str]) -> bool:
    return csshiding.hides_box(d) or any(
        prop in d and _INHERITED[prop](d[prop]) == HIDE for prop in _INHERITED
    )


@dataclass(frozen=True)
class _Element:
    """What one element says about visibility: attribute hiding, its CSS, box hiding."""

    attribute_hides: bool
    inline: Mapping[str, str]
    hiding_rules: tuple[Mapping[str, str], ...]  # matching rules that can hide, in document order
    box_hides: bool


_PLAIN = _Element(False, {}, (), False)  # no hiding attribute, no style, no hiding rule


class Visibility:
    """Visibility questions about one parsed document (answers are memoized per element)."""

    def __init__(self, tree: LexborHTMLParser) -> None:
        self._tree = tree
        self._elements: dict[int, _Element] = {}
        self._hidden: dict[int, bool] = {}
        self._matches: dict[int, frozenset[int]] = {}
        self._sheet: tuple[_Rule, ...] | None = None

    # -- the questions -----------------------------------------------------------------------

    def hidden(self, node: LexborNode) -> bool:
        """True when ``node`` is inert content, or it or an ancestor is hidden (attribute or CSS)."""
        key = node.mem_id
        known = self._hidden.get(key)
        if known is None:
            known = self._hidden[key] = self._box_hidden(node) or self._inherited_hides(node, _BOX_INHERITED)
        return known

    def shows_something(self, link: LexborNode) -> bool:
        """True when ``link`` holds drawn text, or a visible image with alt text, to click."""
        for node in link.traverse(include_text=True):
            if node.tag == _TEXT:
                parent = node.parent
                if parent is not None and _draws(node.text(deep=False)) and self._text_shown(parent):
                    return True
            elif node.tag == "img" and self._image_shown(node):
                return True
        return False

    # -- walks up the tree -------------------------------------------------------------------

    def _box_hidden(self, node: LexborNode) -> bool:
        """Hidden in a way no descendant can undo: inert ancestor, attribute, display:none..."""
        current: LexborNode | None = node
        while current is not None:
            if current.tag in INERT_ELEMENTS:
                return True
            element = self._element(current)
            if element.attribute_hides or element.box_hides:
                return True
            current = current.parent
        return False

    def _inherited_hides(self, node: LexborNode, props: tuple[str, ...]) -> bool:
        """Whether one of the inherited ``props`` hides ``node``'s content. Rules that can only
        show are consulted (a selector query each) only when the hiding ones alone would hide."""
        return self._walk_inherited(node, props, every_rule=False) and self._walk_inherited(
            node, props, every_rule=True
        )

    def _walk_inherited(self, node: LexborNode, props: tuple[str, ...], *, every_rule: bool) -> bool:
        """One walk up for all ``props``: each is settled by the nearest element declaring it."""
        pending = list(props)
        current: LexborNode | None = node
        while current is not None and pending:
            element = self._element(current)
            if element is not _PLAIN or every_rule:
                for prop in tuple(pending):
                    value = self._value(current, element, prop, every_rule=every_rule)
                    verdict = DEFER if value is None else _INHERITED[prop](value)
                    if verdict == HIDE:
                        return True
                    if verdict == SHOW:
                        pending.remove(prop)
            current = current.parent
        return False

    def _text_shown(self, parent: LexborNode) -> bool:
        """Text directly inside ``parent`` is drawn."""
        return not self.hidden(parent) and not self._inherited_hides(parent, _TEXT_ONLY_INHERITED)

    def _image_shown(self, img: LexborNode) -> bool:
        """An image with alt text, larger than a tracking pixel, not hidden."""
        return _draws(img.attributes.get("alt") or "") and not _tiny_image(img) and not self.hidden(img)

    # -- what one element says ---------------------------------------------------------------

    def _value(self, node: LexborNode, element: _Element, prop: str, *, every_rule: bool) -> str | None:
        """``prop`` as declared on ``node``: its own style first, else the last matching rule."""
        if prop in element.inline:
            return element.inline[prop]
        rules = self._every_rule(node) if every_rule else element.hiding_rules
        for declarations in reversed(rules):
            if prop in declarations:
                return declarations[prop]
        return None

    def _element(self, node: LexborNode) -> _Element:
        key = node.mem_id
        element = self._elements.get(key)
        if element is None:
            element = self._elements[key] = self._read(node, key)
        return element

    def _read(self, node: LexborNode, key: int) -> _Element:
        attributes = node.attributes
        if "hidden" in attributes or (attributes.get("aria-hidden") or "").strip().lower() == "true":
            return _Element(True, {}, (), True)
        raw = attributes.get("style")
        inline = csshiding.relevant(csshiding.declarations(raw)) if raw else {}
        sheet = self._rules()
        rules = tuple(
            rule.declarations for index, rule in enumerate(sheet) if rule.can_hide and key in self._matched(index)
        ) if sheet else ()
        if not inline and not rules:
            return _PLAIN
        blocks = (*rules, inline) if inline else rules
        merged: dict[str, str] = {}
        for block in blocks:  # the element's own style comes last and wins
            merged.update(block)
        # Each block alone too: a rule that hides keeps hiding whatever another block adds.
        box_hides = csshiding.hides_box(merged) or any(csshiding.hides_box(block) for block in blocks)
        return _Element(False, inline, rules, box_hides)

    def _every_rule(self, node: LexborNode) -> tuple[Mapping[str, str], ...]:
        key = node.mem_id
        return tuple(rule.declarations for index, rule in enumerate(self._rules()) if key in self._matched(index))

    # -- the style sheet ---------------------------------------------------------------------

    def _rules(self) -> tuple[_Rule, ...]:
        """The document's ``<style>`` rules that set a property able to hide or show content."""
        if self._sheet is None:
            self._sheet = tuple(rule for style in self._tree.tags("style") for rule in _parsed(style.text(deep=True)))
        return self._sheet

    def _matched(self, index: int) -> frozenset[int]:
        """The elements rule ``index`` selects (its selector runs once, when first needed)."""
        matched = self._matches.get(index)
        if matched is None:
            try:
                matched = frozenset(n.mem_id for n in self._tree.css(self._rules()[index].selector))
            except SelectolaxError:  # pseudo-elements, vendor syntax: it selects nothing we know
                matched = frozenset()
            self._matches[index] = matched
        return matched


@functools.lru_cache(maxsize=256)
def _parsed(css: str) -> tuple[_Rule, ...]:
    """One ``<style>`` element's rules, classified; memoized, as campaigns share their layouts."""
    return tuple(
        _Rule(rule.selector, rule.declarations, _can_hide(rule.declarations))
        for rule in csshiding.stylesheet_rules(css)
    )


def _draws(text: str) -> bool:
    """True when ``text`` has a character that draws something (not blank, not zero-width)."""
    return any(
        not ch.isspace() and ch not in _BLANK_LETTERS and unicodedata.category(ch) not in ("Cf", "Cc")
        for ch in text
    )


def _tiny_image(img: LexborNode) -> bool:
    """A 0 or 1 pixel image (a tracking pixel), by its attributes or inline style."""
    style = csshiding.declarations(img.attributes.get("style") or "")
    for name in ("width", "height"):
        px = csshiding.length_px(style.get(name))
        attribute = (img.attributes.get(name) or "").strip().removesuffix("px")
        if (px is not None and px <= 1.0) or attribute in ("0", "1"):
            return True
    return False
