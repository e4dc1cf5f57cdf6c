"""The HTML report: one self-contained file, made from stats rows by a Jinja template.

Self-contained means the page needs nothing but itself: the CSS is inline, the charts are
inline SVG (:mod:`.charts`), and there is no script and no external link, so it can be mailed,
attached to a ticket or opened offline. Jinja autoescaping is on: campaign names and send keys
come from users' files and must never become markup, and control characters in them are shown
as escapes (``\\x1b``), never written raw. The only markup inserted unescaped is the
SVG matplotlib produced from our own numbers.

Prospect addresses in one-to-one send keys are masked unless ``reveal_emails`` is true: a
report is made to be shared.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import jinja2
from markupsafe import Markup

from orchestrator.pardot.models import EmailStats
from orchestrator.redact import mask_emails
from orchestrator.report.charts import CHARTS, chart_svg
from orchestrator.stats import (
    CampaignTotals,
    Skipped,
    StatsRow,
    bounces,
    campaign_totals,
    combine,
    show_count,
    show_rate,
)
from orchestrator.textsafe import escape_control

__all__ = ["build_report"]

def _visible(value: object) -> object:
    """Every ``{{ }}`` output: control characters in user text (a send key, a reason from the
    API) are shown as ``\\x1b``-style escapes; our own markup (the SVG charts) is left alone."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return escape_control(value)
    return value


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("orchestrator.report", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    finalize=_visible,
)


@dataclass(frozen=True)
class _ChartView:
    id: str
    title: str
    svg: Markup


@dataclass(frozen=True)
class _SendView:
    key: str
    email_id: int
    kind: str
    status: str
    sent_at: str
    stats: EmailStats


@dataclass(frozen=True)
class _CampaignView:
    name: str
    totals: CampaignTotals
    sends: tuple[_SendView, ...]


def _count(value: int) -> str:
    return f"{value:,}"


def _rate(value: float) -> str:
    return f"{value:.2f} %"


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


_ENV.filters["count"] = _count
_ENV.filters["rate"] = _rate
# Figures Pardot did not give (null, e.g. a scheduled email) show as "—", never as 0.
_ENV.filters["fig"] = lambda stats, name: show_count(stats.figure(name))
_ENV.filters["pct"] = lambda stats, name: show_rate(stats.figure(name), " %")
_ENV.filters["bounces"] = lambda stats: show_count(bounces(stats))


def _campaigns(rows: Sequence[StatsRow], show: Callable[[str], str]) -> list[_CampaignView]:
    views = []
    for totals in campaign_totals(rows):
        sends = tuple(
            _SendView(show(e.key), e.email_id, e.kind, e.status, _when(e.sent_at), r.stats)
            for r in rows
            if (e := r.email).campaign == totals.campaign
        )
        views.append(_CampaignView(totals.campaign, totals, sends))
    return views


def build_report(
    rows: Sequence[StatsRow],
    generated_at: datetime,
    *,
    skipped: Sequence[Skipped] = (),
    reveal_emails: bool = False,
    title: str = "Email statistics",
) -> str:
    """The report as an HTML document: summary, charts per send over time, a table per campaign.

    Pure apart from rendering: the same arguments give the same text. ``rows`` are drawn in
    send-time order whatever order they come in.
    """
    ordered = sorted(rows, key=lambda r: (r.email.sent_at, r.email.key))
    show: Callable[[str], str] = (lambda s: s) if reveal_emails else mask_emails
    charts = [_ChartView(c.id, c.title, Markup(chart_svg(c, ordered))) for c in CHARTS] if ordered else []  # noqa: S704 - our own SVG
    template = _ENV.get_template("report.html.j2")
    return template.render(
        title=title,
        generated_at=_when(generated_at),
        total=combine(r.stats for r in ordered),
        sends=len(ordered),
        campaigns=_campaigns(ordered, show),
        charts=charts,
        skipped=[(show(s.email.key), s.email.email_id, s.reason) for s in skipped],
    )
