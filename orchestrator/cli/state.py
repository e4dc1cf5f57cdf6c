"""``orchestrator state``: read the record of what was sent, and the operator's corrections."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from itertools import islice
from typing import TYPE_CHECKING, Any

import click

from orchestrator.cli.common import App, json_text, now_option, pass_app
from orchestrator.cli.listing import (
    PAGE,
    entry_dict,
    entry_lines,
    page_size,
    plural,
    record_dict,
    record_json,
    record_lines,
    shower,
    write_json,
    write_lines,
)
from orchestrator.errors import StateError
from orchestrator.redact import mask_emails
from orchestrator.state.models import JournalEntry, PlanningQuery, RecordFilter, SendRecord, SendStatus

if TYPE_CHECKING:
    from orchestrator import corrections

# The corrections, the plan pipeline and the API client load only in the commands that use them:
# listing and reading the state start as fast as opening it.

UNRESOLVED = (SendStatus.INTENT, SendStatus.UNKNOWN)
#: The tag a masked address ends with (``#183e``), for matching masks printed before it existed.
_UNTAGGED = re.compile(r"#[0-9a-f]{4}\b")


@click.group("state")
def state_group() -> None:
    """Inspect and correct the state: what was sent, scheduled, failed or is unknown."""


def _when(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime | None:
    """A date (``2026-01-31``: midnight UTC) or an ISO-8601 time (without an offset: UTC)."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date (2026-01-31) or an ISO-8601 time (2026-01-31T09:00:00Z)"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _filter(
    campaigns: tuple[str, ...], statuses: tuple[str, ...], since: datetime | None, until: datetime | None,
    prefix: str | None, archived: bool,
) -> RecordFilter:
    return RecordFilter(
        campaigns=frozenset(campaigns),
        statuses=frozenset(SendStatus(s) for s in statuses),
        since=since,
        until=until,
        prefix=prefix or None,
        archived=archived,
    )


@state_group.command("list")
@click.option("--campaign", "campaigns", multiple=True, metavar="NAME", help="Only this campaign's sends (repeatable).")
@click.option(
    "--status", "statuses", multiple=True, type=click.Choice([s.value for s in SendStatus]),
    help="Only sends with this status (repeatable).",
)
@click.option(
    "--since", metavar="DATE", callback=_when, help="Only sends recorded at or after DATE (YYYY-MM-DD or ISO; UTC)."
)
@click.option("--until", metavar="DATE", callback=_when, help="Only sends recorded before DATE.")
@click.option("--prefix", metavar="TEXT", help="Only sends whose key starts with TEXT.")
@click.option("--archived", is_flag=True, help="List the archive (`state archive`) instead of the live records.")
@click.option("--limit", type=click.IntRange(min=1), metavar="N", help=f"Only the newest N (on a terminal: {PAGE}).")
@click.option("--all", "show_all", is_flag=True, help="Every matching send, even on a terminal.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output, streamed (every matching send).")
@pass_app
def state_list(
    app: App,
    campaigns: tuple[str, ...],
    statuses: tuple[str, ...],
    since: datetime | None,
    until: datetime | None,
    prefix: str | None,
    archived: bool,
    limit: int | None,
    show_all: bool,
    as_json: bool,
) -> None:
    """List the sends in the state, newest first, with status and Pardot email id.

    On a terminal the newest 50 are shown, with how many more match; --limit N or --all shows
    more, and off a terminal (a pipe, a CI log) every one is written. --json streams one JSON
    document, every matching send (or --limit N), whatever the history holds.
    """
    where = _filter(campaigns, statuses, since, until, prefix, archived)
    size = limit if as_json else page_size(app, limit, show_all)
    with app.store(read_only=True).browse(where, payloads=not as_json) as listing:  # JSON shows none
        records = listing.records if size is None else islice(listing.records, size)
        if as_json:
            head = {"lineage": listing.lineage, "serial": listing.serial}
            write_json(head, "sends", (record_json(r) for r in records))
            return
        title = "Archive" if archived else "State"
        click.echo(f"{title} (lineage {listing.lineage}, serial {listing.serial}), newest first:")
        shown = write_lines(*record_lines(iter(records), shower(app)))
        rest = listing.count() - shown if size is not None and shown == size else 0
    if rest:
        click.echo(
            f"{plural(shown, 'send', 'sends')}, the newest. {rest:,} more: `--limit N` or `--all` shows more, "
            "`--json` writes every one."
        )
    else:
        click.echo(f"{shown} send(s).")


