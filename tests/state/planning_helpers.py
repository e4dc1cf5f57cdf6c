"""Builders for the planning-view tests: big histories loaded in bulk, and the full-scan model.

:func:`full_scan` is the definition a planning view must meet, written as one predicate per
record over a whole :meth:`StateStore.snapshot` (nothing of ``orchestrator.state.planning``),
so a backend's indexed reads are checked against an independent statement of what they select.
"""

from __future__ import annotations

import functools
import json
import random
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import psycopg

from orchestrator.state import InMemoryStateStore, SendRecord, SendStatus, StateSnapshot, StateStore
from orchestrator.state.codec import dump_actor, dump_json, dump_time
from orchestrator.state.models import RECENT_OCCURRENCES, PlanningQuery, content_digest
from tests.state.conftest import Backend
from tests.state.state_helpers import ALICE, T0

OPEN = (SendStatus.SENT, SendStatus.SCHEDULED, SendStatus.INTENT, SendStatus.UNKNOWN)
APPLIED = (SendStatus.SENT, SendStatus.SCHEDULED)

_COLUMNS = (
    "key", "campaign", "environment", "fingerprint", "payload", "status", "email_id", "scheduled_time",
    "created_at", "updated_at", "applied_by", "error", "content_digest",
)


@functools.cache
def history(count: int, *, campaigns: int = 200, seed: int = 7) -> tuple[SendRecord, ...]:
    """``count`` records over three years of ``campaigns`` campaigns: mostly sent or scheduled, some
    of every other status; some without a time; some sharing content (repeats under another key).
    In key order (so a bulk load inserts in index order); made once per arguments."""
    rng = random.Random(seed)
    statuses = [SendStatus.SENT] * 12 + [SendStatus.SCHEDULED] * 6 + [
        SendStatus.FAILED, SendStatus.NOT_SENT, SendStatus.INTENT, SendStatus.UNKNOWN,
    ]
    out = []
    for i in range(count):
        campaign = f"c{rng.randrange(campaigns):03d}"
        created = T0 + timedelta(minutes=rng.randrange(3 * 365 * 24 * 60))
        timed = rng.random() < 0.8
        key = f"{campaign}@{i:07d}" if timed else f"{campaign}/p{i:07d}"
        content = rng.randrange(count // 2) if rng.random() < 0.3 else i
        status = rng.choice(statuses)
        out.append(
            SendRecord(
                key=key,
                campaign=campaign,
                environment="prod",
                fingerprint=f"sha256:{i:x}",
                payload={"name": key, "subject": f"content {content}", "list_ids": [content % 5]},
                status=status,
                email_id=70000 + i if status in APPLIED else None,
                scheduled_time=created + timedelta(hours=rng.randrange(-48, 24 * 14)) if timed else None,
                created_at=created,
                updated_at=created,
                applied_by=ALICE,
            )
        )
    return tuple(sorted(out, key=lambda r: r.key))


def _row(record: SendRecord, *, times: bool) -> tuple[Any, ...]:
    def when(value: datetime | None) -> Any:
        return value if times or value is None else dump_time(value)

    return (
        record.key,
        record.campaign,
        record.environment,
        record.fingerprint,
        json.dumps(record.payload, separators=(",", ":")),  # plain values only: what dump_json writes
        record.status.value,
        record.email_id,
        when(record.scheduled_time),
        when(record.created_at),
        when(record.updated_at),
        dump_actor(record.applied_by),
        record.error,
        content_digest(record.payload),
    )


def bulk_load(backend: Backend, store: StateStore, records: Sequence[SendRecord]) -> None:
    """Write ``records`` straight into ``store``'s tables in one batch (executemany, COPY), with
    the columns the store writes itself; the serial is left alone (these are not writes under test)."""
    if backend.kind == "memory":
        assert isinstance(store, InMemoryStateStore)
        with store._write_txn("bulk load") as state:  # the skeleton's primitive, as put() uses it
            for record in records:
                store._upsert(state, record, dump_json(record.payload, what="payload"))
    elif backend.kind == "sqlite":
        assert backend.path is not None
        with sqlite3.connect(backend.path) as conn:
            conn.execute("PRAGMA cache_size = -262144")  # 256 MiB: six indexes stay in memory while loading
            conn.executemany(
                f"INSERT INTO sends ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
                (_row(r, times=False) for r in records),
            )
        conn.close()
    else:
        assert backend.dsn is not None
        columns = ", ".join(_COLUMNS)
        with (
            psycopg.connect(backend.dsn) as pg,
            pg.cursor() as cursor,
            cursor.copy(f"COPY orchestrator_sends ({columns}) FROM STDIN") as copy,
        ):
            for record in records:
                copy.write_row(_row(record, times=True))


def _highest_applied(records: Iterable[SendRecord], campaign: str) -> set[str]:
    keys = sorted((r.key for r in records if r.campaign == campaign and r.status in APPLIED), reverse=True)
    return set(keys[:RECENT_OCCURRENCES])


def _lowest_open(records: Iterable[SendRecord], campaign: str) -> set[str]:
    return set(sorted(r.key for r in records if r.campaign == campaign and r.status in OPEN)[:2])


def digests_of(snapshot: StateSnapshot) -> dict[str, str]:
    """Every record's content digest, by key (computed once for several :func:`full_scan` calls)."""
    return {key: content_digest(record.payload) for key, record in snapshot.records.items()}


def full_scan(
    snapshot: StateSnapshot, query: PlanningQuery, digests: Mapping[str, str] | None = None
) -> StateSnapshot:
    """What a planning view for ``query`` must hold, selected by a scan of the whole ``snapshot``."""
    records = snapshot.records
    digests = digests if digests is not None else digests_of(snapshot)
    live = [r for r in records.values() if r.key not in snapshot.archived]
    old = [r for r in records.values() if r.key in snapshot.archived]
    sendable = {
        digest
        for key, digest in query.digests.items()
        if key not in records or records[key].status in (SendStatus.FAILED, SendStatus.NOT_SENT)
    }
    firsts = {key for c in query.one_shot for group in (live, old) for key in _lowest_open(group, c)}
    recurring = query.candidate_campaigns(records)
    latest = {key for c in recurring for group in (live, old) for key in _highest_applied(group, c)}

    def wanted(r: SendRecord) -> bool:
        archived = r.key in snapshot.archived
        since = query.since
        scheduled = r.scheduled_time
        recent = since is not None and (r.created_at > since or (scheduled is not None and scheduled > since))
        return (
            r.key in query.keys
            or (query.orphans and not archived and r.status in OPEN and (r.campaign not in query.campaigns or recent))
            or r.key in firsts
            or r.key in latest
            or (r.status in APPLIED and digests[r.key] in sendable)
        )

    chosen = {key: r for key, r in records.items() if wanted(r)}
    first: dict[str, datetime] = {}
    for r in records.values():
        if r.campaign in query.campaigns and (r.campaign not in first or r.created_at < first[r.campaign]):
            first[r.campaign] = r.created_at
    return StateSnapshot(
        lineage=snapshot.lineage,
        serial=snapshot.serial,
        records=chosen,
        first_seen=first,
        archived=frozenset(k for k in chosen if k in snapshot.archived),
    )
