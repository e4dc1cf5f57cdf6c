"""Filling Pardot merge tags for a preview: a pure function of the content and a sample recipient.

Pardot fills merge tags per recipient when it sends; what it receives from us keeps them as
written (see ``orchestrator/render.py``). A reviewer, though, wants to read the email the way
a recipient does. This module does that substitution for previews only; nothing here feeds a
payload.

Both merge languages are understood (mapping and syntax: Salesforce Help, "Handlebars Merge
Language" and "Pardot Merge Language to HML mapping", summarised with secondary sources in
``/work/shared/reference/pardot-api.md`` section 6):

* PML: ``%%first_name%%``, ``%%company%%``, ``%%custom_field%%``, ``%%unsubscribe%%``, ...
* HML: ``{{Recipient.FirstName}}``, ``{{{Recipient.Street}}}``, ``{{#if X}}…{{else}}…{{/if}}``,
  ``{{#unless X}}…{{/unless}}``, ``{{Unsubscribe}}``, ``{{EmailPreferenceCenter}}``, ...

Rules of the preview (documented in docs/policy.md):

* Recipient fields come from the sample; a field the sample lacks is blank, as Pardot leaves it.
* Sender, organization and other non-recipient tags show as visible placeholders
  (``[Sender.FullName]``): the preview cannot know them.
* Unsubscribe, preference-center, view-online and resubscribe tags become links to
  ``https://preview.invalid/...`` (``.invalid`` never resolves, RFC 2606); outside an attribute
  value in HTML they become a visible ``[Unsubscribe]`` link.
* Every value is HTML-escaped in the HTML part, even in triple braces: a sample's values are
  data, never markup (a prospect's name could be hostile).
* Malformed blocks (an ``{{#if}}`` never closed, a stray ``{{/if}}``) stay as written.
"""

from __future__ import annotations

import html as htmlmod
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

#: Where the opt-out and view-online tags point in a preview. ``.invalid`` is reserved (RFC 2606).
PLACEHOLDER_BASE = "https://preview.invalid/"

_LINK_TAGS = {
    "unsubscribe": ("unsubscribe", "Unsubscribe"),
    "emailpreferencecenter": ("email-preferences", "Email preferences"),
    "viewonline": ("view-online", "View online"),
    "resubscribe": ("resubscribe", "Resubscribe"),
}

_TOKEN = re.compile(
    r"""
    \{\{\{\s*(?P<triple>[^{}]*?)\s*\}\}\}
    | \{\{\s*\#(?P<open>if|unless)\s+(?P<cond>[^{}]*?)\s*\}\}
    | \{\{\s*else\s*\}\}
    | \{\{\s*/(?P<close>if|unless)\s*\}\}
    | \{\{\s*(?P<double>[A-Za-z_][\w.]*)\s*\}\}
    | %%(?P<pml>[A-Za-z_][A-Za-z0-9_]*)%%
    """,
    re.VERBOSE | re.IGNORECASE,
)
_IN_ATTRIBUTE = re.compile(r"=\s*[\"']?$")


@dataclass(frozen=True)
class Recipient:
    """A sample recipient: the values merge tags are filled with in a preview."""

    label: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    company: str = ""
    job_title: str = ""
    fields: Mapping[str, str] = field(default_factory=dict)

    def value(self, name: str) -> str:
        """The field ``name`` (any of ``first_name``, ``FirstName``, ``Custom__c``), blank if unknown."""
        wanted = _normal(name)
        standard = {
            "firstname": self.first_name,
            "lastname": self.last_name,
            "email": self.email,
            "company": self.company,
            "jobtitle": self.job_title,
        }
        if standard.get(wanted):
            return standard[wanted]
        for key, value in self.fields.items():
            if _normal(key) == wanted:
                return value
        return standard.get(wanted, "")


def _normal(name: str) -> str:
    """``Custom_Field__c``, ``custom_field`` and ``CustomField`` name the same field."""
    lowered = name.lower()
    if lowered.endswith("__c"):
        lowered = lowered[:-3]
    return lowered.replace("_", "")


@dataclass(frozen=True)
class _Tag:
    name: str
    raw: bool  # triple braces: unescaped in Handlebars (still escaped here, see the module doc)
    pml: bool


@dataclass
class _Block:
    kind: str  # "if" | "unless"
    cond: str
    opening: str
    then: list[_Node] = field(default_factory=list)
    otherwise: list[_Node] | None = None
    else_text: str = ""


