"""The operator's corrections, as library calls with the time as a parameter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from orchestrator import corrections
from orchestrator.errors import StateError
from orchestrator.state import InMemoryStateStore
from orchestrator.state.models import Actor, SendRecord, SendStatus

INTENT_AT = datetime(2027, 1, 10, 12, 0, tzinfo=UTC)
WINDOW = timedelta(seconds=240)


def _store(status: SendStatus) -> InMemoryStateStore:
    store = InMemoryStateStore()
    store.put(
        SendRecord(
            key="promo@now",
            campaign="promo",
            environment="test",
            fingerprint="f",
            payload={"name": "promo@now", "list_ids": [1]},
            status=status,
            email_id=None,
            scheduled_time=None,
            created_at=INTENT_AT - timedelta(days=3),  # an earlier attempt's: the latest write dates the request
            updated_at=INTENT_AT,
            applied_by=Actor("tester", "host"),
        ),
        action=status.value,
        actor=Actor("tester", "host"),
    )
    return store


@pytest.mark.parametrize("status", [SendStatus.INTENT, SendStatus.UNKNOWN])
def test_not_sent_is_refused_until_no_request_can_land(status: SendStatus) -> None:
    store = _store(status)
    almost = INTENT_AT + WINDOW - timedelta(seconds=1)
    with pytest.raises(StateError, match="may still land in Pardot until 2027-01-10 12:04:00 UTC"):
        corrections.resolve(store, "promo@now", now=almost, in_flight=WINDOW)
    record = store.get("promo@now")
    assert record is not None and record.status is status
    done = corrections.resolve(store, "promo@now", now=INTENT_AT + WINDOW, in_flight=WINDOW)
    assert done.status is SendStatus.NOT_SENT


def test_sent_needs_no_wait() -> None:
    store = _store(SendStatus.INTENT)
    done = corrections.resolve(store, "promo@now", now=INTENT_AT, email_id=70001, in_flight=WINDOW)
    assert (done.status, done.email_id) == (SendStatus.SENT, 70001)


def test_not_sent_lets_a_refused_send_be_tried_again_at_once() -> None:
    store = _store(SendStatus.FAILED)  # Pardot refused it: proven not sent, nothing in flight
    done = corrections.resolve(store, "promo@now", now=INTENT_AT, in_flight=WINDOW)
    assert done.status is SendStatus.NOT_SENT
    with pytest.raises(StateError, match="is not-sent, not unknown"):
        corrections.resolve(store, "promo@now", now=INTENT_AT, in_flight=WINDOW)
