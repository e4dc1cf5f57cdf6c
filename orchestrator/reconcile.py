"""Settle unknown list sends from what Pardot's v5 list-email query shows (``state reconcile``).

An unknown outcome (the send left, no answer came back) used to need a person to look the email
up by name in Pardot's UI. Every list send carries its state key as its name, so the API can do
the looking: ``GET /api/v5/objects/list-emails`` lists list emails with ``name``, ``createdAt``,
``isSent`` and ``isDeleted`` (Pardot's list-email-v5 page).

* **Found** (exactly one list email with the send's name, created since its intent): recorded as
  sent, or scheduled when its time is still ahead, with the email's id.
* **Absent**: recorded as not sent only when absence is proven. The v5 page documents no filter
  by name or creation time, so the query reads everything newest-first until it is past the
  intent; a scan that did not get that far proves nothing. The rest of what absence needs, and
  the safe choice where a fact is unconfirmed, is in the constants below (one place), and in
  docs/wire-format.md ("Reconciling unknown sends").
* Anything else (several matches, one in the recycle bin that never went out, one-to-one sends,
  a failed query) stays unknown, with the reason.

Reading, checking and writing happen under the state lock, so no apply runs meanwhile; each
resolution is one journaled write (action ``reconcile``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from orchestrator.errors import ApiError, ApiNotFound
from orchestrator.pardot.models import ListEmailSummary
from orchestrator.state.base import StateStore
from orchestrator.state.models import Actor, SendRecord, SendStatus, StateSnapshot

__all__ = [
    "ABSENCE_SETTLE",
    "CLOCK_SKEW",
    "MAX_PAGES",
    "SCAN_MARGIN",
    "V5_CACHE_LAG",
    "Outcome",
    "ReadsListEmails",
    "reconcile",
    "summary",
]

#: version5overview: v5 answers may come from a cache up to 60 s behind the real data.
V5_CACHE_LAG = timedelta(seconds=60)
#: CHOICE: absence is trusted only for an intent older than this (the cache lag, with margin).
ABSENCE_SETTLE = timedelta(minutes=5)
#: CHOICE: our clock and Pardot's may disagree; a match may be this much older than the intent.
CLOCK_SKEW = timedelta(minutes=10)
#: CHOICE: the scan goes on until it sees emails created this long before the earliest intent,
#: so ids need to follow creation order only at the scale of a day (not confirmed in the docs).
SCAN_MARGIN = timedelta(hours=24)
#: At most this many pages (200 emails each) are read; a longer scan is reported incomplete.
MAX_PAGES = 50

UNRESOLVED = (SendStatus.INTENT, SendStatus.UNKNOWN)


class ReadsListEmails(Protocol):
    """The two v5 reads reconciling needs (:class:`~orchestrator.pardot.client.PardotClient`)."""

    def query_list_emails_v5(self, *, page_token: str | None = None) -> tuple[list[ListEmailSummary], str | None]: ...
    def read_list_email_v5(self, email_id: int) -> ListEmailSummary: ...


@dataclass(frozen=True)
class Outcome:
    """What reconciling decided for one send: ``sent``, ``scheduled``, ``not-sent`` or ``unknown``."""

    key: str
    resolution: str
    email_id: int | None
    reason: str

    @property
    def resolved(self) -> bool:
        return self.resolution != "unknown"


@dataclass(frozen=True)
class _Scan:
    emails: tuple[ListEmailSummary, ...]
    complete: bool
    why_incomplete: str = ""


def reconcile(
    store: StateStore,
    client: ReadsListEmails,
    now: datetime,
    *,
    dry_run: bool = False,
    in_flight: timedelta = timedelta(0),
) -> list[Outcome]:
    """Decide every intent/unknown send, write the resolved ones (unless ``dry_run``), return all.

    Absence is trusted only once ``in_flight`` (how long a request may still land after its
    record, :func:`orchestrator.connect.in_flight_window`) and :data:`ABSENCE_SETTLE` have passed.
    """
    settle = max(ABSENCE_SETTLE, in_flight)
    with store.lock("state reconcile"):
        snapshot = store.snapshot()
        pending = sorted((r for r in snapshot.records.values() if r.status in UNRESOLVED), key=lambda r: r.key)
        list_sends = [r for r in pending if "list_ids" in r.payload]
        outcomes = [
            Outcome(
                r.key,
                "unknown",
                None,
                "a one-to-one send is not a list email: the v5 list-email query does not show it; "
                "look it up in Pardot by its name (the send key) and use `state resolve`",
            )
            for r in pending
            if "list_ids" not in r.payload
        ]
        if list_sends:
            earliest = min(r.created_at for r in list_sends) - CLOCK_SKEW - SCAN_MARGIN
            scan = _scan(client, earliest)
            visible, why_not = _v5_sees_v4_sends(client, snapshot, scan)
            for record in list_sends:
                outcome = _decide(record, scan, visible, why_not, now, settle)
                outcomes.append(outcome)
                if outcome.resolved and not dry_run:
                    _write(store, record, outcome, now)
    return sorted(outcomes, key=lambda o: o.key)


def _scan(client: ReadsListEmails, earliest: datetime) -> _Scan:
    """List emails newest id first, until one created before ``earliest`` (or the end) is seen."""
    found: list[ListEmailSummary] = []
    token: str | None = None
    try:
        for _ in range(MAX_PAGES):
            page, token = client.query_list_emails_v5(page_token=token)
            found.extend(page)
            if any(e.created_at is not None and e.created_at < earliest for e in page):
                return _Scan(tuple(found), True)
            if token is None:
                return _Scan(tuple(found), True)
    except ApiError as exc:
        return _Scan(tuple(found), False, f"the v5 list-email query failed: {exc.message}")
    return _Scan(tuple(found), False, f"the v5 list-email query did not reach the intent within {MAX_PAGES} pages")


def _v5_sees_v4_sends(client: ReadsListEmails, snapshot: StateSnapshot, scan: _Scan) -> tuple[bool, str]:
    """Does the v5 API show list emails this project sent through v3/v4? (needed to trust absence)

    Not stated in Pardot's docs, so it is checked: one of our known emails in the scan, or else
    a v5 read of the latest one, confirms it; with no known email it stays unconfirmed.
    """
    known = sorted(
        (
            r
            for r in snapshot.records.values()
            if r.email_id is not None
            and "list_ids" in r.payload
            and r.status in (SendStatus.SENT, SendStatus.SCHEDULED)
        ),
        key=lambda r: r.created_at,
    )
    if not known:
        return False, (
            "no list email of this project is known yet to confirm that Pardot's v5 query shows emails sent "
            "through the v3/v4 API, so absence proves nothing"
        )
    scanned = {e.id for e in scan.emails}
    if any(r.email_id in scanned for r in known):
        return True, ""
    latest = known[-1]
    assert latest.email_id is not None
    try:
        client.read_list_email_v5(latest.email_id)
    except ApiNotFound:
        return False, f"Pardot's v5 API does not show list email {latest.email_id} (sent as {latest.key})"
    except ApiError as exc:
        return False, f"could not confirm that the v5 API shows emails sent through v3/v4: {exc.message}"
    return True, ""


def _decide(
    record: SendRecord, scan: _Scan, visible: bool, why_not: str, now: datetime, settle: timedelta
) -> Outcome:
    name = str(record.payload.get("name") or record.key)
    campaign_id = record.payload.get("campaign_id")
    since = record.created_at - CLOCK_SKEW
    matches = [
        e
        for e in scan.emails
        if e.name == name
        and (e.created_at is None or e.created_at >= since)
        and (e.campaign_id is None or campaign_id is None or e.campaign_id == campaign_id)
    ]
    if len(matches) > 1:
        ids = ", ".join(str(e.id) for e in matches)
        return Outcome(record.key, "unknown", None, f"{len(matches)} list emails named {name!r} since the intent "
                       f"(ids {ids}); check them in Pardot and use `state resolve`")  # fmt: skip
    if matches:
        email = matches[0]
        if email.is_deleted and not email.is_sent:
            return Outcome(record.key, "unknown", email.id, f"list email {email.id} exists but is in the recycle bin "
                           "and was not sent; check it in Pardot and use `state resolve`")  # fmt: skip
        scheduled = record.scheduled_time is not None and record.scheduled_time > now
        status = SendStatus.SCHEDULED if scheduled and not email.is_sent else SendStatus.SENT
        return Outcome(record.key, status.value, email.id, f"Pardot has list email {email.id} named {name!r}")
    if not scan.complete:
        return Outcome(record.key, "unknown", None, scan.why_incomplete)
    # the latest write (the intent, or the unknown outcome) dates the request; created_at may be
    # an earlier attempt's, resolved "not sent" since
    if now - record.updated_at < settle:
        ready = (record.updated_at + settle).isoformat(timespec="seconds")
        return Outcome(record.key, "unknown", None, f"not found yet, but its request may still be in flight and "
                       f"Pardot's v5 data may lag up to {int(V5_CACHE_LAG.total_seconds())} s; "
                       f"run reconcile again after {ready}")  # fmt: skip
    if not visible:
        return Outcome(record.key, "unknown", None, why_not)
    return Outcome(
        record.key,
        "not-sent",
        None,
        f"no list email named {name!r} was created since the intent ({len(scan.emails)} examined, newest first, "
        "past the intent's time)",
    )


def _write(store: StateStore, record: SendRecord, outcome: Outcome, now: datetime) -> None:
    status = SendStatus(outcome.resolution)
    email_id = outcome.email_id if status is not SendStatus.NOT_SENT else record.email_id
    store.put(
        dataclasses.replace(record, status=status, email_id=email_id, updated_at=now, error=None),
        action="reconcile",
        detail={
            "answer": outcome.resolution,
            "email_id": outcome.email_id,
            "previous": record.status.value,
            "reason": outcome.reason,
            "source": "GET /api/v5/objects/list-emails",
        },
        actor=Actor.current(),
    )


def summary(outcomes: Sequence[Outcome]) -> str:
    """``2 resolved, 1 still unknown``."""
    resolved = sum(o.resolved for o in outcomes)
    return f"{resolved} resolved, {len(outcomes) - resolved} still unknown"