def force_options(func: Any) -> Any:
    """``--force`` and ``--reason``: record an answer Pardot seems to contradict, saying why."""
    func = click.option("--reason", metavar="TEXT", help="With --force: why (journaled).")(func)
    return click.option(
        "--force", is_flag=True, help="Do not check Pardot first (needs --reason; journaled)."
    )(func)


def _force(force: bool, reason: str | None, *, allowed: bool = True) -> corrections.Force | None:
    from orchestrator import corrections

    if not force:
        if reason is not None:
            raise click.UsageError("--reason goes with --force")
        return None
    if not allowed:
        raise click.UsageError("--force only goes with --not-sent")
    if not reason or not reason.strip():
        raise click.UsageError("--force needs --reason TEXT: say why Pardot is not checked (journaled)")
    return corrections.Force(reason)


def _key(app: App, key: str) -> str:
    """The full key for ``key``, which may be a masked one as `state list` prints it
    (``demo/j***@example.com#183e``, or without the tag as older versions printed it) when
    exactly one send masks to it."""
    if "***" not in key or app.store().get(key) is not None:
        return key
    # A mask keeps the address's first letter: the keys it can stand for share what precedes "***".
    with app.store().browse(RecordFilter(prefix=key[: key.index("***")])) as listing:
        keys = [record.key for record in listing.records]
    matches = sorted(k for k in keys if mask_emails(k) == key)
    if not matches and "#" not in key:
        matches = sorted(k for k in keys if _UNTAGGED.sub("", mask_emails(k)) == key)
    if len(matches) > 1:
        raise StateError(
            f"{key} is the masked form of {len(matches)} sends",
            hint="`orchestrator --reveal-emails state list` shows their full keys",
        )
    return matches[0] if matches else key


def _get_or_archived(app: App, key: str) -> tuple[SendRecord, bool]:
    """The record under ``key``, live or archived (``state archive``), and whether it is archived."""
    record = app.store().get(key)
    if record is not None:
        return record, False
    with app.store().browse(RecordFilter(prefix=key, archived=True)) as listing:
        found = next((r for r in listing.records if r.key == key), None)
    return (found, True) if found is not None else (_get(app, key), False)


def _get(app: App, key: str) -> SendRecord:
    record = app.store().get(key)
    if record is None:
        raise StateError(f"no send {key!r} in the state", hint="`orchestrator state list` shows the keys")
    return record


@state_group.command("show")
@click.argument("key")
@pass_app
def state_show(app: App, key: str) -> None:
    """Show one send's record, its exact payload and its journal (KEY may be masked as listed)."""
    app.store(read_only=True)  # only reads: a role granted SELECT suffices
    key = _key(app, key)
    record, archived = _get_or_archived(app, key)
    journal = app.store().journal(key)
    data = record_dict(record)
    data["archived"] = archived
    data["payload"] = dict(record.payload)
    data["journal"] = [
        {"seq": e.seq, "at": e.at.isoformat(), "action": e.action, "detail": dict(e.detail), "by": e.actor.describe()}
        for e in journal
    ]
    # The apply that wrote it last: from which commit, which saved plan, approved by whom.
    applied = next((e.detail["apply"] for e in reversed(journal) if isinstance(e.detail.get("apply"), dict)), None)
    data["applied_from"] = None if applied is None else {
        name: applied.get(name) for name in ("commit", "dirty", "plan_checksum", "approved_by")
    }
    if applied is not None and applied.get("pre_approved") is not None:
        # Applied as a pre-approved occurrence: the send a person approved, who, and when.
        data["applied_from"]["pre_approved"] = applied["pre_approved"]
    app.print_json(data)


