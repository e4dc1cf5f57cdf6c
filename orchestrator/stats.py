"""Statistics of the emails a project sent: which sends to ask about, and how to add them up.

The state knows which Pardot email each send became; Pardot knows what happened to it. This
module joins the two without doing I/O itself: :func:`sent_emails` picks the sends from state
records, :func:`gather_stats` asks a ``fetch`` callable (in practice
:meth:`PardotClient.email_stats`) for each one, and :func:`combine` / :func:`campaign_totals`
add rows up. The CLI (``orchestrator stats``) and the HTML report (:mod:`orchestrator.report`)
both consume the resulting :class:`StatsRow` values.

Which sends count: records with a Pardot email id whose status is ``sent`` or ``scheduled``
(a scheduled email whose time has not come yet still has a row; Pardot reports zeros for it).

One-to-one emails: Pardot documents the stats call for *list* emails only. A one-to-one send
is asked about like any other; when the API refuses (not found, or any refusal of the
request) the send is listed in :attr:`ProjectStats.skipped` with the reason instead of failing
the whole run. The same holds for a list email Pardot no longer knows. Failures that say
nothing about the email (credentials, daily quota, an unreadable answer, the network) are
raised: the statistics would be incomplete for reasons the user must fix.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from orchestrator.errors import ApiError, ApiNotFound, ApiValidationError, StateError
from orchestrator.pardot.decode import STATS_COUNT_FIELDS, STATS_RATE_FIELDS
from orchestrator.pardot.models import EmailStats
from orchestrator.state.models import SendRecord, SendStatus

__all__ = [
    "COUNT_FIELDS",
    "RATE_FIELDS",
    "ROW_FIELDS",
    "CampaignTotals",
    "ProjectStats",
    "SentEmail",
    "Skipped",
    "StatsRow",
    "campaign_totals",
    "check_campaigns",
    "combine",
    "gather_stats",
    "row_to_dict",
    "sent_emails",
    "stats_to_dict",
]

COUNT_FIELDS = STATS_COUNT_FIELDS
RATE_FIELDS = STATS_RATE_FIELDS
#: The columns of one row in JSON and CSV output, in order.
ROW_FIELDS: tuple[str, ...] = ("campaign", "key", "email_id", "kind", "status", "sent_at", *COUNT_FIELDS, *RATE_FIELDS)

#: Statuses whose email exists in Pardot: sent, or scheduled to be sent.
_DELIVERED_STATUSES = (SendStatus.SENT, SendStatus.SCHEDULED)
#: Refusals that concern one email, not the run: that email is skipped with a note.
_SKIPPABLE: tuple[type[ApiError], ...] = (ApiNotFound, ApiValidationError)


@dataclass(frozen=True)
class SentEmail:
    """A send from the state that names a Pardot email: what to ask Pardot about.

    ``sent_at`` is the scheduled time when there is one, else the time the send was first
    recorded (the intent written just before the API call): the moment it went out.
    """

    campaign: str
    key: str
    email_id: int
    kind: str  # "list" | "one-to-one"
    status: str  # "sent" | "scheduled"
    sent_at: datetime


@dataclass(frozen=True)
class StatsRow:
    """One send joined with Pardot's statistics for its email."""

    email: SentEmail
    stats: EmailStats


@dataclass(frozen=True)
class Skipped:
    """A send whose statistics Pardot would not give, and why."""

    email: SentEmail
    reason: str


@dataclass(frozen=True)
class ProjectStats:
    """Everything ``gather_stats`` learned: the rows, in send-time order, and the skips."""

    rows: tuple[StatsRow, ...]
    skipped: tuple[Skipped, ...] = ()


@dataclass(frozen=True)
class CampaignTotals:
    """A campaign's sends added up; rates recomputed from the summed counts."""

    campaign: str
    sends: int
    stats: EmailStats


def _kind(record: SendRecord) -> str:
    """List sends carry ``list_ids`` in their payload; one-to-one sends name a prospect."""
    return "list" if "list_ids" in record.payload else "one-to-one"


def sent_emails(records: Iterable[SendRecord], campaigns: Collection[str] | None = None) -> list[SentEmail]:
    """The sends of ``campaigns`` (None: every campaign) that became a Pardot email.

    Ordered by send time, then key, so output is stable from run to run.
    """
    chosen = [
        SentEmail(
            campaign=r.campaign,
            key=r.key,
            email_id=r.email_id,
            kind=_kind(r),
            status=r.status.value,
            sent_at=r.scheduled_time or r.created_at,
        )
        for r in records
        if r.email_id is not None
        and r.status in _DELIVERED_STATUSES
        and (campaigns is None or r.campaign in campaigns)
    ]
    return sorted(chosen, key=lambda e: (e.sent_at, e.key))


