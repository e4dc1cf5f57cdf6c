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
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from orchestrator.digest import digest

__all__ = [
    "APPLIED_STATUSES",
    "CI_RUN_ID_VARIABLES",
    "RECENT_OCCURRENCES",
    "UNRESOLVED_STATUSES",
    "Actor",
    "Approval",
    "Archived",
    "Browse",
    "JournalEntry",
    "LockInfo",
    "PlanningQuery",
    "RecordFilter",
    "SendRecord",
    "SendStatus",
    "StateSnapshot",
    "content_digest",
    "occurrence_digest",
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
    if type(value) is datetime and value.tzinfo is UTC:  # already UTC (every stored time): as it is
        return value
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
        if self._canonical():
            return
        _require_text(self.key, "SendRecord.key")
        _require_text(self.campaign, "SendRecord.campaign")
        _require_text(self.environment, "SendRecord.environment")
        _require_text(self.fingerprint, "SendRecord.fingerprint", empty_ok=True)
        if not isinstance(self.payload, Mapping):
            raise TypeError(f"SendRecord.payload must be a mapping, not {type(self.payload).__name__}")
        # SendStatus("sent") accepts both the enum and its value, so decoders can pass strings.
        if type(self.status) is not SendStatus:
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

    def _canonical(self) -> bool:
        """Whether every field is already valid and in its stored form (what a store reads back):
        one cheap test instead of the checks above, which say what is wrong when it is not."""
        scheduled = self.scheduled_time
        return (
            type(self.key) is str
            and type(self.campaign) is str
            and type(self.environment) is str
            and type(self.fingerprint) is str
            and self.key != ""
            and self.campaign != ""
            and self.environment != ""
            and type(self.status) is SendStatus
            and (self.email_id is None or type(self.email_id) is int)
            and (scheduled is None or (type(scheduled) is datetime and scheduled.tzinfo is UTC))
            and type(self.created_at) is datetime
            and self.created_at.tzinfo is UTC
            and type(self.updated_at) is datetime
            and self.updated_at.tzinfo is UTC
            and type(self.applied_by) is Actor
            and (self.error is None or type(self.error) is str)
            and isinstance(self.payload, Mapping)
        )


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


def content_digest(payload: Mapping[str, Any]) -> str:
    """What a send delivers, whatever its key: the digest of its payload without ``name`` (the key).

    Two sends with equal content digests mail the same email to the same people (a renamed
    campaign); the stores keep it beside each record, so the planner finds such a repeat by
    looking the digest up instead of reading every record.
    """
    return digest({k: v for k, v in payload.items() if k != "name"})


def occurrence_digest(payload: Mapping[str, Any]) -> str:
    """What one occurrence of a recurring campaign delivers, whatever its key and its time: the
    digest of its payload without ``name`` and ``scheduled_time``.

    Two occurrences of one campaign with equal occurrence digests mail the same email to the same
    people, a week apart: the second is the content a person already approved (pre-approved).
    Content that depends on changed data (an issue, a variable, the date rendered into it) gives
    another digest.
    """
    return digest({k: v for k, v in payload.items() if k not in ("name", "scheduled_time")})


@dataclass(frozen=True)
class Approval:
    """A person's approval of a recorded send's content: the send they approved (``key``: this
    one, or the earlier occurrence it was pre-approved as), who (``approved_by``, as recorded by
    the apply, see :func:`orchestrator.provenance.approver`) and when the approved apply wrote it."""

    key: str
    approved_by: str
    at: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", utc(self.at, what="Approval.at"))


@dataclass(frozen=True)
class StateSnapshot:
    """A consistent view of the state at one serial; a private copy, safe to mutate.

    ``lineage`` is None when there is no state yet (a read-only command found none): every
    send is new, and a plan made from it records that instead of a lineage.

    :meth:`StateStore.snapshot` gives every record (``first_seen`` None: the planner computes it
    from them). :meth:`StateStore.planning_view` gives only the records a plan can be decided
    from (see :class:`PlanningQuery`), with ``first_seen``, each asked campaign's earliest
    ``created_at`` (archive included), computed by the store. ``archived`` names the records
    read from the archive (``state archive``): still sends that happened, never orphans.
    ``approvals`` holds, for the recent applied occurrences of the recurring campaigns a planning
    view was asked about, the person's approval their content carries (none: nobody approved it).
    """

    lineage: str | None
    serial: int
    records: Mapping[str, SendRecord] = field(default_factory=dict)
    first_seen: Mapping[str, datetime] | None = None
    archived: frozenset[str] = frozenset()
    approvals: Mapping[str, Approval] = field(default_factory=dict)


#: Statuses of a send that went out, or may yet go out (the planner's "applied").
APPLIED_STATUSES = (SendStatus.SENT, SendStatus.SCHEDULED)
#: Statuses whose outcome nobody knows yet.
UNRESOLVED_STATUSES = (SendStatus.INTENT, SendStatus.UNKNOWN)


@dataclass(frozen=True)
class PlanningQuery:
    """What a plan needs of the state, so a store can read exactly that (never the whole history).

    Built by :func:`orchestrator.planner.planning_query` from the desired sends; a store answers
    it with :meth:`StateStore.planning_view`, in one read transaction, the records:

    * under ``keys`` (the desired keys), live or archived;
    * that could be orphans (``orphans``): applied or unresolved records of any campaign not in
      ``campaigns``, and those of ``campaigns`` scheduled or created after ``since``;
    * of each campaign in ``one_shot``: its two applied or unresolved records lowest by key,
      live and archived (a one-shot campaign already sent under another key);
    * applied (live or archived) whose content digest is in ``digests`` for a key that could
      be sent (no record, or failed or not sent): a repeat under another name;
    * of each campaign of ``recurring`` (key -> campaign, the cron list sends) with a key that
      could be sent: its :data:`RECENT_OCCURRENCES` applied records highest by key, live and
      archived, with the approval each carries (``StateSnapshot.approvals``): a pre-approved
      occurrence?

    and, for each of ``campaigns``, the earliest ``created_at`` of its records, archive included.
    """

    keys: frozenset[str] = frozenset()
    campaigns: frozenset[str] = frozenset()
    one_shot: frozenset[str] = frozenset()
    digests: Mapping[str, str] = field(default_factory=dict)
    since: datetime | None = None
    orphans: bool = True
    recurring: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of_keys(cls, keys: Iterable[str]) -> PlanningQuery:
        """Only the records under ``keys`` (and the lineage and serial): no orphans, no history."""
        return cls(keys=frozenset(keys), orphans=False)

    def candidate_digests(self, found: Mapping[str, SendRecord]) -> frozenset[str]:
        """The digests of the keys that could be sent, given the records ``found`` under ``keys``."""
        return frozenset(
            value
            for key, value in self.digests.items()
            if _could_send(found.get(key))
        )

    def candidate_campaigns(self, found: Mapping[str, SendRecord]) -> frozenset[str]:
        """The recurring campaigns with a key that could be sent, given the records ``found``."""
        return frozenset(campaign for key, campaign in self.recurring.items() if _could_send(found.get(key)))


def _could_send(record: SendRecord | None) -> bool:
    """Whether a desired key with this record (None: none) could be sent by a plan."""
    return record is None or record.status in (SendStatus.FAILED, SendStatus.NOT_SENT)


#: How many of a recurring campaign's latest applied occurrences a plan compares a new one with.
RECENT_OCCURRENCES = 8


@dataclass(frozen=True)
class RecordFilter:
    """Which records ``state list`` browses (every field narrows; empty ones do not).

    ``since``/``until`` bound ``created_at`` (since inclusive, until exclusive); ``prefix`` is a
    key prefix; ``archived`` browses the archive instead of the live records.
    """

    campaigns: frozenset[str] = frozenset()
    statuses: frozenset[SendStatus] = frozenset()
    since: datetime | None = None
    until: datetime | None = None
    prefix: str | None = None
    archived: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "statuses", frozenset(SendStatus(s) for s in self.statuses))
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, utc(value, what=f"RecordFilter.{name}"))

    def matches(self, record: SendRecord) -> bool:
        """Whether ``record`` passes the filter (the in-memory store's test, and the tests' model)."""
        return (
            (not self.campaigns or record.campaign in self.campaigns)
            and (not self.statuses or record.status in self.statuses)
            and (self.since is None or record.created_at >= self.since)
            and (self.until is None or record.created_at < self.until)
            and (self.prefix is None or record.key.startswith(self.prefix))
        )


@dataclass(frozen=True)
class Browse:
    """Records streamed from one read transaction, newest first (``created_at``, then key, descending).

    ``records`` yields them one by one (a database backend fetches a batch at a time, so memory
    stays flat however many there are); ``count()`` is how many match the filter, read in the
    same transaction. Valid only inside the ``with`` block of :meth:`StateStore.browse`.
    """

    lineage: str | None
    serial: int
    records: Iterator[SendRecord]
    count: Callable[[], int]


@dataclass(frozen=True)
class Archived:
    """What ``state archive`` moved: how many records, and the serial its journal entry made
    (the serial is unchanged when there was nothing to move)."""

    records: int
    serial: int


@dataclass(frozen=True)
class TemplateRecord:
    """An owned email template as the last apply left it, in this environment's state.

    ``fingerprint`` is the rendered template file's (:class:`orchestrator.templates_owned.OwnedTemplate`),
    so a plan tells a changed file without the API; ``remote_fingerprint`` is of what Pardot
    answered then, so a plan tells a template changed in Pardot since (drift) from one the
    project changed.
    """

    name: str
    template_id: int
    fingerprint: str
    remote_fingerprint: str
    applied_at: datetime
