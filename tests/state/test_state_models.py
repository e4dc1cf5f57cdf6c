"""The state values, the JSON codec, the lock helpers and open_store, without a database."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.errors import ConfigError, StateError, StateLocked
from orchestrator.state import (
    Actor,
    InMemoryStateStore,
    LockInfo,
    SendStatus,
    SqliteStateStore,
    StateStore,
    open_store,
)
from orchestrator.state.codec import dump_json, dump_time, load_json, load_time
from orchestrator.state.locking import (
    acquire_with_timeout,
    holder_is_dead,
    locked_error,
    new_lock,
    pid_alive,
)
from orchestrator.state.models import CI_RUN_ID_VARIABLES
from tests.state.state_helpers import T0, make_record

pytestmark = pytest.mark.timeout(60)

# -- models ------------------------------------------------------------------------------


def test_send_status_values_are_the_wire_strings() -> None:
    assert [s.value for s in SendStatus] == [
        "intent", "sent", "scheduled", "failed", "unknown", "not-sent",
    ]
    assert SendStatus("not-sent") is SendStatus.NOT_SENT
    assert isinstance(SendStatus.SENT, str)


def test_a_status_given_as_text_becomes_the_enum() -> None:
    record = make_record(status="sent")
    assert record.status is SendStatus.SENT


@pytest.mark.parametrize(
    "changes",
    [
        {"created_at": datetime(2024, 5, 1, 9, 0)},
        {"updated_at": datetime(2024, 5, 1, 9, 0)},
        {"scheduled_time": datetime(2024, 5, 1, 9, 0)},
    ],
    ids=["created_at", "updated_at", "scheduled_time"],
)
def test_naive_datetimes_are_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        make_record(**changes)


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"status": "delivered"}, ValueError),
        ({"email_id": True}, TypeError),
        ({"email_id": "12"}, TypeError),
        ({"key": ""}, ValueError),
        ({"campaign": None}, TypeError),
        ({"payload": [1, 2]}, TypeError),
        ({"applied_by": {"user": "x", "host": "y"}}, TypeError),
        ({"created_at": "2024-05-01T09:00:00Z"}, TypeError),
    ],
    ids=["unknown status", "bool email id", "str email id", "empty key", "no campaign",
         "list payload", "dict actor", "str time"],
)
def test_invalid_records_are_refused(changes: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        make_record(**changes)


def test_datetimes_are_normalised_to_utc() -> None:
    tokyo = timezone(timedelta(hours=9))
    record = make_record(created_at=datetime(2024, 5, 1, 18, 0, tzinfo=tokyo))
    assert record.created_at == T0
    assert record.created_at.tzinfo == UTC


@pytest.mark.parametrize("variable", CI_RUN_ID_VARIABLES)
def test_actor_current_reads_the_ci_run_id(variable: str) -> None:
    actor = Actor.current({variable: "run-77"})
    assert actor.ci_run_id == "run-77"
    assert actor.host == socket.gethostname()
    assert actor.user


def test_actor_current_outside_ci_has_no_run_id() -> None:
    assert Actor.current({}).ci_run_id is None
    assert Actor.current({"GITHUB_RUN_ID": ""}).ci_run_id is None


def test_the_orchestrator_variable_wins_over_the_ci_systems() -> None:
    actor = Actor.current({"GITHUB_RUN_ID": "1", "ORCHESTRATOR_CI_RUN_ID": "2"})
    assert actor.ci_run_id == "2"


def test_actor_round_trips_through_its_dict() -> None:
    actor = Actor("u", "h", "9")
    assert Actor.from_dict(json.loads(json.dumps(actor.to_dict()))) == actor
    assert actor.describe() == "u@h (CI run 9)"
    assert Actor("u", "h").describe() == "u@h"


# -- codec -------------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.text(), JSON_VALUES, max_size=6))
def test_any_json_object_round_trips_exactly(value: dict[str, Any]) -> None:
    text = dump_json(value, what="payload")
    assert load_json(text, what="payload") == value
    assert json.loads(text) == value  # plain JSON any reader accepts


@pytest.mark.parametrize(
    ("value", "where"),
    [
        ({"a": {"b": [1, math.nan]}}, r"payload\.a\.b\[1\]"),
        ({"a": (1,)}, r"payload\.a: a tuple"),
        ({"a": {2: 1}}, r"payload\.a: key 2"),
        ({"a": object()}, r"payload\.a: a object"),
    ],
)
def test_values_json_cannot_keep_are_refused_with_their_path(value: Any, where: str) -> None:
    with pytest.raises(StateError, match=where):
        dump_json(value, what="payload")


def test_only_json_objects_are_accepted_at_the_top() -> None:
    with pytest.raises(StateError, match="JSON object"):
        dump_json([1], what="payload")  # type: ignore[arg-type]
    with pytest.raises(StateError, match="not a JSON object"):
        load_json("[1]", what="payload")
    with pytest.raises(StateError, match="not valid JSON"):
        load_json("{", what="payload")


FIXED_OFFSETS = st.builds(
    timezone, st.timedeltas(min_value=timedelta(hours=-23), max_value=timedelta(hours=23))
)


@given(st.datetimes(timezones=FIXED_OFFSETS))
def test_times_round_trip_as_the_same_instant_in_utc(value: datetime) -> None:
    text = dump_time(value)
    assert load_time(text) == value
    assert load_time(text).tzinfo == UTC


@given(st.datetimes(timezones=st.timezones()))
def test_local_times_are_stored_as_python_converts_them_to_utc(value: datetime) -> None:
    """Times in a DST gap or fold have no single instant; Python's astimezone decides."""
    assert load_time(dump_time(value)) == value.astimezone(UTC)


