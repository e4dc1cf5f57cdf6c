"""The desired send: the value the planner reconciles with state, and its payload fingerprint.

A leaf module on purpose: the planner, plan files and apply need these values without the
machinery that produces them (YAML, JSON Schema, Jinja, cron in :mod:`orchestrator.sends`).

A desired send is one email that Pardot should have sent (or scheduled) exactly once.  Its
``key`` is stable across runs:

* ``<name>@<UTC time>`` for list sends with ``at:`` or ``cron:`` (one per occurrence),
* ``<name>@now`` for list sends with ``now: true`` (or no schedule),
* ``<name>/<prospect>`` for one-to-one sends (one per prospect).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from orchestrator.digest import digest

__all__ = ["DesiredSend", "fingerprint"]


@dataclass(frozen=True)
class DesiredSend:
    """One email the files ask for. ``payload`` holds the exact Pardot API parameters."""

    key: str
    campaign: str
    kind: str  # "list" | "one-to-one"
    source: str  # display path of the campaign file
    schedule_kind: str  # "at" | "cron" | "now"
    scheduled_time: datetime | None  # aware UTC; None = on apply
    timezone: str
    payload: dict[str, Any]
    labels: dict[str, Any] = field(default_factory=dict)  # human names next to ids, for plans
    operational_reason: str | None = None
    max_recipients: int | None = None
    min_lead_time: timedelta = timedelta(minutes=10)

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

