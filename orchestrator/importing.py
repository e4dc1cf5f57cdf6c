"""Adopting what a team already has in Pardot: the pure parts of ``orchestrator import email``
and ``orchestrator import templates``.

Pardot's content is data to us, not a template: text that Jinja would read as its own (``{{``,
``{%``, ``{#``, and a carriage return, which Jinja's lexer turns into ``\\n``) is written so that
rendering the imported file gives back Pardot's content byte for byte (:func:`protect`). HML
merge tags (``{{Recipient.FirstName}}``) are left as written: the renderer already passes them
through as literal text (:class:`orchestrator.render.HmlPassthrough`), so they stay readable and
keep working as Pardot content.

Nothing here does I/O; :mod:`orchestrator.cli.import_cmd` reads Pardot and writes the state.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import yaml

from orchestrator.render import _HML_TAG as HML_TAG

__all__ = [
    "Adopted",
    "ImportedTemplate",
    "campaign_files",
    "campaign_name",
    "campaign_yaml",
    "ids_block",
    "protect",
    "schedule_of",
    "template_files",
    "template_name",
]

#: What Jinja would read as its own in template data: its three opening delimiters, and a
#: carriage return (the lexer rewrites line endings to ``\n``); and a ``{`` right before a
#: carriage return, whose escape starts with ``{{``.
_JINJA_OPENERS = re.compile(r"\{[{%#]|\r|\{(?=\r)")

#: The readable Jinja expression that prints each of them back.
_ESCAPES = {"{{": "{{ '{{' }}", "{%": "{{ '{%' }}", "{#": "{{ '{#' }}", "\r": "{{ '\\r' }}", "{": "{{ '{' }}"}

#: The key the orchestrator gives a list send it scheduled: ``<name>@<UTC ISO time>``.
_KEYED_NAME = re.compile(r"^(?P<name>[a-z0-9][a-z0-9-]*)@(?P<at>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ|now)$")


def _escape_data(chunk: str, *, before_tag: bool) -> str:
    """``chunk`` (text with no HML tag) with every Jinja opener replaced by an expression that
    prints it; a ``{`` right before a kept HML tag is escaped too (``{`` + ``{{`` would open a tag)."""
    out = _JINJA_OPENERS.sub(lambda m: _ESCAPES[m.group(0)], chunk)
    if before_tag and out.endswith("{"):
        out = out[:-1] + _ESCAPES["{"]
    return out


def protect(text: str) -> str:
    """``text`` as a Jinja source that the project's renderer renders back to ``text`` exactly.

    ``{{``, ``{%``, ``{#`` become ``{{ '{{' }}`` and so on, and a carriage return
    ``{{ '\\r' }}``: per occurrence rather than one ``{% raw %}`` block, so the rest of the
    content reads as written and no ``{% endraw %}`` inside Pardot's text can end the block
    early. HML tags are kept as they are (see the module docstring).
    """
    out: list[str] = []
    pos = 0
    for tag in HML_TAG.finditer(text):
        out.append(_escape_data(text[pos : tag.start()], before_tag=True))
        out.append(tag.group(0))
        pos = tag.end()
    out.append(_escape_data(text[pos:], before_tag=False))
    return "".join(out)


def campaign_name(email_name: str, email_id: int) -> str:
    """A campaign name (lower-case letters, digits, dashes) for a Pardot email name.

    An email the orchestrator sent is named after its send key, ``<name>@<time>``; its name is
    kept. Any other name is slugged (``Spring Sale!`` -> ``spring-sale``); a name with nothing
    to keep becomes ``email-<id>``.
    """
    keyed = _KEYED_NAME.match(email_name)
    if keyed:
        return keyed.group("name")
    slug = re.sub(r"[^a-z0-9]+", "-", email_name.lower()).strip("-")[:80].strip("-")
    return slug or f"email-{email_id}"


def schedule_of(email_name: str, scheduled_time: datetime | None, sent_at: datetime | None) -> dict[str, Any]:
    """The ``schedule`` of the campaign file: the time the send key names, else Pardot's time.

    A send key's time is reproduced exactly, so the file gives the same key again. Without one,
    the scheduled time (or the sent time) is written in UTC; an email with neither is ``now``.
    A naive time (v3/v4 give ``YYYY-MM-DD HH:MM:SS`` in the account's time zone, which the API
    does not name) is written without a zone, so it is read in the project's ``timezone``.
    """
    keyed = _KEYED_NAME.match(email_name)
    if keyed and keyed.group("at") == "now":
        return {"now": True}
    if keyed:
        return {"at": keyed.group("at")}
    moment = scheduled_time or sent_at
    if moment is None:
        return {"now": True}
    if moment.tzinfo is None:
        return {"at": moment.strftime("%Y-%m-%dT%H:%M:%S")}
    return {"at": moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}


@dataclass(frozen=True)
class Adopted:
    """What an imported list email becomes in a campaign file (references as written there)."""

    name: str
    campaign: str | int
    lists: Sequence[str | int]
    suppression_lists: Sequence[str | int]
    sender: Mapping[str, Any]
    subject: str
    text: str
    html: str | None
    schedule: Mapping[str, Any]
    email_id: int


class _Dumper(yaml.SafeDumper):
    """Block style (``|``) for text with line breaks, so imported bodies read as they were."""


#: Line breaks of YAML other than ``\n``: a block scalar would turn them into ``\n`` (or break
#: the line there), so text holding one is written double-quoted, where YAML escapes them.
_OTHER_BREAKS = re.compile("[\r\x85\u2028\u2029]")


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = '"' if _OTHER_BREAKS.search(value) else "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def campaign_files(adopted: Adopted) -> dict[str, str]:
    """The files an import writes, by name in the campaigns folder: ``NAME.yaml`` and, for an
    email with HTML, ``NAME.html.j2`` (HTML reads as HTML there, whatever its whitespace; inline,
    a line with trailing spaces would force YAML to quote the whole body on one line)."""
    files: dict[str, str] = {}
    html_file = None
    if adopted.html is not None:
        html_file = f"{adopted.name}.html.j2"
        files[html_file] = protect(adopted.html)
    files[f"{adopted.name}.yaml"] = campaign_yaml(adopted, html_file=html_file)
    return files


def campaign_yaml(adopted: Adopted, *, html_file: str | None = None) -> str:
    """The campaign file's text: content protected, so rendering it gives Pardot's bytes; the
    HTML inline, or named as ``html_file`` (which then holds ``protect(html)``)."""
    data: dict[str, Any] = {
        "name": adopted.name,
        "campaign": adopted.campaign,
        "lists": list(adopted.lists),
    }
    if adopted.suppression_lists:
        data["suppression_lists"] = list(adopted.suppression_lists)
    data["sender"] = dict(adopted.sender)
    data["subject"] = protect(adopted.subject)
    data["text"] = protect(adopted.text)
    if html_file is not None:
        data["html_file"] = html_file
    elif adopted.html is not None:
        data["html"] = protect(adopted.html)
    data["schedule"] = dict(adopted.schedule)
    head = (
        f"# Imported from Pardot list email {adopted.email_id} by `orchestrator import email`.\n"
        "# Jinja-like text of the content is written as {{ '{{' }} and so on: it renders as Pardot holds it.\n"
    )
    return head + yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=10_000)


def ids_block(campaigns: Mapping[str, int], lists: Mapping[str, int]) -> str:
    """The ``ids:`` lines to paste under the environment in orchestrator.yaml (names -> ids)."""
    body = {"ids": {k: dict(v) for k, v in (("campaigns", campaigns), ("lists", lists)) if v}}
    return yaml.dump(body, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False)


def template_name(pardot_name: str, template_id: int) -> str:
    """A template file name (lower-case letters, digits, dashes) for a Pardot template name:
    ``Spring Newsletter`` -> ``spring-newsletter``; a name with nothing to keep -> ``template-<id>``."""
    slug = re.sub(r"[^a-z0-9]+", "-", pardot_name.lower()).strip("-")[:80].strip("-")
    return slug or f"template-{template_id}"


@dataclass(frozen=True)
class ImportedTemplate:
    """What an imported Pardot email template becomes in ``templates/`` (content as Pardot holds it)."""

    name: str
    template_id: int
    pardot_name: str
    subject: str
    text: str
    html: str | None
    sender: Mapping[str, str]
    reply_to: str | None
    flags: Mapping[str, bool]


def template_files(template: ImportedTemplate) -> dict[str, str]:
    """The files an import writes, by name in ``templates/``: ``NAME.yaml``, the text as
    ``NAME.txt.j2`` and, for a template with HTML, ``NAME.html.j2``; subject, text and HTML
    protected, so rendering them gives Pardot's bytes. The bodies live in their own files, where
    they read as written (inline, one line with trailing spaces makes YAML quote the whole body)."""
    text_file = f"{template.name}.txt.j2"
    html_file = f"{template.name}.html.j2" if template.html is not None else None
    data: dict[str, Any] = {"name": template.name, "subject": protect(template.subject)}
    data["sender"] = dict(template.sender)
    if template.reply_to is not None:
        data["reply_to"] = template.reply_to
    data["flags"] = dict(template.flags)
    if html_file is not None:
        data["html_file"] = html_file
    data["text_file"] = text_file
    head = (
        f"# Imported from Pardot email template {template.template_id} by `orchestrator import templates`.\n"
        "# Jinja-like text of the content is written as {{ '{{' }} and so on: it renders as Pardot holds it.\n"
    )
    body = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=10_000)
    files = {f"{template.name}.yaml": head + body}
    if html_file is not None and template.html is not None:
        files[html_file] = protect(template.html)
    files[text_file] = protect(template.text)
    return files
