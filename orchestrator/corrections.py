"""The operator's corrections to the state: resolve, forget, keep and accept, each journaled.

Only a human can know these facts (whether an email with an unknown outcome exists in Pardot,
whether a scheduled one was deleted in Pardot's UI), so the state takes them as answers. Every
operation reads the record, checks it and writes the answer *under the state lock*: checked
outside the lock, a concurrent apply could change the record between the check and the write.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from orchestrator.errors import ApiError, StateError
from orchestrator.pardot.models import Email
from orchestrator.plan import Action, Change, Plan
from orchestrator.state.base import StateStore
from orchestrator.state.models import Actor, SendRecord, SendStatus, StateSnapshot

UNRESOLVED = (SendStatus.INTENT, SendStatus.UNKNOWN)


class ReadsEmails(Protocol):
    def read_email(self, email_id: int, *, include_message: bool = True) -> Email: ...


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
) -> Corrected:
    """Answer an unknown outcome: the email exists as ``email_id``, or (``None``) it does not.

    With a ``client``, the email is read first and must carry the send's key as its name, so a
    mistyped id cannot mark the wrong email as this send.

    "Not sent" is refused while the request may still land: ``in_flight`` is how long after its
    record a request can still create the email (the request deadline plus a margin, see
    :func:`orchestrator.connect.in_flight_window`). Pardot shows nothing before the request is
    processed, so an early "not sent" would let the next apply send a second email.
    """
    if email_id is not None and client is not None:
        _verify(client, email_id, key)
    with store.lock("state resolve"):
        record = _record(store, key)
        if record.status not in UNRESOLVED:
            raise StateError(f"{key} is {record.status.value}, not unknown: nothing to resolve")
        if email_id is None:
            _check_settled(record, now, in_flight)
            _put(
                store,
                dataclasses.replace(record, status=SendStatus.NOT_SENT, updated_at=now),
                "resolve",
                {"answer": "not-sent", "previous": record.status.value},
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


def forget(store: StateStore, key: str, *, now: datetime) -> Corrected:
    """Record that the scheduled email ``key`` was deleted in Pardot's UI, so it will not go out.

    The API cannot cancel or read back a scheduled list email; only the operator knows.
    """
    with store.lock("state forget"):
        record = _record(store, key)
        _scheduled_in_future(record, now, "forgotten")
        _put(
            store,
            dataclasses.replace(record, status=SendStatus.NOT_SENT, updated_at=now),
            "forget",
            {"previous": record.status.value, "email_id": record.email_id},
        )
        return Corrected(key, SendStatus.NOT_SENT)


def keep(store: StateStore, key: str, *, now: datetime) -> Corrected:
    """Accept that the scheduled email ``key``, no longer in the files, goes out as scheduled.

    It stays ``scheduled``; the journal's ``keep`` stops it from holding new sends (see
    ``operations.kept_orphans``).
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
        source = snapshot.records.get(key) or _moved_record(snapshot.records, change)
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


def _moved_record(records: Mapping[str, SendRecord], change: Change) -> SendRecord | None:
    """The applied record a one-shot send was moved away from (its time or target changed)."""
    prior_id = (change.prior or {}).get("email_id")
    if prior_id is None:
        return None
    return next((r for r in records.values() if r.campaign == change.campaign and r.email_id == prior_id), None)
