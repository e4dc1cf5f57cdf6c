"""Long listings, streamed: ``state list`` and ``state journal`` over any length of history.

Nothing here holds a whole listing in memory. Text is aligned lines written a batch at a time
(a table would need every row before its first line); on a terminal only a page is shown, with
how many more there are; JSON is one document written a record at a time, so a million records
cost no more memory than ten.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from json.encoder import encode_basestring  # C-accelerated, as json.dumps(..., ensure_ascii=False) quotes
from typing import Any

import click

from orchestrator.cli.common import App, json_shown, json_text
from orchestrator.redact import mask_emails, registered_spellings
from orchestrator.state.models import JournalEntry, SendRecord
from orchestrator.textsafe import escape_control

#: How many lines a terminal shows unless asked for more (``--limit N``, ``--all``).
PAGE = 50
#: Lines written at once: few writes, flat memory.
_BATCH = 500


def page_size(app: App, limit: int | None, show_all: bool) -> int | None:
    """How many to show: ``--limit``, everything with ``--all`` or off a terminal, else a page."""
    if show_all and limit is not None:
        raise click.UsageError("give --limit N or --all, not both")
    if limit is not None:
        return limit
    return None if show_all or not app.console.is_terminal else PAGE


def shower(app: App) -> Callable[[str], str]:
    """How text from the state is shown: control characters escaped, addresses masked unless
    ``--reveal-emails``."""
    if app.reveal_emails:
        return escape_control
    return lambda text: escape_control(mask_emails(text))


def record_dict(record: SendRecord) -> dict[str, Any]:
    """A record as ``state list --json`` writes it (the payload is ``state show``'s)."""
    return {
        "key": record.key,
        "campaign": record.campaign,
        "environment": record.environment,
        "status": record.status.value,
        "email_id": record.email_id,
        "scheduled_time": record.scheduled_time.isoformat() if record.scheduled_time else None,
        "fingerprint": record.fingerprint,
        "created_at": record.created_at.isoformat(),
        "updated_at": record.updated_at.isoformat(),
        "applied_by": record.applied_by.to_dict(),
        "error": record.error,
    }


def record_json(record: SendRecord) -> str:
    """``json_text(record_dict(record))``, written field by field: a dump of a million records
    spends most of its time here, and this is three times quicker than encoding a dict.

    With secrets registered (a PostgreSQL DSN always is one), the general path removes them from
    each string; it is taken only for a record whose text holds one of their spellings, or when a
    spelling has a character JSON escapes (then the text could hide it). Otherwise removing them
    would change nothing, and scrubbing each of a record's twenty strings cost 0.1 ms a record.
    """
    text = _fields_json(record)
    spellings = registered_spellings()
    if spellings and any(_JSON_ESCAPED.search(s) or s in text for s in spellings):
        return json_text(record_dict(record))
    return json_shown(text)


#: Characters ``json.dumps(..., ensure_ascii=False)`` writes as escapes.
_JSON_ESCAPED = re.compile(r'["\\\x00-\x1f]')


def _fields_json(record: SendRecord) -> str:
    """The JSON text of :func:`record_dict`, secrets not removed, hidden characters not escaped."""
    quote = encode_basestring
    actor, error = record.applied_by, record.error
    scheduled = "null" if record.scheduled_time is None else f'"{record.scheduled_time.isoformat()}"'
    return (
        f'{{"key": {quote(record.key)}, "campaign": {quote(record.campaign)}, '
        f'"environment": {quote(record.environment)}, "status": "{record.status.value}", '
        f'"email_id": {"null" if record.email_id is None else record.email_id}, "scheduled_time": {scheduled}, '
        f'"fingerprint": {quote(record.fingerprint)}, "created_at": "{record.created_at.isoformat()}", '
        f'"updated_at": "{record.updated_at.isoformat()}", "applied_by": {{"user": {quote(actor.user)}, '
        f'"host": {quote(actor.host)}, "ci_run_id": {"null" if actor.ci_run_id is None else quote(actor.ci_run_id)}}}, '
        f'"error": {"null" if error is None else quote(error)}}}'
    )


def entry_dict(entry: JournalEntry) -> dict[str, Any]:
    """A journal entry as ``state journal --json`` writes it."""
    return {
        "seq": entry.seq,
        "at": entry.at.isoformat(),
        "key": entry.key,
        "action": entry.action,
        "detail": dict(entry.detail),
        "by": entry.actor.to_dict(),
    }


def write_json(head: dict[str, Any], name: str, items: Iterable[str]) -> int:
    """Write ``{**head, name: [item, ...]}`` (items already JSON) a batch at a time; how many there were."""
    opening = json_text(head)[:-1]
    click.echo(f'{opening}{", " if head else ""}"{name}": [', nl=False)
    count = 0
    rows = iter(items)
    while batch := list(islice(rows, _BATCH)):
        click.echo(("," if count else "") + "\n" + ",\n".join(batch), nl=False)
        count += len(batch)
    click.echo("\n]}")
    return count


def write_lines(header: str, lines: Iterable[str]) -> int:
    """Write ``header`` then ``lines`` a batch at a time; how many lines there were."""
    click.echo(header)
    count = 0
    rows = iter(lines)
    while batch := list(islice(rows, _BATCH)):
        click.echo("\n".join(batch))
        count += len(batch)
    return count


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else ""


def record_lines(records: Iterator[SendRecord], show: Callable[[str], str]) -> tuple[str, Iterator[str]]:
    """A header and one aligned line per record: created, status, email id, scheduled, key, by, flags.

    The key column is as wide as the widest key of the first batch (a longer one pushes its line).
    """
    first = list(islice(records, _BATCH))
    width = max([len(show(r.key)) for r in first] + [3])
    header = f"{'CREATED (UTC)':<16}  {'STATUS':<9}  {'EMAIL ID':>10}  {'SCHEDULED (UTC)':<16}  {'KEY':<{width}}  BY"

    def line(r: SendRecord) -> str:
        flags = "  OPERATIONAL" if r.payload.get("operational_email") else ""
        return (
            f"{_when(r.created_at):<16}  {r.status.value:<9}  {r.email_id or '':>10}  {_when(r.scheduled_time):<16}  "
            f"{show(r.key):<{width}}  {show(r.applied_by.describe())}{flags}"
        )

    def lines() -> Iterator[str]:
        for record in first:
            yield line(record)
        for record in records:
            yield line(record)

    return header, lines()


def entry_lines(entries: Iterable[JournalEntry], show: Callable[[str], str]) -> tuple[str, Iterator[str]]:
    """A header and one line per journal entry: seq, time, action, key, by, detail."""
    header = f"{'SEQ':>7}  {'AT (UTC)':<19}  {'ACTION':<14}  KEY  BY  DETAIL"

    def line(e: JournalEntry) -> str:
        detail = ", ".join(f"{k}={v}" for k, v in e.detail.items())
        return (
            f"{e.seq:>7}  {e.at:%Y-%m-%d %H:%M:%S}  {show(e.action):<14}  {show(e.key or '-')}  "
            f"{show(e.actor.describe())}  {show(detail)}"
        )

    return header, (line(e) for e in entries)


def plural(count: int, one: str, many: str) -> str:
    return f"{count:,} {one if count == 1 else many}"
