"""``orchestrator validate`` and ``orchestrator render``: the authoring half, no API calls."""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click
from rich.table import Table

from orchestrator.cli.common import App, now_option, pass_app
from orchestrator.errors import Diagnostic, ProjectInvalid
from orchestrator.project import desired_sends
from orchestrator.redact import mask_emails
from orchestrator.schedule import ScheduleError, parse_time, utc_iso
from orchestrator.sends import DesiredSend
from orchestrator.textsafe import escape_control


def _github(diag: Diagnostic) -> str:
    """A GitHub Actions workflow annotation for ``diag``."""
    message = diag.message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    where = f"file={diag.path}"
    if diag.line:
        where += f",line={diag.line},col={diag.col}"
    return f"::{diag.severity} {where}::{message}"


def _diag_json(diag: Diagnostic) -> dict[str, Any]:
    return {"path": diag.path, "line": diag.line, "col": diag.col, "severity": diag.severity, "message": diag.message}


def _summary_rows(sends: list[DesiredSend]) -> list[dict[str, Any]]:
    by_campaign: dict[str, list[DesiredSend]] = {}
    for send in sends:
        by_campaign.setdefault(send.campaign, []).append(send)
    rows = []
    for name, items in sorted(by_campaign.items()):
        times = sorted(s.scheduled_time for s in items if s.scheduled_time is not None)
        rows.append(
            {
                "campaign": name,
                "kind": items[0].kind,
                "source": items[0].source,
                "sends": len(items),
                "first": utc_iso(times[0]) if times else "on apply",
                "operational": items[0].operational_reason,
            }
        )
    return rows


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "github"]),
    default="text",
    show_default=True,
    help="text for people, json for tools, github for workflow annotations.",
)
@now_option
@pass_app
def validate(app: App, paths: tuple[Path, ...], fmt: str) -> None:
    """Check campaign files: schema, ids, rendering, unsubscribe policy and schedules.

    Without PATHS every campaign of the project is checked. Exit status 0 when everything is
    valid, 1 when anything is wrong. No API call is made.
    """
    try:
        project = app.project(list(paths) or None)
        env = app.environment()
    except ProjectInvalid as exc:  # orchestrator.yaml itself is invalid: still report in the chosen format
        _report(app, fmt, [], exc.diagnostics, "", 0)
        raise SystemExit(1) from None
    sends, problems = desired_sends(project, env, app.now(), lead_time="warning")
    _report(app, fmt, sends, sorted(set(problems)), env.name, len(project.campaigns))
    if any(d.severity == "error" for d in problems):
        raise SystemExit(1)


def _report(app: App, fmt: str, sends: list[DesiredSend], problems: list[Diagnostic], env: str, campaigns: int) -> None:
    errors = [d for d in problems if d.severity == "error"]
    if fmt == "json":
        app.print_json(
            {
                "valid": not errors,
                "environment": env,
                "problems": [_diag_json(d) for d in problems],
                "campaigns": _summary_rows(sends),
            }
        )
    elif fmt == "github":
        for diag in problems:
            click.echo(_github(diag))
        click.echo(
            f"{len(errors)} error(s) in {len({d.path for d in errors})} file(s)"
            if errors
            else f"{campaigns} campaign(s) valid"
        )
    else:
        _print_text(app, campaigns, sends, problems, env)


def _print_text(app: App, campaigns: int, sends: list[DesiredSend], problems: list[Diagnostic], env: str) -> None:
    for diag in problems:
        # A message may quote file content: control characters are shown escaped, never raw.
        app.console.print(escape_control(str(diag)), markup=False, highlight=False)
    errors = [d for d in problems if d.severity == "error"]
    if errors:
        files = len({d.path for d in errors})
        app.console.print(f"\n{len(errors)} error(s) in {files} file(s).", markup=False)
        app.console.print("Fix them and run `orchestrator validate` again.", markup=False)
        return
    table = Table(title=f"Environment {env}", show_lines=False)
    for column in ("campaign", "kind", "sends", "first send (UTC)", "flags"):
        table.add_column(column)
    for row in _summary_rows(sends):
        flags = f"OPERATIONAL: {row['operational']}" if row["operational"] else ""
        table.add_row(row["campaign"], row["kind"], str(row["sends"]), row["first"], flags)
    app.console.print(table)
    app.console.print(f"{campaigns} campaign(s), {len(sends)} send(s): all valid.", markup=False)


