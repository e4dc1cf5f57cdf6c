"""The planning view: the few records a plan is decided from, read by index, never the whole history.

A plan used to read every record ever written (``snapshot()``), so its cost grew with years of
sends. :class:`~orchestrator.state.models.PlanningQuery` says what the planner's rules can look
at; :func:`planning_view` answers it through the indexed reads a backend supplies
(:class:`PlanningReads`), inside one read transaction, so the view is consistent at one serial.
The assembly is written once here, so SQLite, PostgreSQL and memory select the same records.

Each read is an index lookup or a short index range, so a plan costs what the desired sends
and the recent past cost, whatever the history holds: records of the desired keys, of recent
occurrences, of campaigns no longer in the files (orphans), and of the few repeats looked up
by content digest.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from orchestrator.state.models import (
    APPLIED_STATUSES,
    RECENT_OCCURRENCES,
    UNRESOLVED_STATUSES,
    Approval,
    JournalEntry,
    PlanningQuery,
    SendRecord,
    StateSnapshot,
    content_digest,
)

__all__ = ["OPEN_STATUSES", "PlanningReads", "approvals_from", "planning_view", "scanned_view"]

#: Records an orphan or a one-shot campaign's earlier send can be: went out, or may have.
OPEN_STATUSES = (*APPLIED_STATUSES, *UNRESOLVED_STATUSES)


class PlanningReads(ABC):
    """The indexed reads of one backend, all inside the one read transaction of a planning view.

    ``archived`` is True when the archive may hold records (``state archive`` ran); otherwise
    the ``archive`` arguments are never True.
    """

    archived: bool = False

    @abstractmethod
    def by_keys(self, keys: list[str], *, archive: bool) -> list[SendRecord]:
        """The records under ``keys`` (live, or in the archive)."""

    @abstractmethod
    def first_created(self, campaign: str, *, archive: bool) -> datetime | None:
        """The earliest ``created_at`` of ``campaign``'s records (live, or in the archive)."""

    @abstractmethod
    def recent(self, campaigns: list[str], since: datetime) -> list[SendRecord]:
        """Live open records of ``campaigns`` scheduled after ``since`` or created after it."""

    @abstractmethod
    def campaigns(self) -> list[str]:
        """Every campaign with a live record (one index step per campaign)."""

    @abstractmethod
    def open_of(self, campaign: str) -> list[SendRecord]:
        """Every live open record of ``campaign``."""

    @abstractmethod
    def lowest_open(self, campaign: str, count: int, *, archive: bool) -> list[SendRecord]:
        """The ``count`` open records of ``campaign`` lowest by key (live, or in the archive)."""

    @abstractmethod
    def highest_applied(self, campaign: str, count: int, *, archive: bool) -> list[SendRecord]:
        """The ``count`` applied records of ``campaign`` highest by key (live, or in the archive)."""

    @abstractmethod
    def journal_of(self, keys: list[str]) -> list[JournalEntry]:
        """Every journal entry of ``keys``, in journal order (a few per key, read by key)."""

    @abstractmethod
    def applied_by_digests(self, digests: list[str], *, archive: bool) -> list[SendRecord]:
        """Applied records whose content digest is one of ``digests`` (live, or in the archive)."""


def planning_view(reads: PlanningReads, query: PlanningQuery, lineage: str | None, serial: int) -> StateSnapshot:
    """The records and first-seen times ``query`` asks for, as a :class:`StateSnapshot`.

    A live record wins over an archived one under the same key. Records are in key order, as in
    a full snapshot (the planner's rules take the first or last match in that order).
    """
    keys = sorted(query.keys)
    live = _keyed(reads.by_keys(keys, archive=False))
    archived: dict[str, SendRecord] = {}
    if reads.archived:
        archived = _keyed(r for r in reads.by_keys([k for k in keys if k not in live], archive=True))
    found = {**archived, **live}
    if query.orphans:
        live.update(_keyed(_orphan_candidates(reads, query)))
    for campaign in sorted(query.one_shot):
        live.update(_keyed(reads.lowest_open(campaign, 2, archive=False)))
        if reads.archived:
            archived.update(_keyed(reads.lowest_open(campaign, 2, archive=True)))
    digests = sorted(query.candidate_digests(found))
    if digests:
        live.update(_keyed(reads.applied_by_digests(digests, archive=False)))
        if reads.archived:
            archived.update(_keyed(reads.applied_by_digests(digests, archive=True)))
    recurring = query.candidate_campaigns(found)
    for campaign in sorted(recurring):
        live.update(_keyed(reads.highest_applied(campaign, RECENT_OCCURRENCES, archive=False)))
        if reads.archived:
            archived.update(_keyed(reads.highest_applied(campaign, RECENT_OCCURRENCES, archive=True)))
    archived = {key: record for key, record in archived.items() if key not in live}
    records = {**archived, **live}
    earlier = sorted(k for k, r in records.items() if r.campaign in recurring and r.status in APPLIED_STATUSES)
    return StateSnapshot(
        lineage=lineage,
        serial=serial,
        records={key: records[key] for key in sorted(records)},
        first_seen=_first_seen(reads, query.campaigns),
        archived=frozenset(archived),
        approvals=approvals_from(reads.journal_of(earlier), records) if earlier else {},
    )


