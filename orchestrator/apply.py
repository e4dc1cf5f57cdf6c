"""Applying a plan: each planned email sent exactly once, even when things fail halfway.

For every pending change the engine (1) persists an ``intent`` record, (2) calls the API,
(3) persists the outcome, and only then counts the send as done.  A crash between (1) and (3)
leaves ``intent`` in state, which the planner reports as *unknown* and never resends on its
own; a send whose answer was lost (:class:`ApiOutcomeUnknown`) is recorded ``unknown`` the same
way.  Error 122 (daily limit) stops the run cleanly: sends not yet started stay pending.

The caller holds the state lock and has checked the plan (see ``planfile.check_applicable``).
Progress is reported through :class:`ApplyHooks`, so the CLI's progress bar and the tests'
recorders plug into the same seam.
"""

from __future__ import annotations

import enum
import signal
import threading
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from orchestrator.errors import ApiError, ApiOutcomeUnknown, ApiProtocolError, ApiQuotaExceeded, StateError
from orchestrator.pardot.models import Email, ListEmailSend, OneToOneSend
from orchestrator.plan import Change, Plan
from orchestrator.state.base import StateStore
from orchestrator.state.models import Actor, SendRecord, SendStatus


class SendsEmail(Protocol):
    """The two client calls apply needs (``PardotClient`` provides them)."""

    def send_list_email(self, send: ListEmailSend) -> Email: ...
    def send_one_to_one(self, send: OneToOneSend) -> Email: ...


class OutcomeStatus(enum.StrEnum):
    """How one change of a run ended. Only ``SENT`` and ``SCHEDULED`` need nobody's attention."""

    SENT = "sent"
    SCHEDULED = "scheduled"
    FAILED = "failed"  # Pardot refused it: proven not sent
    UNKNOWN = "unknown"  # the request may have gone out: never resent until resolved
    UNRECORDED = "unrecorded"  # sent as ``email_id``, but the state refused the record
    PENDING = "pending"  # not started: the run stopped
    HELD = "held"  # above ``max_recipients`` and not approved

    @property
    def done(self) -> bool:
        return self in (OutcomeStatus.SENT, OutcomeStatus.SCHEDULED)


@dataclass(frozen=True)
class Outcome:
    """What happened to one change: ``sent``, ``scheduled``, ``failed``, ``unknown``, ``pending``
    (not started: the run stopped), ``held`` (above ``max_recipients`` and not approved) or
    ``unrecorded`` (sent as ``email_id``, but the state refused the record)."""

    key: str
    status: OutcomeStatus
    email_id: int | None = None
    error: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", OutcomeStatus(self.status))


class StopRequest:
    """A request to stop starting new sends, from any thread or a signal handler.

    Sends already in flight finish (or time out) and are recorded; the rest stay pending.
    ``signal_name`` says which signal asked (``SIGINT``/``SIGTERM``), for the exit code and message.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason: str | None = None
        self.signal_name: str | None = None

    def request(self, reason: str, *, signal_name: str | None = None) -> None:
        """Ask to stop; the first reason (and signal) wins, later requests change nothing."""
        if not self._event.is_set():
            self.reason = reason
            self.signal_name = signal_name
            self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()


def take_no_stop_signals() -> None:
    """Block Ctrl-C and SIGTERM in the calling (worker) thread, so that the kernel always hands
    them to the main thread. A process signal goes to any thread that does not block it; taken by
    a worker, it would wake nobody until the send the main thread waits for ends. (Windows has no
    per-thread signal mask: there it does nothing.)"""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})


class ApplyHooks:
    """Callbacks around execution; the default does nothing."""

    def started(self, total: int) -> None:
        """Called once before the first send."""

    def finished_one(self, change: Change, outcome: Outcome) -> None:
        """Called after each change's outcome is persisted (from worker threads)."""


