"""The operator's corrections to the state: resolve, forget, skip, keep and accept, each journaled.

Only a human can know some of these facts (whether an email with an unknown outcome exists in
Pardot, whether a scheduled one was deleted in Pardot's UI), so the state takes them as answers.
An answer that lets the next apply send (``not-sent``: resolve, forget, skip) is checked against
Pardot first: while Pardot still shows the email, it is refused unless the operator forces it
with a reason, which is journaled. Every operation reads the record, checks it and writes the
answer *under the state lock*: checked outside the lock, a concurrent apply could change the
record between the check and the write.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from orchestrator.errors import ApiError, ApiNotFound, StateError
from orchestrator.pardot.models import Email, ListEmailSummary
from orchestrator.plan import Action, Change, Plan
from orchestrator.state.base import StateStore
from orchestrator.state.models import Actor, SendRecord, SendStatus, StateSnapshot

UNRESOLVED = (SendStatus.INTENT, SendStatus.UNKNOWN)


class ReadsEmails(Protocol):
    def read_email(self, email_id: int, *, include_message: bool = True) -> Email: ...


class ReadsPardot(ReadsEmails, Protocol):
    """What checking that an email is gone needs (:class:`~orchestrator.pardot.client.PardotClient`)."""

    def query_list_emails_v5(self, *, page_token: str | None = None) -> tuple[list[ListEmailSummary], str | None]: ...
    def read_list_email_v5(self, email_id: int) -> ListEmailSummary: ...


@dataclass(frozen=True)
class Force:
    """The operator's override of the Pardot check, with the reason that is journaled."""

    reason: str

    def __post_init__(self) -> None:
        if not self.reason.strip():
            raise StateError("--force needs a --reason", hint="say why, e.g. --reason 'deleted in Pardot, v5 lags'")


@dataclass(frozen=True)
class Corrected:
    """What a correction recorded: the key, its new status and, when known, the email id."""

    key: str
    status: SendStatus
    email_id: int | None = None


def _record(store: StateStore, key: str) -> SendRecord:
    record = store.get(key)
    if record is None:
        raise StateError(f"no send {key!r} in the state", hint="`orchestrator state list` shows the keys")
    return record


def _put(store: StateStore, record: SendRecord, action: str, detail: Mapping[str, Any]) -> None:
    store.put(record, action=action, detail=dict(detail), actor=Actor.current())


def resolve(
    store: StateStore,
    key: str,
    *,
    now: datetime,
    email_id: int | None = None,
    client: ReadsEmails | None = None,
    in_flight: timedelta = timedelta(0),
    pardot: ReadsPardot | None = None,
    force: Force | None = None,
) -> Corrected:
    """Answer an unknown outcome: the email exists as ``email_id``, or (``None``) it does not.

    With a ``client``, the email is read first and must carry the send's key as its name, so a
    mistyped id cannot mark the wrong email as this send.

    "Not sent" is refused while the request may still land: ``in_flight`` is how long after its
    record a request can still create the email (the request deadline plus a margin, see
    :func:`orchestrator.connect.in_flight_window`). Pardot shows nothing before the request is
    processed, so an early "not sent" would let the next apply send a second email. After that,
    "not sent" is checked against ``pardot`` (see :func:`_check_gone`) unless ``force`` says why not.
    """
    retry = email_id is None  # "not sent" also lets a send Pardot refused (failed) be tried again
    _unresolved(_record(store, key), failed_ok=retry)  # the state first: no Pardot read for nothing to resolve
    if email_id is not None and client is not None:
        _verify(client, email_id, key)
    with store.lock("state resolve"):
        record = _unresolved(_record(store, key), failed_ok=retry)
        if email_id is None:
            # a failed send was refused by Pardot: proven not sent, nothing can still land
            checked: dict[str, Any] = {}
            if record.status is not SendStatus.FAILED:
                _check_settled(record, now, in_flight)
                checked = _check_gone(pardot, record, force)
            _put(
                store,
                dataclasses.replace(record, status=SendStatus.NOT_SENT, updated_at=now),
                "resolve",
                {"answer": "not-sent", "previous": record.status.value, **checked},
            )
            return Corrected(key, SendStatus.NOT_SENT)
        scheduled = record.scheduled_time is not None and record.scheduled_time > now
        status = SendStatus.SCHEDULED if scheduled else SendStatus.SENT
        _put(
            store,
            dataclasses.replace(record, status=status, email_id=email_id, updated_at=now, error=None),
            "resolve",
            {"answer": status.value, "email_id": email_id, "previous": record.status.value},
        )
        return Corrected(key, status, email_id)


