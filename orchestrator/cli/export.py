"""``orchestrator export ...``: the Export API from the command line.

A thin shell over :mod:`orchestrator.export`: parse the options, check the request locally
(before any API call), run it, show progress on stderr, write data to ``-o`` (stdout for ``-``)
and a summary to stderr, or JSON on stdout with ``--json``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import click
from rich.console import Console
from rich.status import Status
from rich.table import Table

from orchestrator.cli.common import App, OrchestratorGroup, now_option, pass_app
from orchestrator.errors import ExportError
from orchestrator.export.dates import resolve_date
from orchestrator.export.output import STDOUT, open_output
from orchestrator.export.procedures import QUERY_STATUSES, SORT_BY, SORT_ORDER, find_object
from orchestrator.export.request import build_request, parse_argument_pairs, parse_field_list
from orchestrator.export.runner import (
    ExportOutcome,
    ExportProgress,
    ExportRunner,
    PollPolicy,
    download_exports,
)
from orchestrator.export.windows import split_request
from orchestrator.pardot.models import ExportJob


@click.group("export", cls=OrchestratorGroup)
def export_group() -> None:
    """Bulk data out of Pardot with the Export API: create, watch, download, cancel.

    Requests are checked locally against the documented objects, procedures, arguments and
    fields before any API call. Dates accept today, yesterday, last_7_days, this_month,
    last_month, ISO dates and times, and GNU forms such as '3 days ago' or 'last monday'
    (see docs/export-dates.md).
    """


def job_json(job: ExportJob) -> dict[str, Any]:
    """An export job as the JSON the commands print."""
    return {
        "id": job.id,
        "state": job.state,
        "is_expired": job.is_expired,
        "result_refs": list(job.result_refs),
        "created_at": job.created_at,
        "updated_at": job.updated_at,
    }


class LiveStatus:
    """The status line while waiting: a spinner with state and elapsed time on a terminal,
    one plain line per poll otherwise (logs, CI)."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._status: Status | None = None
        self._last: ExportProgress | None = None
        self._shown_at = time.monotonic()

    def __enter__(self) -> LiveStatus:
        if self._console.is_terminal:
            self._status = self._console.status("creating export…")
            self._status.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._status is not None:
            self._status.stop()

    def update(self, progress: ExportProgress) -> None:
        self._last = progress
        self._shown_at = time.monotonic()
        if self._status is None:
            self._console.print(progress.summary, highlight=False, soft_wrap=True)
        else:
            self._status.update(progress.summary)

    def sleep(self, seconds: float) -> None:
        """Wait, refreshing the elapsed time every second on a terminal."""
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            time.sleep(min(1.0, remaining))
            if self._status is not None and self._last is not None:
                waited = time.monotonic() - self._shown_at
                elapsed = self._last.elapsed.total_seconds() + waited
                states = self._last.summary.split(" · ")[0]
                self._status.update(
                    f"{states} · {int(elapsed)}s elapsed · next check in {max(0, int(deadline - time.monotonic()))}s"
                )


def _report(app: App, outcome: ExportOutcome, output: str) -> None:
    merge = outcome.merge
    where = "stdout" if output == STDOUT else output
    dropped = f", {merge.duplicates} duplicate(s) dropped" if merge.duplicates else ""
    if merge.files == 0 or merge.header is None:
        app.err_console.print(f"0 rows: the export has no data (wrote nothing to {where})", soft_wrap=True)
        return
    app.err_console.print(f"{merge.rows} rows from {merge.files} file(s){dropped} -> {where}", soft_wrap=True)


def _outcome_json(outcome: ExportOutcome, output: str) -> dict[str, Any]:
    merge = outcome.merge
    return {
        "exports": list(outcome.export_ids),
        "rows": merge.rows,
        "files": merge.files,
        "duplicates": merge.duplicates,
        "header": list(merge.header) if merge.header else None,
        "output": output,
    }


