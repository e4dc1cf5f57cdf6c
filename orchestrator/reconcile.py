"""Settle unknown sends from what Pardot's v5 queries show (``state reconcile``).

An unknown outcome (the send left, no answer came back) used to need a person to look the email
up by name in Pardot's UI. Every send carries its state key as its name, so the API can do the
looking, under any configured ``api.version`` (v5 serves every account: docs/wire-format.md,
"Reconciling unknown sends"):

* list sends: ``GET /api/v5/objects/list-emails`` with ``createdAtAfterOrEqualTo`` (the list-email
  page's creation-time filter), reading ``name``, ``createdAt``, ``isSent``, ``isDeleted``;
* one-to-one sends: ``GET /api/v5/objects/emails`` with ``sentAtAfterOrEqualTo`` (the email page's
  filter), reading ``name``, ``campaignId``, ``prospectId``, ``sentAt``. No filter by name or
  prospect is confirmed, so both are matched here.

* **Found** (exactly one email with the send's name, since its intent): recorded as sent, or
  scheduled when its time is still ahead, with the email's id.
* **Absent**: recorded as not sent only when absence is proven: the filtered query was read to
  its end, the intent has settled (:data:`ABSENCE_SETTLE`, the request's in-flight window), and
  one of the project's known emails of that kind shows that v5 sees what v3/v4 sent. A
  one-to-one email waiting for its time has no ``sentAt`` yet, so a scheduled one-to-one send
  is proven absent only once its time has passed and settled.
* Anything else (several matches, one in the recycle bin that never went out, a failed or
  unfinished query) stays unknown, with the reason.

Reading, checking and writing happen under the state lock, so no apply runs meanwhile; each
resolution is one journaled write (action ``reconcile``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, Protocol, TypeVar

from orchestrator.errors import ApiError, ApiNotFound
from orchestrator.pardot.models import Email, ListEmailSummary, OneToOneEmailSummary
from orchestrator.state.base import StateStore
from orchestrator.state.models import Actor, SendRecord, SendStatus, StateSnapshot

__all__ = [
    "ABSENCE_SETTLE",
    "CLOCK_SKEW",
    "MAX_PAGES",
    "V5_CACHE_LAG",
    "Outcome",
    "ReadsListEmails",
    "ReadsSends",
    "reconcile",
    "summary",
]

#: version5overview: v5 answers may come from a cache up to 60 s behind the real data.
V5_CACHE_LAG = timedelta(seconds=60)
#: CHOICE: absence is trusted only for an intent older than this (the cache lag, with margin).
ABSENCE_SETTLE = timedelta(minutes=5)
#: CHOICE: our clock and Pardot's may disagree; a match may be this much older than the intent,
#: and each query's time filter starts this much before the earliest intent.
CLOCK_SKEW = timedelta(minutes=10)
#: At most this many pages (200 emails each) of one query are read; a longer one is incomplete.
MAX_PAGES = 50

UNRESOLVED = (SendStatus.INTENT, SendStatus.UNKNOWN)
LIST_SOURCE = "GET /api/v5/objects/list-emails"
ONE_TO_ONE_SOURCE = "GET /api/v5/objects/emails"

E = TypeVar("E")


class ReadsSends(Protocol):
    """The v5 reads reconciling needs (:class:`~orchestrator.pardot.client.PardotClient`)."""

    def query_list_emails_v5_since(
        self, created_since: datetime | None, *, page_token: str | None = None
    ) -> tuple[list[ListEmailSummary], str | None]: ...
    def read_list_email_v5(self, email_id: int) -> ListEmailSummary: ...
    def query_emails_v5_since(
        self, sent_since: datetime, *, page_token: str | None = None
    ) -> tuple[list[OneToOneEmailSummary], str | None]: ...
    def read_one_to_one_email_v5(self, email_id: int) -> Email: ...


#: The earlier name of :class:`ReadsSends`.
ReadsListEmails = ReadsSends


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
class _Scan(Generic[E]):
    emails: tuple[E, ...]
    complete: bool
    why_incomplete: str = ""


def reconcile(
    store: StateStore,
    client: ReadsSends,
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
        list_sends = [r for r in pending if _is_list(r)]
        one_to_one = [r for r in pending if not _is_list(r)]
        decided: list[tuple[SendRecord, Outcome, str]] = []
        if list_sends:
            since = min(r.created_at for r in list_sends) - CLOCK_SKEW
            scan = _scan(lambda token: client.query_list_emails_v5_since(since, page_token=token), "list-email")
            visible, why_not = _v5_sees(client, snapshot, {e.id for e in scan.emails}, is_list=True)
            decided += [(r, _decide(r, scan, visible, why_not, now, settle), LIST_SOURCE) for r in list_sends]
        if one_to_one:
            sent_since = min(r.created_at for r in one_to_one) - CLOCK_SKEW
            o_scan = _scan(lambda token: client.query_emails_v5_since(sent_since, page_token=token), "email")
            visible, why_not = _v5_sees(client, snapshot, {e.id for e in o_scan.emails}, is_list=False)
            decided += [
                (r, _decide_one_to_one(r, o_scan, visible, why_not, now, settle), ONE_TO_ONE_SOURCE)
                for r in one_to_one
            ]
        for record, outcome, source in decided:
            if outcome.resolved and not dry_run:
                _write(store, record, outcome, now, source)
    return sorted((outcome for _, outcome, _ in decided), key=lambda o: o.key)


def _is_list(record: SendRecord) -> bool:
    return "list_ids" in record.payload


def _scan(page: Callable[[str | None], tuple[list[E], str | None]], what: str) -> _Scan[E]:
    """Every email the filtered query answers, page by page, to its end (at most MAX_PAGES)."""
    found: list[E] = []
    token: str | None = None
    try:
        for _ in range(MAX_PAGES):
            emails, token = page(token)
            found.extend(emails)
            if token is None:
                return _Scan(tuple(found), True)
    except ApiError as exc:
        return _Scan(tuple(found), False, f"the v5 {what} query failed: {exc.message}")
    return _Scan(tuple(found), False, f"the v5 {what} query did not end within {MAX_PAGES} pages")


def _known(snapshot: StateSnapshot, *, is_list: bool) -> list[SendRecord]:
    """The project's sends of one kind that Pardot took, with their email ids, oldest first."""
    return sorted(
        (
            r
            for r in snapshot.records.values()
            if r.email_id is not None
            and _is_list(r) == is_list
            and r.status in (SendStatus.SENT, SendStatus.SCHEDULED)
        ),
        key=lambda r: r.created_at,
    )


