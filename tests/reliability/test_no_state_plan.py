"""Two deploy jobs apply the same plan made before any state existed: one sends, never both (issue 18).

The plan records "no state yet"; each apply creates the state if it is still missing, takes the
lock and checks, inside it, that nobody has written the state since. Two processes at once against
a loopback sandbox server slow enough that the second waits for the first's lock.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from orchestrator.sandbox import FaultConfig
from tests.reliability.harness import assert_no_duplicates, make_project

pytestmark = pytest.mark.slow


@pytest.mark.timeout(180)
def test_two_applies_of_a_no_state_plan_send_each_email_once(tmp_path: Path, server_factory: Any) -> None:
    server = server_factory(FaultConfig(latency_ms=40))
    project = make_project(tmp_path / "p", server.url, 12)
    plan_file = tmp_path / "plan.json"
    code, out = project.cli("plan", "--out", str(plan_file))
    assert code == 0 and "no state yet" in out, out
    assert not (project.root / "state.db").exists()

    first = project.spawn_apply(str(plan_file), "--lock-timeout", "120")
    second = project.spawn_apply(str(plan_file), "--lock-timeout", "120")
    deadline = time.monotonic() + 150
    for child in (first, second):
        child.wait(timeout=max(1.0, deadline - time.monotonic()))
    codes = sorted([first.returncode, second.returncode])
    assert codes == [0, 1], project.log()
    assert "state changed since the plan was made (no state yet" in project.log()
    assert sorted(assert_no_duplicates(project)) == sorted(project.keys)
