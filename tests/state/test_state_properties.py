"""Property test: any sequence of writes leaves every backend equal to a plain-dict model."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.state import SendRecord, SendStatus
from tests.state.conftest import Backend
from tests.state.state_helpers import make_record

pytestmark = pytest.mark.timeout(120)

KEYS = st.sampled_from(["spring@2024-05-01T09:00:00Z", "welcome/p-1", "welcome/p-2"])
JSON_LEAVES = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=8)
JSON_VALUES = st.recursive(
    JSON_LEAVES | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
JSON_OBJECTS = st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=4)

PUTS = st.builds(
    lambda key, status, payload, email_id, detail: (
        "put",
        dataclasses.replace(make_record(key), status=status, payload=payload, email_id=email_id),
        detail,
    ),
    KEYS,
    st.sampled_from(SendStatus),
    JSON_OBJECTS,
    st.none() | st.integers(1, 2**40),
    JSON_OBJECTS,
)
NOTES = st.tuples(
    st.just("note"), st.none() | KEYS, st.sampled_from(["resolve", "accept-drift", "approve-large"]),
    JSON_OBJECTS,
)
OPERATIONS = st.lists(st.one_of(PUTS, NOTES), min_size=1, max_size=8)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=OPERATIONS)
def test_any_sequence_of_writes_matches_a_dict_model(
    backend: Backend, operations: list[tuple[Any, ...]]
) -> None:
    store = backend.open()
    start = store.snapshot()
    model: dict[str, SendRecord] = dict(start.records)
    expected_journal: list[tuple[str | None, str, dict[str, Any]]] = []
    for operation in operations:
        if operation[0] == "put":
            _, record, detail = operation
            store.put(record, action=record.status.value, detail=detail)
            model[record.key] = record
            expected_journal.append((record.key, record.status.value, detail))
        else:
            _, key, action, detail = operation
            store.append_journal(key=key, action=action, detail=detail)
            expected_journal.append((key, action, detail))

    for handle in (store, backend.open()):  # what one handle wrote, every handle reads
        snapshot = handle.snapshot()
        assert snapshot.lineage == start.lineage
        assert snapshot.serial == start.serial + len(operations)
        assert dict(snapshot.records) == model
        journal = handle.journal()
        assert len(journal) == snapshot.serial
        assert [(e.key, e.action, e.detail) for e in journal[start.serial :]] == expected_journal
        assert [e.seq for e in journal] == list(range(1, snapshot.serial + 1))
