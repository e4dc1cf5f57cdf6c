"""The plan: a value describing what ``apply`` would do, and why.

Kept apart from how it is computed (``planner``) and how it is shown (``planview``), as
Terraform keeps ``plans`` apart from its renderer.  A plan records the time it was made
(``created_at``), the state it was computed from (``state_lineage``/``state_serial``) and the
exact payloads it would send, so a saved plan can be applied later *exactly* or refused.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from orchestrator.desired import SendKind
from orchestrator.errors import Diagnostic

FORMAT_VERSION = "1.1"


class Action(enum.Enum):
    """What the plan does with one send key. The symbol is what every view prints."""

    SEND = ("send", "+")  # not in state, due now: sent on apply
    SCHEDULE = ("schedule", ">")  # not in state, in the future: scheduled in Pardot on apply
    NOOP = ("no-op", "=")  # already applied with the same fingerprint
    DEFER = ("defer", ".")  # a one-to-one send whose time has not come: nothing yet
    BLOCKED = ("blocked", "!")  # changed after it was sent or scheduled: cannot be changed via the API
    MISSED = ("missed", "x")  # its time passed without a send; never sent late unless --allow-late
    UNKNOWN = ("unknown", "?")  # an earlier apply could not learn the outcome; resolve first
    ORPHANED = ("orphaned", "-")  # in state, no longer in the files
    SKIPPED = ("skipped", "/")  # deliberately not sent (`state skip`) until its content changes
    DRIFTED = ("drifted", "~")  # recorded, but Pardot does not hold it as recorded (plan --refresh)

    def __init__(self, label: str, symbol: str) -> None:
        self.label = label
        self.symbol = symbol

    @property
    def is_change(self) -> bool:
        """True for the actions that call the API on apply."""
        return self in (Action.SEND, Action.SCHEDULE)

    @classmethod
    def from_label(cls, label: str) -> Action:
        for action in cls:
            if action.label == label:
                return action
        raise ValueError(f"unknown action {label!r}")


@dataclass(frozen=True)
class Audience:
    """How many prospects a list send will reach, and when that was counted (issue: preflight)."""

    recipients: int
    counted_at: datetime


@dataclass(frozen=True)
class Change:
    """One action on one send key.

    ``payload`` is the exact parameter set apply will send (``None`` for orphaned keys);
    ``prior`` summarises the state record (``None`` when the key is new); ``diff`` is a unified
    diff of rendered subject/text/html and of the other fields against the last applied payload.
    """

    action: Action
    key: str
    campaign: str
    kind: SendKind
    scheduled_time: datetime | None
    timezone: str
    payload: dict[str, Any] | None
    fingerprint: str | None
    reason: str = ""
    labels: dict[str, Any] = field(default_factory=dict)
    operational_reason: str | None = None
    prior: dict[str, Any] | None = None
    diff: tuple[str, ...] = ()
    audience: Audience | None = None
    max_recipients: int | None = None
    min_lead_time: timedelta = timedelta(minutes=10)
    source: str = ""
    loud: bool = False  # shown with emphasis: a scheduled orphan that will still go out
    late: bool = False  # a missed list send applied now because of --allow-late (no scheduled_time)
    over_cap: bool = False  # audience above max_recipients: sent only with apply --approve-large CAMPAIGN
    send_before: datetime | None = None  # a due one-to-one send: too late after this (policy.late_grace)

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", SendKind(self.kind))  # plan files carry the plain string


@dataclass(frozen=True)
class PlanSource:
    """What a plan was computed from, so ``apply FILE`` can prove it sends what was reviewed.

    ``desired_digest`` is the digest of every desired send (key -> payload fingerprint) the files
    gave; ``git_commit`` the checkout's HEAD (``None`` with ``note`` "not a git checkout" outside
    git), ``git_dirty`` whether tracked files differed from that commit.
    """

    desired_digest: str = ""
    git_commit: str | None = None
    git_dirty: bool | None = None
    note: str | None = None


def needs_attention(change: Change) -> bool:
    """True for a change a human must look at before the plan is fully carried out.

    Blocked, missed, unknown and drifted sends, orphans that will still go out or whose outcome is
    unknown, and sends held over ``max_recipients``: CI must not go green on any of these.
    """
    if change.action in (Action.BLOCKED, Action.MISSED, Action.UNKNOWN, Action.DRIFTED):
        return True
    return (change.action is Action.ORPHANED and change.loud) or change.over_cap


@dataclass(frozen=True)
class Refresh:
    """What ``plan --refresh`` read of Pardot (:mod:`orchestrator.refresh`).

    ``checked`` records were looked up with ``pages`` query pages (one request each), for list
    emails created since ``since``; ``not_checked`` sent or scheduled records were left out (one-
    to-one sends, history older than the lookback, records younger than the v5 cache); ``notes``
    are findings that need no one ("KEY: what was found"), such as an email deleted after it went
    out. Findings that need a human are ``drifted`` changes.
    """

    checked: int
    pages: int
    since: datetime | None
    not_checked: int = 0
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    """Everything ``apply`` needs, and everything a reviewer needs to approve it.

    ``state_lineage`` is None for a plan made where no state existed yet ("no state yet"): it
    is applied only while the state is still empty.
    """

    environment: str
    business_unit_id: str
    created_at: datetime
    expires_at: datetime
    state_lineage: str | None
    state_serial: int
    changes: tuple[Change, ...]
    problems: tuple[Diagnostic, ...] = ()
    allow_late: bool = False
    source: PlanSource = field(default_factory=PlanSource)
    format_version: str = FORMAT_VERSION
    refresh: Refresh | None = None  # None: Pardot was not read (plan without --refresh)

    @property
    def errored(self) -> bool:
        """A plan with validation or policy errors can be shown, never applied."""
        return any(p.severity == "error" for p in self.problems)

    @property
    def pending(self) -> tuple[Change, ...]:
        """The changes apply will perform, in order."""
        return tuple(c for c in self.changes if c.action.is_change)

    @property
    def has_changes(self) -> bool:
        return bool(self.pending)

    @property
    def applyable(self) -> bool:
        return self.has_changes and not self.errored

    @property
    def attention(self) -> tuple[Change, ...]:
        """The changes a human must look at (see :func:`needs_attention`), in plan order."""
        return tuple(c for c in self.changes if needs_attention(c))

    @property
    def needs_attention(self) -> bool:
        return bool(self.attention)

    def counts(self) -> dict[str, int]:
        """How many changes of each action label, in enum order."""
        out = {a.label: 0 for a in Action}
        for change in self.changes:
            out[change.action.label] += 1
        out["attention"] = len(self.attention)
        return out
