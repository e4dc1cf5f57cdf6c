"""``orchestrator state``: read the record of what was sent, and the operator's corrections."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import click
from rich.table import Table

from orchestrator.cli.common import App, now_option, pass_app
from orchestrator.errors import ApiError, StateError
from orchestrator.plan import Action, Change
from orchestrator.redact import mask_emails
from orchestrator.state.models import Actor, SendRecord, SendStatus
from orchestrator.workflow import plan_project

UNRESOLVED = (SendStatus.INTENT, SendStatus.UNKNOWN)


def _record_dict(record: SendRecord) -> dict[str, Any]:
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


@click.group("state")
def state_group() -> None:
    """Inspect and correct the state: what was sent, scheduled, failed or is unknown."""


@state_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def state_list(app: App, as_json: bool) -> None:
    """List every send in the state with its status and Pardot email id."""
    snapshot = app.store().snapshot()
    records = sorted(snapshot.records.values(), key=lambda r: r.key)
    if as_json:
        app.print_json(
            {"lineage": snapshot.lineage, "serial": snapshot.serial, "sends": [_record_dict(r) for r in records]}
        )
        return
    show = (lambda s: s) if app.reveal_emails else mask_emails
    table = Table(title=f"State (lineage {snapshot.lineage}, serial {snapshot.serial})")
    for column in ("key", "status", "email id", "scheduled (UTC)", "updated (UTC)", "by", "flags"):
        table.add_column(column, overflow="fold")
    for r in records:
        table.add_row(
            show(r.key),
            r.status.value,
            str(r.email_id or ""),
            r.scheduled_time.strftime("%Y-%m-%d %H:%M") if r.scheduled_time else "",
            r.updated_at.strftime("%Y-%m-%d %H:%M"),
            r.applied_by.describe(),
            "OPERATIONAL" if r.payload.get("operational_email") else "",
        )
    app.console.print(table)
    app.console.print(f"{len(records)} send(s).", markup=False)


def _get(app: App, key: str) -> SendRecord:
    record = app.store().get(key)
    if record is None:
        raise StateError(f"no send {key!r} in the state", hint="`orchestrator state list` shows the keys")
    return record


@state_group.command("show")
@click.argument("key")
@pass_app
def state_show(app: App, key: str) -> None:
    """Show one send's record, its exact payload and its journal."""
    record = _get(app, key)
    journal = app.store().journal(key)
    data = _record_dict(record)
    data["payload"] = dict(record.payload)
    data["journal"] = [
        {"seq": e.seq, "at": e.at.isoformat(), "action": e.action, "detail": dict(e.detail), "by": e.actor.describe()}
        for e in journal
    ]
    app.print_json(data)


def _write(app: App, record: SendRecord, action: str, detail: dict[str, Any]) -> None:
    store = app.store()
    with store.lock(f"state {action}"):
        store.put(record, action=action, detail=detail, actor=Actor.current())


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
@pass_app
def state_resolve(app: App, key: str, email_id: int | None, not_sent: bool, no_verify: bool) -> None:
    """Record the operator's answer for a send whose outcome is unknown (journaled)."""
    if (email_id is None) == (not not_sent):
        raise click.UsageError("give exactly one of --sent EMAIL_ID or --not-sent")
    record = _get(app, key)
    if record.status not in UNRESOLVED:
        raise StateError(f"{key} is {record.status.value}, not unknown: nothing to resolve")
    now = app.clock()
    if not_sent:
        _write(
            app,
            dataclasses.replace(record, status=SendStatus.NOT_SENT, updated_at=now),
            "resolve",
            {"answer": "not-sent", "previous": record.status.value},
        )
        app.console.print(f"{key}: recorded as not sent; the next plan will send it again.", markup=False)
        return
    assert email_id is not None
    if not no_verify:
        try:
            email = app.client().read_email(email_id, include_message=False)
        except ApiError as exc:
            raise StateError(
                f"could not read email {email_id} from Pardot to check it: {exc}",
                hint="pass --no-verify if you are sure",
            ) from exc
        if email.name != key:
            raise StateError(
                f"email {email_id} is named {email.name!r}, not {key!r}",
                hint="check the id; pass --no-verify to record it anyway",
            )
    scheduled = record.scheduled_time is not None and record.scheduled_time > now
    status = SendStatus.SCHEDULED if scheduled else SendStatus.SENT
    _write(
        app,
        dataclasses.replace(record, status=status, email_id=email_id, updated_at=now, error=None),
        "resolve",
        {"answer": status.value, "email_id": email_id, "previous": record.status.value},
    )
    app.console.print(f"{key}: recorded as {status.value} (email {email_id}).", markup=False)


