"""build_report: one self-contained, escaped, masked, reproducible HTML document with charts."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest

from orchestrator.pardot.models import EmailStats
from orchestrator.report import build_report
from orchestrator.report.charts import CHARTS
from orchestrator.stats import COUNT_FIELDS, SentEmail, Skipped, StatsRow, combine

GENERATED = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
T0 = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


def stats(sent: int, delivered: int, opens: int = 0, clicks: int = 0, opt_outs: int = 0) -> EmailStats:
    counts: dict[str, Any] = dict.fromkeys(COUNT_FIELDS, 0) | {"sent": sent, "delivered": delivered, "opens": opens,
                                                "unique_opens": opens, "total_clicks": clicks,
                                                "unique_clicks": clicks, "opt_outs": opt_outs,
                                                "hard_bounced": sent - delivered}
    return combine([EmailStats(**counts, delivery_rate=0.0, opens_rate=0.0, click_through_rate=0.0,
                               unique_click_through_rate=0.0, click_open_ratio=0.0, opt_out_rate=0.0,
                               spam_complaint_rate=0.0)])


ROWS = (
    StatsRow(SentEmail("weekly", "weekly@2026-12-07T08:00:00Z", 70003, "list", "scheduled", T0), stats(28, 27, 12, 6)),
    StatsRow(SentEmail("weekly", "weekly@2026-12-14T08:00:00Z", 70006, "list", "sent", T0 + timedelta(days=7)),
             stats(30, 29, 14, 7, 1)),
    StatsRow(SentEmail("follow", "follow/jane.prospect@example.com", 70002, "one-to-one", "sent",
                       T0 - timedelta(days=10)), stats(1, 1, 1, 1)),
)


@pytest.fixture(scope="module")
def html() -> str:
    """The report of ROWS, built once: rendering four charts takes most of a second."""
    return build_report(ROWS, GENERATED)


_FETCHING = ("src", "href", "xlink:href", "srcset", "action", "data")


class _Resources(HTMLParser):
    """Collects every tag and every attribute that could make a browser fetch something."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.fetching: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        for name, value in attrs:
            if name in _FETCHING and value and not value.startswith("#"):
                self.fetching.append((tag, name, value))


def test_report_has_a_chart_per_metric_group_and_a_table_per_campaign(html: str) -> None:
    assert html.count("<svg") == len(CHARTS) == 4
    for chart in CHARTS:
        assert f'id="chart-{chart.id}"' in html
        assert f">{chart.title}<" in html  # in the SVG as real text, not paths
    for series_label in ("sent", "delivered", "unique opens", "unique clicks", "hard bounces", "opt-outs"):
        assert f">{series_label}<" in html
    assert 'id="campaign-weekly"' in html and 'id="campaign-follow"' in html
    assert "Generated 2026-11-27 12:00 UTC" in html and "3 send(s) in 2 campaign(s)" in html
    weekly = html[html.index('id="campaign-weekly"'):]
    assert "2 send(s)" in weekly and ">58<" in weekly  # the total row sums 28 + 30


def test_report_is_self_contained(html: str) -> None:
    parser = _Resources()
    parser.feed(html)
    assert parser.fetching == []
    assert not parser.tags & {"script", "link", "img", "iframe", "object", "embed"}
    assert "@import" not in html and not re.search(r"url\((?!#)", html)


def test_prospect_addresses_are_masked_unless_revealed(html: str) -> None:
    assert "jane.prospect@example.com" not in html and "follow/j***@example.com" in html
    assert "follow/jane.prospect@example.com" in build_report(ROWS, GENERATED, reveal_emails=True)


def test_user_text_is_escaped() -> None:
    evil = StatsRow(SentEmail("<b>x</b>", "<script>alert(1)</script>@now", 9, "list", "sent", T0), stats(2, 2))
    html = build_report([evil], GENERATED, skipped=[Skipped(evil.email, "<i>refused</i>")])
    assert "<script>" not in html and "<b>x</b>" not in html and "<i>refused</i>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;@now" in html and "&lt;i&gt;refused&lt;/i&gt;" in html


def test_same_rows_give_the_same_bytes_whatever_their_order(html: str) -> None:
    assert build_report(list(reversed(ROWS)), GENERATED) == html


def test_svg_ids_do_not_collide_between_charts(html: str) -> None:
    """Inline SVGs share one document: a clip-path id defined twice would draw the wrong clip."""
    referenced = re.findall(r'clip-path="url\(#([^)]+)\)"', html)
    assert referenced
    for ident in set(referenced):
        assert html.count(f'id="{ident}"') == 1, ident


ZEROS = (StatsRow(SentEmail("later", "later@2027-06-01T09:00:00Z", 70009, "list", "scheduled", T0), stats(0, 0)),)


@pytest.mark.parametrize("rows", [(), ROWS[:1], ZEROS], ids=["no-rows", "one-row", "all-zero"])
def test_small_inputs_still_make_a_valid_page(rows: tuple[StatsRow, ...]) -> None:
    html = build_report(rows, GENERATED, skipped=[Skipped(ROWS[2].email, "Pardot error 109: not found")])
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert html.count("<svg") == (4 if rows else 0)
    assert ('id="empty"' in html) == (not rows)
    assert 'id="skipped"' in html and "Pardot error 109: not found" in html and "(email 70002)" in html


def test_sends_within_one_minute_get_readable_time_ticks() -> None:
    from orchestrator.report.charts import chart_svg

    close = [
        StatsRow(SentEmail("burst", f"burst-{i}@now", 70100 + i, "list", "sent", T0 + timedelta(seconds=35 + i)),
                 stats(10, 10))
        for i in range(4)
    ]
    svg = chart_svg(CHARTS[0], close)
    ticks = re.findall(r"<text[^>]*>([^<]*)</text>", svg) or re.findall(r"<!-- ([^-]+) -->", svg)
    assert not [t for t in ticks if re.fullmatch(r"\d+\.\d+", t.strip())], ticks  # no fractions of a second
    assert any(re.fullmatch(r"\d\d:\d\d", t.strip()) for t in ticks), ticks  # whole minutes, as HH:MM
