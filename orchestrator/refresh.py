"""The refresh (``plan --refresh``): what Pardot holds of the recorded list sends, against the state.

Without it a plan compares the files with the state only: after an email was deleted in
Pardot's UI, or the whole account was emptied, the plan still said "unchanged". Like Terraform's
refresh, the plan can first read what the remote side holds. Here that is one v5 list-email
query (``GET /api/v5/objects/list-emails``, docs/wire-format.md "Refresh"), filtered with
``createdAtAfterOrEqualTo`` from the oldest record it checks, so it reads about one page per 200
recorded sends of the window and never the whole account.

This module is pure: which records to check (:func:`scope`), how many pages that may cost
(:func:`page_budget`) and what the answers mean (:func:`compare`), with the time as a parameter.
The query itself is made by :func:`orchestrator.planning.refresh_plan`.

What it can see: an email that is missing, in the recycle bin, named otherwise, or edited
(subject); one whose recipient or suppression lists are not the ones applied, before or after it
went out (the read-only ``recipientLists`` / ``suppressionLists``, list-email-v5 page, whose
element shape the page does not show: integer ids and objects with an integer ``id`` are both
read, docs/wire-format.md "Refresh"); a scheduled email that has not gone out although its time
has passed, or went out at another time than recorded. Lists an answer does not give are "not
checked" (a note), never "as applied".

What it cannot see: ``scheduledTime`` is write-only (as are ``recipientListIds`` and
``suppressionListIds``, the create fields), so a scheduled email moved to another time is not
visible before its recorded time comes.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from orchestrator.desired import SendKind
from orchestrator.pardot.models import ListEmailSummary
from orchestrator.plan import Action, Change, Plan, Refresh
from orchestrator.schedule import utc_iso
from orchestrator.state.models import SendRecord, SendStatus

__all__ = [
    "CREATED_SKEW",
    "EXTRA_PAGES",
    "ON_TIME",
    "PAGE_SIZE",
    "SEND_GRACE",
    "UNCHECKED_NOTES",
    "V5_SETTLE",
    "Drift",
    "Scope",
    "compare",
    "page_budget",
    "scope",
    "with_findings",
]

#: The query's page size: v5's default ``limit`` (version5overview).
PAGE_SIZE = 200
#: CHOICE: pages read beyond one per 200 checked records, for list emails others created in
#: the window; past the budget the query stops and the records not seen are reported as such.
EXTRA_PAGES = 5
#: CHOICE: the filter starts this long before the oldest record's creation (our clock and
#: Pardot's may disagree; the record is written before the email exists, so earlier is safe).
CREATED_SKEW = timedelta(minutes=10)
#: CHOICE: v5 answers may come from a cache up to 60 s behind (version5overview); a record
#: younger than this is not judged by its absence.
V5_SETTLE = timedelta(minutes=5)
#: CHOICE: a scheduled email counts as sent at its time when ``sentAt`` is this close to it.
ON_TIME = timedelta(minutes=15)
#: CHOICE: a scheduled email not sent this long after its time has been paused or moved.
SEND_GRACE = timedelta(minutes=30)

_APPLIED = (SendStatus.SENT, SendStatus.SCHEDULED)


@dataclass(frozen=True)
class Scope:
    """The records a refresh checks, where its query starts, and the records it leaves out.

    ``skipped`` maps each recorded sent or scheduled send it does not check to why (a one-to-one
    send, which the list-email query does not show; history older than the lookback; a record
    younger than the v5 cache).
    """

    records: tuple[SendRecord, ...]
    since: datetime | None
    skipped: Mapping[str, str]


@dataclass(frozen=True)
class Drift:
    """What the refresh found wrong with one record, and what the operator can do.

    ``attention`` findings make ``plan --detailed-exitcode`` exit 3; the others are facts to show
    (an email deleted after it went out changes nothing).
    """

    key: str
    email_id: int | None
    #: missing | renamed | deleted | not-sent | lists | sent-early | sent-late | edited | lists-unchecked | unseen
    what: str
    detail: str
    next_step: str
    attention: bool = True

    @property
    def reason(self) -> str:
        """The one line the plan shows: what was found, then what to do."""
        return f"{self.detail}; {self.next_step}" if self.next_step else self.detail


def _is_list(record: SendRecord) -> bool:
    return record.payload.get("prospect_id") is None and record.payload.get("prospect_email") is None


def scope(records: Iterable[SendRecord], now: datetime, lookback: timedelta) -> Scope:
    """The sent and scheduled list sends whose time is within ``lookback`` of ``now`` or ahead.

    A send's time is its scheduled time, or when it was recorded for a send "now". The query
    starts :data:`CREATED_SKEW` before the oldest of them was recorded.
    """
    chosen: list[SendRecord] = []
    skipped: dict[str, str] = {}
    for record in records:
        if record.status not in _APPLIED:
            continue
        when = record.scheduled_time or record.created_at
        if not _is_list(record):
            skipped[record.key] = "a one-to-one email, which the list-email query does not show"
        elif record.email_id is None:
            skipped[record.key] = "recorded without an email id"
        elif when <= now - lookback:
            skipped[record.key] = f"its time is more than the lookback ({lookback}) ago"
        elif record.updated_at > now - V5_SETTLE:
            skipped[record.key] = "recorded less than 5 minutes ago: v5 answers may lag behind"
        else:
            chosen.append(record)
    chosen.sort(key=lambda r: r.key)
    since = min((r.created_at for r in chosen), default=None)
    start = None if since is None else (since - CREATED_SKEW).replace(microsecond=0)
    return Scope(tuple(chosen), start, skipped)


def page_budget(checked: int) -> int:
    """At most one page per 200 checked records, plus :data:`EXTRA_PAGES` (0 when none are checked)."""
    return 0 if checked == 0 else math.ceil(checked / PAGE_SIZE) + EXTRA_PAGES


def compare(
    records: Iterable[SendRecord], seen: Iterable[ListEmailSummary], now: datetime, *, complete: bool
) -> tuple[Drift, ...]:
    """What ``seen`` (the query's answers) says of each record, in key order (empty: all as recorded).

    ``complete`` is False when the query stopped before its last page: a record not seen then is
    "unseen", never "missing", and never "unchanged" either.
    """
    by_id = {email.id: email for email in seen}
    out: list[Drift] = []
    for record in sorted(records, key=lambda r: r.key):
        email = by_id.get(record.email_id) if record.email_id is not None else None
        drift = _absent(record, now, complete) if email is None else _judge(record, email, now)
        if drift is not None:
            out.append(drift)
    return tuple(out)


def _forget_or_skip(key: str) -> str:
    return (
        f"to cancel it for good: `orchestrator state skip {key} --reason TEXT`; to have the next apply "
        f"create it again: `orchestrator state forget {key}`"
    )


def _absent(record: SendRecord, now: datetime, complete: bool) -> Drift:
    key, email_id = record.key, record.email_id
    if not complete:
        return Drift(
            key,
            email_id,
            "unseen",
            f"NOT VERIFIED: the refresh stopped before it reached list email {email_id}",
            "run `orchestrator plan --refresh` again; if it stops again, look the email up in Pardot's UI",
        )
    if record.scheduled_time is not None and record.scheduled_time > now:
        step = f"check Pardot's UI for an email named {key!r}, then {_forget_or_skip(key)}"
    else:
        step = (
            f"check that this environment points at the right business unit, and Pardot's UI for an email "
            f"named {key!r}; only if it was never sent: `orchestrator state forget {key}` (the next plan offers "
            "it again, or reports it missed)"
        )
    return Drift(
        key,
        email_id,
        "missing",
        f"MISSING IN PARDOT: the state records it as {record.status.value} as list email {email_id}, and "
        "Pardot has no list email of that id, not even in the recycle bin",
        step,
    )


def _judge(record: SendRecord, email: ListEmailSummary, now: datetime) -> Drift | None:
    key, email_id = record.key, record.email_id
    # The name the email was sent with: the key, or the old key of a record moved by `state rename`.
    name = str(record.payload.get("name") or key)
    if email.name != name:
        return Drift(
            key,
            email_id,
            "renamed",
            f"MISSING IN PARDOT: list email {email_id} is named {email.name!r} there, not {name!r} (ids reused "
            "after the account was emptied, or another business unit)",
            f"check the environment's business unit and Pardot's UI for an email named {name!r}; only if it "
            f"was never sent: `orchestrator state forget {key}`",
        )
    due = record.scheduled_time
    if email.is_deleted:
        if email.is_sent:
            when = f" at {utc_iso(email.sent_at)}" if email.sent_at is not None else ""
            return Drift(
                key,
                email_id,
                "deleted",
                f"list email {email_id} went out{when} and was deleted in Pardot afterwards",
                "",
                attention=False,
            )
        return Drift(
            key,
            email_id,
            "deleted",
            f"DELETED IN PARDOT before it went out: list email {email_id} is in the recycle bin and will not be sent",
            _forget_or_skip(key),
        )
    if due is not None and not email.is_sent and due + SEND_GRACE < now:
        return Drift(
            key,
            email_id,
            "not-sent",
            f"NOT SENT: scheduled for {utc_iso(due)}, and Pardot has not sent list email {email_id} (paused, "
            "or moved to a later time in Pardot's UI)",
            f"resume it in Pardot's UI if it should go out; otherwise delete it there and {_forget_or_skip(key)}",
        )
    lists = _lists(record, email)
    if lists.differ:
        return _other_lists(record, email, lists.differ)
    if due is not None and email.is_sent and email.sent_at is not None and abs(email.sent_at - due) > ON_TIME:
        early = email.sent_at < due
        return Drift(
            key,
            email_id,
            "sent-early" if early else "sent-late",
            f"list email {email_id} went out at {utc_iso(email.sent_at)}, not at its recorded time {utc_iso(due)}",
            "",
            attention=False,
        )
    subject = record.payload.get("subject")
    if isinstance(subject, str) and email.subject is not None and email.subject != subject:
        waiting = not email.is_sent
        return Drift(
            key,
            email_id,
            "edited",
            f"{'EDITED IN PARDOT: ' if waiting else ''}list email {email_id}'s subject is {email.subject!r} in "
            f"Pardot, not the {subject!r} that was applied",
            (
                f"correct it in Pardot's UI, or delete it there and `orchestrator state forget {key}` to "
                "schedule what the files say"
            )
            if waiting
            else "",
            attention=waiting,
        )
    if lists.unchecked:
        return Drift(
            key,
            email_id,
            "lists-unchecked",
            f"list email {email_id}'s lists were not checked: Pardot's answer did not give "
            f"{' or '.join(lists.unchecked)}",
            "",
            attention=False,
        )
    return None


#: Each list field a refresh compares: the recorded payload's key, the summary's attribute, its
#: name in a finding, and the read-only v5 field it comes from (list-email-v5 page).
_LIST_FIELDS = (
    ("list_ids", "recipient_list_ids", "recipient lists", "recipientLists"),
    ("suppression_list_ids", "suppression_list_ids", "suppression lists", "suppressionLists"),
)


@dataclass(frozen=True)
class _ListCheck:
    """What the lists Pardot gave say: each difference ("recipient lists [..] in Pardot, not
    [..] as applied"), and the v5 fields that could not be compared."""

    differ: tuple[str, ...]
    unchecked: tuple[str, ...]


def _applied_ids(value: object, *, optional: bool) -> frozenset[int] | None:
    """The ids a payload recorded; None when it holds none the refresh can compare. A record
    without suppression lists may omit them; recipient lists are required of a list send."""
    if value is None and optional:
        return frozenset()
    if not isinstance(value, list | tuple) or not all(isinstance(i, int) and not isinstance(i, bool) for i in value):
        return None
    return frozenset(value)


def _show(ids: frozenset[int]) -> str:
    return "[" + ", ".join(str(i) for i in sorted(ids)) + "]"


def _lists(record: SendRecord, email: ListEmailSummary) -> _ListCheck:
    """Compare the recorded lists with those Pardot gave; a field it did not give is unchecked,
    never "the same" (nor "none")."""
    differ: list[str] = []
    unchecked: list[str] = []
    for payload_key, attr, label, wire in _LIST_FIELDS:
        applied = _applied_ids(record.payload.get(payload_key), optional=payload_key != "list_ids")
        seen: frozenset[int] | None = getattr(email, attr)
        if applied is None or seen is None:
            unchecked.append(wire)
        elif seen != applied:
            differ.append(f"{label} {_show(seen)} in Pardot, not {_show(applied)} as applied")
    return _ListCheck(tuple(differ), tuple(unchecked))


def _other_lists(record: SendRecord, email: ListEmailSummary, differ: tuple[str, ...]) -> Drift:
    """A list email whose recipient or suppression lists are not the ones applied: before it
    goes out it will reach other people than the files say; after, it did."""
    key, email_id = record.key, record.email_id
    what = "; ".join(differ)
    subject = record.payload.get("subject")
    if isinstance(subject, str) and email.subject is not None and email.subject != subject:
        what += f"; subject {email.subject!r} in Pardot, not {subject!r} as applied"
    if not email.is_sent:
        return Drift(
            key,
            email_id,
            "lists",
            f"EDITED IN PARDOT: list email {email_id} will go to other lists than applied: {what}",
            f"correct the lists in Pardot's UI, or delete it there and `orchestrator state forget {key}` to "
            "schedule what the files say",
        )
    went = record.scheduled_time or record.created_at
    when = f" at {utc_iso(email.sent_at)}" if email.sent_at is not None else ""
    return Drift(
        key,
        email_id,
        "lists",
        f"SENT TO OTHER LISTS: list email {email_id} went out{when} to other lists than applied: {what}",
        "check in Pardot's UI who received it (a sent email cannot be called back); this finding stays "
        "while the send is within policy.missed_lookback, or until "
        f"`orchestrator state archive --before {utc_iso(went + timedelta(seconds=1))}` archives it "
        "with every send that went out before it",
    )


def with_findings(plan: Plan, scope: Scope, drifts: Iterable[Drift], *, pages: int) -> Plan:
    """``plan`` with each finding that needs a human as a ``drifted`` change and the rest as notes.

    A drifted change replaces the key's unchanged, blocked or orphaned change (keeping its
    payload and prior, and the old reason after the finding); a record the plan did not show
    gets a change of its own. A change that calls the API is never replaced: refresh reports, it
    never decides what is sent.
    """
    findings = {d.key: d for d in drifts}
    changes: list[Change] = []
    shown: set[str] = set()
    for change in plan.changes:
        drift = findings.get(change.key)
        shown.add(change.key)
        if drift is None or not drift.attention or change.action.is_change:
            changes.append(change)
            continue
        also = f"; also: {change.reason}" if change.reason and change.action is not Action.NOOP else ""
        changes.append(dataclasses.replace(change, action=Action.DRIFTED, reason=drift.reason + also, loud=False))
    records = {r.key: r for r in scope.records}
    for key, drift in sorted(findings.items()):
        if key not in shown and drift.attention:
            changes.append(_change_of(records[key], drift))
    quiet = [d for d in findings.values() if not d.attention]
    notes = tuple(f"{d.key}: {d.detail}" for d in quiet if d.what != "lists-unchecked")
    notes += _unchecked_notes([d for d in quiet if d.what == "lists-unchecked"])
    report = Refresh(
        checked=len(scope.records), pages=pages, since=scope.since, not_checked=len(scope.skipped), notes=notes
    )
    return dataclasses.replace(plan, changes=tuple(changes), refresh=report)


#: CHOICE: up to this many "lists not checked" notes are shown one per send; more become one note.
UNCHECKED_NOTES = 3


def _unchecked_notes(drifts: list[Drift]) -> tuple[str, ...]:
    """The sends whose lists Pardot did not give: one note each, or one for all when many (an
    answer without the fields would otherwise print a note per recorded send)."""
    if len(drifts) <= UNCHECKED_NOTES:
        return tuple(f"{d.key}: {d.detail}" for d in drifts)
    named = ", ".join(d.key for d in drifts[:UNCHECKED_NOTES])
    return (
        f"the lists of {len(drifts)} list emails were not checked (Pardot's answers did not give "
        f"recipientLists or suppressionLists): {named} and {len(drifts) - UNCHECKED_NOTES} more",
    )


def _change_of(record: SendRecord, drift: Drift) -> Change:
    """A drifted change for a record the plan did not show (history of a live campaign)."""
    return Change(
        action=Action.DRIFTED,
        key=record.key,
        campaign=record.campaign,
        kind=SendKind.LIST,
        scheduled_time=record.scheduled_time,
        timezone="UTC",
        payload=None,
        fingerprint=record.fingerprint,
        reason=drift.reason,
        prior={
            "status": record.status.value,
            "email_id": record.email_id,
            "fingerprint": record.fingerprint,
            "scheduled_time": record.scheduled_time.isoformat() if record.scheduled_time else None,
            "applied_at": record.updated_at.isoformat(),
            "applied_by": record.applied_by.describe(),
        },
    )