@state_group.command("journal")
@click.argument("key", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output, streamed.")
@click.option(
    "--last", type=click.IntRange(min=1), metavar="N", help=f"Only the last N entries (on a terminal: {PAGE})."
)
@click.option("--all", "show_all", is_flag=True, help="Every entry, even on a terminal.")
@pass_app
def state_journal(app: App, key: str | None, as_json: bool, last: int | None, show_all: bool) -> None:
    """Show the journal: every write to the state, in order (for KEY only, when given).

    On a terminal the last 50 entries are shown, with how many came before; --last N or --all
    shows more, and off a terminal (or with --json, streamed) every one is written.
    """
    store = app.store(read_only=True)
    key = _key(app, key) if key is not None else None
    size = last if as_json else page_size(app, last, show_all)
    earlier = 0
    if size is None:
        entries: Iterable[JournalEntry] = store.iter_journal(key)  # streamed, read to its end below
    else:
        entries, earlier = store.journal_tail(key, size)
    if as_json:
        write_json({}, "entries", (json_text(entry_dict(e)) for e in entries))
        return
    show = shower(app)
    click.echo("Journal" + (f" of {show(key)}" if key else "") + ":")
    shown = write_lines(*entry_lines(entries, show))
    if earlier:
        click.echo(f"{plural(shown, 'entry', 'entries')}. {earlier:,} earlier: `--last N` or `--all` shows more.")
    else:
        click.echo(f"{plural(shown, 'entry', 'entries')}.")


@state_group.command("resolve")
@click.argument("key")
@click.option(
    "--sent",
    "email_id",
    type=click.IntRange(min=1),
    metavar="EMAIL_ID",
    help="The email exists in Pardot with this id (it was sent or scheduled).",
)
@click.option("--not-sent", is_flag=True, help="The email does not exist in Pardot; the next apply may send it.")
@click.option("--no-verify", is_flag=True, help="With --sent: do not read the email from Pardot to check its name.")
@force_options
@now_option
@pass_app
def state_resolve(
    app: App, key: str, email_id: int | None, not_sent: bool, no_verify: bool, force: bool, reason: str | None
) -> None:
    """Record the operator's answer for a send whose outcome is unknown (journaled).

    --not-sent is refused while the send's request may still land in Pardot (twice api.deadline
    after it was recorded), and while Pardot shows an email of that name; --force --reason TEXT
    overrides the second check only, and is journaled.
    """
    from orchestrator import corrections
    from orchestrator.connect import in_flight_window

    key = _key(app, key)
    if (email_id is None) == (not not_sent):
        raise click.UsageError("give exactly one of --sent EMAIL_ID or --not-sent")
    overridden = _force(force, reason, allowed=not_sent)
    client = None if no_verify or email_id is None else app.client()
    done = corrections.resolve(
        app.store(),
        key,
        now=app.send_now(),
        email_id=email_id,
        client=client,
        in_flight=in_flight_window(app.environment()),
        pardot=None if overridden or email_id is not None else app.client(),
        force=overridden,
    )
    if done.email_id is None:
        app.console.print(f"{key}: recorded as not sent; the next plan will send it again.", markup=False)
    else:
        app.console.print(f"{key}: recorded as {done.status.value} (email {done.email_id}).", markup=False)


@state_group.command("accept")
@click.argument("key")
@now_option
@pass_app
def state_accept(app: App, key: str) -> None:
    """Accept a blocked send's drift: keep the files as they are, send nothing new for KEY.

    The state keeps the payload that was really sent; only its fingerprint moves to the one
    the files now give, so the plan shows the send as unchanged. For a send blocked as a repeat
    of another key's email ("looks like ..."), it confirms the repeat: the next apply sends it.
    Journaled.
    """
    from orchestrator import corrections
    from orchestrator.planning import plan_project

    key = _key(app, key)
    project, env, now = app.project(), app.environment(), app.now()
    done = corrections.accept(
        app.store(), key, now=app.send_now(), plan_at=lambda snapshot: plan_project(project, env, snapshot, now)
    )
    if done.status is SendStatus.NOT_SENT:
        app.console.print(f"{key}: repeat confirmed; the next apply sends it.", markup=False)
    else:
        app.console.print(f"{key}: drift accepted; the plan now shows it unchanged.", markup=False)


@state_group.command("rename")
@click.argument("old")
@click.argument("new")
@now_option
@pass_app
def state_rename(app: App, old: str, new: str) -> None:
    """Carry the record of OLD over to NEW after a campaign was renamed, so NEW is not sent again.

    NEW takes OLD's status and email id (journaled on both keys); OLD no longer counts as an
    orphan. Use it when the plan says NEW "looks like" OLD.
    """
    from orchestrator import corrections
    from orchestrator.planning import plan_project

    old, new = _key(app, old), _key(app, new)
    project, env, now = app.project(), app.environment(), app.now()
    done = corrections.rename(
        app.store(), old, new, now=app.send_now(), plan_at=lambda snapshot: plan_project(project, env, snapshot, now)
    )
    app.console.print(f"{new}: now holds {old}'s record ({done.status.value}, email {done.email_id}).", markup=False)


@state_group.command("forget")
@click.argument("key")
@force_options
@now_option
@pass_app
def state_forget(app: App, key: str, force: bool, reason: str | None) -> None:
    """Record that a scheduled email KEY was deleted in Pardot's UI (journaled); the files' version
    of it is then scheduled again by the next apply.

    The API cannot cancel a scheduled list email: delete it in Pardot's UI first. Pardot is read
    to confirm that it is gone; --force --reason TEXT skips that check (journaled). To cancel a
    send for good rather than replace it, use `state skip`.
    """
    from orchestrator import corrections

    key = _key(app, key)
    overridden = _force(force, reason)
    corrections.forget(
        app.store(), key, now=app.send_now(), pardot=None if overridden else app.client(), force=overridden
    )
    app.console.print(
        f"{key}: recorded as deleted in Pardot (not sent); the next plan schedules the files' version of it.",
        markup=False,
    )


@state_group.command("skip")
@click.argument("key")
@click.option("--reason", required=True, help="Why it is not sent (journaled, shown in every plan).")
@click.option("--force", is_flag=True, help="Do not check Pardot that a scheduled email is gone (journaled).")
@now_option
@pass_app
def state_skip(app: App, key: str, reason: str, force: bool) -> None:
    """Never send KEY while its content stays as it is: a missed issue, a cancelled send (journaled).

    The plan shows it as skipped, with who skipped it and why, and it no longer needs a human. A
    scheduled email must be deleted in Pardot's UI first (Pardot is read to confirm it). When the
    file's content for KEY changes, the skip ends and the key is planned again.
    """
    from orchestrator import corrections
    from orchestrator.planning import plan_project

    key = _key(app, key)
    project, env, now = app.project(), app.environment(), app.now()
    done = corrections.skip(
        app.store(),
        key,
        now=app.send_now(),
        reason=reason,
        plan_at=lambda snapshot: plan_project(project, env, snapshot, now),
        pardot=None if force else app.client(),
        force=corrections.Force(reason) if force else None,
    )
    email = f" (email {done.email_id} deleted in Pardot)" if done.email_id is not None else ""
    app.console.print(f"{key}: skipped{email}; no plan sends it while its content stays as it is.", markup=False)


@state_group.command("keep")
@click.argument("key")
@now_option
@pass_app
def state_keep(app: App, key: str) -> None:
    """Let a scheduled email KEY that the files no longer ask for go out as scheduled (journaled).

    Until it is kept (or forgotten after deleting it in Pardot's UI), such an email holds every
    new send, since a renamed or re-timed copy in the files would mail the same people twice.
    """
    from orchestrator import corrections

    key = _key(app, key)
    done = corrections.keep(app.store(), key, now=app.send_now())
    app.console.print(
        f"{key}: kept; email {done.email_id} goes out as scheduled. New sends are no longer held for it: "
        "if the files still hold a renamed or re-timed copy of it, that copy will go out too.",
        markup=False,
    )


@state_group.command("archive")
@click.option(
    "--before", required=True, metavar="DATE", callback=_when,
    help="Archive the sends that went out before DATE (YYYY-MM-DD: midnight UTC, or an ISO time).",
)
@now_option
@pass_app
def state_archive(app: App, before: datetime) -> None:
    """Move the sends that went out before DATE out of every plan's way (journaled).

    A send went out when it is sent, or scheduled for a time before DATE; DATE may not be later
    than now. Archived sends are still known by their keys: a plan that asks for one again
    shows it unchanged and never sends it twice, and a renamed copy of one is still held as a
    repeat. They are no longer orphans or listed (`state list --archived` lists them). Refused
    while a send from before DATE is unresolved (intent or unknown). Failed and not-sent records
    stay where they are.
    """
    store = app.store()
    now = app.send_now()
    with store.lock("state archive"):
        done = store.archive(before, now=now)
    when = before.isoformat().replace("+00:00", "Z")
    if not done.records:
        app.console.print(f"Nothing to archive: no send went out before {when}.", markup=False)
        return
    app.console.print(
        f"Archived {plural(done.records, 'send', 'sends')} that went out before {when} (serial {done.serial}); "
        "plans no longer read them, and still never send them again.",
        markup=False,
    )


@state_group.command("unlock")
@click.argument("lock_id")
@pass_app
def state_unlock(app: App, lock_id: str) -> None:
    """Break the state lock LOCK_ID (only when its holder is gone: check first!)."""
    store = app.store()
    holder = store.current_lock()
    store.force_unlock(lock_id)
    who = f" held by {holder.actor.describe()} for {holder.operation!r}" if holder else ""
    app.console.print(f"Lock {lock_id}{who} broken.", markup=False)


@state_group.command("reconcile")
@click.option("--dry-run", is_flag=True, help="Show what would be recorded; write nothing.")
@pass_app
def state_reconcile(app: App, dry_run: bool) -> None:
    """Settle unknown list and one-to-one sends from Pardot's v5 email queries (journaled).

    Found by name since its intent: recorded as sent (or scheduled), with its email id. Proven
    absent: recorded as not sent, so the next plan sends it. Otherwise it stays unknown, with
    the reason (exit 3: a person must decide, e.g. with `state resolve`).
    """
    from orchestrator.cli.exitcodes import ExitCode
    from orchestrator.connect import in_flight_window
    from orchestrator.reconcile import reconcile, summary

    outcomes = reconcile(
        app.store(), app.client(), app.clock(), dry_run=dry_run, in_flight=in_flight_window(app.environment())
    )
    if not outcomes:
        app.console.print("Nothing to reconcile: no send is unknown.", markup=False)
        return
    show = (lambda s: s) if app.reveal_emails else mask_emails
    verb = "would record" if dry_run else "recorded"
    for o in outcomes:
        what = f"{verb} {o.resolution}" + (f" (email {o.email_id})" if o.email_id and o.resolved else "")
        line = f"{show(o.key)}: {what if o.resolved else 'still unknown'}: {show(o.reason)}"
        app.console.print(line, markup=False)
    app.console.print(summary(outcomes), markup=False)
    if any(not o.resolved for o in outcomes):
        raise SystemExit(ExitCode.ATTENTION)


@state_group.command("init")
@pass_app
def state_init(app: App) -> None:
    """Start a new, empty state for the environment where the existing one holds none.

    Every command creates the state by itself when none exists yet (and says so). An existing
    state file of 0 bytes, or a database whose state tables hold no lineage, is refused
    instead: it is far more likely a state that was emptied than a new one. Run this only if
    nothing was ever sent through this environment; otherwise restore the state from a
    backup, because an empty state would plan every email already sent again. A state that
    already holds a lineage is left as it is.
    """
    from orchestrator.connect import build_store

    env = app.environment()
    store = build_store(env, app.config().root, create=True)
    try:
        snapshot = store.planning_view(PlanningQuery.of_keys(()))  # lineage and serial, not the history
        where = getattr(store, "location", env.name)
        if getattr(store, "created", False):
            click.echo(f"Created a new, empty state at {where} (lineage {snapshot.lineage}).", err=True)
        else:
            app.console.print(
                f"The state at {where} already exists (lineage {snapshot.lineage}, serial {snapshot.serial}); "
                "left unchanged.",
                markup=False,
            )
    finally:
        store.close()
