"""Email statistics derived from an email's recipients, deterministically.

Each (email id, prospect id) pair is hashed; slices of the digest decide whether that recipient
bounced (soft or hard), opened (how often), clicked (how often), opted out or complained. The
same recipients therefore always give the same statistics, and the counts are consistent by
construction: delivered <= sent, unique <= total, clicks only after an open. Rates follow the
seed's definitions: delivery_rate against sent, every other rate against delivered, except
click_open_ratio, which is unique clicks / unique opens: Account Engagement defines its "Click to
Open Ratio" as "The number of unique clicks divided by unique HTML opens" (Salesforce Object
Reference, ``EmailContent.ClickToOpenRatio``, developer.salesforce.com
``atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_emailcontent.htm``), and a
real account's export shows it that way (pardot-api.md §10). Each is a string with two decimals
and a ``%`` suffix ("98.42%").

Statistics exist for list emails only: the seed and the v4 emails page ("Querying Email Stats":
"Returns the statistical data for the list email specified by <list_email_id>") document the
call for list emails, so a one-to-one email id is answered like an id that is not a list email's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from decimal import ROUND_HALF_UP, Decimal

_SCALE = 65_536
#: Probabilities (out of 65,536) used for each recipient's outcomes.
_HARD_BOUNCE = 655  # 1 %
_SOFT_BOUNCE = 1_966  # 3 % (cumulative with hard bounces)
_OPEN = 29_491  # 45 % of delivered
_CLICK = 22_938  # 35 % of openers
_OPT_OUT = 655  # 1 % of delivered
_SPAM = 131  # 0.2 % of delivered


@dataclass(frozen=True)
class Outcome:
    """What happened to one recipient."""

    hard_bounced: bool
    soft_bounced: bool
    opens: int
    clicks: int
    opted_out: bool
    complained: bool

    @property
    def delivered(self) -> bool:
        return not (self.hard_bounced or self.soft_bounced)


def recipient_outcome(email_id: int, prospect_id: int) -> Outcome:
    """The outcome for one recipient: a pure function of the two ids."""
    digest = hashlib.blake2b(f"{email_id}:{prospect_id}".encode(), digest_size=16).digest()
    part = [int.from_bytes(digest[i : i + 2], "big") for i in range(0, 16, 2)]
    hard = part[0] < _HARD_BOUNCE
    soft = not hard and part[0] < _SOFT_BOUNCE
    if hard or soft:
        return Outcome(hard, soft, 0, 0, False, False)
    opens = 1 + part[2] % 3 if part[1] < _OPEN else 0
    clicks = 1 + part[4] % 2 if opens and part[3] < _CLICK else 0
    return Outcome(
        hard_bounced=False,
        soft_bounced=False,
        opens=opens,
        clicks=clicks,
        opted_out=part[5] < _OPT_OUT,
        complained=part[6] < _SPAM,
    )


@dataclass(frozen=True)
class Counts:
    """The ten counters of the stats answer."""

    sent: int = 0
    delivered: int = 0
    total_clicks: int = 0
    unique_clicks: int = 0
    soft_bounced: int = 0
    hard_bounced: int = 0
    opt_outs: int = 0
    spam_complaints: int = 0
    opens: int = 0
    unique_opens: int = 0


def count_outcomes(email_id: int, prospect_ids: Iterable[int]) -> Counts:
    """Add up the outcomes of every recipient of ``email_id``."""
    totals = dict.fromkeys(asdict(Counts()), 0)
    for prospect_id in prospect_ids:
        o = recipient_outcome(email_id, prospect_id)
        totals["sent"] += 1
        totals["delivered"] += o.delivered
        totals["soft_bounced"] += o.soft_bounced
        totals["hard_bounced"] += o.hard_bounced
        totals["opens"] += o.opens
        totals["unique_opens"] += o.opens > 0
        totals["total_clicks"] += o.clicks
        totals["unique_clicks"] += o.clicks > 0
        totals["opt_outs"] += o.opted_out
        totals["spam_complaints"] += o.complained
    return Counts(**totals)


def percent(numerator: int, denominator: int) -> str:
    """``"98.42%"``: numerator / denominator as a percentage, half-up; 0 when nothing to divide."""
    if denominator == 0:
        return "0.00%"
    value = (Decimal(numerator) * 100 / Decimal(denominator)).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP
    )
    return f"{value}%"


def stats_body(counts: Counts) -> dict[str, int | str]:
    """The 17 fields of the ``stats`` root, in the seed's order."""
    c = counts
    return {
        "sent": c.sent,
        "delivered": c.delivered,
        "total_clicks": c.total_clicks,
        "unique_clicks": c.unique_clicks,
        "soft_bounced": c.soft_bounced,
        "hard_bounced": c.hard_bounced,
        "opt_outs": c.opt_outs,
        "spam_complaints": c.spam_complaints,
        "opens": c.opens,
        "unique_opens": c.unique_opens,
        "delivery_rate": percent(c.delivered, c.sent),
        "opens_rate": percent(c.unique_opens, c.delivered),
        "click_through_rate": percent(c.total_clicks, c.delivered),
        "unique_click_through_rate": percent(c.unique_clicks, c.delivered),
        "click_open_ratio": percent(c.unique_clicks, c.unique_opens),
        "opt_out_rate": percent(c.opt_outs, c.delivered),
        "spam_complaint_rate": percent(c.spam_complaints, c.delivered),
    }


def stats_scope_detail(email_id: int) -> str:
    """The detail of the stats call's refusal for an email that is not a list email.

    **CHOICE**: error 109 "The requested record was not found" (error-codes page), the code an
    unknown id gets: no list email has this id. Pardot documents no code of its own for it.
    """
    return f"email {email_id} is not a list email; statistics exist for list emails only"


def unknown_stats_body() -> dict[str, None]:
    """The ``stats`` root of an email that has not gone out: every figure null (XML: empty)."""
    return dict.fromkeys(stats_body(Counts()))
