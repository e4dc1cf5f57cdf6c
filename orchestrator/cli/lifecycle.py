"""``orchestrator plan``, ``apply`` and ``show``: Terraform's workflow for email sends."""

from __future__ import annotations

import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from orchestrator.apply import ApplyHooks, ApplyResult, Executor, Outcome
from orchestrator.audience import fetch_index, needs_audience, with_audience
from orchestrator.cli.annotations import print_plan_annotations
from orchestrator.cli.common import App, now_option, pass_app
from orchestrator.cli.planview import print_markdown, print_text
from orchestrator.errors import OrchestratorError
from orchestrator.export.workflow import PollPolicy
from orchestrator.plan import Change, Plan
from orchestrator.planfile import check_applicable, check_times, plan_to_dict, read_plan, write_plan
from orchestrator.redact import mask_emails
from orchestrator.workflow import options_for, plan_project

FORMATS = click.Choice(["text", "json", "markdown", "github"])


def _show(app: App, plan: Plan, fmt: str, *, show_unchanged: bool = False, out_dir: Path | None = None) -> None:
    if fmt == "json":
        app.print_json(plan_to_dict(plan))
    elif fmt == "markdown":
        err = app.err_console.print
        print_markdown(plan, reveal=app.reveal_emails, show_unchanged=show_unchanged, out_dir=out_dir, err=err)
    elif fmt == "github":
        print_plan_annotations(app, plan)
    else:
        print_text(plan, app.console, reveal=app.reveal_emails, show_noop=show_unchanged)


def _compute(app: App, allow_late: bool, audience: bool, *, for_sending: bool = False) -> Plan:
    project = app.project()
    env = app.environment()
    snapshot = app.store().snapshot()
    now = app.send_now() if for_sending else app.now()
    result = plan_project(
        project, env, snapshot, now, client=app.client(), options=options_for(env, allow_late=allow_late)
    )
    if result.errored or not (audience or needs_audience(result)):
        return result
    app.err_console.print("Counting audiences with list-membership and prospect exports...", markup=False)
    poll = PollPolicy(first_s=0.5, factor=1.5, max_interval_s=5.0) if env.api["kind"] == "sandbox" else PollPolicy()
    index = fetch_index(
        app.client(),
        since=env.policy.audience_since,
        now=now,
        tz=app.timezone(),
        policy=poll,
        sleep=time.sleep,
        clock=app.clock,
    )
    return with_audience(result, index)


lock_timeout_option = click.option(
    "--lock-timeout",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    metavar="SECONDS",
    help="Wait up to SECONDS for another apply to release the state lock.",
)
audience_option = click.option(
    "--audience",
    is_flag=True,
    help="Count each list send's mailable audience with exports (automatic when max_recipients is set).",
)
allow_late_option = click.option(
    "--allow-late",
    is_flag=True,
    help="Send missed occurrences now instead of reporting them as missed.",
)


@click.command()
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Save the plan to FILE for `orchestrator apply FILE` (holds the state lock while planning).",
)
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True, help="Output format.")
@click.option(
    "--detailed-exitcode", is_flag=True, help="Exit 0 when nothing would change, 1 on error, 2 when there are changes."
)
@click.option("--show-unchanged", is_flag=True, help="Also list unchanged and deferred sends.")
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="With --format markdown: write plan-1.md, plan-2.md, ... (each fits one GitHub comment) into DIR.",
)
@allow_late_option
@audience_option
@lock_timeout_option
@now_option
@pass_app
def plan(
    app: App,
    out: Path | None,
    fmt: str,
    out_dir: Path | None,
    detailed_exitcode: bool,
    show_unchanged: bool,
    allow_late: bool,
    audience: bool,
    lock_timeout: float,
) -> None:
    """Show exactly what apply would send, to whom and when, without sending anything.

    Compares the campaign files with the state of what was already sent, and with Pardot's
    templates. Sends already made are never repeated; changes to sent or scheduled emails are
    shown as blocked, since Pardot cannot change them.
    """
    if out_dir is not None and fmt != "markdown":
        raise click.UsageError("--out-dir writes Markdown comments: use it with --format markdown")
    if out is not None:
        with app.store().lock("plan --out", timeout=lock_timeout):
            result = _compute(app, allow_late, audience, for_sending=True)
            write_plan(result, out)
    else:
        result = _compute(app, allow_late, audience)
    _show(app, result, fmt, show_unchanged=show_unchanged, out_dir=out_dir)
    if out is not None and fmt == "text":
        app.console.print(
            f"\nSaved the plan to {out}; apply it with `orchestrator apply {out}` "
            f"before {result.expires_at.isoformat()}.",
            markup=False,
            highlight=False,
        )
    if result.errored:
        raise SystemExit(1)
    if detailed_exitcode and result.has_changes:
        raise SystemExit(2)


