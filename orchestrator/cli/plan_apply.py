"""``orchestrator plan``, ``apply`` and ``show``: Terraform's workflow for email sends.

Only parsing, presenting and exit codes live here; the sequences that decide what may be sent
are library functions in :mod:`orchestrator.planning` and :mod:`orchestrator.applying`.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from orchestrator import applying, planning
from orchestrator.apply import ApplyHooks, ApplyResult, Outcome, OutcomeStatus, StopRequest
from orchestrator.cli.annotations import print_plan_annotations
from orchestrator.cli.common import App, now_option, pass_app
from orchestrator.cli.exitcodes import SIGNAL_EXIT, ExitCode
from orchestrator.cli.planview import print_markdown, print_text
from orchestrator.errors import OrchestratorError
from orchestrator.outdir import OutputFolder, claim, trusted_roots
from orchestrator.plan import Action, Change, Plan
from orchestrator.planfile import load_plan, plan_to_dict, write_plan
from orchestrator.provenance import approver
from orchestrator.redact import mask_emails
from orchestrator.template_plan import TemplateChange, describe, template_json

FORMATS = click.Choice(["text", "json", "markdown", "github"])
#: What makes a plan need a human, as apply's last line names it (a refreshed plan adds drifted).
_ATTENTION_KINDS = "blocked, missed, unknown or orphaned"


def _show(
    app: App,
    plan: Plan,
    fmt: str,
    *,
    show_unchanged: bool = False,
    out: OutputFolder | None = None,
    templates: Sequence[TemplateChange] = (),
) -> None:
    if fmt == "json":
        app.print_json(plan_to_dict(plan))
    elif fmt == "markdown":
        err = app.err_console.print
        print_markdown(
            plan, reveal=app.reveal_emails, show_unchanged=show_unchanged, out=out, err=err, templates=templates
        )
    elif fmt == "github":
        print_plan_annotations(app, plan, templates)
    else:
        print_text(plan, app.console, reveal=app.reveal_emails, show_noop=show_unchanged)


def _output_folder(app: App, path: Path, option: str) -> OutputFolder:
    """``path`` claimed for this run's output (:func:`orchestrator.outdir.claim`): new, or empty and real.

    Links are refused inside the project and the CI checkout, where a pull request puts them.
    """
    return claim(path, option=option, trusted=trusted_roots(app.root()))


def _target(app: App, *, read_only: bool = False) -> planning.Target:
    return planning.Target(
        project=app.project(),
        env=app.environment(),
        store=app.store(read_only=read_only),
        client=app.client(),
        clock=app.ticking_clock(),
        notes=lambda line: app.err_console.print(line, markup=False, highlight=False),
    )


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
    help="Save the plan to FILE (owner-only: it holds exact payloads) for `orchestrator apply FILE`.",
)
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True, help="Output format.")
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 when nothing would change, 2 when there are changes, 3 when anything needs a human, 1 on error.",
)
@click.option("--show-unchanged", is_flag=True, help="Also list unchanged and deferred sends.")
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="With --format markdown: write plan-1.md, plan-2.md, ... (each fits one GitHub comment) and "
    "manifest.json into DIR, which must be new or empty.",
)
@click.option(
    "--previews",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Write previews (HTML, text, screenshots) of every send the plan would make into DIR (new or empty).",
)
@click.option(
    "--refresh",
    is_flag=True,
    help="Also read what Pardot holds of the recorded list sends (one v5 query page per 200 sends of the "
    "lookback and ahead) and report any missing, deleted, unsent or edited as needing a human.",
)
@allow_late_option
@audience_option
@now_option
@pass_app
def plan(
    app: App,
    out: Path | None,
    fmt: str,
    out_dir: Path | None,
    detailed_exitcode: bool,
    show_unchanged: bool,
    refresh: bool,
    allow_late: bool,
    audience: bool,
    previews: Path | None,
) -> None:
    """Show exactly what apply would send, to whom and when, without sending anything.

    Compares the campaign files with the state of what was already sent, and with Pardot's
    templates. Sends already made are never repeated; changes to sent or scheduled emails are
    shown as blocked, since Pardot cannot change them. Planning reads the state without locking
    it, so plans never wait for each other or for an apply. With --refresh it also reads Pardot's
    list emails, like Terraform's refresh: a recorded send Pardot no longer holds as recorded is
    shown as drifted, with the command that settles it.
    """
    if out_dir is not None and fmt != "markdown":
        raise click.UsageError("--out-dir writes Markdown comments: use it with --format markdown")
    if out_dir is not None and previews is not None and out_dir.absolute() == previews.absolute():
        raise click.UsageError("--out-dir and --previews need two different folders")
    with ExitStack() as folders:  # claimed before planning: a refused folder costs no API call
        comment = folders.enter_context(_output_folder(app, out_dir, "--out-dir")) if out_dir else None
        shots = folders.enter_context(_output_folder(app, previews, "--previews")) if previews else None
        now = app.send_now() if out is not None else app.now()
        target = _target(app, read_only=True)
        templates = planning.plan_templates_for(target)
        result = planning.compute_plan(
            target,
            now,
            allow_late=allow_late,
            audience=audience,
            refresh=refresh,
            templates_created=planning.created_names(templates),
        )
        checksum = write_plan(result, out, templates) if out is not None else None
        if fmt == "text":
            _show_templates(app, templates, show_unchanged=show_unchanged)
        if fmt == "json" and templates:
            app.print_json({**plan_to_dict(result), "templates": [template_json(c) for c in templates]})
        else:
            _show(app, result, fmt, show_unchanged=show_unchanged, out=comment, templates=templates)
        if shots is not None:
            from orchestrator.cli.preview import plan_previews

            plan_previews(app, result, shots)
    if out is not None:
        saved = (
            f"Saved the plan to {out} (checksum {checksum}); apply it with `orchestrator apply {out}` "
            f"before {result.expires_at.isoformat()}."
        )
        # Other formats are read by machines: the note goes to stderr, stdout stays the plan.
        (app.console if fmt == "text" else app.err_console).print(
            ("\n" if fmt == "text" else "") + saved, markup=False, highlight=False
        )
    if result.errored:
        raise SystemExit(ExitCode.ERROR)
    if detailed_exitcode and (result.needs_attention or any(c.needs_attention for c in templates)):
        raise SystemExit(ExitCode.ATTENTION)
    if detailed_exitcode and (result.has_changes or any(c.is_change for c in templates)):
        raise SystemExit(ExitCode.CHANGES)


def _show_templates(app: App, changes: list[TemplateChange], *, show_unchanged: bool = False) -> None:
    """The owned templates' part of a plan, printed before the sends (docs/templates.md)."""
    lines = describe(changes, show_noop=show_unchanged)
    if lines:
        app.console.print("\n".join(lines) + "\n", markup=False, highlight=False)


