"""Adopting what a team already has in Pardot: the pure parts of ``orchestrator import email``
and ``orchestrator import templates``.

Pardot's content is data to us, not a template: text that Jinja would read as its own (``{{``,
``{%``, ``{#``, and a carriage return, which Jinja's lexer turns into ``\\n``) is written so that
rendering the imported file gives back Pardot's content byte for byte (:func:`protect`). HML
merge tags (``{{Recipient.FirstName}}``) are left as written: the renderer already passes them
through as literal text (:class:`orchestrator.render.HmlPassthrough`), so they stay readable and
keep working as Pardot content.

The rules of what an imported file says live here too: its name, how it refers to campaigns,
lists and senders, when its send went out, what an imported template becomes (and the notes on
it). Nothing here does I/O: :mod:`orchestrator.adopting` reads Pardot, writes the files and
records them in the state.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any

import yaml

from orchestrator.errors import ConfigError, StateError
from orchestrator.render import _HML_TAG as HML_TAG

if TYPE_CHECKING:
    from orchestrator.pardot.templates_v5 import RemoteTemplate
    from orchestrator.state.models import TemplateRecord

__all__ = [
    "Adopted",
    "ImportedTemplate",
    "as_ref",
    "campaign_files",
    "campaign_name",
    "campaign_yaml",
    "ids_block",
    "is_campaign_name",
    "list_ref",
    "named_ref",
    "protect",
    "schedule_of",
    "send_time",
    "sender_of",
    "template_files",
    "template_name",
    "template_notes",
    "template_of",
]

#: What Jinja would read as its own in template data: its three opening delimiters, and a
#: carriage return (the lexer rewrites line endings to ``\n``); and a ``{`` right before a
#: carriage return, whose escape starts with ``{{``.
_JINJA_OPENERS = re.compile(r"\{[{%#]|\r|\{(?=\r)")

#: The readable Jinja expression that prints each of them back.
_ESCAPES = {"{{": "{{ '{{' }}", "{%": "{{ '{%' }}", "{#": "{{ '{#' }}", "\r": "{{ '\\r' }}", "{": "{{ '{' }}"}

#: The key the orchestrator gives a list send it scheduled: ``<name>@<UTC ISO time>``.
_KEYED_NAME = re.compile(r"^(?P<name>[a-z0-9][a-z0-9-]*)@(?P<at>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ|now)$")

#: A campaign name as the campaign schema takes it (at most 80 characters).
_CAMPAIGN_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")


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
        if "\r" in tag.group(0):  # Jinja turns it into "\n" even in a kept tag: escaped as data
            continue
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


def send_time(email_name: str, scheduled_time: datetime | None, zone: tzinfo) -> datetime | None:
    """When the email went, or goes, out: the send key's time in its name, else Pardot's (a
    naive one read in the project's time zone ``zone``, as the written file's schedule is)."""
    schedule = schedule_of(email_name, scheduled_time, None)
    if "at" not in schedule:
        return None
    moment = datetime.fromisoformat(str(schedule["at"]).replace("Z", "+00:00"))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def is_campaign_name(value: str) -> bool:
    """Whether ``value`` is a campaign name the schema takes; ``import email --name`` also names
    the file with it, so no path can slip in."""
    return _CAMPAIGN_NAME.fullmatch(value) is not None and len(value) <= 80


def as_ref(value: str) -> str | int:
    """A reference as a campaign file writes it: an id stays a number, a name text."""
    return int(value) if value.isascii() and value.isdigit() else value  # "²" is a digit to isdigit


def list_ref(named: Mapping[str, int], value: str) -> str | int:
    """A list as the file names it: an id that ``named`` (the environment's ``ids.lists``) names
    is written by name."""
    ref = as_ref(value)
    if isinstance(ref, int):
        return next((name for name, list_id in named.items() if list_id == ref), ref)
    return ref


def named_ref(names: Mapping[str, int], object_id: int | None, what: str, email_id: int) -> str | int:
    """How the file names ``object_id``: its name in this environment's ids (``names``), else the id."""
    if object_id is None:
        raise ConfigError(f"email {email_id} has no {what} in Pardot", hint="set one in Pardot, then import again")
    return next((name for name, value in names.items() if value == object_id), object_id)


def sender_of(user: str | None, email: str | None, name: str | None) -> dict[str, Any] | None:
    """The campaign file's ``sender``: a Pardot user (``user``), or an address with its display
    name; ``None`` unless exactly one of the two is given (Pardot's email read does not return it)."""
    if user is not None and (email is None and name is None):
        return {"user": as_ref(user)}
    if user is None and email is not None and name is not None:
        return {"name": name, "email": email}
    return None


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


def template_of(
    remote: RemoteTemplate,
    named: Mapping[str, int],
    records: Mapping[str, TemplateRecord],
    taken: Mapping[str, str],
    sender: Mapping[str, str] | None,
) -> ImportedTemplate:
    """What the template becomes in ``templates/``; refused when the file could not say it.

    ``named`` is the environment's ``ids.templates`` (a name there wins over Pardot's name
    slugged), ``records`` the state's owned templates and ``taken`` the names the project's
    template files use (name -> file); ``sender`` is the one the command line gives, for a
    template whose sender Pardot does not give as a name and an address.
    """
    name = next((n for n, i in named.items() if i == remote.id), None) or template_name(remote.name, remote.id)
    where = f"template {remote.id} ({remote.name!r})"
    if name in records:
        raise StateError(
            f"{where} would be named {name!r}, which the state records for template {records[name].template_id}",
            hint="rename that template's file and name, or rename the template in Pardot, then import again",
        )
    if name in taken:
        raise ConfigError(
            f"{where} would be named {name!r}, which {taken[name]} uses already",
            hint="rename that file's template, or rename the template in Pardot, then import again",
        )
    flags = dict(remote.flags)
    if not any(flags.values()):
        raise ConfigError(
            f"{where} has none of isListEmail, isOneToOneEmail, isAutoResponderEmail, isDripEmail set in Pardot",
            hint="a template file needs one of them true: set what it is for in Pardot, then import again",
        )
    if remote.sender_name and remote.sender_email:
        chosen: Mapping[str, str] = {"name": remote.sender_name, "email": remote.sender_email}
    elif sender is not None:
        chosen = sender
    else:
        raise ConfigError(
            f"{where}: Pardot does not give its sender as a name and an address (a user, or none), "
            "which a template file needs",
            hint="pass --sender-name NAME --sender-email EMAIL to write that sender into the file "
            "(sent to Pardot by the next apply that updates the template)",
        )
    return ImportedTemplate(
        name=name,
        template_id=remote.id,
        pardot_name=remote.name,
        subject=remote.subject,
        text=remote.text,
        html=remote.html,
        sender=chosen,
        reply_to=remote.reply_to,
        flags=flags,
    )


def template_notes(imported: ImportedTemplate, remote: RemoteTemplate, problems: Sequence[str]) -> list[str]:
    """What the user should know about an imported template: where the file says other than
    Pardot (name, sender), and what ``validate`` reports about it (``problems``)."""
    notes: list[str] = []
    if imported.name != remote.name:
        notes.append(
            f"Pardot names it {remote.name!r}: the next apply that updates it renames it to {imported.name!r} "
            "(a template file's name is the template's name)."
        )
    if (remote.sender_name, remote.sender_email) != (imported.sender["name"], imported.sender["email"]):
        notes.append(
            f"its sender in the file is {imported.sender['name']} <{imported.sender['email']}> (from the command "
            "line): the next apply that updates it sends that sender."
        )
    for problem in problems:
        notes.append(f"validate reports: {problem}")
    if problems:
        notes.append(
            "validate and plan refuse the project until the file is fixed: fix it in the file (for a missing "
            "link, add one), and the next apply updates the template in Pardot."
        )
    return notes