@given(st.datetimes(timezones=st.just(UTC)), st.datetimes(timezones=st.just(UTC)))
def test_stored_times_sort_as_the_instants_do(a: datetime, b: datetime) -> None:
    assert (dump_time(a) < dump_time(b)) == (a < b)


# -- lock helpers ------------------------------------------------------------------------


def test_a_live_process_is_alive() -> None:
    assert pid_alive(os.getpid())


def test_a_reaped_process_is_dead() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=30)
    assert not pid_alive(child.pid)


def test_a_killed_but_unreaped_child_is_dead() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        child.kill()
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # exited, not yet reaped
        assert not pid_alive(child.pid)
    finally:
        child.wait(timeout=30)


@pytest.mark.parametrize("pid", [0, -1])
def test_impossible_pids_are_dead(pid: int) -> None:
    assert not pid_alive(pid)


def _lock_held_by(pid: int, host: str) -> LockInfo:
    return dataclasses.replace(
        new_lock("apply"), pid=pid, actor=Actor("ci", host, "5")
    )


def test_a_holder_on_another_host_is_never_called_dead() -> None:
    assert not holder_is_dead(_lock_held_by(2**22 + 12345, "some-other-host"))


def test_a_dead_holder_on_this_host_is_reported_with_the_unlock_command() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=30)
    info = _lock_held_by(child.pid, socket.gethostname())
    error = locked_error(info)
    assert isinstance(error, StateLocked)
    text = str(error)
    assert (
        f"the process that held it (pid {child.pid} on host {socket.gethostname()}) "
        "is no longer running" in text
    )
    assert f"orchestrator state unlock {info.lock_id}" in text
    assert error.holder["dead"] is True


def test_a_lock_attempt_with_no_timeout_is_made_exactly_once() -> None:
    calls: list[int] = []

    def attempt() -> LockInfo:
        calls.append(1)
        raise locked_error(None)

    with pytest.raises(StateLocked):
        acquire_with_timeout(attempt, 0)
    assert len(calls) == 1


def test_a_lock_attempt_is_retried_until_it_succeeds() -> None:
    results: list[LockInfo | None] = [None, None, new_lock("apply")]

    def attempt() -> LockInfo:
        result = results.pop(0)
        if result is None:
            raise locked_error(None)
        return result

    assert acquire_with_timeout(attempt, 30).operation == "apply"
    assert results == []


def test_a_negative_timeout_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        acquire_with_timeout(lambda: new_lock("apply"), -1)


# -- open_store --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("backend", "kwargs", "message"),
    [
        ("sqlite", {}, "needs a path"),
        ("postgres", {}, "needs a DSN"),
        ("postgres", {"dsn": ""}, "needs a DSN"),
        ("mysql", {}, "unknown state backend 'mysql'"),
    ],
)
def test_open_store_refuses_incomplete_config(
    backend: str, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        open_store(backend, **kwargs)


def test_open_store_builds_each_backend(tmp_path: Path) -> None:
    memory = open_store("memory")
    sqlite = open_store("sqlite", path=tmp_path / "s.db")
    try:
        assert isinstance(memory, InMemoryStateStore)
        assert isinstance(sqlite, SqliteStateStore)
        assert isinstance(memory, StateStore) and isinstance(sqlite, StateStore)
    finally:
        sqlite.close()


def test_memory_handles_share_one_state_and_fresh_stores_do_not() -> None:
    first = InMemoryStateStore()
    first.put(make_record(), action="intent")
    assert first.open_another().snapshot() == first.snapshot()
    assert InMemoryStateStore().snapshot().serial == 0


def test_waiting_stops_at_once_for_a_dead_holder_when_asked() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=30)
    dead = _lock_held_by(child.pid, socket.gethostname())
    calls: list[int] = []

    def attempt() -> LockInfo:
        calls.append(1)
        raise locked_error(dead)

    with pytest.raises(StateLocked, match="no longer running"):
        acquire_with_timeout(attempt, 600, give_up_if_holder_dead=True)
    assert len(calls) == 1
