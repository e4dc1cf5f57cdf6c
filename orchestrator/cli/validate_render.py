"""``orchestrator validate`` and ``orchestrator render``: the authoring half.

Only ``render`` may call the API: it reads a template-based send's Pardot template, when it can.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click
from rich.table import Table

from orchestrator.cli.annotations import diagnostic as annotation
from orchestrator.cli.annotations import split_by_severity
from orchestrator.cli.common import App, echo_workflow_command, now_option, pass_app
from orchestrator.config import Environment
from orchestrator.desired import DesiredSend
from orchestrator.desired_sends import desired_sends_of
from orchestrator.errors import Diagnostic, OrchestratorError, ProjectInvalid, SelectionError
from orchestrator.outdir import MANIFEST, claim, trusted_roots
from orchestrator.pardot.models import EmailTemplate
from orchestrator.redact import mask_emails, scrub
from orchestrator.schedule import utc_iso
from orchestrator.selection import select_sends
from orchestrator.templates_owned import known_for_checks, load_template_files, render_templates
from orchestrator.textsafe import escape_control


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
@click.option(
    "--all-envs",
    is_flag=True,
    help="Validate against every environment of orchestrator.yaml in one run (ids and vars differ per environment).",
)
@click.option("--check-links", is_flag=True, help="Also request every link once (HEAD) and report broken ones.")
@now_option
@pass_app
def validate(app: App, paths: tuple[Path, ...], fmt: str, all_envs: bool, check_links: bool) -> None:
    """Check campaign and template files: schema, ids, rendering, unsubscribe policy and schedules.

    Without PATHS every campaign of the project is checked. Exit status 0 when everything is
    valid, 1 when anything is wrong. No API call is made (--check-links requests the links).
    """
    if all_envs and _env_given_on_command_line():
        raise click.UsageError("use --env NAME or --all-envs, not both")
    try:
        project = app.project(list(paths) or None)
        envs = list(project.config.environments.values()) if all_envs else [app.environment()]
        if all_envs and app.env_name is not None:
            app.environment()  # the environment CI will plan in (ORCHESTRATOR_ENV) must exist too
    except ProjectInvalid as exc:  # orchestrator.yaml itself is invalid: still report in the chosen format
        _report(app, fmt, [], exc.diagnostics, [], 0)
        raise SystemExit(1) from None
    first: list[DesiredSend] = []
    per_env: list[tuple[Environment, list[DesiredSend], list[Diagnostic]]] = []
    for env in envs:
        files, template_problems = load_template_files(project.config)
        sends, problems = desired_sends_of(project, known_for_checks(env, files), app.now(), lead_time="warning")
        if not paths:  # the project's template files, rendered for this environment too
            problems = problems + template_problems + render_templates(project.config, env, files)[1]
        first = first or sends
        per_env.append((env, sends, problems))
    if check_links:  # each URL is requested once, however many environments use it
        from orchestrator.linkcheck import check_urls, collect_links, link_problems

        sites = [collect_links(sends) for _, sends, _ in per_env]
        results = check_urls({url for found in sites for url in found})
        for (env, _, problems), found in zip(per_env, sites, strict=True):
            mine = {url: result for url, result in results.items() if url in found}
            problems += link_problems(mine, found, project.campaigns, env.policy)
    found_in: dict[Diagnostic, list[str]] = {}
    for env, _, problems in per_env:
        for diag in problems:
            found_in.setdefault(diag, [])
            if env.name not in found_in[diag]:
                found_in[diag].append(env.name)
    merged = sorted(_for_environments(diag, names, len(envs)) for diag, names in found_in.items())
    _report(app, fmt, first, merged, [e.name for e in envs], len(project.campaigns))
    if any(d.severity == "error" for d in merged):
        raise SystemExit(1)


def _env_given_on_command_line() -> bool:
    """``--env`` typed by the user (``ORCHESTRATOR_ENV``, set for a whole CI job, is not a conflict)."""
    root = click.get_current_context().find_root()
    return root.get_parameter_source("env_name") is click.core.ParameterSource.COMMANDLINE


def _for_environments(diag: Diagnostic, names: list[str], total: int) -> Diagnostic:
    """A problem found in only some of several environments says which ones."""
    if total < 2 or len(names) == total:
        return diag
    label = "environment" if len(names) == 1 else "environments"
    return replace(diag, message=f"{diag.message} (in {label} {', '.join(names)})")


def _report(
    app: App, fmt: str, sends: list[DesiredSend], problems: list[Diagnostic], envs: list[str], campaigns: int
) -> None:
    errors = [d for d in problems if d.severity == "error"]
    if fmt == "json":
        app.print_json(
            {
                "valid": not errors,
                "environment": envs[0] if len(envs) == 1 else ", ".join(envs),
                "environments": envs,
                "problems": [_diag_json(d) for d in problems],
                "campaigns": _summary_rows(sends),
            }
        )
    elif fmt == "github":
        root = _project_root(app)
        errors_first, warnings = split_by_severity(problems)  # GitHub shows 10 of each level per step
        for diag in errors_first + warnings:
            echo_workflow_command(annotation(diag, root))
        click.echo(
            f"{len(errors)} error(s) in {len({d.path for d in errors})} file(s)"
            if errors
            else f"{campaigns} campaign(s) valid in {', '.join(envs)}"
        )
    else:
        _print_text(app, campaigns, sends, problems, ", ".join(envs))


def _project_root(app: App) -> Path:
    """The project folder, for annotation paths; the current folder if even that is unknown."""
    try:
        return app.root()
    except OrchestratorError:
        return Path.cwd()


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
    warnings = len(problems)
    verdict = "all valid" if not warnings else f"valid, with {warnings} warning(s) above"
    app.console.print(f"{campaigns} campaign(s), {len(sends)} send(s): {verdict}.", markup=False)


def _select(app: App, name: str, occurrence: int | None, at: str | None) -> list[DesiredSend]:
    """The library's selection, with its refusals shown as usage errors of the option at fault."""
    try:
        sends = select_sends(app.project(), app.environment(), name, app.now(), occurrence=occurrence, at=at)
    except SelectionError as exc:
        raise click.BadParameter(exc.message, param_hint=exc.option) from None
    for send in sends:  # an occurrence without its content is not rendered as if it had some
        if send.waiting is not None:
            shown = send.key if app.reveal_emails else mask_emails(send.key)
            app.console.print(f"{shown}: not rendered: {send.waiting}", markup=False, highlight=False)
    ready = [s for s in sends if s.waiting is None]
    if sends and not ready:
        raise SystemExit(0)  # each one said why: nothing to show, nothing written
    sends = ready
    broken = sorted({d.path for d in app.project().problems if d.severity == "error"})
    if broken:
        app.err_console.print(
            f"note: {len(broken)} other file(s) have errors ({', '.join(broken)}); `orchestrator validate` lists them",
            markup=False,
            highlight=False,
        )
    return sends