def _select(app: App, name: str, occurrence: int | None, at: str | None) -> list[DesiredSend]:
    project = app.project()
    campaign = project.campaign(name)
    env = app.environment()
    now = app.now()
    target = None
    if at is not None:
        schedule = campaign.data.get("schedule") or {}
        zone = ZoneInfo(str(schedule["timezone"])) if "timezone" in schedule else app.timezone()
        try:
            target = parse_time(at, zone, "at")
        except ScheduleError as exc:
            raise click.BadParameter(exc.message, param_hint="--at") from None
        now = min(now, target - timedelta(minutes=1))
    sends, problems = desired_sends(project, env, now, campaigns=[campaign], lead_time="off")
    errors = [d for d in problems if d.severity == "error"]
    if errors:
        raise ProjectInvalid(errors)
    if target is not None:
        chosen = [s for s in sends if s.scheduled_time == target]
        if not chosen:
            upcoming = ", ".join(utc_iso(s.scheduled_time) for s in sends[:5] if s.scheduled_time) or "none"
            raise click.BadParameter(
                f"{name} has no send at {utc_iso(target)} (upcoming: {upcoming})", param_hint="--at"
            )
        return chosen
    if occurrence is not None:
        times = sorted({s.scheduled_time for s in sends}, key=lambda t: (t is not None, t))
        if not 0 <= occurrence < len(times):
            raise click.BadParameter(
                f"{name} has {len(times)} occurrence(s) in the horizon; pick 0..{len(times) - 1}",
                param_hint="--occurrence",
            )
        return [s for s in sends if s.scheduled_time == times[occurrence]]
    return sends


def _safe_dirname(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9._@-]+", "_", key.replace(":", ""))


@click.command()
@click.argument("name")
@click.option("--occurrence", type=click.IntRange(min=0), help="Render only the N-th occurrence (0 = the next one).")
@click.option(
    "--at", "at", metavar="TIME", help="Render the occurrence at TIME (ISO-8601; local times use the campaign zone)."
)
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write subject.txt, body.txt and body.html per send into DIR/<send key>/.",
)
@now_option
@pass_app
def render(app: App, name: str, occurrence: int | None, at: str | None, out: Path | None) -> None:
    """Show the subject, text and HTML a campaign NAME will send, exactly as Pardot gets them.

    Pardot merge tags (%%first_name%%, {{Recipient.FirstName}}, {{Unsubscribe}}) appear
    untouched: Pardot fills them in per recipient.
    """
    if occurrence is not None and at is not None:
        raise click.UsageError("use --occurrence or --at, not both")
    sends = _select(app, name, occurrence, at)
    if not sends:
        app.console.print(f"{name}: no send inside the schedule's horizon.", markup=False)
        return
    if out is not None:
        for send in sends:
            folder = out / _safe_dirname(send.key)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "subject.txt").write_text(send.subject or "", encoding="utf-8")
            (folder / "body.txt").write_text(send.text or "", encoding="utf-8")
            (folder / "body.html").write_text(send.html or "", encoding="utf-8")
        app.console.print(f"wrote {len(sends)} send(s) to {out}", markup=False)
        return
    counts = Counter(s.scheduled_time for s in sends)
    shown = set()
    for send in sends:
        if counts[send.scheduled_time] > 1 and send.scheduled_time in shown and send.kind == "one-to-one":
            continue
        shown.add(send.scheduled_time)
        _print_send(app, send)


def _print_send(app: App, send: DesiredSend) -> None:
    when = (
        "on apply"
        if send.scheduled_time is None
        else (
            f"{utc_iso(send.scheduled_time)} "
            f"({send.scheduled_time.astimezone(ZoneInfo(send.timezone)).isoformat()} {send.timezone})"
        )
    )
    template = send.labels.get("template")
    echo = click.echo
    key = send.key if app.reveal_emails else mask_emails(send.key)
    echo(f"=== {key}  [{send.kind}, {when}]")
    if send.operational_reason:
        echo(f"OPERATIONAL: {send.operational_reason}")
    if template:
        echo(
            f"template: {template}"
            + (" (parts not given below come from the template)" if None in (send.subject, send.text) else "")
        )
    echo("--- subject")
    echo(send.subject if send.subject is not None else "(from the template)")
    echo("--- text")
    echo(send.text if send.text is not None else "(from the template)", nl=False)
    echo("" if (send.text or "").endswith("\n") else "\n", nl=False)
    echo("--- html")
    echo(send.html if send.html is not None else "(from the template)", nl=False)
    echo("" if (send.html or "").endswith("\n") else "\n", nl=False)