class _ProgressHooks(ApplyHooks):
    """A rich progress bar on stderr; one line per failure or unknown outcome."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.progress = Progress(
            TextColumn("applying"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=app.err_console,
            transient=True,
        )
        self.task: Any = None

    def started(self, total: int) -> None:
        self.progress.start()
        self.task = self.progress.add_task("apply", total=total)

    def finished_one(self, change: Change, outcome: Outcome) -> None:
        self.progress.advance(self.task)
        if outcome.status in ("failed", "unknown"):
            key = change.key if self.app.reveal_emails else mask_emails(change.key)
            self.progress.console.print(
                f"{outcome.status.upper()}: {key}: {outcome.error}", markup=False, highlight=False
            )

    def stop(self) -> None:
        self.progress.stop()


def _interrupt_on_sigterm(_signum: int, _frame: object) -> None:
    """A CI job being cancelled (SIGTERM) stops like Ctrl-C: finish sends in flight, start no more."""
    raise KeyboardInterrupt


def _execute(app: App, chosen: Plan, approved_large: tuple[str, ...]) -> ApplyResult:
    hooks = _ProgressHooks(app)
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _interrupt_on_sigterm)
    try:
        executor = Executor(
            app.client(),
            app.store(),
            environment=chosen.environment,
            hooks=hooks,
            approved_large=approved_large,
            clock=app.clock,
        )
        return executor.run(chosen)
    finally:
        hooks.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _report(app: App, chosen: Plan, result: ApplyResult) -> None:
    show = (lambda s: s) if app.reveal_emails else mask_emails
    operational = {c.key for c in chosen.pending if c.operational_reason}
    for outcome in result.outcomes:
        email = f" (email {outcome.email_id})" if outcome.email_id is not None else ""
        flag = " [OPERATIONAL]" if outcome.key in operational else ""
        line = f"{outcome.status:<9} {show(outcome.key)}{email}{flag}"
        if outcome.error and outcome.status != "pending":
            line += f": {show(outcome.error)}"
        app.console.print(line, markup=False, highlight=False)
    counts = {s: result.count(s) for s in ("sent", "scheduled", "failed", "unknown", "pending", "held")}
    app.console.print(
        "Apply complete: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n)
        if result.outcomes
        else "Apply complete: nothing to do.",
        markup=False,
        highlight=False,
    )
    if result.stopped:
        app.console.print(f"Stopped early: {result.stopped}", markup=False, highlight=False)
    if counts["unknown"]:
        app.console.print(
            "Some outcomes are unknown: check Pardot for emails with those names, then record the answer with "
            "`orchestrator state resolve KEY --sent EMAIL_ID` or `--not-sent`.",
            markup=False,
            highlight=False,
        )


def _confirm(app: App, auto_approve: bool) -> None:
    if auto_approve:
        return
    if not sys.stdin.isatty():
        raise OrchestratorError(
            "apply needs confirmation, and there is no terminal to ask on",
            hint="review the plan and pass --auto-approve, or apply a saved plan: "
            "`orchestrator plan --out plan.json` then `orchestrator apply plan.json`",
        )
    answer = click.prompt(
        "Do you want to send these emails? Only 'yes' will be accepted", default="", show_default=False
    )
    if answer.strip() != "yes":
        raise OrchestratorError("apply cancelled; nothing was sent")


@click.command()
@click.argument("plan_file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation (for CI).")
@click.option(
    "--approve-large",
    "approve_large",
    multiple=True,
    metavar="CAMPAIGN",
    help="Send CAMPAIGN even though its audience exceeds max_recipients (journaled). Repeatable.",
)
@allow_late_option
@audience_option
@lock_timeout_option
@now_option
@pass_app
def apply(
    app: App,
    plan_file: Path | None,
    auto_approve: bool,
    approve_large: tuple[str, ...],
    allow_late: bool,
    audience: bool,
    lock_timeout: float,
) -> None:
    """Send the planned emails, each exactly once.

    With PLAN_FILE, apply exactly that saved plan (refused if the state, environment or
    business unit changed, if it expired, was altered, or a scheduled time is now too close).
    Without it, plan now, show the plan and ask for `yes` (or --auto-approve).
    """
    store = app.store()
    with store.lock("apply", timeout=lock_timeout):
        if plan_file is not None:
            chosen = read_plan(plan_file)
            snapshot = store.snapshot()
            env = app.environment()
            check_applicable(
                chosen,
                now=app.send_now(),
                environment=env.name,
                business_unit_id=env.business_unit_id,
                lineage=snapshot.lineage,
                serial=snapshot.serial,
            )
            _show(app, chosen, "text")
        else:
            chosen = _compute(app, allow_late, audience, for_sending=True)
            _show(app, chosen, "text")
            if chosen.errored:
                raise SystemExit(1)
            if not chosen.has_changes:
                app.console.print("No changes: nothing to send.", markup=False)
                return
            _confirm(app, auto_approve)
            check_times(chosen, now=app.send_now())  # the prompt may have waited: times are checked again
        result = _execute(app, chosen, approve_large)
    _report(app, chosen, result)
    if not result.ok:
        raise SystemExit(1)


@click.command()
@click.argument("plan_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True, help="Output format.")
@pass_app
def show(app: App, plan_file: Path, fmt: str) -> None:
    """Print a saved plan (from `plan --out`) as text, JSON or Markdown."""
    _show(app, read_plan(plan_file), fmt, show_unchanged=True)
