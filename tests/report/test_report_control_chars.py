"""The HTML report shows control characters in user text as escapes, never raw (issue 10)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from orchestrator.pardot.models import EmailStats
from orchestrator.report import build_report
from orchestrator.stats import COUNT_FIELDS, SentEmail, Skipped, StatsRow

T0 = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


def test_control_characters_in_user_text_are_escaped() -> None:
    counts: dict[str, Any] = dict.fromkeys(COUNT_FIELDS, 0) | {"sent": 1, "delivered": 1}
    rates: dict[str, Any] = dict.fromkeys(
        ("delivery_rate", "opens_rate", "click_through_rate", "unique_click_through_rate", "click_open_ratio",
         "opt_out_rate", "spam_complaint_rate"),
        0.0,
    )
    stats = EmailStats(**counts, **rates)
    row = StatsRow(SentEmail("spring\x1b[2J", "spring\x1b[2J@now\u2028x", 9, "list", "sent", T0), stats)
    skipped = Skipped(SentEmail("b", "b@now", 10, "list", "sent", T0), "server said \x1b]0;owned\x07 <b>")
    html = build_report([row], T0, skipped=[skipped])
    for raw in ("\x1b", "\x07", "\u2028"):
        assert raw not in html
    assert "spring\\x1b[2J@now\\u2028x" in html
    assert "server said \\x1b]0;owned\\x07 &lt;b&gt;" in html
