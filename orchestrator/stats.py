"""Statistics of the emails a project sent: which sends to ask about, and how to add them up.

The state knows which Pardot email each send became; Pardot knows what happened to it. This
module joins the two without doing I/O itself: :func:`sent_emails` picks the sends from state
records, :func:`gather_stats` asks a ``fetch`` callable (in practice
:meth:`PardotClient.email_stats`) for each one, and :func:`combine` / :func:`campaign_totals`
add rows up. The CLI (``orchestrator stats``) and the HTML report (:mod:`orchestrator.report`)
both consume the resulting :class:`StatsRow` values.

Which sends count: records with a Pardot email id whose status is ``sent`` or ``scheduled``
(a scheduled email whose time has not come yet still has a row; real Pardot answers ``null``
for its figures, which decode as unknown and show as ``—``, and add nothing to the totals).

One-to-one emails: Pardot documents the stats call for *list* emails only. A one-to-one send
is asked about like any other; when the API refuses (not found, or any refusal of the
request) the send is listed in :attr:`ProjectStats.skipped` with the reason instead of failing
the whole run. The same holds for a list email Pardot no longer knows. Failures that say
nothing about the email (credentials, daily quota, an unreadable answer, the network) are
raised: the statistics would be incomplete for reasons the user must fix.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from orchestrator.errors import ApiError, ApiNotFound, ApiValidationError, StateError
from orchestrator.pardot.models import STATS_COUNT_FIELDS, STATS_RATE_FIELDS, EmailStats
from orchestrator.state.models import SendRecord, SendStatus

__all__ = [
    "COUNT_FIELDS",
    "RATE_FIELDS",
    "ROW_FIELDS",
    "UNKNOWN_FIGURE",
    "CampaignTotals",
    "ProjectStats",
    "SentEmail",
    "Skipped",
    "StatsRow",
    "bounces",
    "campaign_totals",
    "check_campaigns",
    "check_known_campaigns",
    "combine",
    "gather_stats",
    "row_to_dict",
    "sent_emails",
    "show_count",
    "show_rate",
    "stats_to_dict",
]

#: What people see for a figure Pardot did not give (JSON null): never a made-up zero.
UNKNOWN_FIGURE = "—"

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
    check_known_campaigns({r.campaign for r in records}, names)


def check_known_campaigns(known: Collection[str], names: Iterable[str]) -> None:
    """:func:`check_campaigns` given the campaigns the state knows (read while streaming it)."""
    unknown = sorted(set(names) - set(known))
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
    name_of: Callable[[int], str] | None = None,
) -> ProjectStats:
    """Ask ``fetch`` for each email's statistics; up to ``max_workers`` calls at a time.

    A refusal about one email (:data:`_SKIPPABLE`) skips it with a note; any other error
    propagates, since it would make every figure doubtful. With ``name_of`` (the email's name
    in Pardot), an email whose name is not the send's key is skipped too: the id names another
    email now (ids reused after a sandbox reset, a record resolved with a wrong id), and its
    figures would be counted for a send they do not belong to.
    """

    def one(email: SentEmail) -> StatsRow | Skipped:
        try:
            if name_of is not None:
                name = name_of(email.email_id)
                if name != email.key:
                    return Skipped(email, f"email {email.email_id} is named {name!r} in Pardot, not {email.key!r}: "
                                   "the id names another email, so its figures are not this send's")  # fmt: skip
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


#: Each recomputed rate and the two counts it is made of (the seed's definitions).
_RATE_PARTS: dict[str, tuple[str, str]] = {
    "delivery_rate": ("delivered", "sent"),
    "opens_rate": ("unique_opens", "delivered"),
    "click_through_rate": ("total_clicks", "delivered"),
    "unique_click_through_rate": ("unique_clicks", "delivered"),
    "click_open_ratio": ("unique_clicks", "unique_opens"),
    "opt_out_rate": ("opt_outs", "delivered"),
    "spam_complaint_rate": ("spam_complaints", "delivered"),
}


def combine(stats: Iterable[EmailStats]) -> EmailStats:
    """Counts added up, rates recomputed from them with the seed's definitions.

    Averaging rates would weigh a 10-recipient send like a 10,000-recipient one; summing
    counts first does not. delivery_rate is against sent, click_open_ratio is unique clicks over
    unique opens (Account Engagement's ClickToOpenRatio), every other rate is against delivered.
    A count stays unknown only when no input knew it (an unknown figure adds nothing); a rate
    is unknown when either of its counts is.
    """
    items = list(stats)
    totals = {name: sum(getattr(item, name) for item in items) for name in COUNT_FIELDS}
    unknown = {name for name in COUNT_FIELDS if items and all(name in item.unknown for item in items)}
    rates = {name: _percent(totals[num], totals[den]) for name, (num, den) in _RATE_PARTS.items()}
    unknown |= {name for name, parts in _RATE_PARTS.items() if unknown & set(parts)}
    return EmailStats(
        sent=totals["sent"],
        delivered=totals["delivered"],
        total_clicks=totals["total_clicks"],
        unique_clicks=totals["unique_clicks"],
        soft_bounced=totals["soft_bounced"],
        hard_bounced=totals["hard_bounced"],
        opt_outs=totals["opt_outs"],
        spam_complaints=totals["spam_complaints"],
        opens=totals["opens"],
        unique_opens=totals["unique_opens"],
        delivery_rate=rates["delivery_rate"],
        opens_rate=rates["opens_rate"],
        click_through_rate=rates["click_through_rate"],
        unique_click_through_rate=rates["unique_click_through_rate"],
        click_open_ratio=rates["click_open_ratio"],
        opt_out_rate=rates["opt_out_rate"],
        spam_complaint_rate=rates["spam_complaint_rate"],
        unknown=frozenset(unknown),
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


def stats_to_dict(stats: EmailStats) -> dict[str, int | float | None]:
    """The 17 figures as a flat mapping, counts as ints and rates as floats; None when unknown."""
    return {name: stats.figure(name) for name in (*COUNT_FIELDS, *RATE_FIELDS)}


def show_count(value: int | float | None) -> str:
    """A count for people: ``1,024``, or ``—`` when Pardot did not give it."""
    return UNKNOWN_FIGURE if value is None else f"{int(value):,}"


def show_rate(value: int | float | None, suffix: str = "") -> str:
    """A rate for people: ``98.42`` (plus ``suffix``), or ``—`` when unknown."""
    return UNKNOWN_FIGURE if value is None else f"{value:.2f}{suffix}"


def bounces(stats: EmailStats) -> int | None:
    """Hard plus soft bounces; None only when neither is known."""
    parts = [stats.figure("hard_bounced"), stats.figure("soft_bounced")]
    known = [int(p) for p in parts if p is not None]
    return sum(known) if known else None


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