def _outcome_line(app: App, outcome: Outcome, operational: bool) -> str:
    show = (lambda s: s) if app.reveal_emails else mask_emails
    email = f" (email {outcome.email_id})" if outcome.email_id is not None else ""
    flag = " [OPERATIONAL]" if operational else ""
    line = f"{outcome.status:<9} {show(outcome.key)}{email}{flag}"
    if outcome.error and outcome.status != "pending":
        line += f": {show(outcome.error)}"
    return line


class _ProgressHooks(ApplyHooks):
    """Progress as sends complete.

    On a terminal: a rich progress bar on stderr and a line per failure or unknown outcome.
    Without one (CI logs): one flushed line per send on stdout as it completes, so the log of a
    job killed mid-run still shows which emails went out and their ids.
    """

    def __init__(self, app: App) -> None:
        self.app = app
        self.live = not app.err_console.is_terminal
        self.running = False
        self._lock = threading.Lock()
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
        self.running = True
        if not self.live:
            self.progress.start()
            self.task = self.progress.add_task("apply", total=total)

    def finished_one(self, change: Change, outcome: Outcome) -> None:
        operational = bool(change.operational_reason or (change.payload or {}).get("operational_email"))
        if self.live:
            with self._lock:
                click.echo(_outcome_line(self.app, outcome, operational))
                sys.stdout.flush()
            return
        self.progress.advance(self.task)
        if not outcome.status.done and outcome.status is not OutcomeStatus.PENDING:
            self.progress.console.print(_outcome_line(self.app, outcome, operational), markup=False, highlight=False)

    def stop(self) -> None:
        if not self.live:
            self.progress.stop()


