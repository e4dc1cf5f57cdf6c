"""What every backend's state lock shares: new lock ids, waiting, dead holders, messages.

A backend supplies one non-blocking attempt that either returns the new :class:`LockInfo` or
raises :class:`StateLocked`; :func:`acquire_with_timeout` turns it into "wait up to N seconds".
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential,
)

from orchestrator.errors import StateConflict, StateError, StateLocked
from orchestrator.state.models import Actor, LockInfo

__all__ = [
    "acquire_with_timeout",
    "holder_is_dead",
    "lock_broken_error",
    "locked_error",
    "new_lock",
    "pid_alive",
    "wrong_lock_error",
]

logger = logging.getLogger(__name__)

#: Polling starts fast (a released lock is seen quickly) and backs off to one try a second.
_WAIT = wait_exponential(multiplier=0.05, min=0.05, max=1.0)


def new_lock(operation: str) -> LockInfo:
    """A fresh lock description for this process: uuid4 id, current actor, pid and time."""
    if not isinstance(operation, str) or not operation:
        raise ValueError("a lock needs a non-empty operation name")
    return LockInfo(
        lock_id=str(uuid.uuid4()),
        operation=operation,
        actor=Actor.current(),
        pid=os.getpid(),
        acquired_at=datetime.now(UTC),
    )


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host and is not a zombie."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    try:  # a killed child nobody has reaped yet still answers kill(0)
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def holder_is_dead(info: LockInfo) -> bool:
    """True only when the holder ran on this host and its process is gone.

    A holder on another host cannot be checked from here, so it is presumed alive.
    """
    return info.actor.host == socket.gethostname() and not pid_alive(info.pid)


def _describe(info: LockInfo) -> str:
    return (
        f"lock {info.lock_id} is held by {info.actor.describe()} (pid {info.pid}) "
        f"for {info.operation!r} since {info.acquired_at.isoformat(timespec='seconds')}"
    )


def locked_error(info: LockInfo | None) -> StateLocked:
    """The error for a busy lock, saying who holds it and whether that holder died."""
    if info is None:  # the holder is between taking the lock and writing down who it is
        return StateLocked("the state is locked by a process that has not said who it is yet")
    message = f"the state is locked: {_describe(info)}"
    dead = holder_is_dead(info)
    if dead:
        message += (
            f"; the process that held it (pid {info.pid} on host {info.actor.host}) is no "
            f"longer running. If no apply is running, break the lock with "
            f"`orchestrator state unlock {info.lock_id}`"
        )
    return StateLocked(message, holder={**info.to_dict(), "dead": dead})


def wrong_lock_error(lock_id: str, current: LockInfo | None) -> StateError:
    """``force_unlock`` was given an id that is not the current lock's."""
    if current is None:
        return StateError(f"cannot unlock {lock_id}: the state is not locked")
    return StateError(
        f"cannot unlock {lock_id}: it is not the current lock; the current {_describe(current)}",
        hint=f"to break the current lock run `orchestrator state unlock {current.lock_id}`",
    )


def lock_broken_error(held: LockInfo, current: LockInfo | None) -> StateConflict:
    """A write by a holder whose lock was broken: it must stop before sending anything more."""
    now = "the state is not locked now" if current is None else f"now {_describe(current)}"
    return StateConflict(
        f"this process's state lock {held.lock_id} was broken by someone else ({now}); "
        "refusing to write so nothing is sent twice",
        hint="check the journal (`orchestrator state journal`) before applying again",
    )


def _log_wait(state: RetryCallState) -> None:
    if state.outcome is not None and state.next_action is not None:
        logger.info("%s; retrying in %.2fs", state.outcome.exception(), state.next_action.sleep)


def _holder_alive(exc: BaseException) -> bool:
    return isinstance(exc, StateLocked) and not exc.holder.get("dead", False)


def acquire_with_timeout(
    attempt: Callable[[], LockInfo], timeout: float, *, give_up_if_holder_dead: bool = False
) -> LockInfo:
    """Call ``attempt`` until it stops raising :class:`StateLocked` or ``timeout`` seconds pass.

    The first attempt is immediate (``timeout=0`` means exactly one), the last one happens at
    the deadline, and the last :class:`StateLocked` is raised as is, so the caller sees the
    latest holder. With ``give_up_if_holder_dead``, a holder reported dead ends the wait at once
    (for backends where nothing but ``force_unlock`` frees a dead holder's lock).
    """
    if timeout < 0:
        raise ValueError("lock timeout must be >= 0")

    def wait(state: RetryCallState) -> float:
        # Never sleep past the deadline, so the last attempt happens right at it.
        elapsed = state.seconds_since_start or 0.0  # set once an attempt has finished
        return max(0.0, min(_WAIT(state), timeout - elapsed))

    retrying = Retrying(
        retry=retry_if_exception(_holder_alive)
        if give_up_if_holder_dead
        else retry_if_exception_type(StateLocked),
        stop=stop_after_delay(timeout),
        wait=wait,
        before_sleep=_log_wait,
        reraise=True,
    )
    return retrying(attempt)
