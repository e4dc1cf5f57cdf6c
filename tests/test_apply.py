"""The send engine (``orchestrator.apply``) driven directly: one test per outcome mapping.

A scripted fake stands at the ``SendsEmail`` seam (the two client calls apply makes); the state
is the real in-memory store, and a recording hooks object sees every outcome.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from orchestrator.apply import ApplyHooks, Executor, Outcome, OutcomeStatus, StopRequest, late_payload
from orchestrator.desired import SendKind, fingerprint
from orchestrator.errors import (
    ApiOutcomeUnknown,
    ApiProtocolError,
    ApiQuotaExceeded,
    ApiValidationError,
    StateError,
)
from orchestrator.pardot.models import Email, ListEmailSend, OneToOneSend
from orchestrator.plan import Action, Audience, Change, Plan
from orchestrator.state.memory import InMemoryStateStore
from orchestrator.state.models import SendStatus

NOW = datetime(2027, 1, 10, 12, 0, tzinfo=UTC)


class ScriptedClient:
    """Answers each send with what ``script`` says for its name: an Email id or an exception."""

    def __init__(self, script: dict[str, int | Exception | Callable[[], Any]] | None = None) -> None:
        self.script = script or {}
        self.calls: list[str] = []
        self._ids = iter(range(9000, 100000))
        self._lock = threading.Lock()

    def _answer(self, name: str) -> Email:
        with self._lock:
            self.calls.append(name)
            answer = self.script.get(name, next(self._ids))
        if callable(answer) and not isinstance(answer, Exception):
            answer = answer()
        if isinstance(answer, Exception):
            raise answer
        assert isinstance(answer, int)
        return Email(answer, name, "Hi", None, None, None, False, 1, None)

    def send_list_email(self, send: ListEmailSend) -> Email:
        return self._answer(str(send.name))

    def send_one_to_one(self, send: OneToOneSend) -> Email:
        return self._answer(str(send.name))


class Recorder(ApplyHooks):
    def __init__(self) -> None:
        self.total: int | None = None
        self.outcomes: list[Outcome] = []

    def started(self, total: int) -> None:
        self.total = total

    def finished_one(self, change: Change, outcome: Outcome) -> None:
        self.outcomes.append(outcome)


def change(name: str, *, action: Action = Action.SEND, at: datetime | None = None, **extra: Any) -> Change:
    key = f"{name}@now" if at is None else f"{name}@{at.strftime('%Y-%m-%dT%H:%M:%SZ')}"
    payload: dict[str, Any] = {
        "campaign_id": 1,
        "name": key,
        "subject": "Hi",
        "text_content": "%%unsubscribe%%",
        "list_ids": [1],
        "suppression_list_ids": [],
        "scheduled_time": at.isoformat() if at else None,
    }
    return Change(
        action=action,
        key=key,
        campaign=name,
        kind=SendKind.LIST,
        scheduled_time=at,
        timezone="UTC",
        payload=payload,
        fingerprint=fingerprint(payload),
        **extra,
    )


def plan_of(*changes: Change) -> Plan:
    return Plan("test", "0Uv", NOW, NOW + timedelta(hours=1), "lineage", 0, tuple(changes))


def execute(client: ScriptedClient, *changes: Change, store: Any = None, **kwargs: Any) -> tuple[list[Outcome], Any]:
    store = store or InMemoryStateStore()
    hooks = Recorder()
    executor = Executor(client, store, environment="test", hooks=hooks, clock=lambda: NOW, **kwargs)
    with store.lock("apply"):
        result = executor.run(plan_of(*changes))
    assert hooks.total == len([c for c in changes if c.action.is_change])
    assert sorted(o.key for o in hooks.outcomes) == sorted(o.key for o in result.outcomes)
    return result.outcomes, store


def journal_actions(store: Any, key: str) -> list[str]:
    return [entry.action for entry in store.journal(key)]


def test_a_send_is_recorded_intent_then_sent() -> None:
    outcomes, store = execute(ScriptedClient({"a@now": 501}), change("a"))
    assert outcomes == [Outcome("a@now", OutcomeStatus.SENT, email_id=501)]
    record = store.get("a@now")
    assert record.status is SendStatus.SENT and record.email_id == 501
    assert journal_actions(store, "a@now") == ["intent", "sent"]


def test_a_future_send_is_recorded_scheduled() -> None:
    at = NOW + timedelta(days=2)
    outcomes, store = execute(ScriptedClient(), change("a", action=Action.SCHEDULE, at=at))
    assert outcomes[0].status == "scheduled" and store.get(outcomes[0].key).scheduled_time == at


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (ApiOutcomeUnknown("answer lost"), "unknown"),
        (ApiProtocolError("garbled"), "unknown"),
        (ApiValidationError("bad list", code=38), "failed"),
        (RuntimeError("a bug after the request went out"), "unknown"),
    ],
    ids=["outcome-unknown", "protocol", "api-refused", "bug"],
)
def test_each_error_maps_to_its_outcome(error: Exception, status: str) -> None:
    outcomes, store = execute(ScriptedClient({"a@now": error}), change("a"))
    assert outcomes[0].status == status
    assert store.get("a@now").status.value == status
    assert journal_actions(store, "a@now") == ["intent", status]
    if status == "unknown":
        assert outcomes[0].email_id is None  # never assumed unsent, never resent by the planner


def test_error_122_stops_the_run_and_leaves_the_rest_pending() -> None:
    client = ScriptedClient({"a@now": ApiQuotaExceeded("daily limit", code=122)})
    outcomes, store = execute(client, change("a"), change("b"), change("c"), max_workers=1)
    assert [o.status for o in outcomes] == ["failed", "pending", "pending"]
    assert client.calls == ["a@now"] and store.get("b@now") is None


def test_a_late_list_send_goes_out_now_without_its_scheduled_time() -> None:
    at = NOW - timedelta(hours=3)
    late = change("a", at=at, late=True)
    assert late_payload(late)["scheduled_time"] is None
    outcomes, store = execute(ScriptedClient(), late)
    assert outcomes[0].status == "sent" and store.get(late.key).payload["scheduled_time"] is None


def test_over_cap_is_held_unless_approved_and_approval_is_journaled() -> None:
    big = change("big", over_cap=True, max_recipients=10, audience=Audience(50, NOW))
    outcomes, _ = execute(ScriptedClient(), big)
    assert outcomes[0].status == "held" and "--approve-large big" in str(outcomes[0].error)
    outcomes, store = execute(ScriptedClient(), big, approved_large=["big"])
    assert outcomes[0].status == "sent"
    assert journal_actions(store, "big@now") == ["approve-large", "intent", "sent"]


def test_a_stop_request_leaves_unstarted_sends_pending() -> None:
    stop = StopRequest()
    stop.request("interrupted by SIGTERM", signal_name="SIGTERM")
    client = ScriptedClient()
    outcomes, _ = execute(client, change("a"), change("b"), stop=stop)
    assert [o.status for o in outcomes] == ["pending", "pending"] and client.calls == []


def test_a_stop_while_sending_lets_sends_in_flight_finish() -> None:
    stop = StopRequest()

    def slow_then_stop() -> int:
        stop.request("interrupted by SIGINT", signal_name="SIGINT")
        return 777

    client = ScriptedClient({"a@now": slow_then_stop})
    outcomes, store = execute(client, change("a"), change("b"), change("c"), max_workers=1, stop=stop)
    assert [o.status for o in outcomes] == ["sent", "pending", "pending"]
    assert store.get("a@now").email_id == 777


class RefusingStore(InMemoryStateStore):
    """Refuses writes once ``refuse_after`` puts went through (a lock broken by `state unlock`)."""

    def __init__(self, refuse_after: int) -> None:
        super().__init__()
        self.left = refuse_after

    def put(self, record: Any, **kwargs: Any) -> int:
        if self.left <= 0:
            raise StateError("this process's state lock was broken by someone else")
        self.left -= 1
        return super().put(record, **kwargs)


def test_an_email_whose_record_is_refused_is_reported_with_its_id() -> None:
    store = RefusingStore(refuse_after=1)  # the intent is written, the outcome is refused
    outcomes, _ = execute(ScriptedClient({"a@now": 4242}), change("a"), change("b"), store=store, max_workers=1)
    assert outcomes[0] == Outcome(
        "a@now",
        OutcomeStatus.UNRECORDED,
        email_id=4242,
        error=outcomes[0].error,
    )
    assert "state resolve a@now --sent 4242" in str(outcomes[0].error)
    assert outcomes[1].status == "pending"  # nothing more is sent once the state refuses


def test_a_refused_intent_sends_nothing() -> None:
    client = ScriptedClient()
    outcomes, _ = execute(client, change("a"), store=RefusingStore(refuse_after=0))
    assert outcomes[0].status == "pending" and client.calls == []


@pytest.mark.parametrize(
    ("saved_count", "count_now", "held"),
    [(50, 5, True), (5, 50, True), (5, 6, False), (50, 60, True)],
    ids=["held-when-saved", "held-when-counted-now", "sent-under-both", "held-over-both"],
)
def test_a_saved_plan_is_held_on_either_count(saved_count: int, count_now: int, held: bool) -> None:
    """Applying a saved plan counts again; a send goes out only if neither count is above the cap,
    and a send held as reviewed keeps the count that held it (its message names that count)."""
    from orchestrator.applying import held_on_either_count

    def capped(count: int) -> Change:
        return change("big", max_recipients=10, audience=Audience(count, NOW), over_cap=count > 10)

    chosen = held_on_either_count(plan_of(capped(saved_count)), plan_of(capped(count_now)))
    (result,) = chosen.changes
    assert result.over_cap is held
    assert result.audience is not None
    assert result.audience.recipients == (saved_count if saved_count > 10 >= count_now else count_now)


class _Masks(Recorder):
    """Records, from each worker thread, the signals it blocks (Linux: SigBlk in /proc)."""

    def __init__(self) -> None:
        super().__init__()
        self.masks: list[int] = []

    def finished_one(self, change: Change, outcome: Outcome) -> None:
        status = Path(f"/proc/self/task/{threading.get_native_id()}/status").read_text(encoding="ascii")
        self.masks.append(int(next(line.split()[1] for line in status.splitlines() if line.startswith("SigBlk:")), 16))
        super().finished_one(change, outcome)


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads a thread's signal mask from /proc (Linux)")
def test_the_send_threads_leave_ctrl_c_and_sigterm_to_the_main_thread() -> None:
    """A signal the kernel gives a send thread would reach the main thread's handler only once the
    send it waits for ends; blocked there, it always goes to the main thread at once."""
    hooks = _Masks()
    store = InMemoryStateStore()
    executor = Executor(ScriptedClient(), store, environment="test", hooks=hooks, clock=lambda: NOW)
    with store.lock("apply"):
        executor.run(plan_of(change("a"), change("b")))
    stop_signals = (1 << (signal.SIGINT - 1)) | (1 << (signal.SIGTERM - 1))
    assert len(hooks.masks) == 2 and all(mask & stop_signals == stop_signals for mask in hooks.masks)