_Node = str | _Tag | _Block


def _parse(content: str) -> list[_Node]:
    """A tree of text, tags and blocks; unbalanced block tokens are kept as literal text."""
    root: list[_Node] = []
    stack: list[_Block] = []

    def target() -> list[_Node]:
        if not stack:
            return root
        top = stack[-1]
        return top.otherwise if top.otherwise is not None else top.then

    pos = 0
    for match in _TOKEN.finditer(content):
        if match.start() > pos:
            target().append(content[pos : match.start()])
        pos = match.end()
        text = match.group(0)
        if match.group("open"):
            stack.append(_Block(match.group("open").lower(), match.group("cond"), text))
        elif match.group("close"):
            if stack and stack[-1].kind == match.group("close").lower():
                block = stack.pop()
                target().append(block)
            else:
                target().append(text)
        elif match.group("triple") is not None:
            target().append(_Tag(match.group("triple"), raw=True, pml=False))
        elif match.group("double"):
            target().append(_Tag(match.group("double"), raw=False, pml=False))
        elif match.group("pml"):
            target().append(_Tag(match.group("pml"), raw=False, pml=True))
        elif stack and stack[-1].otherwise is None:  # {{else}}
            stack[-1].otherwise = []
            stack[-1].else_text = text
        else:
            target().append(text)
    if pos < len(content):
        target().append(content[pos:])
    while stack:  # never closed: the opening token and what followed stay as written
        block = stack.pop()
        flat: list[_Node] = [block.opening, *block.then]
        if block.otherwise is not None:
            flat += [block.else_text, *block.otherwise]
        target().extend(flat)
    return root


def fill(content: str, recipient: Recipient, *, is_html: bool, year: int) -> str:
    """``content`` with every merge tag filled from ``recipient`` (see the module docstring).

    ``year`` fills ``{{Current_Year}}``: the year of the send, passed in so this stays pure.
    """
    out: list[str] = []
    _emit(_parse(content), recipient, is_html, year, out)
    return "".join(out)


def _emit(nodes: list[_Node], recipient: Recipient, is_html: bool, year: int, out: list[str]) -> None:
    for node in nodes:
        if isinstance(node, str):
            out.append(node)
        elif isinstance(node, _Tag):
            out.append(_tag_value(node, recipient, is_html, year, out))
        else:
            truthy = _condition(node.cond, recipient, year)
            chosen = node.then if truthy == (node.kind == "if") else (node.otherwise or [])
            _emit(chosen, recipient, is_html, year, out)


def _condition(cond: str, recipient: Recipient, year: int) -> bool:
    """A simple ``{{#if Recipient.X}}`` tests the field; helpers such as ``(eq …)`` count as true."""
    name = cond.strip()
    if not re.fullmatch(r"[A-Za-z_][\w.]*", name):
        return True
    return bool(_lookup(name, pml=False, recipient=recipient, year=year)[0])


def _lookup(name: str, *, pml: bool, recipient: Recipient, year: int) -> tuple[str, str | None]:
    """``(value, link label)``: the label is set for opt-out and view-online tags."""
    flat = _normal(name)
    if flat in _LINK_TAGS:
        path, label = _LINK_TAGS[flat]
        return PLACEHOLDER_BASE + path, label
    if flat.startswith("currentyear"):
        return str(year), None
    if pml:
        if flat.startswith(("user", "account", "campaign", "organization")):
            return f"[{name}]", None
        return recipient.value(name), None
    head, _, rest = name.partition(".")
    if head.lower() == "recipient" and rest:
        return recipient.value(rest), None
    return f"[{name}]", None


def _tag_value(tag: _Tag, recipient: Recipient, is_html: bool, year: int, out: list[str]) -> str:
    value, label = _lookup(tag.name, pml=tag.pml, recipient=recipient, year=year)
    if not is_html:
        return value
    if label is not None and not _IN_ATTRIBUTE.search("".join(out[-3:])):
        return f'<a href="{htmlmod.escape(value)}">[{htmlmod.escape(label)}]</a>'
    return htmlmod.escape(value)


#: The sample used when neither ``--sample`` nor ``--prospect`` is given and the project defines
#: no sample called ``default`` (documented in docs/policy.md).
DEFAULT_SAMPLE = Recipient(
    label="built-in sample",
    first_name="Jamie",
    last_name="Rivera",
    email="jamie.rivera@example.com",
    company="Example Corp",
    job_title="Operations Lead",
)
