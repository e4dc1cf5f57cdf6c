"""``orchestrator templates``, ``emails``, ``stats`` and ``report``: read what Pardot knows.

Every command here only reads (Pardot and the state); none can send anything. Human output is
rich tables with prospect addresses masked unless ``--reveal-emails``; ``--json`` (and
``stats --format json``) is the machine contract and is never masked, as ``state list --json``.
CSV and the HTML report are made to be passed around, so they are masked like tables.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from rich import box
from rich.measure import Measurement
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from orchestrator.atomic import write_text
from orchestrator.cli.common import App, now_option, pass_app
from orchestrator.cli.ids import TEMPLATES_NOTE
from orchestrator.errors import ApiNotFound, OrchestratorError
from orchestrator.pardot.models import Email, EmailStats, EmailTemplate, EmailTemplateSummary
from orchestrator.redact import mask_emails, scrub
from orchestrator.state.models import RecordFilter, SendRecord
from orchestrator.stats import (
    COUNT_FIELDS,
    RATE_FIELDS,
    ROW_FIELDS,
    ProjectStats,
    bounces,
    campaign_totals,
    check_known_campaigns,
    gather_stats,
    row_to_dict,
    sent_emails,
    show_count,
    show_rate,
    stats_to_dict,
)
from orchestrator.textsafe import escape_control

__all__ = ["emails_group", "report_cmd", "stats_cmd", "templates_group"]

ID = click.IntRange(min=1)
json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output (never masked).")


def _shower(app: App) -> Callable[[str], str]:
    """Identity with --reveal-emails, else the address masker: for human output only."""
    return (lambda s: s) if app.reveal_emails else mask_emails


def _flag(value: bool) -> str:
    return "yes" if value else ""


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _fields_table(title: str, pairs: Sequence[tuple[str, object]]) -> Table:
    """A two-column table for one record: easier to read than 17 columns side by side."""
    table = Table(title=title, show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for name, value in pairs:
        # Pardot's values are shown, not obeyed: control and invisible format characters as escapes.
        table.add_row(name, Text("" if value is None else escape_control(str(value))))
    return table


# --- templates ----------------------------------------------------------------------------


@click.group("templates")
def templates_group() -> None:
    """Read Pardot email templates (the ones campaigns can name with `template:`)."""


@templates_group.command("list")
@click.option("--archived", is_flag=True, help="Include archived templates (in Pardot's recycle bin).")
@json_option
@pass_app
def templates_list(app: App, archived: bool, as_json: bool) -> None:
    """List the templates enabled for one-to-one emails (the only ones the v3/v4 API can list)."""
    templates = app.client().list_one_to_one_templates(archived=archived)
    if as_json:
        app.print_json({"templates": [dataclasses.asdict(t) for t in templates]})
        return
    app.console.print(_templates_table(templates))
    app.console.print(f"{len(templates)} template(s).", markup=False)
    app.console.print(TEMPLATES_NOTE, markup=False)


def _templates_table(templates: Sequence[EmailTemplateSummary]) -> Table:
    table = Table(title="One-to-one email templates")
    for column in ("id", "name", "subject", "list", "drip", "autoresponder", "archived"):
        table.add_column(column)
    for t in templates:
        table.add_row(
            str(t.id),
            Text(escape_control(t.name)),
            Text(escape_control(t.subject)),
            _flag(t.is_list_email),
            _flag(t.is_drip_email),
            _flag(t.is_autoresponder_email),
            _flag(t.is_archived),
        )
    return table


@templates_group.command("show")
@click.argument("template_id", type=ID, metavar="ID")
@click.option("--archived", is_flag=True, help="Also find the template when it is archived.")
@json_option
@pass_app
def templates_show(app: App, template_id: int, archived: bool, as_json: bool) -> None:
    """Show one template: its flags, sender, subject and both bodies."""
    try:
        template = app.client().read_template(template_id, archived=archived)
    except ApiNotFound as exc:
        if archived:
            raise
        raise ApiNotFound(
            exc.api_message,
            code=exc.code,
            http_status=exc.http_status,
            hint=f"an archived template (in the recycle bin) is shown with `templates show {template_id} --archived`",
        ) from exc
    if as_json:
        app.print_json(dataclasses.asdict(template))
        return
    app.console.print(_fields_table(f"Template {template.id}", _template_fields(template)))
    app.console.print(_body_panel(template.text, "text body"))
    app.console.print(_body_panel(template.html, "HTML body"))


def _body_panel(body: str, title: str) -> Panel:
    """An email body in a box, line breaks kept, other control and format characters escaped."""
    return Panel(Text(escape_control(body, keep_newlines=True)), title=title, title_align="left")


def _template_fields(t: EmailTemplate) -> list[tuple[str, object]]:
    kinds = [
        name
        for name, on in (
            ("list", t.is_list_email),
            ("one-to-one", t.is_one_to_one_email),
            ("drip", t.is_drip_email),
            ("autoresponder", t.is_autoresponder_email),
        )
        if on
    ]
    return [
        ("id", t.id),
        ("name", t.name),
        ("subject", t.subject),
        ("usable for", ", ".join(kinds)),
        ("archived", _flag(t.is_archived)),
        ("reply-to", t.reply_to_address),
        ("send from", "; ".join(", ".join(f"{k}={v}" for k, v in s.items()) for s in t.send_from)),
    ]


# --- emails -------------------------------------------------------------------------------


@click.group("emails")
def emails_group() -> None:
    """Read emails Pardot sent or scheduled."""


@emails_group.command("show")
@click.argument("email_id", type=ID, metavar="ID")
@click.option("--no-message", is_flag=True, help="Do not fetch the text and HTML bodies.")
@json_option
@pass_app
def emails_show(app: App, email_id: int, no_message: bool, as_json: bool) -> None:
    """Show one email: name (the send key), subject, campaign, times and bodies."""
    email = app.client().read_email(email_id, include_message=not no_message)
    if as_json:
        app.print_json(_email_dict(email))
        return
    show = _shower(app)
    app.console.print(
        _fields_table(
            f"Email {email.id}",
            [
                ("id", email.id),
                ("name", show(email.name)),
                ("subject", email.subject),
                ("kind", "one-to-one" if email.is_one_to_one else "list"),
                ("campaign id", email.campaign_id),
                ("created", _iso(email.created_at)),
                ("scheduled", _iso(email.scheduled_time)),
            ],
        )
    )
    if email.text is not None:
        app.console.print(_body_panel(email.text, "text body"))
    if email.html is not None:
        app.console.print(_body_panel(email.html, "HTML body"))


def _email_dict(email: Email) -> dict[str, Any]:
    data = dataclasses.asdict(email)
    data["created_at"] = _iso(email.created_at)
    data["scheduled_time"] = _iso(email.scheduled_time)
    return data


# --- what to report on --------------------------------------------------------------------


@dataclass(frozen=True)
class Selection:
    """What ``stats``/``report`` were asked about: one Pardot email, or campaigns (None: all)."""

    email_id: int | None = None
    campaigns: tuple[str, ...] | None = None


_SELECTION_HELP = "name campaigns (NAME ...), pass --all for every campaign, or give one Pardot EMAIL_ID"


def parse_selection(names: Sequence[str], all_campaigns: bool, *, allow_email_id: bool) -> Selection:
    """Turn arguments into a :class:`Selection`; a usage error when they do not make one.

    A purely numeric argument is a Pardot email id (the original ``stats EMAIL_ID``); it
    stands alone, since mixing ids and campaign names would be ambiguous.
    """
    numeric = [n for n in names if n.isdigit()]
    if numeric and allow_email_id:
        if len(names) > 1 or all_campaigns:
            raise click.UsageError(f"an EMAIL_ID stands alone; {_SELECTION_HELP}")
        return Selection(email_id=int(numeric[0]))
    if names and all_campaigns:
        raise click.UsageError("give campaign names or --all, not both")
    if not names and not all_campaigns:
        what = _SELECTION_HELP if allow_email_id else "name campaigns (NAME ...) or pass --all for every campaign"
        raise click.UsageError(f"nothing selected: {what}")
    return Selection(campaigns=None if all_campaigns else tuple(dict.fromkeys(names)))


def _gather(app: App, campaigns: tuple[str, ...] | None) -> ProjectStats:
    """The statistics of the selected campaigns' sends, read from state and Pardot."""
    seen: set[str] = set()
    store = app.store()

    def every(where: RecordFilter) -> Iterator[SendRecord]:
        """Live then archived records (archived sends went out too), streamed: only the sends'
        summaries stay in memory, whatever the history holds."""
        for archived in (False, True):
            with store.browse(dataclasses.replace(where, archived=archived)) as listing:
                for record in listing.records:
                    seen.add(record.campaign)
                    yield record

    emails = sent_emails(every(RecordFilter(campaigns=frozenset(campaigns or ()))), campaigns)
    if campaigns is not None:
        check_known_campaigns(seen, campaigns)
    client = app.client()
    return gather_stats(
        emails,
        client.email_stats,
        max_workers=client.settings.max_in_flight,
        name_of=lambda email_id: client.read_email(email_id, include_message=False).name,
    )