def approvals_from(entries: Iterable[JournalEntry], records: Mapping[str, SendRecord]) -> dict[str, Approval]:
    """The person's approval each record's content carries, from its journal.

    The record's last journal entry must be an apply's (its ``apply`` detail, see
    :class:`orchestrator.provenance.Audit`): with an ``approved_by``, a person approved that deploy
    (on the record's ``updated_at``, the apply's own clock); with a ``pre_approved``, it was applied
    as the same content as an earlier approved occurrence, whose approval it carries on. Any other
    last write (a correction by hand, ``state accept``) carries none: a person re-approves.
    """
    last: dict[str, JournalEntry] = {}
    for entry in entries:
        if entry.key is not None:
            last[entry.key] = entry
    out: dict[str, Approval] = {}
    for key, entry in last.items():
        applied = entry.detail.get("apply")
        record = records.get(key)
        if isinstance(applied, Mapping) and record is not None:
            approval = _approval(key, applied, record.updated_at)
            if approval is not None:
                out[key] = approval
    return out


def _approval(key: str, applied: Mapping[str, Any], at: datetime) -> Approval | None:
    person = applied.get("approved_by")
    if isinstance(person, str) and person:
        return Approval(key, person, at)
    inherited = applied.get("pre_approved")
    if not isinstance(inherited, Mapping):
        return None
    original, person, then = inherited.get("key"), inherited.get("approved_by"), inherited.get("approved_at")
    if not (isinstance(original, str) and isinstance(person, str) and person and isinstance(then, str)):
        return None
    try:
        return Approval(original, person, datetime.fromisoformat(then))
    except (ValueError, TypeError):
        return None


def _orphan_candidates(reads: PlanningReads, query: PlanningQuery) -> Iterable[SendRecord]:
    """Open records the orphan rule may list: any of a campaign the files no longer have, and
    the recent ones of the others (scheduled within the lookback, or created since it began: a
    campaign whose every occurrence predates its first record has only such records)."""
    if query.since is not None and query.campaigns:
        yield from reads.recent(sorted(query.campaigns), query.since)
    for campaign in reads.campaigns():
        if campaign not in query.campaigns:
            yield from reads.open_of(campaign)


def _first_seen(reads: PlanningReads, campaigns: Iterable[str]) -> dict[str, datetime]:
    first: dict[str, datetime] = {}
    for campaign in sorted(campaigns):
        times = [reads.first_created(campaign, archive=False)]
        if reads.archived:
            times.append(reads.first_created(campaign, archive=True))
        known = [t for t in times if t is not None]
        if known:
            first[campaign] = min(known)
    return first


def _keyed(records: Iterable[SendRecord]) -> dict[str, SendRecord]:
    return {record.key: record for record in records}


def scanned_view(
    found: list[SendRecord], every: Iterable[SendRecord], query: PlanningQuery, lineage: str | None, serial: int
) -> StateSnapshot:
    """The same view, selected in one pass over ``every`` record: for a state written before the
    planning indexes and content digests existed (schema 1, opened read-only, so not upgraded).

    ``found`` are the records under ``query.keys`` (read first, by key), which say whose content
    could be a repeat. Only the records kept are held, however many ``every`` yields; no archive
    exists before schema 2. No journal is read here, so no approval is known: no occurrence is
    pre-approved until the state is upgraded (a person approves it, as before).
    """
    sendable = query.candidate_digests(_keyed(found))
    recurring = query.candidate_campaigns(_keyed(found))
    latest: dict[str, list[SendRecord]] = {}
    since = query.since
    chosen: dict[str, SendRecord] = {}
    lowest: dict[str, list[SendRecord]] = {}
    first: dict[str, datetime] = {}
    for record in every:
        campaign, status = record.campaign, record.status
        if campaign in query.campaigns and (campaign not in first or record.created_at < first[campaign]):
            first[campaign] = record.created_at
        if status in OPEN_STATUSES and campaign in query.one_shot:
            two = sorted([*lowest.get(campaign, []), record], key=lambda r: r.key)[:2]
            lowest[campaign] = two
        if status in APPLIED_STATUSES and campaign in recurring:
            top = sorted([*latest.get(campaign, []), record], key=lambda r: r.key, reverse=True)
            latest[campaign] = top[:RECENT_OCCURRENCES]
        recent = since is not None and (
            record.created_at > since or (record.scheduled_time is not None and record.scheduled_time > since)
        )
        if (
            record.key in query.keys
            or (query.orphans and status in OPEN_STATUSES and (campaign not in query.campaigns or recent))
            or (sendable and status in APPLIED_STATUSES and content_digest(record.payload) in sendable)
        ):
            chosen[record.key] = record
    for kept in (*lowest.values(), *latest.values()):
        chosen.update(_keyed(kept))
    return StateSnapshot(
        lineage=lineage,
        serial=serial,
        records={key: chosen[key] for key in sorted(chosen)},
        first_seen=first,
        archived=frozenset(),
    )
