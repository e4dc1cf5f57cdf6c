"""``orchestrator ids``: what Pardot has (id and name), ready to paste into ``orchestrator.yaml``.

``--format yaml`` prints an ``ids:`` block whose keys are names made safe for the ``ids`` map
(lower case, ``-`` between words; the id is appended when two names collide), so campaign
files can say ``lists: [newsletter]`` instead of ``lists: [2002]``.

Templates: the v3/v4 API lists only templates enabled for one-to-one emails
(``emailTemplate/do/listOneToOne``); there is no call that lists list-email templates, so the
command says so and how to find their ids.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import click
import yaml
from rich.table import Table
from rich.text import Text

from orchestrator.cli.common import App, pass_app

__all__ = ["TEMPLATES_NOTE", "ids_block", "ids_cmd"]

KINDS = ("campaigns", "lists", "users", "templates")

TEMPLATES_NOTE = (
    "templates: Pardot's v3/v4 API lists only templates enabled for one-to-one emails. "
    "A list-email template's id is in Pardot's UI: open it under Content > Email Templates; "
    "the number at the end of its URL is the id (or `orchestrator templates show ID` checks one)."
)


@dataclass(frozen=True)
class Named:
    """One thing Pardot has: its id, its name, and a short note (a user's address, a flag)."""

    id: int
    name: str
    note: str = ""


def _fetch(app: App, kind: str) -> list[Named]:
    client = app.client()
    if kind == "campaigns":
        return [Named(c.id, c.name) for c in client.query_campaigns()]
    if kind == "lists":
        return [Named(x.id, x.name, "dynamic" if x.is_dynamic else "") for x in client.query_lists()]
    if kind == "users":
        return [Named(u.id, u.name, u.email) for u in client.query_users()]
    return [
        Named(t.id, t.name, "archived" if t.is_archived else "")
        for t in client.list_one_to_one_templates(archived=False)
    ]


_UNSAFE = re.compile(r"[^a-z0-9_.-]+")


def _key(name: str) -> str:
    """A name made valid for the ``ids`` map (``^[A-Za-z0-9][A-Za-z0-9_.-]*$``)."""
    key = _UNSAFE.sub("-", name.lower()).strip("-_.")
    return key or "unnamed"


def ids_block(found: Mapping[str, Sequence[Named]]) -> dict[str, dict[str, int]]:
    """``{kind: {key: id}}`` with unique keys: a repeated key gets ``-<id>`` appended."""
    block: dict[str, dict[str, int]] = {}
    for kind, items in found.items():
        keys = [_key(item.name) for item in items]
        seen: dict[str, int] = {}
        for key in keys:
            seen[key] = seen.get(key, 0) + 1
        block[kind] = {
            (key if seen[key] == 1 else f"{key}-{item.id}"): item.id for key, item in zip(keys, items, strict=True)
        }
    return block


def _yaml(app: App, found: Mapping[str, Sequence[Named]]) -> str:
    env = app.environment()
    lines = [f"# Pardot ids for environment {env.name!r}: paste under environments.{env.name} in orchestrator.yaml"]
    if "templates" in found:
        lines.append("# " + TEMPLATES_NOTE)
    body = yaml.safe_dump({"ids": ids_block(found)}, sort_keys=False, allow_unicode=True, default_flow_style=False)
    return "\n".join(lines) + "\n" + body


def _table(kind: str, items: Iterable[Named]) -> Table:
    table = Table(title=f"Pardot {kind}")
    for column in ("id", "name", "note"):
        table.add_column(column)
    for item in items:
        table.add_row(str(item.id), Text(item.name), Text(item.note))
    return table


@click.command("ids")
@click.argument("kinds", nargs=-1, type=click.Choice(KINDS))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "yaml", "json"]),
    default="table",
    show_default=True,
    help="yaml prints an `ids:` block to paste into orchestrator.yaml.",
)
@pass_app
def ids_cmd(app: App, kinds: tuple[str, ...], fmt: str) -> None:
    """List what Pardot has (id and name): campaigns, lists, users, templates (default: all).

    Templates are only those enabled for one-to-one emails: the v3/v4 API has no call that
    lists list-email templates (the note printed with them says how to find those ids).
    """
    chosen = kinds or KINDS
    found = {kind: _fetch(app, kind) for kind in chosen}
    if fmt == "yaml":
        click.echo(_yaml(app, found), nl=False)
        return
    if fmt == "json":
        data = {kind: [{"id": i.id, "name": i.name, "note": i.note} for i in items] for kind, items in found.items()}
        app.print_json({"environment": app.environment().name, **data})
        return
    for kind, items in found.items():
        app.console.print(_table(kind, items))
        app.console.print(f"{len(items)} {kind}.", markup=False)
        if kind == "templates":
            app.console.print(TEMPLATES_NOTE, markup=False)
