"""Builders shared by the state tests: records, and lock-holding / writing subprocesses."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from orchestrator.state import Actor, SendRecord, SendStatus

REPO_ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
ALICE = Actor(user="alice", host="build-7", ci_run_id="4242")


def make_record(key: str = "spring@2024-05-01T09:00:00Z", **changes: Any) -> SendRecord:
    """A valid intent record; ``changes`` override any field."""
    record = SendRecord(
        key=key,
        campaign="spring",
        environment="prod",
        fingerprint="sha256:abc",
        payload={"email_template_id": 7, "list_ids": [1, 2], "name": key},
        status=SendStatus.INTENT,
        email_id=None,
        scheduled_time=None,
        created_at=T0,
        updated_at=T0,
        applied_by=ALICE,
    )
    return dataclasses.replace(record, **changes)


# A lock holder: takes the lock, prints its id, then holds it until stdin closes (or it is
# killed). Store location comes from the environment, so the DSN never shows in `ps`.
_HOLDER = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from orchestrator.state import open_store
    path = os.environ.get("STATE_PATH")
    store = open_store(os.environ["STATE_BACKEND"], path=Path(path) if path else None,
                       dsn=os.environ.get("STATE_DSN"))
    with store.lock(os.environ.get("LOCK_OPERATION", "apply")) as info:
        print(info.lock_id, flush=True)
        sys.stdin.read()
    print("released", flush=True)
    """
)

# A writer: puts N records (keys PREFIX-i) through one store, then prints "done" and waits.
_WRITER = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    sys.path.insert(0, os.environ["HELPERS_DIR"])
    from state_helpers import make_record
    from orchestrator.state import open_store
    path = os.environ.get("STATE_PATH")
    store = open_store(os.environ["STATE_BACKEND"], path=Path(path) if path else None,
                       dsn=os.environ.get("STATE_DSN"))
    prefix = os.environ["PREFIX"]
    for i in range(int(os.environ["COUNT"])):
        store.put(make_record(f"{prefix}-{i}"), action="intent")
    print("done", flush=True)
    sys.stdin.read()
    """
)


def _env(kind: str, path: Path | None, dsn: str | None, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env["STATE_BACKEND"] = kind
    env["HELPERS_DIR"] = str(Path(__file__).resolve().parent)
    if path is not None:
        env["STATE_PATH"] = str(path)
    if dsn is not None:
        env["STATE_DSN"] = dsn
    env.update(extra)
    return env


def spawn(script: str, kind: str, path: Path | None, dsn: str | None, **extra: str) -> subprocess.Popen[str]:
    """Start ``python -c script`` against the given state; its stdin is a pipe we control."""
    return subprocess.Popen(
        [sys.executable, "-c", script],
        env=_env(kind, path, dsn, **extra),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
    )


def spawn_lock_holder(kind: str, path: Path | None, dsn: str | None) -> tuple[subprocess.Popen[str], str]:
    """A subprocess holding the state lock, and its lock id (returned once it holds it)."""
    proc = spawn(_HOLDER, kind, path, dsn)
    assert proc.stdout is not None
    lock_id = proc.stdout.readline().strip()
    if not lock_id:
        proc.wait(timeout=30)
        raise AssertionError(f"lock holder failed: {proc.stderr.read() if proc.stderr else ''}")
    return proc, lock_id


def spawn_writer(kind: str, path: Path | None, dsn: str | None, prefix: str, count: int) -> subprocess.Popen[str]:
    """A subprocess putting ``count`` records; it prints ``done`` when all are written."""
    return spawn(_WRITER, kind, path, dsn, PREFIX=prefix, COUNT=str(count))


def wait_for_line(proc: subprocess.Popen[str], expected: str) -> None:
    """Block until ``proc`` prints ``expected`` (bounded by the test's timeout)."""
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if line != expected:
        proc.kill()
        _, err = proc.communicate(timeout=30)
        raise AssertionError(f"expected {expected!r}, got {line!r}; stderr:\n{err}")


def kill_hard(proc: subprocess.Popen[str]) -> None:
    """SIGKILL (no cleanup runs in the child, like a crash) and reap it."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


def stop(proc: subprocess.Popen[str]) -> str:
    """Close the child's stdin (it releases and exits) and return its remaining stdout."""
    out, err = proc.communicate(input="", timeout=30)
    assert proc.returncode == 0, err
    return out