@state_group.command("accept")
@click.argument("key")
@now_option
@pass_app
def state_accept(app: App, key: str) -> None:
    """Accept a blocked send's drift: keep the files as they are, send nothing new for KEY.

    The state keeps the payload that was really sent; only its fingerprint moves to the one
    the files now give, so the plan shows the send as unchanged. Journaled.
    """
    store = app.store()
    with store.lock("state accept"):
        snapshot = store.snapshot()
        result = plan_project(app.project(), app.environment(), snapshot, app.now())
        change = next((c for c in result.changes if c.key == key), None)
        if change is None or change.action is not Action.BLOCKED:
            state = "not in the plan" if change is None else change.action.label
            raise StateError(f"{key} is {state}, not blocked: nothing to accept")
        source = snapshot.records.get(key) or _moved_record(snapshot.records, change)
        if source is None:
            raise StateError(
                f"{key} is blocked because of other emails of its campaign, not by its own drift",
                hint="read the plan's reason: settle those emails with `state forget` or `state resolve`",
            )

        now = app.clock()
        accepted = dataclasses.replace(source, key=key, fingerprint=change.fingerprint or "", updated_at=now)
        store.put(
            accepted,
            action="accept-drift",
            actor=Actor.current(),
            detail={
                "from_fingerprint": source.fingerprint,
                "to_fingerprint": change.fingerprint,
                "from_key": source.key,
            },
        )
    app.console.print(f"{key}: drift accepted; the plan now shows it unchanged.", markup=False)


@state_group.command("forget")
@click.argument("key")
@pass_app
def state_forget(app: App, key: str) -> None:
    """Record that a scheduled email KEY was deleted in Pardot's UI, so it will not go out (journaled).

    Only the operator can know this: the API cannot cancel or read back a scheduled list email.
    """
    record = _get(app, key)
    if record.status is not SendStatus.SCHEDULED:
        raise StateError(f"{key} is {record.status.value}, not scheduled: only a scheduled email can be forgotten")
    if record.scheduled_time is None or record.scheduled_time <= app.clock():
        raise StateError(
            f"{key} was scheduled for {record.scheduled_time}, which has passed: it has gone out and cannot be "
            "forgotten (forgetting it would let it be sent again)"
        )
    _write(
        app,
        dataclasses.replace(record, status=SendStatus.NOT_SENT, updated_at=app.clock()),
        "forget",
        {"previous": record.status.value, "email_id": record.email_id},
    )
    app.console.print(f"{key}: recorded as deleted in Pardot (not sent).", markup=False)


def _moved_record(records: Mapping[str, SendRecord], change: Change) -> SendRecord | None:
    """The applied record a one-shot send was moved away from (its time or target changed)."""
    prior_id = (change.prior or {}).get("email_id")
    if prior_id is None:
        return None
    return next((r for r in records.values() if r.campaign == change.campaign and r.email_id == prior_id), None)


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
    """Settle unknown list sends from Pardot's v5 list-email query (journaled).

    Found by name since its intent: recorded as sent (or scheduled), with its email id. Proven
    absent: recorded as not sent, so the next plan sends it. Otherwise it stays unknown, with
    the reason (exit 3: a person must decide, e.g. with `state resolve`).
    """
    from orchestrator.reconcile import reconcile, summary

    outcomes = reconcile(app.store(), app.client(), app.clock(), dry_run=dry_run)
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
        raise SystemExit(3)