def _unresolved(record: SendRecord, *, failed_ok: bool = False) -> SendRecord:
    if record.status in UNRESOLVED or (failed_ok and record.status is SendStatus.FAILED):
        return record
    raise StateError(f"{record.key} is {record.status.value}, not unknown: nothing to resolve")


#: How far back the v5 list-email query is read for an email named after a send with no id:
#: past the send's first record, with room for clock skew (see ``reconcile``).
_NAME_SCAN_MARGIN = timedelta(hours=24)
_NAME_SCAN_PAGES = 50


def _check_gone(pardot: ReadsPardot | None, record: SendRecord, force: Force | None) -> dict[str, Any]:
    """Refuse to record ``record`` as not sent while Pardot shows its email; the journal detail.

    By id when the record has one (a deleted list email reads as deleted, or not found); else,
    for a list send, the v5 list-email query by name (the send key); a one-to-one send without
    an id cannot be looked up, so only ``force`` records it. ``force`` skips the check and its
    reason is journaled; ``pardot=None`` is only for callers that checked already.
    """
    if force is not None:
        return {"forced": True, "reason": force.reason}
    if pardot is None:
        return {}
    try:
        seen = _still_in_pardot(pardot, record)
    except ApiError as exc:
        raise StateError(
            f"could not ask Pardot whether {record.key} still exists: {exc.message}",
            hint="try again; if you have checked Pardot yourself, pass --force --reason TEXT (journaled)",
        ) from exc
    if seen:
        raise StateError(
            f"{record.key}: {seen}, so it cannot be recorded as not sent (the next apply would send it again)",
            hint="delete it in Pardot first (for a scheduled email: before its time), then run this again; "
            "if Pardot is wrong, pass --force --reason TEXT (journaled)",
        )
    return {"checked": "pardot shows no such email"}


def _still_in_pardot(pardot: ReadsPardot, record: SendRecord) -> str:
    """Where Pardot still shows ``record``'s email (``""``: nowhere). Raises ApiError."""
    is_list = "list_ids" in record.payload
    if record.email_id is not None:
        try:
            if is_list:
                email = pardot.read_list_email_v5(record.email_id)
                return "" if email.is_deleted else f"Pardot still has list email {record.email_id}"
            pardot.read_email(record.email_id, include_message=False)
        except ApiNotFound:
            return ""
        return f"Pardot still has email {record.email_id}"
    if not is_list:
        raise StateError(
            f"{record.key} is a one-to-one send with no email id: the API cannot look it up by name",
            hint="look for an email named after the key in the prospect's activities in Pardot; if there is "
            "none, pass --force --reason TEXT (journaled)",
        )
    name = str(record.payload.get("name") or record.key)
    since = record.created_at - _NAME_SCAN_MARGIN
    token: str | None = None
    for _ in range(_NAME_SCAN_PAGES):
        page, token = pardot.query_list_emails_v5(page_token=token)
        for email in page:
            if email.name == name and not email.is_deleted:
                return f"Pardot has list email {email.id} named {name!r}"
        if token is None or any(e.created_at is not None and e.created_at < since for e in page):
            return ""
    raise StateError(
        f"the v5 list-email query did not reach {record.key}'s time within {_NAME_SCAN_PAGES} pages",
        hint="check Pardot yourself, then pass --force --reason TEXT (journaled)",
    )


def settles_at(record: SendRecord, in_flight: timedelta) -> datetime:
    """When no request of ``record``'s send can still land in Pardot."""
    return record.updated_at + in_flight


def _check_settled(record: SendRecord, now: datetime, in_flight: timedelta) -> None:
    safe = settles_at(record, in_flight)
    if now < safe:
        raise StateError(
            f"{record.key} was recorded {record.status.value} at {record.updated_at:%Y-%m-%d %H:%M:%S} UTC and its "
            f"request may still land in Pardot until {safe:%Y-%m-%d %H:%M:%S} UTC; it cannot be recorded as not "
            "sent before then",
            hint=f"wait until {safe:%H:%M:%S} UTC, look the email {record.key} up in Pardot (or run "
            "`orchestrator state reconcile`), then resolve it",
        )


def _verify(client: ReadsEmails, email_id: int, key: str) -> None:
    try:
        email = client.read_email(email_id, include_message=False)
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


def _scheduled_in_future(record: SendRecord, now: datetime, verb: str) -> None:
    if record.status is not SendStatus.SCHEDULED:
        raise StateError(f"{record.key} is {record.status.value}, not scheduled: only a scheduled email can be {verb}")
    if record.scheduled_time is None or record.scheduled_time <= now:
        raise StateError(
            f"{record.key} was scheduled for {record.scheduled_time}, which has passed: it has gone out and "
            f"cannot be {verb}" + (" (forgetting it would let it be sent again)" if verb == "forgotten" else "")
        )


