"""Statistics only for list emails, click-to-open from unique figures, 145/146 for a bad ``archived``.

Through HTTP to the in-process sandbox.
"""

from __future__ import annotations

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sandbox_helpers import parse, send_form

from orchestrator.sandbox.stats import Counts, count_outcomes, percent, stats_body

STATS = "/api/email/version/4/do/stats/id/{}"


def _send(client: httpx.Client, path: str = "", **fields: object) -> int:
    answer = parse(client.post(f"/api/email/version/4/do/send{path}", data={"format": "json", **send_form(**fields)}))
    assert answer.stat == "ok", answer.message
    return int(answer.body["email"]["id"])


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_stats_of_a_one_to_one_email_are_refused_like_an_unknown_list_email(client: httpx.Client, fmt: str) -> None:
    email_id = _send(client, "/prospect_id/1234", campaign_id=1001, email_template_id=4002)
    answer = parse(client.get(STATS.format(email_id), params={"format": fmt}))
    assert (answer.stat, answer.code) == ("fail", 109)
    assert "list email" in (answer.message or "")


def test_click_to_open_is_unique_clicks_over_unique_opens(client: httpx.Client) -> None:
    email_id = _send(client, campaign_id=1001, list_ids=[2001, 2002], email_template_id=4001)
    stats = parse(client.get(STATS.format(email_id), params={"format": "json"})).body["stats"]
    assert stats["total_clicks"] != stats["unique_clicks"] or stats["opens"] != stats["unique_opens"]
    assert stats["click_open_ratio"] == percent(stats["unique_clicks"], stats["unique_opens"])


def test_click_to_open_example() -> None:
    body = stats_body(Counts(sent=10, delivered=10, total_clicks=6, unique_clicks=2, opens=9, unique_opens=4))
    assert body["click_open_ratio"] == "50.00%"


@given(st.integers(1, 10**9), st.lists(st.integers(1, 10**7), unique=True, max_size=200))
def test_click_to_open_never_exceeds_100_percent(email_id: int, prospects: list[int]) -> None:
    ratio = stats_body(count_outcomes(email_id, prospects))["click_open_ratio"]
    assert isinstance(ratio, str) and float(ratio.rstrip("%")) <= 100


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize(
    ("path", "code"),
    [("/api/emailTemplate/version/4/do/read/id/4001", 145), ("/api/emailTemplate/version/4/do/listOneToOne", 146)],
)
def test_a_bad_archived_value_gets_145_or_146(client: httpx.Client, fmt: str, path: str, code: int) -> None:
    answer = parse(client.get(path, params={"format": fmt, "archived": "maybe"}))
    assert (answer.stat, answer.code) == ("fail", code)
    assert "Allowed values are true or false" in (answer.message or "")
