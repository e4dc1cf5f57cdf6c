"""``state list --json`` writes each record field by field (for speed): it must be exactly the JSON
the general path (``json_text(record_dict(record))``) writes, whatever the text in the record."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.cli.common import json_text
from orchestrator.cli.listing import record_dict, record_json
from orchestrator.redact import forget_secrets, register_secrets
from orchestrator.state import Actor, SendStatus
from tests.state.state_helpers import make_record

TEXT = st.text(min_size=1, max_size=12)  # any code point: controls, bidi overrides, line separators
TIMES = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))


@pytest.fixture(autouse=True)
def _no_secrets() -> Iterator[None]:
    forget_secrets()
    yield
    forget_secrets()


@settings(max_examples=300)
@given(
    key=TEXT, campaign=TEXT, error=st.none() | st.text(max_size=12), user=st.text(max_size=8),
    ci=st.none() | TEXT, email_id=st.none() | st.integers(1, 2**53), status=st.sampled_from(SendStatus),
    scheduled=st.none() | TIMES, created=TIMES,
)  # fmt: skip
def test_a_record_is_written_as_the_general_json_path_writes_it(
    key: str, campaign: str, error: str | None, user: str, ci: str | None, email_id: int | None,
    status: SendStatus, scheduled: datetime | None, created: datetime,
) -> None:  # fmt: skip
    record = dataclasses.replace(
        make_record(key), campaign=campaign, error=error, applied_by=Actor(user, "h\u202eost", ci), email_id=email_id,
        status=status, scheduled_time=scheduled, created_at=created,
    )  # fmt: skip
    assert record_json(record) == json_text(record_dict(record))
    assert json.loads(record_json(record)) == json.loads(json.dumps(record_dict(record)))


def test_registered_secrets_are_removed_as_everywhere_else() -> None:
    register_secrets(["hunter2-secret"])
    record = make_record("spring@hunter2-secret", error="token hunter2-secret refused")
    assert "hunter2-secret" not in record_json(record) and record_json(record) == json_text(record_dict(record))


@settings(max_examples=300)
@given(
    secret=st.text(min_size=6, max_size=10), key=TEXT, error=st.none() | st.text(max_size=12), user=st.text(max_size=8),
    where=st.sampled_from(["key", "error", "user", "nowhere"]), before=st.text(max_size=3), after=st.text(max_size=3),
)  # fmt: skip
def test_with_secrets_registered_a_record_is_still_written_as_the_general_json_path_writes_it(
    secret: str, key: str, error: str | None, user: str, where: str, before: str, after: str
) -> None:
    """A PostgreSQL DSN is always registered: the quick path must remove a secret wherever it is,
    URL-encoded or not, and whatever characters it holds (quotes and controls are escaped in JSON)."""
    register_secrets([secret])
    planted = before + secret + after
    record = dataclasses.replace(
        make_record(planted if where == "key" else key),
        error=planted if where == "error" else error,
        applied_by=Actor(planted if where == "user" else user, "host", None),
    )
    assert record_json(record) == json_text(record_dict(record))


def test_a_url_encoded_secret_is_removed_too() -> None:
    register_secrets(["p@ss word/secret"])
    record = make_record("spring@p%40ss%20word%2Fsecret", error="p%40ss+word%2Fsecret refused")
    assert "p%40ss" not in record_json(record) and record_json(record) == json_text(record_dict(record))
