"""SIGKILL the apply process at random moments: never a duplicate, and a re-run completes the rest."""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from orchestrator.sandbox import FaultConfig
from tests.reliability.harness import assert_no_duplicates, break_dead_lock, make_project, resolve_unknowns

pytestmark = pytest.mark.slow


def test_random_sigkills_never_duplicate(tmp_path: Path, server_factory: Any) -> None:
    server = server_factory(FaultConfig(latency_ms=80))
    project = make_project(tmp_path / "p", server.url, 150)
    rng = random.Random(20261127)
    interrupted_in_flight = 0
    for _trial in range(10):
        before = len(project.emails())
        process = project.spawn_apply()
        deadline = time.monotonic() + 60
        while len(project.emails()) == before and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # wait until it is sending, then kill it at a random moment
        time.sleep(rng.uniform(0.0, 0.6))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        assert process.returncode in (-signal.SIGKILL, 0, 1), project.log()
        assert_no_duplicates(project)
        states = {r["key"]: r["status"] for r in project.state()}
        interrupted_in_flight += sum(1 for s in states.values() if s == "intent")
        # the next locking command meets the dead holder's lock and says so; the operator breaks it
        code, out = project.cli("plan", "--out", str(tmp_path / "probe.json"))
        if code == 1:
            assert "no longer running" in out, out
            assert break_dead_lock(project, out)
        resolve_unknowns(project)
    assert interrupted_in_flight > 0, "some kills should interrupt sends in flight"
    for _ in range(3):
        code, out = project.cli("apply", "--auto-approve")
        if code == 1:
            break_dead_lock(project, out)
            resolve_unknowns(project)
        else:
            break
    final = assert_no_duplicates(project)
    assert sorted(final) == sorted(project.keys)


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_finishes_sends_in_flight_and_leaves_the_rest_pending(
    tmp_path: Path, server_factory: Any, stop_signal: signal.Signals
) -> None:
    server = server_factory(FaultConfig(latency_ms=150))
    project = make_project(tmp_path / "p", server.url, 60)
    process = project.spawn_apply()
    deadline = time.monotonic() + 60
    while not project.emails() and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(stop_signal)
    process.wait(timeout=60)
    assert process.returncode == 1, project.log()
    assert "Stopped early: interrupted (Ctrl-C)" in project.log()
    created = assert_no_duplicates(project)
    statuses = {r["key"]: r["status"] for r in project.state()}
    assert 0 < len(created) < len(project.keys)
    assert set(statuses.values()) == {"sent"}, "every send that started was recorded, none left in doubt"
    assert set(statuses) == set(created)
    code, out = project.cli("apply", "--auto-approve")
    assert code == 0, out
    assert sorted(assert_no_duplicates(project)) == sorted(project.keys)
