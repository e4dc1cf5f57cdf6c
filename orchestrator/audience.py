"""Audience preflight: how many prospects each list send will reach, before it goes.

The mailable audience of a list send is every prospect on any of its lists (each counted once),
minus those on its suppression lists, minus opted-out prospects unless the send is operational:
the same rule Pardot applies when it sends.

Counting is pure (:class:`AudienceIndex`); gathering the data is I/O (:func:`fetch_index`): one
list-membership export and one prospect export per run (cut into windows of under a year, the
Export API's limit), however many sends the plan holds.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from orchestrator.atomic import PRIVATE, write_text
from orchestrator.errors import ExportError
from orchestrator.export.merge import iter_csv_rows
from orchestrator.export.request import ExportRequest, build_request
from orchestrator.export.runner import ExportApi, ExportRunner, PollPolicy
from orchestrator.export.windows import split_request
from orchestrator.plan import Audience, Change, Plan
from orchestrator.usercache import cache_root


@dataclass
class AudienceIndex:
    """List memberships and prospect opt-outs, as exported at ``counted_at``."""

    counted_at: datetime
    members: dict[int, set[int]] = field(default_factory=dict)  # list id -> prospect ids
    prospects: set[int] = field(default_factory=set)  # prospects that exist (not deleted)
    opted_out: set[int] = field(default_factory=set)

    def count(self, list_ids: Iterable[int], suppression_ids: Iterable[int], operational: bool) -> int:
        """The number of distinct prospects the send reaches."""
        audience: set[int] = set()
        for list_id in list_ids:
            audience |= self.members.get(list_id, set())
        audience &= self.prospects
        for list_id in suppression_ids:
            audience -= self.members.get(list_id, set())
        if not operational:
            audience -= self.opted_out
        return len(audience)


def _rows(header_and_rows: Iterator[list[str]]) -> Iterator[dict[str, str]]:
    header = next(header_and_rows, None)
    if header is None:
        return
    for row in header_and_rows:
        yield dict(zip(header, row, strict=False))


def add_membership_rows(index: AudienceIndex, rows: Iterable[dict[str, str]]) -> None:
    """Fold list-membership CSV rows (``list_id``, ``prospect_id``) into ``index``."""
    for row in rows:
        index.members.setdefault(int(row["list_id"]), set()).add(int(row["prospect_id"]))


def add_prospect_rows(index: AudienceIndex, rows: Iterable[dict[str, str]]) -> None:
    """Fold prospect CSV rows (``id``, ``opted_out``) into ``index``."""
    for row in rows:
        prospect = int(row["id"])
        index.prospects.add(prospect)
        if row.get("opted_out", "").strip().lower() in ("1", "true"):
            index.opted_out.add(prospect)


def audience_requests(since: str, *, now: datetime, tz: ZoneInfo) -> tuple[list[ExportRequest], list[ExportRequest]]:
    """The membership and prospect export requests covering everything created after ``since``."""
    members = build_request(
        "listMembership",
        "filter_by_created_at",
        [("created_after", since)],
        ["list_id", "prospect_id"],
        now=now,
        tz=tz,
        allow_long_range=True,
    )
    prospects = build_request(
        "prospect",
        "filter_by_created_at",
        [("created_after", since)],
        ["id", "opted_out"],
        now=now,
        tz=tz,
        allow_long_range=True,
    )
    return split_request(members, now=now, tz=tz), split_request(prospects, now=now, tz=tz)


def fetch_index(
    api: ExportApi,
    *,
    since: str,
    now: datetime,
    tz: ZoneInfo,
    policy: PollPolicy,
    sleep: Callable[[float], None],
    clock: Callable[[], datetime],
) -> AudienceIndex:
    """Run the exports, stream every result file into an :class:`AudienceIndex`."""
    member_requests, prospect_requests = audience_requests(since, now=now, tz=tz)
    runner = ExportRunner(api, policy=policy, sleep=sleep, clock=clock)
    jobs = runner.run([*member_requests, *prospect_requests])
    index = AudienceIndex(counted_at=now)
    for position, job in enumerate(jobs):
        fold = add_membership_rows if position < len(member_requests) else add_prospect_rows
        for url in job.result_refs:
            try:
                with api.export_download(url) as chunks:
                    fold(index, _rows(iter_csv_rows(chunks)))
            except (KeyError, ValueError) as exc:
                raise ExportError(f"export {job.id} has an unexpected CSV layout: {exc}") from exc
    return index


def with_audience(plan: Plan, index: AudienceIndex) -> Plan:
    """``plan`` with each list send's audience counted and sends above ``max_recipients`` marked.

    A marked send (``over_cap``) is only sent when its campaign is approved by name with
    ``apply --approve-large NAME``; the approval is journaled.
    """
    changes: list[Change] = []
    for change in plan.changes:
        payload = change.payload
        if change.kind != "list" or not payload:
            changes.append(change)
            continue
        count = index.count(
            payload.get("list_ids") or [],
            payload.get("suppression_list_ids") or [],
            bool(payload.get("operational_email")),
        )
        cap = change.max_recipients
        changes.append(
            dataclasses.replace(
                change,
                audience=Audience(count, index.counted_at),
                over_cap=change.action.is_change and cap is not None and count > cap,
            )
        )
    return dataclasses.replace(plan, changes=tuple(changes))


#: How long one run's export results serve later runs: each count starts 8 exports, and a
#: plan, its review re-plan and the apply on merge follow each other within minutes.
REUSE_WINDOW = timedelta(minutes=15)


def cache_path(key: str, environ: Mapping[str, str] | None = None) -> Path | None:
    """Where the counts for ``key`` wait for the next run: in the user's cache folder, never in
    the checkout (a pull request could commit a file there that lifts a ``max_recipients`` hold).

    ``ORCHESTRATOR_CACHE_DIR`` names the folder; else ``$XDG_CACHE_HOME/orchestrator``, else
    ``~/.cache/orchestrator``. ``None`` (no reuse) when there is no home to find it in.
    """
    base = cache_root(environ)
    if base is None:
        return None
    name = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    return base / "audience" / f"{name}.json"


def save_index(path: Path, index: AudienceIndex, *, key: str) -> None:
    """Keep ``index`` for :func:`load_index` (prospect ids only, no addresses; owner-only file)."""
    document = {
        "key": key,
        "counted_at": index.counted_at.isoformat(),
        "members": {str(list_id): sorted(ids) for list_id, ids in index.members.items()},
        "prospects": sorted(index.prospects),
        "opted_out": sorted(index.opted_out),
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text(path, json.dumps(document, separators=(",", ":")), mode=PRIVATE)
    except OSError:
        pass  # a cache that cannot be written only costs the next run its exports


def load_index(path: Path, *, key: str, now: datetime, window: timedelta = REUSE_WINDOW) -> AudienceIndex | None:
    """The index saved for ``key`` if it was counted within ``window`` before ``now``; else None.

    Anything unreadable, for another environment or ``audience_since``, or counted "in the
    future" (another clock) is ignored, never trusted: the exports simply run again.
    """
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.get("key") != key:
            return None
        counted_at = datetime.fromisoformat(document["counted_at"])
        if not timedelta(0) <= now - counted_at <= window:
            return None
        return AudienceIndex(
            counted_at=counted_at,
            members={int(k): {int(i) for i in v} for k, v in document["members"].items()},
            prospects={int(i) for i in document["prospects"]},
            opted_out={int(i) for i in document["opted_out"]},
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
