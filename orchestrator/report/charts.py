"""The report's charts: matplotlib figures rendered to SVG text, ready to inline in HTML.

Why SVG through matplotlib: the report must open without a network (no CDN, no JavaScript
charting library), and SVG stays sharp when printed or zoomed. The Agg backend is selected
explicitly so nothing ever tries to open a display; figures are built with the object API
(:class:`~matplotlib.figure.Figure`), never ``pyplot``, so no global figure state is shared
between threads or calls.

Text stays text (``svg.fonttype: none``): the browser draws it, screen readers and tests can
read it, and the file stays small. Each chart uses its own ``svg.hashsalt`` so the ids inside
several SVGs inlined in one page never collide, and no date is written into the SVG, so the
same rows always give the same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")

from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from orchestrator.stats import StatsRow

__all__ = ["CHARTS", "Chart", "Series", "chart_svg"]


@dataclass(frozen=True)
class Series:
    """One line of a chart: the :class:`EmailStats` field it plots and its legend label."""

    field: str
    label: str
    color: str


@dataclass(frozen=True)
class Chart:
    """One chart of the report: a stable id (for the page and tests), a title, its lines."""

    id: str
    title: str
    y_label: str
    series: tuple[Series, ...]
    counts: bool = True  # whole numbers: integer ticks only


#: The report's charts, in page order. Colours are a colour-blind-safe palette (Okabe-Ito).
CHARTS: tuple[Chart, ...] = (
    Chart(
        "deliveries",
        "Deliveries per send",
        "emails",
        (Series("sent", "sent", "#0072B2"), Series("delivered", "delivered", "#009E73")),
    ),
    Chart(
        "engagement",
        "Opens and clicks per send",
        "prospects",
        (Series("unique_opens", "unique opens", "#E69F00"), Series("unique_clicks", "unique clicks", "#CC79A7")),
    ),
    Chart(
        "bounces",
        "Bounces and opt-outs per send",
        "emails",
        (
            Series("hard_bounced", "hard bounces", "#D55E00"),
            Series("soft_bounced", "soft bounces", "#B8860B"),
            Series("opt_outs", "opt-outs", "#56B4E9"),
            Series("spam_complaints", "spam complaints", "#000000"),
        ),
    ),
    Chart(
        "rates",
        "Rates per send",
        "%",
        (
            Series("delivery_rate", "delivery rate", "#009E73"),
            Series("opens_rate", "open rate", "#E69F00"),
            Series("click_through_rate", "click-through rate", "#CC79A7"),
            Series("opt_out_rate", "opt-out rate", "#56B4E9"),
        ),
        counts=False,
    ),
)

#: No date, creator or RDF block: the SVG holds only the drawing, and is reproducible.
_NO_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}


#: The narrowest time axis drawn, in days (one hour).
_MIN_SPAN_DAYS = 1 / 24


def _or_nan(value: int | float | None) -> float:
    return float("nan") if value is None else float(value)


def chart_svg(chart: Chart, rows: Sequence[StatsRow]) -> str:
    """``chart`` over ``rows`` (in send-time order) as an ``<svg>`` element, no XML prologue."""
    # Plain date numbers (days since matplotlib's epoch) of the UTC times: the axis label says UTC.
    times = [float(date2num(row.email.sent_at.replace(tzinfo=None))) for row in rows]  # type: ignore[no-untyped-call]
    with matplotlib.rc_context({
        "svg.fonttype": "none",
        "svg.hashsalt": f"orchestrator-{chart.id}",
        "font.size": 9.0,
        "axes.spines.top": False,
        "axes.spines.right": False,
    }):
        figure = Figure(figsize=(6.4, 3.2), layout="constrained")
        axes = figure.add_subplot()
        for series in chart.series:
            # An unknown figure (null: not measured yet) is a gap in the line, not a zero.
            values = [_or_nan(row.stats.figure(series.field)) for row in rows]
            axes.plot(times, values, marker="o", markersize=4, linewidth=1.4, color=series.color, label=series.label)
        # matplotlib.dates ships without annotations for these two constructors.
        if times and max(times) - min(times) < _MIN_SPAN_DAYS:
            # Sends within minutes of each other: an axis an hour wide ticks at whole minutes
            # (a span of seconds ticked at fractions of a second, unreadable as times).
            middle = (max(times) + min(times)) / 2
            axes.set_xlim(middle - _MIN_SPAN_DAYS / 2, middle + _MIN_SPAN_DAYS / 2)
        locator = AutoDateLocator(minticks=3, maxticks=8)  # type: ignore[no-untyped-call]
        axes.xaxis.set_major_locator(locator)
        axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
        axes.set_title(chart.title, loc="left", fontweight="bold")
        axes.set_xlabel("send time (UTC)")
        axes.set_ylabel(chart.y_label)
        axes.set_ylim(bottom=0)
        if chart.counts:
            axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(axis="y", color="#dddddd", linewidth=0.6)
        figure.legend(loc="outside lower center", ncols=len(chart.series), frameon=False, fontsize="small")
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata=_NO_METADATA)
    text = buffer.getvalue()
    return text[text.index("<svg") :].strip()
