"""SIGKILL the apply process at random moments: never a duplicate, and a re-run completes the rest."""

from __future__ import annotations

import random
import re
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from werkzeug.wrappers import Request, Response

from orchestrator.sandbox import FaultConfig, SandboxApp, serve
from tests.reliability.harness import assert_no_duplicates, break_dead_lock, make_project, resolve_unknowns

pytestmark = pytest.mark.slow


def test_random_sigkills_never_duplicate(tmp_path: Path, server_factory: Any) -> None:
    server = server_factory(FaultConfig(latency_ms=80))
    project = make_project(tmp_path / "p", server.url, 150, deadline=1)
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
        # (plans no longer lock, so a state correction is the probe; its key need not exist)
        code, out = project.cli("state", "keep", "probe@now")
        assert code == 1
        if "no send 'probe@now'" not in out:
            assert "no longer running" in out, out
            assert break_dead_lock(project, out)
        resolve_unknowns(project)
    assert interrupted_in_flight > 0, "some kills should interrupt sends in flight"
    for _ in range(3):
        code, out = project.cli("apply", "--auto-approve")
        if code != 0:
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
    assert process.returncode == 128 + stop_signal, project.log()  # 130 for SIGINT, 143 for SIGTERM
    assert f"Stopped early: interrupted by {stop_signal.name}" in project.log()
    assert project.log().strip().splitlines()[-1].startswith(f"Interrupted by {stop_signal.name}")
    created = assert_no_duplicates(project)
    statuses = {r["key"]: r["status"] for r in project.state()}
    assert 0 < len(created) < len(project.keys)
    assert set(statuses.values()) == {"sent"}, "every send that started was recorded, none left in doubt"
    assert set(statuses) == set(created)
    code, out = project.cli("apply", "--auto-approve")
    assert code == 0, out
    assert sorted(assert_no_duplicates(project)) == sorted(project.keys)


def test_sigint_then_sigterm_during_the_drain_loses_no_outcome(tmp_path: Path, server_factory: Any) -> None:
    """GitHub cancels a job with SIGINT, then SIGTERM 7.5 s later: neither may cut the drain short.

    With 1 s of latency per send, the SIGTERM lands while the sends started before the SIGINT are
    still in flight; every one of them must be recorded (no ``intent`` left for an email that exists).
    """
    server = server_factory(FaultConfig(latency_ms=1000))
    project = make_project(tmp_path / "p", server.url, 30, deadline=5)
    process = project.spawn_apply()
    deadline = time.monotonic() + 60
    # Wait until the first send's outcome line is printed (so more are in flight). Match the outcome
    # line itself: the plan printed before it also holds "sent" ("why: sent on apply"), and a SIGINT
    # that lands there stops the apply before it starts.
    first_outcome = re.compile(r"^sent +s\d{3}@now \(email \d+\)", re.MULTILINE)
    while not first_outcome.search(project.log()) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert first_outcome.search(project.log()), project.log()
    process.send_signal(signal.SIGINT)
    time.sleep(0.3)
    process.send_signal(signal.SIGTERM)
    time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    process.wait(timeout=60)
    log = project.log()
    assert process.returncode == 130, log  # the first signal names the stop
    assert "Aborted!" not in log and "Traceback" not in log
    created = assert_no_duplicates(project)
    statuses = {r["key"]: r["status"] for r in project.state()}
    assert set(statuses.values()) == {"sent"}, statuses  # every send that started was recorded
    assert set(statuses) == set(created) and 0 < len(created) < len(project.keys)
    for key, email_id in created.items():  # and the log shows each one as it went out
        assert f"{key} (email {email_id})" in log


class HeldSandbox(SandboxApp):
    """A sandbox that keeps every send request waiting until the test releases it.

    The slow server of the race ``main``'s CI met under load, made deterministic: the apply is
    killed while its send is certainly inside the server, not yet turned into an email.
    """

    def __init__(self) -> None:
        super().__init__()
        self.arrived = threading.Event()
        self.release = threading.Event()

    def _api(self, request: Request) -> Response:
        if request.method == "POST" and "/do/send" in request.path:
            request.get_data(cache=True)  # the whole request is here: it lands once released
            self.arrived.set()
            self.release.wait(timeout=120)
        return super()._api(request)


def test_not_sent_is_refused_while_the_killed_apply_request_is_still_in_flight(tmp_path: Path) -> None:
    app = HeldSandbox()
    with serve(app, host="127.0.0.1", port=0) as server:
        try:
            project = make_project(tmp_path / "p", server.url, 1, deadline=30)
            process = project.spawn_apply()
            assert app.arrived.wait(timeout=60), project.log()
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
            assert project.emails() == []  # Pardot shows nothing yet: the request is still being worked on
            code, out = project.cli("state", "keep", "probe@now")
            if "no send 'probe@now'" not in out:
                assert break_dead_lock(project, out), out
            assert [r["status"] for r in project.state()] == ["intent"]

            code, out = project.cli("state", "resolve", "s000@now", "--not-sent")
            assert code == 1, out
            assert "may still land in Pardot until" in out and "state reconcile" in out, out
            assert [r["status"] for r in project.state()] == ["intent"]  # nothing was written
            code, out = project.cli("apply", "--auto-approve")
            assert code == 3 and "s000@now" in out, out  # still unknown: never sent again

            app.release.set()  # the request lands after all
            deadline = time.monotonic() + 30
            while not project.emails() and time.monotonic() < deadline:
                time.sleep(0.05)
            created = assert_no_duplicates(project)
            assert list(created) == ["s000@now"]
            code, out = project.cli("state", "resolve", "s000@now", "--sent", str(created["s000@now"]))
            assert code == 0, out
            assert assert_no_duplicates(project) == created
        finally:
            app.release.set()