def _safe_dirname(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9._@-]+", "_", key.replace(":", "")).strip(".") or "send"


def _write_rendered(app: App, sends: list[DesiredSend], out: Path) -> None:
    """``render --out DIR``: DIR new or empty (links refused), one new folder per send, a manifest."""
    with claim(out, option="--out", trusted=trusted_roots(app.root())) as folder:
        for send in sends:
            name = folder.subfolder(_safe_dirname(send.key))
            # Exact content, but never a registered secret (the folder may become an artifact).
            folder.write_text(f"{name}/subject.txt", scrub(send.subject or ""))
            folder.write_text(f"{name}/body.txt", scrub(send.text or ""))
            folder.write_text(f"{name}/body.html", scrub(send.html or ""))
        folder.finish()
    app.console.print(f"wrote {len(sends)} send(s) and {MANIFEST} to {out}", markup=False)


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
    help="Write subject.txt, body.txt and body.html per send into DIR/<send key>/ (DIR new or empty).",
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
        _write_rendered(app, sends, out)
        return
    counts = Counter(s.scheduled_time for s in sends)
    shown = set()
    templates: dict[int, EmailTemplate | None] = {}
    for send in sends:
        if counts[send.scheduled_time] > 1 and send.scheduled_time in shown and send.kind == "one-to-one":
            continue
        shown.add(send.scheduled_time)
        _print_send(app, send, _template_of(app, send, templates))


def _template_of(app: App, send: DesiredSend, cache: dict[int, EmailTemplate | None]) -> EmailTemplate | None:
    """The Pardot template a send uses, read once per run; None when it cannot be read (render
    still works offline: it then says only that the part comes from the template)."""
    template_id = send.payload.get("email_template_id")
    if template_id is None:
        return None
    if template_id not in cache:
        try:
            cache[template_id] = app.client().read_template(int(template_id), archived=True)
        except OrchestratorError:
            cache[template_id] = None
    return cache[template_id]


def _from_template(part: str | None, label: str) -> str:
    return "(from the template)" if part is None else f"(from the template{label}:)\n{part}"


def _print_send(app: App, send: DesiredSend, found: EmailTemplate | None = None) -> None:
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
    name = f" {found.name}" if found is not None else ""
    subject = send.subject if send.subject is not None else _from_template(found.subject if found else None, name)
    text = send.text if send.text is not None else _from_template(found.text if found else None, name)
    html = send.html if send.html is not None else _from_template(found.html if found else None, name)
    echo("--- subject")
    echo(subject)
    echo("--- text")
    echo(text, nl=False)
    echo("" if text.endswith("\n") else "\n", nl=False)
    echo("--- html")
    echo(html, nl=False)
    echo("" if html.endswith("\n") else "\n", nl=False)