def _v5_sees(client: ReadsSends, snapshot: StateSnapshot, scanned: set[int], *, is_list: bool) -> tuple[bool, str]:
    """Does the v5 query show the emails this project sent (through v3/v4 or v5)? Needed to
    trust absence: not stated in Pardot's docs, so it is checked. One of our known emails in the
    scan, or else a v5 read of the latest one, confirms it; with none known it stays unconfirmed.
    """
    what = "list email" if is_list else "one-to-one email"
    known = _known(snapshot, is_list=is_list)
    if not known:
        return False, (
            f"no {what} of this project is known yet to confirm that Pardot's v5 query shows the emails it "
            "sent (through v3/v4 or v5), so absence proves nothing"
        )
    if any(r.email_id in scanned for r in known):
        return True, ""
    latest = known[-1]
    assert latest.email_id is not None
    try:
        if is_list:
            client.read_list_email_v5(latest.email_id)
        else:
            client.read_one_to_one_email_v5(latest.email_id)
    except ApiNotFound:
        return False, f"Pardot's v5 API does not show {what} {latest.email_id} (sent as {latest.key})"
    except ApiError as exc:
        return False, f"could not confirm that the v5 API shows this project's {what}s: {exc.message}"
    return True, ""


def _decide(
    record: SendRecord, scan: _Scan[ListEmailSummary], visible: bool, why_not: str, now: datetime, settle: timedelta
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
    absent = _absence(record, scan, visible, why_not, now, settle)
    if absent is not None:
        return absent
    return Outcome(
        record.key,
        "not-sent",
        None,
        f"no list email named {name!r} was created since the intent ({len(scan.emails)} created since then "
        "examined, all of them)",
    )


def _absence(
    record: SendRecord, scan: _Scan[E], visible: bool, why_not: str, now: datetime, settle: timedelta
) -> Outcome | None:
    """Why absence proves nothing yet (an unknown Outcome), or None when it is proven."""
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
    return None


def _decide_one_to_one(
    record: SendRecord,
    scan: _Scan[OneToOneEmailSummary],
    visible: bool,
    why_not: str,
    now: datetime,
    settle: timedelta,
) -> Outcome:
    name = str(record.payload.get("name") or record.key)
    campaign_id = record.payload.get("campaign_id")
    prospect_id = record.payload.get("prospect_id")
    since = record.created_at - CLOCK_SKEW
    matches = [
        e
        for e in scan.emails
        if e.name == name
        and (e.sent_at is None or e.sent_at >= since)
        and (e.campaign_id is None or campaign_id is None or e.campaign_id == campaign_id)
        and (e.prospect_id is None or prospect_id is None or e.prospect_id == prospect_id)
    ]
    if len(matches) > 1:
        ids = ", ".join(str(e.id) for e in matches)
        return Outcome(record.key, "unknown", None, f"{len(matches)} one-to-one emails named {name!r} since the "
                       f"intent (ids {ids}); check them in Pardot and use `state resolve`")  # fmt: skip
    if matches:
        email = matches[0]
        waiting = email.sent_at is None and record.scheduled_time is not None and record.scheduled_time > now
        status = SendStatus.SCHEDULED if waiting else SendStatus.SENT
        return Outcome(record.key, status.value, email.id, f"Pardot has one-to-one email {email.id} named {name!r}")
    if record.scheduled_time is not None and now - record.scheduled_time < settle:
        return Outcome(record.key, "unknown", None, "a one-to-one email waiting for its time has no sentAt, so the "
                       "v5 email query (filtered by sentAt) cannot show it; run reconcile again after "
                       f"{(record.scheduled_time + settle).isoformat(timespec='seconds')}")  # fmt: skip
    absent = _absence(record, scan, visible, why_not, now, settle)
    if absent is not None:
        return absent
    return Outcome(
        record.key,
        "not-sent",
        None,
        f"no one-to-one email named {name!r} was sent since the intent ({len(scan.emails)} sent since then "
        "examined, all of them)",
    )


def _write(store: StateStore, record: SendRecord, outcome: Outcome, now: datetime, source: str) -> None:
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
            "source": source,
        },
        actor=Actor.current(),
    )


def summary(outcomes: Sequence[Outcome]) -> str:
    """``2 resolved, 1 still unknown``."""
    resolved = sum(o.resolved for o in outcomes)
    return f"{resolved} resolved, {len(outcomes) - resolved} still unknown"
