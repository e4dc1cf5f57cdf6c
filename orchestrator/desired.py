"""The desired send: the value the planner reconciles with state, and its payload fingerprint.

A leaf module on purpose: the planner, plan files and apply need these values without the
machinery that produces them (YAML, JSON Schema, Jinja, cron in :mod:`orchestrator.desired_sends`).

A desired send is one email that Pardot should have sent (or scheduled) exactly once.  Its
``key`` is stable across runs:

* ``<name>@<UTC time>`` for list sends with ``at:`` or ``cron:`` (one per occurrence),
* ``<name>@now`` for list sends with ``now: true`` (or no schedule),
* ``<name>/<prospect>`` for one-to-one sends (one per prospect).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from orchestrator.digest import digest

__all__ = ["DesiredSend", "ScheduleKind", "SendKind", "fingerprint"]


class SendKind(enum.StrEnum):
    """Which Pardot send an email is: a list email, or a one-to-one email to one prospect."""

    LIST = "list"
    ONE_TO_ONE = "one-to-one"


class ScheduleKind(enum.StrEnum):
    """How a send's time is given: once (``at:``), every cron occurrence, or on apply (``now``)."""

    AT = "at"
    CRON = "cron"
    NOW = "now"


@dataclass(frozen=True)
class DesiredSend:
    """One email the files ask for. ``payload`` holds the exact Pardot API parameters."""

    key: str
    campaign: str
    kind: SendKind
    source: str  # display path of the campaign file
    schedule_kind: ScheduleKind
    scheduled_time: datetime | None  # aware UTC; None = on apply
    timezone: str
    payload: dict[str, Any]
    labels: dict[str, Any] = field(default_factory=dict)  # human names next to ids, for plans
    operational_reason: str | None = None
    max_recipients: int | None = None
    min_lead_time: timedelta = timedelta(minutes=10)
    #: Why this occurrence is not ready to send (its issue has no content yet); its payload then
    #: holds no content, and the planner defers it (or reports it missed once its time passed).
    waiting: str | None = None

    def __post_init__(self) -> None:
        # Callers may pass the plain strings ("list", "cron"): stored as the enums either way.
        object.__setattr__(self, "kind", SendKind(self.kind))
        object.__setattr__(self, "schedule_kind", ScheduleKind(self.schedule_kind))

    @property
    def fingerprint(self) -> str:
        """A digest of everything that reaches Pardot; equal fingerprints mean an identical email."""
        return fingerprint(self.payload)

    @property
    def subject(self) -> str | None:
        return self.payload.get("subject")

    @property
    def text(self) -> str | None:
        return self.payload.get("text_content")

    @property
    def html(self) -> str | None:
        return self.payload.get("html_content")


def fingerprint(payload: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of ``payload``."""
    return digest(payload)

