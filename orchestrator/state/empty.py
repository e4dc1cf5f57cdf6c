"""No state yet: what a read-only command sees where the state was never created.

``plan`` (and the other commands that only read) must not create a state: on a pull request
they run with read-only credentials, and a state made by a plan would also change what the
next apply takes for "the state the plan was made against". So a read-only open of a state that
does not exist yet returns this store: an empty snapshot without a lineage, in which every send
is new. It refuses every write; the first ``apply`` creates the real state.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from orchestrator.state.models import (
    Actor,
    Archived,
    Browse,
    JournalEntry,
    LockInfo,
    PlanningQuery,
    RecordFilter,
    SendRecord,
    StateSnapshot,
    TemplateRecord,
)
from orchestrator.state.skeleton import read_only_error

__all__ = ["NoStateYet"]


class NoStateYet:
    """A :class:`~orchestrator.state.base.StateStore` for a state that does not exist yet."""

    created = False
    read_only = True

    def __init__(self, location: str) -> None:
        self._location = location

    def __repr__(self) -> str:
        return f"NoStateYet({self._location!r})"

    @property
    def location(self) -> str:
        """Where the state would be (never a secret)."""
        return self._location

    def snapshot(self) -> StateSnapshot:
        return StateSnapshot(lineage=None, serial=0, records={})

    def planning_view(self, query: PlanningQuery) -> StateSnapshot:
        return StateSnapshot(lineage=None, serial=0, records={}, first_seen={})

    @contextlib.contextmanager
    def browse(self, where: RecordFilter = RecordFilter(), *, payloads: bool = True) -> Iterator[Browse]:
        yield Browse(None, 0, iter(()), lambda: 0)

    def get(self, key: str) -> SendRecord | None:
        return None

    def templates(self) -> dict[str, TemplateRecord]:
        return {}

    def put_template(self, record: TemplateRecord, *, actor: Actor | None = None) -> int:
        raise read_only_error(f"the state at {self._location} (not created yet)", f"record template {record.name}")

    def journal(self, key: str | None = None) -> list[JournalEntry]:
        return []

    def iter_journal(self, key: str | None = None) -> Iterator[JournalEntry]:
        return iter(())

    def journal_tail(self, key: str | None, count: int) -> tuple[list[JournalEntry], int]:
        return [], 0

    def last_entry(self, action: str) -> JournalEntry | None:
        return None

    def current_lock(self) -> LockInfo | None:
        return None

    def put(
        self,
        record: SendRecord,
        *,
        action: str,
        detail: Mapping[str, Any] | None = None,
        actor: Actor | None = None,
    ) -> int:
        raise read_only_error(f"the state at {self._location} (not created yet)", f"record {record.key}")

    def append_journal(
        self,
        *,
        key: str | None,
        action: str,
        detail: Mapping[str, Any] | None = None,
        actor: Actor | None = None,
    ) -> int:
        raise read_only_error(f"the state at {self._location} (not created yet)", "append to the journal")

    def archive(self, before: datetime, *, now: datetime, actor: Actor | None = None) -> Archived:
        raise read_only_error(f"the state at {self._location} (not created yet)", "archive records")

    def lock(self, operation: str, *, timeout: float = 0.0) -> contextlib.AbstractContextManager[LockInfo]:
        raise read_only_error(f"the state at {self._location} (not created yet)", "take the state lock")

    def force_unlock(self, lock_id: str) -> None:
        raise read_only_error(f"the state at {self._location} (not created yet)", "break the state lock")

    def close(self) -> None:
        """Nothing was opened."""