def _note_skipped(app: App, result: ProjectStats) -> None:
    show = _shower(app)
    for s in result.skipped:
        app.err_console.print(
            f"note: no statistics for {show(s.email.key)} (email {s.email.email_id}, {s.email.kind}): {show(s.reason)}",
            markup=False,
            highlight=False,
        )


# --- stats --------------------------------------------------------------------------------

STATS_FORMATS = click.Choice(["table", "json", "csv"])


@click.command("stats")
@click.argument("names", nargs=-1, metavar="[NAME ...|EMAIL_ID]")
@click.option("--all", "all_campaigns", is_flag=True, help="Every campaign in the state.")
@click.option("--format", "fmt", type=STATS_FORMATS, default=None, help="Output format (default: table).")
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@pass_app
def stats_cmd(app: App, names: tuple[str, ...], all_campaigns: bool, fmt: str | None, as_json: bool) -> None:
    """Email statistics: of every sent email of the campaigns NAME (or --all), or of one EMAIL_ID.

    For campaigns, each sent or scheduled send in the state is joined with Pardot's figures
    for its email: campaign, send key, send time, counts and rates (percentages as numbers).
    One-to-one emails are included when Pardot answers for them (its statistics call is
    documented for list emails); when it refuses, a note on stderr says so.
    """
    if as_json and fmt not in (None, "json"):
        raise click.UsageError("--json is the same as --format json; give one of them")
    chosen = fmt or ("json" if as_json else "table")
    selection = parse_selection(names, all_campaigns, allow_email_id=True)
    if selection.email_id is not None:
        _print_email_stats(app, selection.email_id, app.client().email_stats(selection.email_id), chosen)
        return
    result = _gather(app, selection.campaigns)
    _note_skipped(app, result)
    if chosen == "json":
        app.print_json(_stats_document(result))
    elif chosen == "csv":
        show = _shower(app)
        _echo_csv(ROW_FIELDS, [row_to_dict(r, show=show) for r in result.rows])
    else:
        _print_stats_table(app, result)