def forget(
    store: StateStore,
    key: str,
    *,
    now: datetime,
    pardot: ReadsPardot | None = None,
    force: Force | None = None,
) -> Corrected:
    """Record that the scheduled email ``key`` was deleted in Pardot's UI, so it will not go out.

    The API cannot cancel a scheduled list email; the operator deletes it in Pardot's UI, and
    ``pardot`` is read to confirm it is gone (see :func:`_check_gone`). While the file still asks
    for the send, the next plan schedules it again: to stop that, use :func:`skip`.
    """
    with store.lock("state forget"):
        record = _record(store, key)
        _scheduled_in_future(record, now, "forgotten")
        checked = _check_gone(pardot, record, force)
        _put(
            store,
            dataclasses.replace(record, status=SendStatus.NOT_SENT, updated_at=now),
            "forget",
            {"previous": record.status.value, "email_id": record.email_id, **checked},
        )
        return Corrected(key, SendStatus.NOT_SENT)


def skip(
    store: StateStore,
    key: str,
    *,
    now: datetime,
    reason: str,
    plan_at: Callable[[StateSnapshot], Plan],
    pardot: ReadsPardot | None = None,
    force: Force | None = None,
) -> Corrected:
    """Record that ``key`` is deliberately not sent: the planner never sends it while its content
    (fingerprint) stays the one skipped; a changed file plans it again.

    A key not sent yet (due, missed, deferred or scheduled in the future) can be skipped, and so
    can a scheduled orphan (its file already deleted in this checkout, maybe not yet on ``main``).
    A scheduled one must be deleted in Pardot first (checked like :func:`forget`). A sent one has
    gone; an unknown one is resolved first.
    """
    if not reason.strip():
        raise StateError("state skip needs a --reason", hint="say why, e.g. --reason 'holiday: no issue this week'")
    with store.lock("state skip"):
        snapshot = store.snapshot()
        plan = plan_at(snapshot)
        change = next((c for c in plan.changes if c.key == key), None)
        record = snapshot.records.get(key)
        if (change is None or change.payload is None) and record is None:
            raise StateError(
                f"{key} is neither a send the files ask for nor one in the state",
                hint="`orchestrator plan --show-unchanged` lists the keys the files give",
            )
        if record is not None and record.status is SendStatus.SCHEDULED:
            _scheduled_in_future(record, now, "skipped")
            checked = _check_gone(pardot, record, force)
        elif record is not None and record.status not in (SendStatus.NOT_SENT, SendStatus.FAILED):
            raise StateError(
                f"{key} is {record.status.value}: only a send that has not gone out can be skipped",
                hint="an unknown one is settled with `state resolve` first" if record.status in UNRESOLVED else None,
            )
        else:
            checked = {}
        if change is not None and change.payload is not None:
            skipped = SendRecord(
                key=key,
                campaign=change.campaign,
                environment=plan.environment,
                fingerprint=change.fingerprint or "",
                payload=change.payload,
                status=SendStatus.NOT_SENT,
                email_id=record.email_id if record is not None else None,
                scheduled_time=change.scheduled_time,
                created_at=record.created_at if record is not None else now,
                updated_at=now,
                applied_by=Actor.current(),
            )
        else:  # an orphan here (its file is gone in this checkout): skipped as it was recorded
            assert record is not None
            skipped = dataclasses.replace(record, status=SendStatus.NOT_SENT, updated_at=now, error=None)
        _put(
            store,
            skipped,
            "skip",
            {
                "reason": reason,
                "fingerprint": skipped.fingerprint,
                "previous": record.status.value if record is not None else None,
                **checked,
            },
        )
        return Corrected(key, SendStatus.NOT_SENT, skipped.email_id)


def keep(store: StateStore, key: str, *, now: datetime) -> Corrected:
    """Accept that the scheduled email ``key``, no longer in the files, goes out as scheduled.

    It stays ``scheduled``; the journal's ``keep`` stops it from holding new sends (see
    ``planning.kept_orphans``).
    """
    with store.lock("state keep"):
        record = _record(store, key)
        _scheduled_in_future(record, now, "kept")
        _put(
            store,
            dataclasses.replace(record, updated_at=now),
            "keep",
            {
                "email_id": record.email_id,
                "scheduled_time": record.scheduled_time.isoformat() if record.scheduled_time else None,
            },
        )
        return Corrected(key, SendStatus.SCHEDULED, record.email_id)