def _download_to(app: App, jobs: Sequence[ExportJob], output: str, as_json: bool) -> None:
    with open_output(output) as out:
        outcome = download_exports(app.client(), jobs, out)
    if as_json:
        app.print_json(_outcome_json(outcome, output))
    else:
        _report(app, outcome, output)


def _check_json_output(as_json: bool, output: str) -> None:
    if as_json and output == STDOUT:
        raise click.UsageError("--json prints a summary on stdout: give the data a file with -o")


@export_group.command("create")
@click.argument("object_name", metavar="OBJECT")
@click.option("--procedure", required=True, metavar="NAME", help="Procedure to run, e.g. filter_by_updated_at.")
@click.option(
    "--arg",
    "arguments",
    multiple=True,
    metavar="KEY=VALUE",
    help="Procedure argument (repeatable), e.g. --arg updated_after=last_month.",
)
@click.option("--fields", metavar="a,b,...", help="Fields to export (default: all, at most 150).")
@click.option(
    "-o", "--output", default=STDOUT, show_default=True, metavar="FILE", help="Where the merged CSV goes; - is stdout."
)
@click.option(
    "--wait/--no-wait",
    default=True,
    show_default=True,
    help="Wait for completion and download, or print the export id and return.",
)
@click.option(
    "--split",
    is_flag=True,
    help="Cut a range longer than a year into year-long windows, one export each, merged without duplicates.",
)
@click.option(
    "--poll-interval",
    type=click.FloatRange(min=0.001),
    default=None,
    help="Seconds before the first status check; later waits grow 1.5x. "
    "[default: 5 against Pardot, 0.5 against the sandbox]",
)
@click.option(
    "--max-poll-interval",
    type=click.FloatRange(min=0.001),
    default=600.0,
    show_default=True,
    help="Longest wait between status checks, in seconds.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.001),
    default=None,
    help="Give up waiting after this many seconds (the export keeps running).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
@now_option
@pass_app
def create(
    app: App,
    object_name: str,
    procedure: str,
    arguments: tuple[str, ...],
    fields: str | None,
    output: str,
    wait: bool,
    split: bool,
    poll_interval: float | None,
    max_poll_interval: float,
    timeout: float | None,
    as_json: bool,
) -> None:
    """Create an export of OBJECT (visitor-activity, list-membership, prospect,
    prospect-account, visitor, external-activity) and, by default, wait and download it.

    Ctrl-C while waiting cancels the export on the server.
    """
    if wait:
        _check_json_output(as_json, output)
    now, tz = app.now(), app.timezone()
    request = build_request(
        object_name,
        procedure,
        parse_argument_pairs(arguments),
        parse_field_list(fields),
        now=now,
        tz=tz,
        allow_long_range=split,
    )
    requests = split_request(request, now=now, tz=tz) if split else [request]
    if poll_interval is None:  # start short and back off: a small export is ready in seconds
        poll_interval = 0.5 if app.environment().is_sandbox else 5.0
    policy = PollPolicy(first_s=poll_interval, max_interval_s=max(poll_interval, max_poll_interval), timeout_s=timeout)
    with LiveStatus(app.err_console) as status:
        runner = ExportRunner(app.client(), policy=policy, sleep=status.sleep, on_progress=status.update)
        jobs = runner.start(requests)
        if not wait:
            if as_json:
                app.print_json({"exports": [job_json(job) for job in jobs]})
            else:
                _print_jobs(app, jobs, False)
            return
        jobs = runner.wait(jobs)
    _download_to(app, jobs, output, as_json)


@export_group.command("status")
@click.argument("export_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print the export as JSON.")
@pass_app
def status(app: App, export_id: int, as_json: bool) -> None:
    """Show the state of export EXPORT_ID (and its files once Complete)."""
    _print_jobs(app, [app.client().export_read(export_id)], as_json)


@export_group.command("list")
@click.option(
    "--status", "state", type=click.Choice(QUERY_STATUSES, case_sensitive=False), help="Only exports in this state."
)
@click.option("--object", "object_name", metavar="OBJECT", help="Only exports of this object.")
@click.option("--created-after", metavar="DATE")
@click.option("--created-before", metavar="DATE")
@click.option("--updated-after", metavar="DATE")
@click.option("--updated-before", metavar="DATE")
@click.option("--sort-by", type=click.Choice(SORT_BY), help="Default: id.")
@click.option("--sort-order", type=click.Choice(SORT_ORDER), help="Default: descending.")
@click.option("--json", "as_json", is_flag=True, help="Print the exports as JSON.")
@now_option
@pass_app
def list_exports(
    app: App,
    state: str | None,
    object_name: str | None,
    created_after: str | None,
    created_before: str | None,
    updated_after: str | None,
    updated_before: str | None,
    sort_by: str | None,
    sort_order: str | None,
    as_json: bool,
) -> None:
    """List exports (needs the "Admin > Exports > View" ability in Pardot)."""
    now, tz = app.now(), app.timezone()

    def date(value: str | None, name: str) -> str | None:
        if value is None:
            return None
        try:
            return resolve_date(value, now=now, tz=tz).wire
        except ExportError as exc:
            raise click.BadParameter(exc.message, param_hint=f"--{name}") from None

    result = app.client().export_query(
        created_after=date(created_after, "created-after"),
        created_before=date(created_before, "created-before"),
        updated_after=date(updated_after, "updated-after"),
        updated_before=date(updated_before, "updated-before"),
        status=_canonical_status(state),
        object=find_object(object_name).wire_name if object_name else None,
        sort_by=sort_by,
        sort_order=sort_order,
    )
    if as_json:
        app.print_json({"total_results": result.total_results, "exports": [job_json(job) for job in result.exports]})
        return
    _print_jobs(app, list(result.exports), False)
    app.err_console.print(f"{result.total_results} export(s)")


@export_group.command("download")
@click.argument("export_ids", type=int, nargs=-1, required=True)
@click.option("-o", "--output", required=True, metavar="FILE", help="Where the merged CSV goes; - is stdout.")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON on stdout.")
@pass_app
def download(app: App, export_ids: tuple[int, ...], output: str, as_json: bool) -> None:
    """Download the files of complete export(s) EXPORT_IDS... into one CSV.

    Several ids (e.g. the windows of a --split run) are merged without duplicate ids.
    """
    _check_json_output(as_json, output)
    client = app.client()
    jobs = [client.export_read(export_id) for export_id in export_ids]
    _download_to(app, jobs, output, as_json)


@export_group.command("cancel")
@click.argument("export_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print the export as JSON.")
@pass_app
def cancel(app: App, export_id: int, as_json: bool) -> None:
    """Cancel export EXPORT_ID (only while Waiting or Processing; it cannot be restarted)."""
    _print_jobs(app, [app.client().export_cancel(export_id)], as_json)


def _canonical_status(state: str | None) -> str | None:
    if state is None:
        return None
    return next(s for s in QUERY_STATUSES if s.lower() == state.lower())


def _files(job: ExportJob) -> str:
    """How many result files a job has; "—" for a complete job whose listing does not say
    (the export query leaves resultRefs out: `export status ID` reads them)."""
    if not job.result_refs and job.state == "Complete":
        return "—"
    return str(len(set(job.result_refs)))


def _print_jobs(app: App, jobs: Sequence[ExportJob], as_json: bool) -> None:
    if as_json:
        app.print_json(job_json(jobs[0]) if len(jobs) == 1 else [job_json(j) for j in jobs])
        return
    table = Table("id", "state", "expired", "files", "created", "updated", box=None)
    for job in jobs:
        table.add_row(
            str(job.id),
            job.state,
            "yes" if job.is_expired else "no",
            _files(job),
            job.created_at or "",
            job.updated_at or "",
        )
    app.console.print(table)