def _print_email_stats(app: App, email_id: int, stats: EmailStats, fmt: str) -> None:
    data = {"email_id": email_id, **stats_to_dict(stats)}
    if fmt == "json":
        app.print_json(data)
    elif fmt == "csv":
        _echo_csv(("email_id", *COUNT_FIELDS, *RATE_FIELDS), [data])
    else:
        pairs = [
            (name, show_rate(value, " %") if name in RATE_FIELDS else show_count(value))
            for name, value in data.items()
            if name != "email_id"
        ]
        app.console.print(_fields_table(f"Statistics of email {email_id}", pairs))


def _stats_document(result: ProjectStats) -> dict[str, Any]:
    return {
        "sends": [row_to_dict(r) for r in result.rows],
        "campaigns": [
            {"campaign": t.campaign, "sends": t.sends, **stats_to_dict(t.stats)} for t in campaign_totals(result.rows)
        ],
        "skipped": [
            {
                "campaign": s.email.campaign,
                "key": s.email.key,
                "email_id": s.email.email_id,
                "kind": s.email.kind,
                "reason": s.reason,
            }
            for s in result.skipped
        ],
    }


def _echo_csv(fields: Sequence[str], rows: Sequence[dict[str, Any]]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(fields), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    click.echo(buffer.getvalue(), nl=False)


_TABLE_COLUMNS = (
    "send",
    "email id",
    "send time (UTC)",
    "sent",
    "delivered",
    "unique opens",
    "unique clicks",
    "bounces",
    "opt-outs",
    "open %",
    "CTR %",
)


def _figures(stats: EmailStats) -> list[str]:
    """The table's figures; one Pardot did not give (null, e.g. a scheduled email) shows "—"."""
    counts = [show_count(stats.figure(n)) for n in ("sent", "delivered", "unique_opens", "unique_clicks")]
    return [
        *counts,
        show_count(bounces(stats)),
        show_count(stats.figure("opt_outs")),
        show_rate(stats.figure("opens_rate")),
        show_rate(stats.figure("click_through_rate")),
    ]


def _print_stats_table(app: App, result: ProjectStats) -> None:
    """One section per campaign: a heading row, its sends in time order, a bold total row."""
    if not result.rows:
        app.console.print("No sent or scheduled emails with statistics for this selection.", markup=False)
        return
    show = _shower(app)
    table = Table(title="Email statistics", box=box.SIMPLE_HEAD)
    for i, column in enumerate(_TABLE_COLUMNS):
        table.add_column(column, justify="left" if i < 3 else "right", no_wrap=True)
    blank = [""] * (len(_TABLE_COLUMNS) - 1)
    for totals in campaign_totals(result.rows):
        table.add_row(Text(totals.campaign, style="bold underline"), *blank)
        for row in (r for r in result.rows if r.email.campaign == totals.campaign):
            table.add_row(
                Text(show(row.email.key)),
                str(row.email.email_id),
                row.email.sent_at.strftime("%Y-%m-%d %H:%M"),
                *_figures(row.stats),
            )
        table.add_row(f"total of {totals.sends}", "", "", *_figures(totals.stats), style="bold", end_section=True)
    app.console.print(_unsquashed(app, table))
    campaigns = len({r.email.campaign for r in result.rows})
    app.console.print(f"{len(result.rows)} send(s) in {campaigns} campaign(s).", markup=False)


def _unsquashed(app: App, table: Table) -> Table:
    """Never squeeze figures into ellipses: a table wider than the console keeps its width.

    Long lines are better than lost digits; in a pipe they stay whole for grep and diff.
    """
    options = app.console.options.update(max_width=10_000)
    natural = Measurement.get(app.console, options, table).maximum
    if natural > app.console.width:
        table.width = natural
    return table


# --- report -------------------------------------------------------------------------------


@click.command("report")
@click.argument("names", nargs=-1, metavar="[NAME ...]")
@click.option("--all", "all_campaigns", is_flag=True, help="Every campaign in the state.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("report.html"),
    show_default=True,
    help="Where to write the HTML file.",
)
@now_option
@pass_app
def report_cmd(app: App, names: tuple[str, ...], all_campaigns: bool, out: Path) -> None:
    """Write one self-contained HTML report of the campaigns NAME (or --all).

    Charts of deliveries, opens, clicks, bounces and opt-outs per send over time, and a table
    per campaign. The file needs no network to open. Prospect addresses are masked unless
    --reveal-emails; --now sets the time the report says it was generated.
    """
    selection = parse_selection(names, all_campaigns, allow_email_id=False)
    result = _gather(app, selection.campaigns)
    _note_skipped(app, result)
    from orchestrator.report import build_report  # matplotlib loads only for a report

    html = build_report(result.rows, app.now(), skipped=result.skipped, reveal_emails=app.reveal_emails)
    write_text_atomically(out, html)
    campaigns = len({r.email.campaign for r in result.rows})
    app.console.print(f"Wrote {out}: {len(result.rows)} send(s) in {campaigns} campaign(s).", markup=False)


def write_text_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename.

    A reader (a browser reloading the report) never sees a half-written file.
    """
    try:
        write_text(path, scrub(text))  # a report is for sharing: the usual permissions, not 0600
    except OSError as exc:
        raise OrchestratorError(f"cannot write {path}: {exc.strerror or exc}") from exc
