"""The planner: desired sends + recorded state + now + policy -> :class:`Plan`.

A pure function: no I/O and no clock (``now`` is a parameter and becomes the plan's
``created_at``, the record of truth for every time decision).  Sends are irreversible, so the
rules lean towards refusing:

* a key not in state is sent (due now) or scheduled (future); a past time is *missed*, never
  sent late unless ``allow_late``;
* a key applied with the same fingerprint is a no-op; with another fingerprint it is *blocked*:
  a sent or scheduled Pardot email cannot be changed through the API;
* a key whose earlier outcome is unknown (``intent`` or ``unknown`` in state) blocks that key
  until an operator resolves it;
* a key an operator skipped (``state skip``) is never sent while its content is the one skipped;
* a new send whose payload, but for its name, equals one already sent or scheduled under another
  key (a renamed campaign) is a *repeat*: blocked until a person confirms it (``state accept``);
* a one-shot campaign (``at:``/``now``) that was already applied under another key (its time
  changed) is blocked, not sent a second time;
* a new occurrence of a recurring (cron) list campaign whose content, but for its name and time,
  equals an earlier applied occurrence of the same campaign that a person approved (or that
  carries such an approval on) is *pre-approved*: ``apply --pre-approved-only`` sends it without
  a person. Content rendered from changed data (issues, variables) differs, so it is not;
* state keys no longer in the files are *orphaned*; a scheduled one is flagged loudly, since
  it will still go out. An archived record (``state archive``) is never an orphan, but still a
  send that happened for every other rule.

:func:`planning_query` says which records these rules can look at, so the state store reads
those (``StateStore.planning_view``) instead of the whole history; the plan is the same either way.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from orchestrator.desired import DesiredSend, SendKind
from orchestrator.diff import changed_fields, payload_diff
from orchestrator.digest import digest
from orchestrator.errors import Diagnostic
from orchestrator.plan import Action, Change, Plan, PlanSource
from orchestrator.schedule import utc_iso
from orchestrator.state.models import (
    Approval,
    PlanningQuery,
    SendRecord,
    SendStatus,
    StateSnapshot,
    content_digest,
    occurrence_digest,
)

_APPLIED = (SendStatus.SENT, SendStatus.SCHEDULED)
_UNRESOLVED = (SendStatus.INTENT, SendStatus.UNKNOWN)

#: What to do about a blocked send. Never "rename the send": while the old email is scheduled, a
#: renamed copy would be scheduled too and mail the same people twice.
HOW_TO_PROCEED = (
    "Pardot cannot change or cancel an email through the API once it is sent or scheduled. If it is "
    "scheduled and must not go out as it is: delete it in Pardot's UI first, then run `orchestrator state "
    "forget {key}` to schedule the files' version instead, or `orchestrator state skip {key} --reason TEXT` "
    "to send nothing. To keep what Pardot has and accept the files as they are, run `orchestrator state "
    "accept {blocked}`."
)

#: Why new sends wait while an orphan is scheduled or unknown, and the only safe ways out.
ORPHAN_HOLD = (
    "{count} email(s) the files no longer ask for may still go out ({keys}); until each is settled, "
    "no new email is sent, since a renamed or re-timed copy of it would mail the same people twice. "
    "For a scheduled one: delete it in Pardot's UI, then `orchestrator state skip KEY --reason TEXT` "
    "(it stays cancelled even where its file still exists); or let it go out and record that with "
    "`orchestrator state keep KEY`. For an unknown one: `orchestrator state resolve KEY --sent EMAIL_ID` "
    "or `--not-sent`."
)


@dataclass(frozen=True)
class PlanOptions:
    """Knobs that change decisions (not display)."""

    plan_expiry: timedelta = timedelta(hours=1)
    late_grace: timedelta = timedelta(minutes=15)
    lookback: timedelta = timedelta(days=7)
    allow_late: bool = False


def make_plan(
    desired: Iterable[DesiredSend],
    state: StateSnapshot,
    now: datetime,
    *,
    environment: str,
    business_unit_id: str,
    problems: Iterable[Diagnostic] = (),
    options: PlanOptions = PlanOptions(),
    kept: Collection[str] = (),
    skipped: Mapping[str, str] | None = None,
    repeats_ok: Collection[str] = (),
    source: PlanSource | None = None,
) -> Plan:
    """Reconcile ``desired`` with ``state`` at ``now``. Never reads the clock or any file.

    ``kept`` names scheduled orphans the operator accepted with ``state keep`` (they go out and no
    longer hold new sends); ``skipped`` maps the keys skipped with ``state skip`` to who skipped
    them and why; ``repeats_ok`` names the repeats a person confirmed with ``state accept``;
    ``source`` says where the files came from (its digest is set here).
    """
    skipped = skipped or {}
    desired = sorted(desired, key=_order)
    problems = list(problems)
    seen: set[str] = set()
    for send in desired:
        if send.key in seen:  # never two actions for one key: the plan could send it twice
            problems.append(Diagnostic(send.source, 0, 0, f"two sends share the key {send.key!r}"))
        seen.add(send.key)
    records = dict(state.records)
    first_seen = dict(state.first_seen) if state.first_seen is not None else _first_applied(records.values())
    in_files = frozenset(s.campaign for s in desired)  # before the filter: a campaign there is live
    desired = [s for s in desired if s.key in records or not _before_first_seen(s, first_seen, now)]
    holders = _holders(records)
    changes = [_change_for(send, records, holders, now, options, skipped) for send in desired]
    changes = _hold_repeats(changes, records, frozenset(repeats_ok))
    orphans = _orphans(desired, records, holders, now, options, frozenset(kept), state.archived, in_files)
    changes = _hold_while_orphans_pending(changes, orphans)
    changes = _pre_approved(changes, _recurring(desired), records, state.approvals)  # what is still sent
    changes.extend(orphans)
    source = dataclasses.replace(source or PlanSource(), desired_digest=desired_digest(desired))
    return Plan(
        environment=environment,
        business_unit_id=business_unit_id,
        created_at=now,
        expires_at=now + options.plan_expiry,
        state_lineage=state.lineage,
        state_serial=state.serial,
        changes=tuple(changes),
        problems=tuple(sorted(set(problems))),
        allow_late=options.allow_late,
        source=source,
    )


def planning_query(desired: Iterable[DesiredSend], now: datetime, options: PlanOptions) -> PlanningQuery:
    """What :func:`make_plan` can look at in the state to plan ``desired`` at ``now``.

    Each field mirrors a rule: the desired keys (their records), the campaigns (first seen,
    and which records of other campaigns may be orphans, recent from ``now - lookback``), the
    one-shot list campaigns (sent already under another key?), and each send's content digest
    (a repeat of another key's email?).
    """
    sends = list(desired)
    return PlanningQuery(
        keys=frozenset(s.key for s in sends),
        campaigns=frozenset(s.campaign for s in sends),
        one_shot=frozenset(s.campaign for s in sends if s.kind == "list" and s.schedule_kind != "cron"),
        digests={s.key: content_digest(s.payload) for s in sends},
        since=now - options.lookback,
        recurring=_recurring(sends),
    )


def _recurring(desired: Iterable[DesiredSend]) -> dict[str, str]:
    """Key -> campaign of the occurrences of recurring list campaigns: those that can be pre-approved."""
    return {s.key: s.campaign for s in desired if s.kind == "list" and s.schedule_kind == "cron"}


def _pre_approved(
    changes: list[Change],
    recurring: Mapping[str, str],
    records: Mapping[str, SendRecord],
    approvals: Mapping[str, Approval],
) -> list[Change]:
    """Label each new recurring occurrence whose content a person already approved.

    The approval is the latest (by key) applied occurrence of the same campaign with the same
    :func:`occurrence_digest` that carries a person's approval (``approvals``, read from the
    journal by the planning view). The label names the send the person approved.
    """
    approved: dict[tuple[str, str], Approval] = {}
    for key in sorted(records):
        record = records[key]
        approval = approvals.get(key)
        if approval is not None and record.status in _APPLIED:
            approved[(record.campaign, occurrence_digest(record.payload))] = approval

    def label(change: Change) -> Change:
        if not change.action.is_change or change.key not in recurring or change.payload is None:
            return change
        approval = approved.get((change.campaign, occurrence_digest(change.payload)))
        if approval is None or approval.key == change.key:
            return change
        pre = {"key": approval.key, "approved_by": approval.approved_by, "approved_at": utc_iso(approval.at)}
        return dataclasses.replace(change, pre_approved=pre)

    return [label(change) for change in changes] if approved else changes


def desired_digest(desired: Iterable[DesiredSend]) -> str:
    """One digest of what the files ask for: every key with its payload fingerprint."""
    return digest(sorted([send.key, send.fingerprint] for send in desired))


def _first_applied(records: Iterable[SendRecord]) -> dict[str, datetime]:
    """When each campaign first reached the state (its earliest record): "first seen"."""
    first: dict[str, datetime] = {}
    for record in records:
        if record.campaign not in first or record.created_at < first[record.campaign]:
            first[record.campaign] = record.created_at
    return first


def _before_first_seen(send: DesiredSend, first_seen: Mapping[str, datetime], now: datetime) -> bool:
    """A past cron occurrence from before its campaign was first applied is not "missed".

    A new weekly campaign would otherwise report last week's Mondays as missed: they fell
    before the campaign existed. Only cron sends qualify; a one-shot time that passed is still
    reported, since its author wrote that time.
    """
    if send.schedule_kind != "cron" or send.scheduled_time is None or send.scheduled_time > now:
        return False
    seen = first_seen.get(send.campaign)
    return seen is None or send.scheduled_time < seen


def _order(send: DesiredSend) -> tuple[bool, float, str]:
    """On-apply sends first, then by time, then by key: a stable, readable plan order."""
    when = send.scheduled_time
    return (when is not None, when.timestamp() if when else 0.0, send.key)


def _change(send: DesiredSend, action: Action, reason: str = "", **extra: Any) -> Change:
    return Change(
        action=action,
        key=send.key,
        campaign=send.campaign,
        kind=send.kind,
        scheduled_time=send.scheduled_time,
        timezone=send.timezone,
        payload=dict(send.payload),
        fingerprint=send.fingerprint,
        reason=reason,
        labels=dict(send.labels),
        operational_reason=send.operational_reason,
        max_recipients=send.max_recipients,
        min_lead_time=send.min_lead_time,
        source=send.source,
        **extra,
    )


def _prior(record: SendRecord) -> dict[str, Any]:
    return {
        "status": record.status.value,
        "email_id": record.email_id,
        "fingerprint": record.fingerprint,
        "scheduled_time": record.scheduled_time.isoformat() if record.scheduled_time else None,
        "applied_at": record.updated_at.isoformat(),
        "applied_by": record.applied_by.describe(),
    }


def _change_for(
    send: DesiredSend,
    records: Mapping[str, SendRecord],
    holders: Mapping[str, list[SendRecord]],
    now: datetime,
    options: PlanOptions,
    skipped: Mapping[str, str],
) -> Change:
    record = records.get(send.key)
    if (
        record is not None
        and record.status is SendStatus.NOT_SENT
        and send.key in skipped
        and record.fingerprint == send.fingerprint
    ):
        return _change(send, Action.SKIPPED, skipped[send.key], prior=_prior(record))
    if record is not None and record.status in _UNRESOLVED:
        return _change(
            send,
            Action.UNKNOWN,
            "an earlier apply could not learn whether this email was sent; check Pardot for an email named "
            f"{send.key!r}, then run `orchestrator state resolve {send.key} --sent EMAIL_ID` or `--not-sent`",
            prior=_prior(record),
        )
    if record is not None and record.status in _APPLIED:
        if record.fingerprint == send.fingerprint:
            return _change(send, Action.NOOP, prior=_prior(record))
        fields = ", ".join(changed_fields(record.payload, send.payload))
        return _change(
            send,
            Action.BLOCKED,
            f"changed after it was {record.status.value} (email {record.email_id}): {fields}. "
            + HOW_TO_PROCEED.format(key=send.key, blocked=send.key),
            prior=_prior(record),
            diff=payload_diff(record.payload, send.payload),
        )
    moved = _applied_under_other_key(send, holders)
    if moved is not None:
        return _change(
            send,
            Action.BLOCKED,
            f"this campaign was already {moved.status.value} as {moved.key!r} (email {moved.email_id}); "
            "its time or target changed. " + HOW_TO_PROCEED.format(key=moved.key, blocked=send.key),
            prior=_prior(moved),
            diff=payload_diff(moved.payload, send.payload),
        )
    if send.waiting is not None:
        return _waiting(send, now, record)
    retry = ""
    refused = _refused_for_good(send, record)
    if refused is not None:
        return _change(
            send,
            Action.BLOCKED,
            f"Pardot refused this one-to-one send for good ({refused}); it is not offered again on every plan. "
            f"Once the prospect can be mailed, retry it with `orchestrator state resolve {send.key} --not-sent`; "
            f"to drop it, remove it from the file or run `orchestrator state skip {send.key} --reason TEXT`",
            prior=_prior(record) if record is not None else None,
        )
    if record is not None and record.status is SendStatus.FAILED:
        retry = " (retrying after an earlier failure)"
    elif record is not None and record.status is SendStatus.NOT_SENT and send.key in skipped:
        retry = " (skipped before, but its content changed since)"
    elif record is not None and record.status is SendStatus.NOT_SENT:
        retry = " (recorded as not sent: deleted in Pardot or resolved as not sent)"
    return _timed(send, now, options, retry, record)


#: Pardot's answers that refuse a one-to-one send because of its recipient, which no retry
#: changes: 3 "Invalid prospect ID" (also an opted-out prospect), 4 "Invalid prospect email
#: address", 98 "Prospect not mailable" (pardot/api-docs kb/error-codes-messages; docs/wire-format.md).
REFUSED_FOR_GOOD = frozenset({3, 4, 98})
_PARDOT_ERROR = re.compile(r"^Pardot error (\d+): ")


def _refused_for_good(send: DesiredSend, record: SendRecord | None) -> str | None:
    """The refusal, when ``record`` is a one-to-one send Pardot refused for its recipient."""
    if send.kind != "one-to-one" or record is None or record.status is not SendStatus.FAILED:
        return None
    match = _PARDOT_ERROR.match(record.error or "")
    if match is None or int(match.group(1)) not in REFUSED_FOR_GOOD:
        return None
    return (record.error or "").split("\n", 1)[0]


def _waiting(send: DesiredSend, now: datetime, record: SendRecord | None) -> Change:
    """An occurrence whose content is missing: deferred until it has some, missed once its time passed."""
    prior = _prior(record) if record is not None else None
    when = send.scheduled_time
    if when is not None and when <= now:
        reason = f"its time {utc_iso(when)} passed with no content: {send.waiting}"
        return _change(send, Action.MISSED, reason, prior=prior)
    return _change(send, Action.DEFER, f"not sent until it has content: {send.waiting}", prior=prior)


def _timed(send: DesiredSend, now: datetime, options: PlanOptions, retry: str, record: SendRecord | None) -> Change:
    prior = _prior(record) if record is not None else None
    when = send.scheduled_time
    if when is None:
        return _change(send, Action.SEND, "sent on apply" + retry, prior=prior)
    if when > now:
        if send.kind == "one-to-one":
            return _change(
                send, Action.DEFER, f"one-to-one sends go out on the first apply after {utc_iso(when)}", prior=prior
            )
        return _change(send, Action.SCHEDULE, f"scheduled in Pardot for {utc_iso(when)}" + retry, prior=prior)
    late = now - when
    if send.kind == "one-to-one" and late <= options.late_grace:
        return _change(
            send, Action.SEND, f"due since {utc_iso(when)}" + retry, prior=prior, send_before=when + options.late_grace
        )
    if options.allow_late:
        return _change(
            send,
            Action.SEND,
            f"{_ago(late)} late, sent now because of --allow-late" + retry,
            prior=prior,
            late=send.kind == "list",
        )
    return _change(
        send,
        Action.MISSED,
        f"its time {utc_iso(when)} passed {_ago(late)} ago without a send; it will not be sent late "
        "unless you run apply with --allow-late",
        prior=prior,
    )


def _ago(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h" if hours < 48 else f"{hours // 24} days"


def _holders(records: Mapping[str, SendRecord]) -> dict[str, list[SendRecord]]:
    """Each campaign's applied or unresolved records, in the state's order: what
    :func:`_applied_under_other_key` looks through. Built in one pass: looking through every
    record for each send made a plan of 2,000 campaigns quadratic (0.25 s of it)."""
    holders: dict[str, list[SendRecord]] = {}
    for record in records.values():
        if record.status in (*_APPLIED, *_UNRESOLVED):
            holders.setdefault(record.campaign, []).append(record)
    return holders


def _applied_under_other_key(send: DesiredSend, holders: Mapping[str, list[SendRecord]]) -> SendRecord | None:
    """For one-shot list campaigns: an applied (or unresolved) record of the same campaign, other key."""
    if send.kind != "list" or send.schedule_kind == "cron":
        return None
    return next((record for record in holders.get(send.campaign, ()) if record.key != send.key), None)


def _hold_repeats(changes: list[Change], records: Mapping[str, SendRecord], accepted: frozenset[str]) -> list[Change]:
    """Block a new send that repeats, under another key, an email already sent or scheduled.

    A renamed campaign (``blast-1`` to ``blast2-1``) keeps its payload but gets a new key, so
    nothing else would stop it going to the same people again.
    """
    pending = [c for c in changes if c.action.is_change and c.payload is not None and c.key not in accepted]
    if not pending:
        return changes
    applied = {
        content_digest(r.payload): r for r in records.values() if r.status in _APPLIED
    }
    held: dict[str, Change] = {}
    for change in pending:
        assert change.payload is not None
        original = applied.get(content_digest(change.payload))
        if original is None or original.key == change.key:
            continue
        when = original.updated_at.strftime("%Y-%m-%d")
        held[change.key] = dataclasses.replace(
            change,
            action=Action.BLOCKED,
            reason=(
                f"looks like {original.key!r}, {original.status.value} {when} as email {original.email_id}: the "
                "same email to the same people under another name (a renamed campaign?). To carry the record over, "
                f"run `orchestrator state rename {original.key} {change.key}`; if the repeat is intended, confirm "
                f"it with `orchestrator state accept {change.key}`"
            ),
            prior={**_prior(original), "repeat_of": original.key},
        )
    return [held.get(c.key, c) for c in changes]


def _hold_while_orphans_pending(changes: list[Change], orphans: list[Change]) -> list[Change]:
    """Block every new send while an email the files no longer ask for may still go out.

    A scheduled orphan is typically a renamed campaign or a changed cron expression: the old
    email is already scheduled in Pardot and will go out, so sending the new one too would mail
    the same people twice. Any new send could be that copy (a rename changes the campaign name),
    so all are held until each orphan is settled: forgotten (deleted in Pardot), kept, or resolved.
    """
    pending = [orphan.key for orphan in orphans if orphan.loud]
    if not pending:
        return changes
    reason = ORPHAN_HOLD.format(count=len(pending), keys=", ".join(pending))
    return [
        dataclasses.replace(change, action=Action.BLOCKED, reason=reason) if change.action.is_change else change
        for change in changes
    ]


def _record_labels(record: SendRecord) -> dict[str, Any]:
    """What an orphan was sent to, from the payload the state recorded (there is no file any more)."""
    payload = record.payload
    labels: dict[str, Any] = {}
    for field, key in (("list_ids", "lists"), ("suppression_list_ids", "suppression_lists")):
        if payload.get(field):
            labels[key] = [str(i) for i in payload[field]]
    return labels


def _orphans(
    desired: list[DesiredSend],
    records: Mapping[str, SendRecord],
    holders: Mapping[str, list[SendRecord]],
    now: datetime,
    options: PlanOptions,
    kept: frozenset[str],
    archived: frozenset[str] = frozenset(),
    in_files: frozenset[str] | None = None,
) -> list[Change]:
    """Records no desired send accounts for, as changes: held, kept or forgotten.

    ``in_files`` names every campaign the files hold, including one whose only occurrences fell
    before it was first applied (dropped from ``desired``): that campaign is live, and its past
    records are history, not orphans of a deleted file.
    """
    keys = {s.key for s in desired}
    campaigns = in_files if in_files is not None else {s.campaign for s in desired}
    zones = {s.campaign: s.timezone for s in desired}
    moved = {c.key for s in desired if (c := _applied_under_other_key(s, holders)) is not None}
    out = []
    for record in sorted(records.values(), key=lambda r: r.key):
        if record.key in keys or record.key in moved or record.key in archived:
            continue
        if record.status not in (*_APPLIED, *_UNRESOLVED):
            continue
        recent = record.scheduled_time is not None and record.scheduled_time > now - options.lookback
        if record.campaign in campaigns and not recent:
            continue  # history of a live campaign (e.g. last month's newsletter), not an orphan
        future = (
            record.status == SendStatus.SCHEDULED and record.scheduled_time is not None and record.scheduled_time > now
        )
        in_doubt = record.status in _UNRESOLVED and (record.scheduled_time is None or record.scheduled_time > now)
        if future and record.key in kept and record.scheduled_time is not None:
            future = False
            reason = (
                f"scheduled for {utc_iso(record.scheduled_time)} and no longer in the files; kept with "
                "`orchestrator state keep`: it will go out as scheduled"
            )
        elif future and record.scheduled_time is not None:
            reason = (
                f"SCHEDULED FOR {utc_iso(record.scheduled_time)} AND WILL STILL GO OUT: removing it from the files "
                f"does not cancel it. Delete it in Pardot's UI and run `orchestrator state skip {record.key} --reason "
                f"TEXT`, or let it go out with `orchestrator state keep {record.key}`"
            )
        elif in_doubt:
            reason = (
                "OUTCOME UNKNOWN: Pardot may have this email scheduled or sent; check its UI for an email named "
                f"{record.key!r}, then run `orchestrator state resolve {record.key} --sent EMAIL_ID` or `--not-sent`"
            )
        else:
            reason = "in state but no longer in the files; nothing will be done"
        out.append(
            Change(
                action=Action.ORPHANED,
                key=record.key,
                campaign=record.campaign,
                kind=SendKind.LIST if "list_ids" in record.payload else SendKind.ONE_TO_ONE,
                scheduled_time=record.scheduled_time,
                timezone=zones.get(record.campaign, "UTC"),  # the campaign's zone while it still exists
                payload=None,
                labels=_record_labels(record),
                fingerprint=record.fingerprint,
                reason=reason,
                prior=_prior(record),
                loud=future or in_doubt,
            )
        )
    return out