def check_campaigns(records: Iterable[SendRecord], names: Iterable[str]) -> None:
    """Refuse campaign names the state has never heard of: most likely a typo.

    A campaign that is in the state but sent nothing yet is fine (it simply has no rows).
    """
    known = {r.campaign for r in records}
    unknown = sorted(set(names) - known)
    if unknown:
        raise StateError(
            f"no send recorded in the state for campaign(s) {', '.join(unknown)}",
            hint="`orchestrator state list` shows what was sent; campaign names are the `name:` of each file",
        )


def gather_stats(
    emails: Sequence[SentEmail],
    fetch: Callable[[int], EmailStats],
    *,
    max_workers: int = 1,
) -> ProjectStats:
    """Ask ``fetch`` for each email's statistics; up to ``max_workers`` calls at a time.

    A refusal about one email (:data:`_SKIPPABLE`) skips it with a note; any other error
    propagates, since it would make every figure doubtful.
    """

    def one(email: SentEmail) -> StatsRow | Skipped:
        try:
            return StatsRow(email, fetch(email.email_id))
        except _SKIPPABLE as exc:
            return Skipped(email, exc.message)

    if max_workers > 1 and len(emails) > 1:
        with ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="stats") as pool:
            results = list(pool.map(one, emails))
    else:
        results = [one(e) for e in emails]
    return ProjectStats(
        rows=tuple(r for r in results if isinstance(r, StatsRow)),
        skipped=tuple(r for r in results if isinstance(r, Skipped)),
    )


def _percent(numerator: int, denominator: int) -> float:
    """A percentage with two decimals, half-up as Pardot shows it; 0 when nothing to divide."""
    if denominator == 0:
        return 0.0
    value = (Decimal(numerator) * 100 / Decimal(denominator)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return float(value)


def combine(stats: Iterable[EmailStats]) -> EmailStats:
    """Counts added up, rates recomputed from them with the seed's definitions.

    Averaging rates would weigh a 10-recipient send like a 10,000-recipient one; summing
    counts first does not. delivery_rate is against sent, click_open_ratio is clicks over
    opens, every other rate is against delivered (as the sandbox and the seed define them).
    """
    totals = dict.fromkeys(COUNT_FIELDS, 0)
    for item in stats:
        for name in COUNT_FIELDS:
            totals[name] += getattr(item, name)
    t = totals
    return EmailStats(
        **t,
        delivery_rate=_percent(t["delivered"], t["sent"]),
        opens_rate=_percent(t["unique_opens"], t["delivered"]),
        click_through_rate=_percent(t["total_clicks"], t["delivered"]),
        unique_click_through_rate=_percent(t["unique_clicks"], t["delivered"]),
        click_open_ratio=_percent(t["total_clicks"], t["opens"]),
        opt_out_rate=_percent(t["opt_outs"], t["delivered"]),
        spam_complaint_rate=_percent(t["spam_complaints"], t["delivered"]),
    )


def campaign_totals(rows: Iterable[StatsRow]) -> list[CampaignTotals]:
    """One :class:`CampaignTotals` per campaign, in campaign-name order."""
    by_campaign: dict[str, list[EmailStats]] = {}
    for row in rows:
        by_campaign.setdefault(row.email.campaign, []).append(row.stats)
    return [
        CampaignTotals(campaign=name, sends=len(items), stats=combine(items))
        for name, items in sorted(by_campaign.items())
    ]


def stats_to_dict(stats: EmailStats) -> dict[str, int | float]:
    """The 17 figures as a flat mapping, counts as ints and rates as floats."""
    return dataclasses.asdict(stats)


def row_to_dict(row: StatsRow, *, show: Callable[[str], str] = str) -> dict[str, Any]:
    """One row for JSON or CSV, with the keys of :data:`ROW_FIELDS` in that order.

    ``show`` is applied to the send key (which names the prospect for one-to-one sends), so
    callers can mask addresses.
    """
    e = row.email
    head: Mapping[str, Any] = {
        "campaign": e.campaign,
        "key": show(e.key),
        "email_id": e.email_id,
        "kind": e.kind,
        "status": e.status,
        "sent_at": e.sent_at.isoformat(),
    }
    return {**head, **stats_to_dict(row.stats)}