@contextmanager
def _signals_stop(stop: StopRequest, hooks: _ProgressHooks) -> Iterator[None]:
    """SIGINT and SIGTERM, however many, stop the run without losing an outcome.

    Before sending starts they abort as usual (nothing was sent); once it has started they only
    ask the executor to start no more sends: those in flight finish (or time out) and are
    recorded. GitHub cancels a job with SIGINT, then SIGTERM 7.5 s later.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if not hooks.running:
            raise KeyboardInterrupt
        stop.request(f"interrupted by {name}; the sends not yet started stay pending", signal_name=name)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


#: How many keys the last line of an apply names (the plan above it lists every one, with why).
_KEYS_SHOWN = 10


def _report(app: App, chosen: Plan, result: ApplyResult | None, hooks: _ProgressHooks) -> ExitCode:
    """The outcomes (unless already printed live), the totals, and a last line saying what is left."""
    operational = {c.key for c in chosen.pending if c.operational_reason or (c.payload or {}).get("operational_email")}
    outcomes = result.outcomes if result is not None else []
    if not hooks.live:
        for outcome in outcomes:
            app.console.print(_outcome_line(app, outcome, outcome.key in operational), markup=False, highlight=False)
    counts = {
        s: sum(1 for o in outcomes if o.status == s)
        for s in OutcomeStatus
    }
    say: Callable[[str], None] = lambda line: app.console.print(line, markup=False, highlight=False)  # noqa: E731
    if outcomes:
        say("Apply complete: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n) + ".")
    if result is not None and result.stopped:
        say(f"Stopped early: {result.stopped}")
    unknown = [o.key for o in outcomes if o.status == OutcomeStatus.UNKNOWN]
    if unknown:
        say(
            "Some outcomes are unknown: `orchestrator state reconcile` looks for list emails by name (the name is "
            "the send key); for the rest, find the email in Pardot's UI and record the answer. "
            "Never apply them again before that:"
        )
        for key in unknown:
            shown = key if app.reveal_emails else mask_emails(key)
            say(f"  orchestrator state resolve {shown} --sent EMAIL_ID   # or: --not-sent, once Pardot has no {shown}")
    attention = [c for c in chosen.attention if not c.action.is_change]
    left = [o for o in outcomes if not o.status.done]
    if result is not None and result.signal_name is not None:
        say(f"Interrupted by {result.signal_name}: {len(left)} send(s) not done; see above.")
        return SIGNAL_EXIT.get(result.signal_name, ExitCode.ATTENTION)
    if left or attention:
        parts = [f"{n} {s}" for s, n in counts.items() if n and not s.done]
        if attention:
            shown = ", ".join(c.key if app.reveal_emails else mask_emails(c.key) for c in attention[:_KEYS_SHOWN])
            more = f" and {len(attention) - _KEYS_SHOWN} more" if len(attention) > _KEYS_SHOWN else ""
            drifted = any(c.action is Action.DRIFTED for c in attention)
            kinds = "blocked, missed, unknown, orphaned or drifted in Pardot" if drifted else _ATTENTION_KINDS
            parts.append(f"{len(attention)} in the plan need a human ({kinds}: {shown}{more})")
        again = "orchestrator plan --refresh" if chosen.refresh is not None else "orchestrator plan"
        say("Needs attention: " + "; ".join(parts) + f". Run `{again}` to see why.")
        return ExitCode.ATTENTION
    if not outcomes:
        say("No changes: nothing to send.")
    return ExitCode.OK


def _confirm(app: App, auto_approve: bool) -> Callable[[Plan], bool]:
    def confirm(_plan: Plan) -> bool:
        if auto_approve:
            return True
        if not sys.stdin.isatty():
            raise OrchestratorError(
                "apply needs confirmation, and there is no terminal to ask on",
                hint="review the plan and pass --auto-approve, or apply a saved plan: "
                "`orchestrator plan --out plan.json` then `orchestrator apply plan.json`",
            )
        answer = click.prompt(
            "Do you want to send these emails? Only 'yes' will be accepted", default="", show_default=False
        )
        return bool(answer.strip() == "yes")

    return confirm


@click.command()
@click.argument("plan_file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation (for CI).")
@click.option(
    "--reviewed",
    "reviewed_file",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="PLAN_FILE",
    help="Plan afresh and send only the changes identical to ones in this reviewed plan; hold the rest (for CI).",
)
@click.option(
    "--approve-large",
    "approve_large",
    multiple=True,
    metavar="CAMPAIGN",
    help="Send CAMPAIGN even though its audience exceeds max_recipients (journaled). Repeatable.",
)
@click.option(
    "--allow-late",
    is_flag=True,
    help="Send missed occurrences now instead of reporting them as missed. Never taken from a plan file: "
    "a plan saved with --allow-late is applied only with --allow-late.",
)
@click.option(
    "--pre-approved-only",
    is_flag=True,
    help="Apply PLAN_FILE only if every change in it is pre-approved (a recurring occurrence with the content "
    "a person approved before); otherwise send nothing and name the changes that need a person. Never taken "
    "from a plan file.",
)
@audience_option
@lock_timeout_option
@now_option
@pass_app
def apply(
    app: App,
    plan_file: Path | None,
    auto_approve: bool,
    reviewed_file: Path | None,
    approve_large: tuple[str, ...],
    allow_late: bool,
    audience: bool,
    pre_approved_only: bool,
    lock_timeout: float,
) -> None:
    """Send the planned emails, each exactly once.

    With PLAN_FILE, apply exactly that saved plan (its checksum is printed first): refused if the
    state, environment or business unit changed, if it expired or was altered, or if any planned
    send is no longer exactly what the files in this checkout ask for; a send whose time is now
    too close (or past) is held alone and reported. Any apply refuses a checkout that does not
    descend from the last applied git commit. With --reviewed,
    plan afresh and send only what the reviewed plan showed, identical. Without either, plan now,
    show the plan and ask for `yes` (or --auto-approve). With --pre-approved-only (PLAN_FILE only),
    nothing is sent unless every change is pre-approved; no person is recorded as its approver.

    Exit codes: 0 done, 1 error (nothing more sent), 3 something needs a human, 130/143
    interrupted by SIGINT/SIGTERM (sends in flight were recorded).
    """
    if plan_file is not None and reviewed_file is not None:
        raise click.UsageError("give either PLAN_FILE or --reviewed PLAN_FILE, not both")
    if pre_approved_only and plan_file is None:
        raise click.UsageError("--pre-approved-only applies a saved plan: give PLAN_FILE (from `plan --out`)")
    target = _target(app)
    hooks = _ProgressHooks(app)
    stop = StopRequest()
    templates_seen: list[TemplateChange] = []

    def show_templates(changes: list[TemplateChange]) -> None:
        templates_seen.extend(changes)
        _show_templates(app, changes)

    given_file = plan_file if plan_file is not None else reviewed_file
    given = load_plan(given_file) if given_file is not None else None
    if plan_file is not None and given is not None:
        # Printed before anything is sent: the approver compares it with the plan they approved.
        say = f"Applying the saved plan {plan_file} (checksum {given.checksum})."
        app.console.print(say, markup=False, highlight=False)
    options = applying.ApplyOptions(
        now=app.send_now,
        show=lambda chosen: _show(app, chosen, "text"),
        show_templates=show_templates,
        confirm=_confirm(app, auto_approve or reviewed_file is not None),
        hooks=hooks,
        stop=stop,
        approved_large=approve_large,
        lock_timeout=lock_timeout,
        plan_checksum=given.checksum if given is not None else None,
        approved_by=approver(os.environ),
        pre_approved_only=pre_approved_only,
    )
    result: ApplyResult | None
    try:
        with _signals_stop(stop, hooks):
            if plan_file is not None and given is not None:
                chosen, result = applying.apply_saved(
                    target, given.plan, options, allow_late=allow_late, templates=given.templates
                )
            elif given is not None:
                chosen, result = applying.apply_reviewed(
                    target, given.plan, options, allow_late=allow_late, audience=audience, templates=given.templates
                )
            else:
                chosen, result = applying.apply_fresh(target, options, allow_late=allow_late, audience=audience)
    finally:
        hooks.stop()
    if chosen.errored:
        raise SystemExit(ExitCode.ERROR)
    code = _report(app, chosen, result, hooks)
    held = sorted(c.name for c in templates_seen if c.needs_attention)
    if held:  # shown above with their reasons; the sends went ahead
        app.console.print(f"Template(s) needing a human: {', '.join(held)}.", markup=False, highlight=False)
        if code is ExitCode.OK:
            code = ExitCode.ATTENTION
    if code is not ExitCode.OK:
        raise SystemExit(code)


@click.command()
@click.argument("plan_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True, help="Output format.")
@click.option(
    "--previews",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Also write previews (HTML, text, screenshots) of every send the saved plan would make into DIR "
    "(new or empty).",
)
@pass_app
def show(app: App, plan_file: Path, fmt: str, previews: Path | None) -> None:
    """Print a saved plan (from `plan --out`) as text, JSON, Markdown or GitHub annotations.

    Text and JSON include the plan's checksum, which `apply PLAN_FILE` prints before it sends.
    """
    with ExitStack() as folders:
        shots = folders.enter_context(_output_folder(app, previews, "--previews")) if previews else None
        loaded = load_plan(plan_file)
        saved = loaded.plan
        templates = list(loaded.templates)
        if fmt == "text":
            _show_templates(app, templates, show_unchanged=True)
        if fmt == "json":
            listed = {"templates": [template_json(c) for c in templates]} if templates else {}
            app.print_json({**plan_to_dict(saved), **listed, "checksum": loaded.checksum})
        else:
            _show(app, saved, fmt, show_unchanged=True, templates=templates)
        if fmt == "text":
            app.console.print(f"Checksum: {loaded.checksum}", markup=False, highlight=False)
        if shots is not None:
            from orchestrator.cli.preview import plan_previews

            plan_previews(app, saved, shots)
