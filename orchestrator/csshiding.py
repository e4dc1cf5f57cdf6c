"""CSS declarations that hide content from a recipient (inline ``style`` and ``<style>`` rules).

Not a CSS engine: email HTML hides things in a handful of well-known ways (the preheader's
``display:none``, mobile-only blocks collapsed with ``max-height:0;overflow:hidden``, "visually
hidden" spans clipped or moved off-screen, ``font-size:0`` text), and these functions recognise
them from the declarations alone. :mod:`orchestrator.htmlparse` applies them along an element's
ancestors. Where the real cascade could go either way, the reading that hides wins: refusing a
visible link costs an edit, sending an invisible one costs the recipients their way out.

Known limits (README, "Policy"): specificity and ``!important`` are not weighed between a rule
and another; media queries are ignored (a rule inside ``@media`` hides for everyone); text
coloured like its background, and layout effects (an element covered by another) are not
detected.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

#: Properties whose values can hide an element or its text; rules setting none are skipped.
RELEVANT = frozenset(
    {
        "display", "visibility", "opacity", "mso-hide", "font-size", "text-indent", "overflow",
        "overflow-x", "overflow-y", "height", "max-height", "width", "max-width", "clip", "clip-path",
        "position", "left", "top", "right", "bottom", "margin-left", "margin-top", "transform",
    }
)

#: The properties :func:`hides_box` reads (inherited text properties are read by the caller).
_BOX_PROPERTIES = RELEVANT - {"visibility", "font-size", "text-indent"}

#: A box moved this far off the page (in CSS pixels) is treated as off-screen.
OFF_SCREEN_PX = 1000.0

_PX_PER_UNIT = {"px": 1.0, "": 1.0, "pt": 4 / 3, "pc": 16.0, "in": 96.0, "cm": 96 / 2.54, "mm": 96 / 25.4,
                "q": 96 / 101.6, "em": 16.0, "rem": 16.0}
_RELATIVE_UNITS = frozenset({"%", "em", "ex", "ch", "lh"})
_NUMBER = re.compile(r"([+-]?(?:\d+\.?\d*|\.\d+))([a-z%]*)")
_ZERO = re.compile(r"[+-]?(?:0+\.?0*|\.0+)[a-z%]*")
_IMPORTANT = re.compile(r"\s*!\s*important\s*$")
_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_RULE = re.compile(r"([^{}]*)\{([^{}]*)\}")
_HIDDEN_OVERFLOW = frozenset({"hidden", "clip"})
_CLIP_RECT = re.compile(r"rect\((.*)\)")
_CLIP_EDGES = re.compile(r"[\s,]+")
_CLIP_PATH_ALL = re.compile(r"inset\(\s*(?:50|100)%|circle\(\s*0")
_SCALE_ZERO = re.compile(r"scale[xy]?\(\s*[+-]?0*\.?0*\s*[,)]")


@dataclass(frozen=True)
class Rule:
    """One ``<style>`` rule that sets a :data:`RELEVANT` property."""

    selector: str
    declarations: Mapping[str, str]


def declarations(text: str) -> dict[str, str]:
    """``prop: value; ...`` as a dict (names and values lower-cased, ``!important`` dropped)."""
    result: dict[str, str] = {}
    if "/*" in text:
        text = _COMMENT.sub("", text)
    for part in text.split(";"):
        name, sep, value = part.partition(":")
        if sep:
            result[name.strip().lower()] = _IMPORTANT.sub("", value.strip().lower())
    return result


def relevant(found: Mapping[str, str]) -> Mapping[str, str]:
    """Only the declarations that can hide something (most inline styles have none)."""
    return {name: value for name, value in found.items() if name in RELEVANT}


def stylesheet_rules(css: str) -> Iterator[Rule]:
    """The rules of a ``<style>`` element's text that set a property able to hide something.

    Rules nested in ``@media`` or ``@supports`` are read like top-level ones; at-rules without
    selectors (``@font-face``, ``@page``) are skipped.
    """
    text = _COMMENT.sub("", css).replace("<!--", " ").replace("-->", " ")
    for match in _RULE.finditer(text):
        selector = match.group(1).strip()
        if not selector or selector.startswith("@"):
            continue
        found = relevant(declarations(match.group(2)))
        if found:
            yield Rule(selector, found)


def is_zero(value: str | None) -> bool:
    """True for ``0``, ``0px``, ``0.0em``, ``0%`` and the like."""
    return value is not None and _ZERO.fullmatch(value.strip()) is not None


def length_px(value: str | None) -> float | None:
    """An absolute length in CSS pixels (``em``/``rem`` at 16 px); None when not one."""
    if value is None:
        return None
    match = _NUMBER.fullmatch(value.strip())
    if match is None or match.group(2) not in _PX_PER_UNIT:
        return None
    if match.group(2) == "" and float(match.group(1)) != 0:
        return None  # a unitless non-zero length is invalid CSS (ignored by browsers)
    return float(match.group(1)) * _PX_PER_UNIT[match.group(2)]


def _tiny(value: str | None) -> bool:
    px = length_px(value)
    return px is not None and px <= 1.0


def _overflow_hidden(d: Mapping[str, str]) -> tuple[bool, bool]:
    """Whether content is clipped horizontally and vertically (``overflow: X [Y]`` and longhands)."""
    shorthand = d.get("overflow", "").split()
    x = d.get("overflow-x", shorthand[0] if shorthand else "")
    y = d.get("overflow-y", shorthand[-1] if shorthand else "")
    return x in _HIDDEN_OVERFLOW, y in _HIDDEN_OVERFLOW


def _clipped_away(d: Mapping[str, str]) -> bool:
    """``clip: rect(...)`` leaving at most a pixel, or ``clip-path`` cutting everything away."""
    clip = _CLIP_RECT.fullmatch(d.get("clip", "").strip())
    if clip is not None and d.get("position") in ("absolute", "fixed"):
        edges = [length_px(v) for v in _CLIP_EDGES.split(clip.group(1).strip())]
        if len(edges) == 4 and None not in edges:
            top, right, bottom, left = (e or 0.0 for e in edges)
            if right - left <= 1.0 or bottom - top <= 1.0:
                return True
    return _CLIP_PATH_ALL.match(d.get("clip-path", "")) is not None


def _off_screen(d: Mapping[str, str]) -> bool:
    """Moved out of the page by a large negative offset (the "visually hidden" trick)."""
    far = OFF_SCREEN_PX
    if d.get("position") in ("absolute", "fixed", "relative"):
        if any((px := length_px(d.get(side))) is not None and px <= -far for side in ("left", "top")):
            return True
        if any((px := length_px(d.get(side))) is not None and px >= far for side in ("right", "bottom")):
            return True
    return any((px := length_px(d.get(side))) is not None and px <= -far for side in ("margin-left", "margin-top"))


def hides_box(d: Mapping[str, str]) -> bool:
    """True when declarations ``d`` hide an element with everything inside it.

    These are not undone by a descendant: ``display:none`` removes the subtree, opacity
    multiplies, a clipped or off-screen box takes its content along.
    """
    if _BOX_PROPERTIES.isdisjoint(d):
        return False
    if d.get("display") == "none" or d.get("mso-hide") == "all" or is_zero(d.get("opacity")):
        return True
    clip_x, clip_y = _overflow_hidden(d)
    if clip_y and (_tiny(d.get("height")) or _tiny(d.get("max-height"))):
        return True
    if clip_x and (_tiny(d.get("width")) or _tiny(d.get("max-width"))):
        return True
    if _SCALE_ZERO.search(d.get("transform", "")):
        return True
    return _clipped_away(d) or _off_screen(d)


def visibility(d: Mapping[str, str]) -> bool | None:
    """``visibility``: False hidden, True visible, None not set (inherited: the nearest wins)."""
    value = d.get("visibility")
    if value in ("hidden", "collapse"):
        return False
    if value == "visible":
        return True
    return None


#: :func:`font_size` answers.
ZERO, RELATIVE, ABSOLUTE = "zero", "relative", "absolute"


def font_size(d: Mapping[str, str]) -> str | None:
    """How ``font-size`` sizes text: ZERO, RELATIVE (to the parent's), ABSOLUTE, or None if unset."""
    value = d.get("font-size")
    if value is None:
        return None
    if is_zero(value):
        return ZERO
    if value in ("smaller", "larger", "inherit", "unset", "revert"):
        return RELATIVE
    match = _NUMBER.fullmatch(value.strip())
    if match is not None and match.group(2) in _RELATIVE_UNITS:
        return RELATIVE
    return ABSOLUTE


def text_off_screen(d: Mapping[str, str]) -> bool | None:
    """``text-indent`` pushing text out of its box: True/False, None if unset (the nearest wins)."""
    value = d.get("text-indent")
    if value is None:
        return None
    px = length_px(value)
    return px is not None and px <= -OFF_SCREEN_PX