def accept(store: StateStore, key: str, *, now: datetime, plan_at: Callable[[StateSnapshot], Plan]) -> Corrected:
    """Accept a blocked send's drift: keep the files as they are, send nothing new for ``key``.

    The state keeps the payload that was really sent; only its fingerprint moves to the one the
    files now give, so the plan shows the send as unchanged. ``plan_at`` plans against the
    snapshot read under the lock.
    """
    with store.lock("state accept"):
        snapshot = store.snapshot()
        change = next((c for c in plan_at(snapshot).changes if c.key == key), None)
        if change is None or change.action is not Action.BLOCKED:
            state = "not in the plan" if change is None else change.action.label
            raise StateError(f"{key} is {state}, not blocked: nothing to accept")
        repeat_of = (change.prior or {}).get("repeat_of")
        current = snapshot.records.get(key)
        if repeat_of is not None and (current is None or current.status in (SendStatus.NOT_SENT, SendStatus.FAILED)):
            return _accept_repeat(store, snapshot, change, str(repeat_of), now)
        source = current or _moved_record(snapshot.records, change)
        if source is None:
            raise StateError(
                f"{key} is blocked because of other emails, not by its own drift",
                hint="read the plan's reason: settle those emails with `state forget`, `state keep` or `state resolve`",
            )
        accepted = dataclasses.replace(source, key=key, fingerprint=change.fingerprint or "", updated_at=now)
        _put(
            store,
            accepted,
            "accept-drift",
            {"from_fingerprint": source.fingerprint, "to_fingerprint": change.fingerprint, "from_key": source.key},
        )
        return Corrected(key, accepted.status, accepted.email_id)


def _accept_repeat(
    store: StateStore, snapshot: StateSnapshot, change: Change, repeat_of: str, now: datetime
) -> Corrected:
    """A person confirms that ``change`` repeats ``repeat_of`` on purpose: the next apply sends it."""
    assert change.payload is not None
    previous = snapshot.records.get(change.key)
    record = SendRecord(
        key=change.key,
        campaign=change.campaign,
        environment=previous.environment if previous is not None else snapshot.records[repeat_of].environment,
        fingerprint=change.fingerprint or "",
        payload=change.payload,
        status=SendStatus.NOT_SENT,
        email_id=None,
        scheduled_time=change.scheduled_time,
        created_at=previous.created_at if previous is not None else now,
        updated_at=now,
        applied_by=Actor.current(),
    )
    _put(store, record, "accept-repeat", {"repeat_of": repeat_of, "fingerprint": change.fingerprint})
    return Corrected(change.key, SendStatus.NOT_SENT)


def rename(
    store: StateStore, old: str, new: str, *, now: datetime, plan_at: Callable[[StateSnapshot], Plan]
) -> Corrected:
    """Carry the record of ``old`` over to ``new`` (a renamed campaign), so ``new`` is not sent again.

    ``new`` must be a send the files ask for and not applied yet. Its record takes ``old``'s
    status, email id and sent payload, with the fingerprint of what the files give for ``new``;
    ``old`` is then recorded ``not-sent`` (its email now belongs to ``new``: the journal of both
    says so), so it no longer counts as an orphan that may still go out.
    """
    with store.lock("state rename"):
        snapshot = store.snapshot()
        source = snapshot.records.get(old)
        if source is None or source.status not in (SendStatus.SENT, SendStatus.SCHEDULED):
            state = "not in the state" if source is None else source.status.value
            raise StateError(f"{old} is {state}: only a sent or scheduled send can be renamed")
        target = snapshot.records.get(new)
        if target is not None and target.status not in (SendStatus.NOT_SENT, SendStatus.FAILED):
            raise StateError(f"{new} is already {target.status.value} in the state: it cannot take {old}'s record")
        change = next((c for c in plan_at(snapshot).changes if c.key == new), None)
        if change is None or change.payload is None:
            raise StateError(
                f"{new} is not a send the files ask for",
                hint="rename the campaign in its file first; `orchestrator plan` shows the new key",
            )
        moved = dataclasses.replace(
            source, key=new, campaign=change.campaign, fingerprint=change.fingerprint or "", updated_at=now
        )
        _put(store, moved, "rename", {"from": old, "email_id": source.email_id, "status": source.status.value})
        _put(
            store,
            dataclasses.replace(source, status=SendStatus.NOT_SENT, updated_at=now),
            "renamed",
            {"to": new, "email_id": source.email_id, "previous": source.status.value},
        )
        return Corrected(new, moved.status, moved.email_id)


def _moved_record(records: Mapping[str, SendRecord], change: Change) -> SendRecord | None:
    """The applied record a one-shot send was moved away from (its time or target changed)."""
    prior_id = (change.prior or {}).get("email_id")
    if prior_id is None:
        return None
    return next((r for r in records.values() if r.campaign == change.campaign and r.email_id == prior_id), None)
