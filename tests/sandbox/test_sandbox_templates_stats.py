"""Template reads (including the error-in-an-ok-envelope variant) and email statistics."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from sandbox_helpers import AUTH, parse, send_form

from orchestrator.sandbox import SANDBOX_BASE_URL, SandboxApp, inprocess_transport
from orchestrator.sandbox.seed import demo_seed_path
from orchestrator.sandbox.stats import count_outcomes, percent, recipient_outcome, stats_body

TEMPLATE = "/api/emailTemplate/version/4/do/read/id/{}"
LIST_1TO1 = "/api/emailTemplate/version/4/do/listOneToOne"


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_template_read(client: httpx.Client, fmt: str) -> None:
    t = parse(client.get(TEMPLATE.format(4001), params={"format": fmt})).body["emailTemplate"]
    # Real shapes: JSON booleans; XML template flags 1/empty (Crim's emailTemplateRead.xml).
    assert (t["name"], t["isListEmail"], t["isOneToOneEmail"], t["isArchived"]) == (
        "welcome", True if fmt == "json" else "1", True if fmt == "json" else "1", False if fmt == "json" else "",
    )
    assert "%%unsubscribe%%" in t["htmlMessage"]
    assert t["sendOptions"]["replyToAddress"] == "jane@example.com"
    assert json.loads(t["sendOptions"]["sendFromData"]) == [{"type": "general_user", "user_id": 3001}]


def test_xml_html_body_is_escaped_text(client: httpx.Client) -> None:
    text = client.get(TEMPLATE.format(4001)).text
    assert "<htmlMessage>&lt;html&gt;&lt;body&gt;" in text


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize(("template_id", "archived"), [(4999, "false"), (4003, "false"), ("abc", "true")])
def test_unknown_or_archived_template_is_68_inside_an_ok_envelope(
    client: httpx.Client, template_id: object, archived: str, fmt: str
) -> None:
    answer = parse(client.get(TEMPLATE.format(template_id), params={"format": fmt, "archived": archived}))
    assert answer.stat == "ok"
    assert str(answer.body["emailTemplate"]["errorCode"]) == "68"


def test_archived_template_is_read_with_archived_true(client: httpx.Client) -> None:
    answer = parse(client.get(TEMPLATE.format(4003), params={"format": "json", "archived": "true"}))
    assert answer.body["emailTemplate"]["isArchived"] == 1


def _one_to_one_list(templates: list[dict[str, Any]], archived: str) -> Any:
    seed = yaml.safe_load(demo_seed_path().read_text())
    seed["templates"] = templates
    with httpx.Client(
        transport=inprocess_transport(SandboxApp(seed=seed)), base_url=SANDBOX_BASE_URL, headers=AUTH
    ) as c:
        return parse(c.get(LIST_1TO1, params={"format": "json", "archived": archived})).body


def _tpl(i: int, archived: bool = False) -> dict[str, Any]:
    return {"id": i, "name": f"t{i}", "subject": "s", "is_one_to_one_email": True, "archived": archived}


def test_one_to_one_list_single_versus_several_quirk() -> None:
    assert _one_to_one_list([], "false") == {"emailTemplates": {"count": 0}}
    single = _one_to_one_list([_tpl(1), _tpl(2, archived=True)], "false")["emailTemplates"]
    assert single["count"] == 1 and isinstance(single["templates"], dict)
    several = _one_to_one_list([_tpl(1), _tpl(2, archived=True)], "true")["emailTemplates"]
    assert several["count"] == 2 and [t["id"] for t in several["templates"]] == [1, 2]


def test_demo_one_to_one_list_in_xml_repeats_elements(client: httpx.Client) -> None:
    body = parse(client.get(LIST_1TO1)).body["emailTemplates"]
    assert [t["name"] for t in body["templates"]] == ["welcome", "follow-up"]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_stats_endpoint_matches_a_direct_computation(client: httpx.Client, fmt: str) -> None:
    form = send_form(campaign_id=1001, list_ids=[2001, 2002], email_template_id=4001)
    sent = parse(client.post("/api/email/version/4/do/send", data={"format": "json", **form}))
    email_id = int(sent.body["email"]["id"])
    prospects = client.get(f"/_sandbox/emails/{email_id}/recipients").json()["prospect_ids"]
    stats = parse(client.get(f"/api/email/version/4/do/stats/id/{email_id}", params={"format": fmt})).body["stats"]
    expected = stats_body(count_outcomes(email_id, prospects))
    assert {k: str(v) for k, v in stats.items()} == {k: str(v) for k, v in expected.items()}
    assert len(stats) == 17
    # asked twice, same answer (cached or not)
    again = parse(client.get(f"/api/email/version/4/do/stats/id/{email_id}", params={"format": fmt}))
    assert again.body["stats"] == stats


@given(st.integers(1, 10**9), st.lists(st.integers(1, 10**7), unique=True, max_size=300))
def test_stats_are_consistent(email_id: int, prospects: list[int]) -> None:
    c = count_outcomes(email_id, prospects)
    assert c.sent == len(prospects)
    assert c.delivered + c.soft_bounced + c.hard_bounced == c.sent
    assert c.unique_opens <= c.opens and c.unique_clicks <= c.total_clicks
    assert c.unique_clicks <= c.unique_opens <= c.delivered
    assert c.opt_outs <= c.delivered and c.spam_complaints <= c.delivered
    body = stats_body(c)
    assert body["delivery_rate"] == percent(c.delivered, c.sent)
    assert body["click_open_ratio"] == percent(c.unique_clicks, c.unique_opens)
    assert body["opens_rate"] == percent(c.unique_opens, c.delivered)


@given(st.integers(1, 10**9), st.integers(1, 10**9))
def test_outcome_is_a_function_of_the_ids(email_id: int, prospect_id: int) -> None:
    assert recipient_outcome(email_id, prospect_id) == recipient_outcome(email_id, prospect_id)


@pytest.mark.parametrize(
    ("num", "den", "text"),
    [(0, 0, "0.00%"), (1, 1, "100.00%"), (9842, 10000, "98.42%"), (1, 3, "33.33%"), (2, 3, "66.67%"),
     (1, 8, "12.50%"), (1, 800, "0.13%")],
)
def test_percent_format(num: int, den: int, text: str) -> None:
    assert percent(num, den) == text


def test_outcomes_vary_across_recipients() -> None:
    c = count_outcomes(70001, range(1, 20001))
    assert 0 < c.hard_bounced < c.soft_bounced < c.unique_opens
    assert 0 < c.unique_clicks < c.unique_opens and c.opt_outs > 0 and c.spam_complaints > 0