@dataclass
class ApplyResult:
    """Every outcome, in plan order, plus why the run stopped early (if it did)."""

    outcomes: list[Outcome] = field(default_factory=list)
    stopped: str | None = None
    signal_name: str | None = None  # SIGINT / SIGTERM when a signal stopped the run

    def count(self, status: OutcomeStatus | str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def ok(self) -> bool:
        """True when every change ended ``sent`` or ``scheduled``."""
        return all(o.status.done for o in self.outcomes)


def payload_to_request(payload: Mapping[str, Any], kind: str) -> ListEmailSend | OneToOneSend:
    """The client request for a stored payload (the exact parameters the plan shows)."""
    common: dict[str, Any] = {
        "campaign_id": payload["campaign_id"],
        "name": payload.get("name"),
        "subject": payload.get("subject"),
        "text_content": payload.get("text_content"),
        "html_content": payload.get("html_content"),
        "email_template_id": payload.get("email_template_id"),
        "from_name": payload.get("from_name"),
        "from_email": payload.get("from_email"),
        "from_user_id": payload.get("from_user_id"),
        "from_assigned_user": bool(payload.get("from_assigned_user")),
        "from_account_owner": bool(payload.get("from_account_owner")),
        "replyto_email": payload.get("replyto_email"),
        "tags": tuple(payload.get("tags") or ()),
        "operational_email": bool(payload.get("operational_email")),
    }
    if kind == "one-to-one":
        return OneToOneSend(
            prospect_id=payload.get("prospect_id"), prospect_email=payload.get("prospect_email"), **common
        )
    scheduled = payload.get("scheduled_time")
    return ListEmailSend(
        list_ids=tuple(payload["list_ids"]),
        suppression_list_ids=tuple(payload.get("suppression_list_ids") or ()),
        scheduled_time=datetime.fromisoformat(scheduled) if scheduled else None,
        **common,
    )


def late_payload(change: Change) -> dict[str, Any]:
    """A missed list send applied with --allow-late goes out now: no ``scheduled_time``."""
    payload = dict(change.payload or {})
    if change.late:
        payload["scheduled_time"] = None
    return payload


class Executor:
    """Runs the pending changes of one plan against one client and one state store."""

    def __init__(
        self,
        client: SendsEmail,
        store: StateStore,
        *,
        environment: str,
        actor: Actor | None = None,
        hooks: ApplyHooks | None = None,
        max_workers: int = 5,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        approved_large: Collection[str] = (),
        stop: StopRequest | None = None,
        audit: Mapping[str, Any] | None = None,
    ) -> None:
        self.client = client
        self.store = store
        self.environment = environment
        self.actor = actor or Actor.current()
        self.hooks = hooks or ApplyHooks()
        self.max_workers = max_workers
        self.clock = clock
        self.approved_large = frozenset(approved_large)
        self._stop = stop or StopRequest()
        #: Where this run comes from (commit, plan checksum, approver): in every journal entry it writes.
        self.audit = dict(audit or {})

    def run(self, plan: Plan) -> ApplyResult:
        """Execute every pending change of ``plan``; never raises for a single send's failure.

        However often Ctrl-C (``KeyboardInterrupt``) arrives, sends in flight are waited for and
        recorded: an interrupted drain would leave ``intent`` records for emails that exist.
        """
        pending = list(plan.pending)
        self.hooks.started(len(pending))
        with ThreadPoolExecutor(
            max_workers=self.max_workers, thread_name_prefix="apply", initializer=take_no_stop_signals
        ) as pool:
            futures = [pool.submit(self._one, change) for change in pending]
            while True:
                try:
                    outcomes = [future.result() for future in futures]
                    break
                except KeyboardInterrupt:
                    self._stop.request("interrupted (Ctrl-C); the sends not yet started stay pending")
        return ApplyResult(outcomes=outcomes, stopped=self._stop.reason, signal_name=self._stop.signal_name)

    def _one(self, change: Change) -> Outcome:
        if self._stop.is_set():
            outcome = Outcome(change.key, OutcomeStatus.PENDING, error=self._stop.reason)
            self.hooks.finished_one(change, outcome)
            return outcome
        if change.over_cap:
            if change.campaign not in self.approved_large:
                outcome = Outcome(change.key, OutcomeStatus.HELD, error=self._held_reason(change))
                self.hooks.finished_one(change, outcome)
                return outcome
            self.store.append_journal(
                key=change.key,
                action="approve-large",
                actor=self.actor,
                detail={
                    "campaign": change.campaign,
                    "recipients": change.audience.recipients if change.audience else None,
                    "max_recipients": change.max_recipients,
                    **self._audit(),
                },
            )
        payload = late_payload(change)
        try:
            self._record(change, payload, SendStatus.INTENT, "intent")
        except StateError as exc:  # e.g. fenced off after `state unlock`: nothing was sent
            self._stop.request(f"the state refused a write ({exc.message}); nothing more is sent")
            outcome = Outcome(
                change.key, OutcomeStatus.PENDING, error=f"not sent: the state refused the intent record: {exc}"
            )
            self.hooks.finished_one(change, outcome)
            return outcome
        try:
            outcome = self._call(change, payload)
        except StateError as exc:  # the call was made; its outcome could not be recorded
            self._stop.request(f"the state refused a write ({exc.message}); nothing more is sent")
            outcome = Outcome(
                change.key, OutcomeStatus.UNKNOWN, error=f"the outcome could not be recorded: {exc.message}"
            )
        self.hooks.finished_one(change, outcome)
        return outcome

    @staticmethod
    def _held_reason(change: Change) -> str:
        count = change.audience.recipients if change.audience else "?"
        return (
            f"{count} recipients exceed policy.max_recipients ({change.max_recipients}); "
            f"approve with `orchestrator apply --approve-large {change.campaign}`"
        )

    def _call(self, change: Change, payload: dict[str, Any]) -> Outcome:
        try:
            request = payload_to_request(payload, change.kind)
            if isinstance(request, ListEmailSend):
                email = self.client.send_list_email(request)
            else:
                email = self.client.send_one_to_one(request)
        except (ApiOutcomeUnknown, ApiProtocolError) as exc:
            self._record(change, payload, SendStatus.UNKNOWN, "unknown", error=str(exc))
            return Outcome(change.key, OutcomeStatus.UNKNOWN, error=str(exc))
        except ApiQuotaExceeded as exc:
            self._stop.request(f"daily API limit reached (Pardot error {exc.code}); the remaining sends stay pending")
            self._record(change, payload, SendStatus.FAILED, "failed", error=str(exc))
            return Outcome(change.key, OutcomeStatus.FAILED, error=str(exc))
        except ApiError as exc:
            self._record(change, payload, SendStatus.FAILED, "failed", error=str(exc))
            return Outcome(change.key, OutcomeStatus.FAILED, error=str(exc))
        except Exception as exc:  # a bug after the request may have gone out: never assume "not sent"
            self._record(change, payload, SendStatus.UNKNOWN, "unknown", error=f"internal error: {exc!r}")
            return Outcome(change.key, OutcomeStatus.UNKNOWN, error=f"internal error: {exc!r}")
        status = SendStatus.SCHEDULED if payload.get("scheduled_time") else SendStatus.SENT
        try:
            self._record(change, payload, status, status.value, email_id=email.id)
        except StateError as exc:
            # The email exists but the state would not take the record (fenced off after a forced
            # unlock, database gone): the id is reported so the operator can record it by hand.
            self._stop.request(f"the state refused a write ({exc.message}); nothing more is sent")
            return Outcome(
                change.key,
                OutcomeStatus.UNRECORDED,
                email_id=email.id,
                error=f"{status.value} as email {email.id}, but the state refused the record: {exc.message}; "
                f"record it with `orchestrator state resolve {change.key} --sent {email.id}`",
            )
        return Outcome(change.key, OutcomeStatus(status.value), email_id=email.id)

    def _record(
        self,
        change: Change,
        payload: dict[str, Any],
        status: SendStatus,
        action: str,
        *,
        email_id: int | None = None,
        error: str | None = None,
    ) -> None:
        now = self.clock()
        previous = self.store.get(change.key)
        scheduled = payload.get("scheduled_time")
        record = SendRecord(
            key=change.key,
            campaign=change.campaign,
            environment=self.environment,
            fingerprint=change.fingerprint or "",
            payload=payload,
            status=status,
            email_id=email_id,
            scheduled_time=datetime.fromisoformat(scheduled) if scheduled else None,
            created_at=previous.created_at if previous is not None else now,
            updated_at=now,
            applied_by=self.actor,
            error=error,
        )
        detail: dict[str, Any] = {"status": status.value}
        if email_id is not None:
            detail["email_id"] = email_id
        if error is not None:
            detail["error"] = error
        detail.update(self._audit(change))
        self.store.put(record, action=action, detail=detail, actor=self.actor)

    def _audit(self, change: Change | None = None) -> dict[str, Any]:
        """This run's audit, with the approval a pre-approved change carries on (see the planner):
        the next occurrence with the same content is pre-approved by it too."""
        if not self.audit:
            return {}
        audit = dict(self.audit)
        if change is not None and change.pre_approved:
            audit["pre_approved"] = dict(change.pre_approved)
        return {"apply": audit}
