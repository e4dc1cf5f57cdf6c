"""The values the state store holds: send records, journal entries, lock holders, snapshots.

All are frozen dataclasses so they can be passed between threads and compared safely. Every
datetime is timezone-aware and normalised to UTC on construction: the two database backends
store instants, not wall-clock readings, and a record must read back equal to what was written.
"""

from __future__ import annotations

import enum
import getpass
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "CI_RUN_ID_VARIABLES",
    "Actor",
    "JournalEntry",
    "LockInfo",
    "SendRecord",
    "SendStatus",
    "StateSnapshot",
    "utc",
]

#: Environment variables naming the CI run, in the order they are tried. The first one set wins;
#: ``ORCHESTRATOR_CI_RUN_ID`` lets any other CI system say who it is.
CI_RUN_ID_VARIABLES: tuple[str, ...] = (
    "ORCHESTRATOR_CI_RUN_ID",
    "GITHUB_RUN_ID",  # GitHub Actions
    "CI_PIPELINE_ID",  # GitLab CI
    "BUILD_ID",  # Jenkins, Google Cloud Build
    "BUILDKITE_BUILD_ID",  # Buildkite
    "CIRCLE_WORKFLOW_ID",  # CircleCI
    "BUILD_BUILDID",  # Azure Pipelines
    "CODEBUILD_BUILD_ID",  # AWS CodeBuild
)


class SendStatus(enum.StrEnum):
    """Where a send stands, as far as the orchestrator knows.

    ``INTENT`` is written *before* the API call, so a crash between the call and the answer
    leaves a trace; ``UNKNOWN`` means the call went out and no answer proves what happened.
    """

    INTENT = "intent"
    SENT = "sent"
    SCHEDULED = "scheduled"
    FAILED = "failed"
    UNKNOWN = "unknown"
    NOT_SENT = "not-sent"


def utc(value: datetime, *, what: str = "datetime") -> datetime:
    """``value`` converted to UTC; naive datetimes are refused, since their instant is a guess."""
    if not isinstance(value, datetime):
        raise TypeError(f"{what} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(UTC)


def _require_text(value: object, what: str, *, empty_ok: bool = False) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    if not value and not empty_ok:
        raise ValueError(f"{what} must not be empty")


@dataclass(frozen=True)
class Actor:
    """Who did something: an OS user on a host, possibly inside a CI run."""

    user: str
    host: str
    ci_run_id: str | None = None

    def __post_init__(self) -> None:
        _require_text(self.user, "Actor.user", empty_ok=True)
        _require_text(self.host, "Actor.host", empty_ok=True)
        if self.ci_run_id is not None:
            _require_text(self.ci_run_id, "Actor.ci_run_id")

    @classmethod
    def current(cls, environ: Mapping[str, str] | None = None) -> Actor:
        """The actor running this process, from the OS user, host name and CI variables."""
        env = os.environ if environ is None else environ
        try:
            user = getpass.getuser()
        except (OSError, KeyError):  # no login name and no passwd entry (bare containers)
            user = f"uid-{os.getuid()}"
        ci_run_id = next((env[name] for name in CI_RUN_ID_VARIABLES if env.get(name)), None)
        return cls(user=user, host=socket.gethostname(), ci_run_id=ci_run_id)

    def to_dict(self) -> dict[str, str | None]:
        """JSON-shaped form, as stored."""
        return {"user": self.user, "host": self.host, "ci_run_id": self.ci_run_id}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Actor:
        """Inverse of :meth:`to_dict`."""
        return cls(user=data["user"], host=data["host"], ci_run_id=data.get("ci_run_id"))

    def describe(self) -> str:
        """``user@host`` plus the CI run when there is one: for messages."""
        text = f"{self.user}@{self.host}"
        return f"{text} (CI run {self.ci_run_id})" if self.ci_run_id else text


@dataclass(frozen=True)
class SendRecord:
    """The orchestrator's memory of one send (a list send or a one-to-one send).

    ``key`` is opaque here (``<name>@<UTC ISO time>`` or ``<name>/<prospect>``); ``payload`` is
    the exact JSON object sent. The store never shares ``payload`` with its caller: it is
    copied on the way in and on the way out.
    """

    key: str
    campaign: str
    environment: str
    fingerprint: str
    payload: Mapping[str, Any]
    status: SendStatus
    email_id: int | None
    scheduled_time: datetime | None
    created_at: datetime
    updated_at: datetime
    applied_by: Actor
    error: str | None = None

    def __post_init__(self) -> None:
        _require_text(self.key, "SendRecord.key")
        _require_text(self.campaign, "SendRecord.campaign")
        _require_text(self.environment, "SendRecord.environment")
        _require_text(self.fingerprint, "SendRecord.fingerprint", empty_ok=True)
        if not isinstance(self.payload, Mapping):
            raise TypeError(f"SendRecord.payload must be a mapping, not {type(self.payload).__name__}")
        # SendStatus("sent") accepts both the enum and its value, so decoders can pass strings.
        object.__setattr__(self, "status", SendStatus(self.status))
        if self.email_id is not None and (
            isinstance(self.email_id, bool) or not isinstance(self.email_id, int)
        ):
            raise TypeError(f"SendRecord.email_id must be an int or None, not {self.email_id!r}")
        if self.scheduled_time is not None:
            object.__setattr__(
                self, "scheduled_time", utc(self.scheduled_time, what="SendRecord.scheduled_time")
            )
        object.__setattr__(self, "created_at", utc(self.created_at, what="SendRecord.created_at"))
        object.__setattr__(self, "updated_at", utc(self.updated_at, what="SendRecord.updated_at"))
        if not isinstance(self.applied_by, Actor):
            raise TypeError("SendRecord.applied_by must be an Actor")
        if self.error is not None:
            _require_text(self.error, "SendRecord.error", empty_ok=True)


@dataclass(frozen=True)
class JournalEntry:
    """One line of the append-only journal.

    ``seq`` equals the state serial that the write producing this entry created, so the journal
    tells which version of the state each action made.
    """

    seq: int
    at: datetime
    key: str | None
    action: str
    detail: Mapping[str, Any]
    actor: Actor

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", utc(self.at, what="JournalEntry.at"))


@dataclass(frozen=True)
class LockInfo:
    """Who holds the state lock, for what, since when; ``lock_id`` is what unlocking needs."""

    lock_id: str
    operation: str
    actor: Actor
    pid: int
    acquired_at: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "acquired_at", utc(self.acquired_at, what="LockInfo.acquired_at"))

    def to_dict(self) -> dict[str, Any]:
        """JSON-shaped form: for journal details and :attr:`StateLocked.holder`."""
        return {
            "lock_id": self.lock_id,
            "operation": self.operation,
            "actor": self.actor.to_dict(),
            "pid": self.pid,
            "acquired_at": self.acquired_at.isoformat(),
        }


@dataclass(frozen=True)
class StateSnapshot:
    """A consistent view of the whole state at one serial; a private copy, safe to mutate.

    ``lineage`` is None when there is no state yet (a read-only command found none): every
    send is new, and a plan made from it records that instead of a lineage.
    """

    lineage: str | None
    serial: int
    records: Mapping[str, SendRecord] = field(default_factory=dict)
