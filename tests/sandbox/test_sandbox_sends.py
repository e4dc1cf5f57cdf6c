"""List and one-to-one sends: Pardot's rules, error codes, and who the email goes to."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sandbox_helpers import AUTH, parse, send_form

from orchestrator.sandbox import SANDBOX_BASE_URL, SandboxApp, inprocess_transport
from orchestrator.sandbox.seed import demo_seed_path

SEND = "/api/email/version/4/do/send"
TEXT = "Hello. Unsubscribe: %%unsubscribe%%"
HTML = '<p>Hello <a href="%%unsubscribe%%">unsubscribe</a></p>'
BY_TEMPLATE: dict[str, Any] = {"campaign_id": 1001, "list_ids": [2001], "email_template_id": 4001}
BY_SENDER: dict[str, Any] = {
    "campaign_id": 1001, "list_ids": [2001], "text_content": TEXT, "name": "n", "subject": "s",
    "from_email": "jane@example.com", "from_name": "Jane",
}
BY_USER: dict[str, Any] = {
    "campaign_id": 1001, "list_ids": [2001], "text_content": TEXT, "name": "n", "subject": "s",
    "from_user_id": 3001,
}


def send(client: httpx.Client, fmt: str = "json", path: str = SEND, **fields: Any) -> Any:
    return parse(client.post(path, data={"format": fmt, **send_form(**fields)}))


def emails(client: httpx.Client) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = client.get("/_sandbox/emails").json()["emails"]
    return result


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize("fields", [BY_TEMPLATE, BY_SENDER, BY_USER], ids=["template", "sender", "user"])
def test_each_required_field_combination_is_accepted(
    client: httpx.Client, fields: dict[str, Any], fmt: str
) -> None:
    answer = send(client, fmt, **fields)
    assert answer.stat == "ok"
    assert int(answer.body["email"]["id"]) == emails(client)[0]["id"]


@pytest.mark.parametrize(
    "missing",
    [
        (BY_TEMPLATE, "campaign_id"), (BY_TEMPLATE, "list_ids"), (BY_TEMPLATE, "email_template_id"),
        (BY_SENDER, "text_content"), (BY_SENDER, "name"), (BY_SENDER, "subject"),
        (BY_SENDER, "from_email"), (BY_SENDER, "from_name"), (BY_USER, "from_user_id"),
    ],
    ids=lambda m: m[1],
)
def test_a_missing_required_field_is_error_13_and_records_nothing(
    client: httpx.Client, missing: tuple[dict[str, Any], str]
) -> None:
    fields, name = missing
    answer = send(client, **{k: v for k, v in fields.items() if k != name})
    assert (answer.stat, answer.code) == ("fail", 13)
    assert emails(client) == []


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"campaign_id": 999}, 38),
        ({"campaign_id": "abc"}, 38),
        ({"list_ids": [2001, 2999]}, 55),
        ({"suppression_list_ids": [2999]}, 55),
        ({"email_template_id": 4999}, 68),
        ({"email_template_id": 4003}, 68),  # archived
        ({"email_template_id": 4002}, 68),  # one-to-one only
        ({"from_user_id": 3999}, 10),
        ({"from_email": "not-an-address", "from_name": "x"}, 65),
        ({"replyto_email": "bad@"}, 65),
        ({"text_content": "no token here"}, 64),
        ({"html_content": "<p>no token</p>"}, 64),
        ({"scheduled_time": "next tuesday"}, 13),
        ({"operational_email": "maybe"}, 13),
    ],
)
def test_invalid_sends_are_refused_with_pardots_code(
    client: httpx.Client, change: dict[str, Any], code: int, fmt: str
) -> None:
    answer = send(client, fmt, **{**BY_TEMPLATE, **change})
    assert (answer.stat, answer.code) == ("fail", code)
    assert emails(client) == []


@pytest.mark.parametrize("body", ["%%unsubscribe%%", "%%email_preference_center%%"])
def test_every_unsubscribe_token_satisfies_rule_64(client: httpx.Client, body: str) -> None:
    answer = send(client, **{**BY_USER, "text_content": f"x {body}", "html_content": f'<a href="{body}">u</a>'})
    assert answer.stat == "ok"


@pytest.mark.parametrize("body", ["{{Unsubscribe}}", "{{EmailPreferenceCenter}}"])
def test_hml_tokens_satisfy_rule_64_only_when_allowed(body: str) -> None:
    """The same rule as policy.allow_hml_unsubscribe (orchestrator.policy.opt_out_status decides both)."""
    fields = {**BY_USER, "text_content": f"x {body}", "html_content": f'<a href="{body}">u</a>'}
    for allowed, expected in ((False, ("fail", 64)), (True, ("ok", None))):
        app = SandboxApp(allow_hml_unsubscribe=allowed)
        with httpx.Client(transport=inprocess_transport(app), base_url=SANDBOX_BASE_URL, headers=AUTH) as c:
            answer = send(c, **fields)
        assert (answer.stat, answer.code if answer.stat == "fail" else None) == expected


def test_operational_email_needs_the_account_feature(tmp_path: Path) -> None:
    seed = yaml.safe_load(demo_seed_path().read_text())
    seed["operational_email_enabled"] = False
    app = SandboxApp(seed=seed)
    with httpx.Client(transport=inprocess_transport(app), base_url=SANDBOX_BASE_URL, headers=AUTH) as c:
        refused = send(c, **BY_TEMPLATE, operational_email=True)
        plain = send(c, **BY_TEMPLATE, operational_email=False)
    assert (refused.code, plain.stat) == (65, "ok")


def _demo_memberships() -> tuple[dict[int, set[int]], set[int]]:
    """Lists -> members, and the opted-out prospects, read straight from the seed file."""
    seed = yaml.safe_load(demo_seed_path().read_text())
    members: dict[int, set[int]] = {}
    for prospect in seed["prospects"]:
        for list_id in prospect.get("lists", []):
            members.setdefault(list_id, set()).add(prospect["id"])
    opted_out = {p["id"] for p in seed["prospects"] if p.get("opted_out")}
    return members, opted_out


@pytest.mark.parametrize(
    ("lists", "suppressed", "operational"),
    [
        ([2001], [], False),
        ([2001, 2002], [], False),
        ([2001, 2002], [2003], False),
        ([2001, 2002], [2003], True),
        ([2002, 2003], [2001], True),
        ([2003], [2003], False),
    ],
)
def test_recipients_are_union_minus_suppression_minus_opted_out(
    client: httpx.Client, lists: list[int], suppressed: list[int], operational: bool
) -> None:
    members, opted_out = _demo_memberships()
    expected = set().union(*(members[i] for i in lists)) - set().union(
        *(members[i] for i in suppressed)
    )
    if not operational:
        expected -= opted_out
    answer = send(
        client, **{**BY_TEMPLATE, "list_ids": lists, "suppression_list_ids": suppressed},
        operational_email=operational,
    )
    email_id = int(answer.body["email"]["id"])
    recorded = client.get(f"/_sandbox/emails/{email_id}/recipients").json()["prospect_ids"]
    assert recorded == sorted(expected)  # sorted and so each prospect once
    assert emails(client)[0]["recipients"] == len(expected)


def test_inspection_lists_what_was_sent(client: httpx.Client) -> None:
    send(
        client, **BY_TEMPLATE, suppression_list_ids=[2003], tags=["spring", "key:abc"],
        scheduled_time="2027-03-01T14:00:00+02:00", name="spring-send",
    )
    (email,) = emails(client)
    assert email == {
        "id": email["id"], "name": "spring-send", "kind": "list", "campaign_id": 1001,
        "list_ids": [2001], "suppression_list_ids": [2003], "recipients": email["recipients"],
        "tags": ["spring", "key:abc"], "subject": "Welcome, %%first_name%%", "operational": False,
        "scheduled_time": "2027-03-01T12:00:00+00:00", "created_at": "2026-11-27 10:00:00",
        "deleted_at": None, "email_template_id": BY_TEMPLATE["email_template_id"],
    }


def test_indexed_array_keys_and_query_parameters_are_accepted(client: httpx.Client) -> None:
    response = client.post(
        SEND,
        params={"format": "json", "campaign_id": "1001"},
        data={"list_ids[0]": "2001", "list_ids[1]": "2002", "email_template_id": "4001"},
    )
    assert parse(response).stat == "ok"
    assert emails(client)[0]["list_ids"] == [2001, 2002]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_send_answer_is_the_email(client: httpx.Client, fmt: str) -> None:
    email = send(client, fmt, **BY_SENDER, html_content=HTML).body["email"]
    assert email["name"] == "n"
    assert email["subject"] == "s"
    assert email["message"] == {"text": TEXT, "html": HTML}
    assert email["created_at"] == "2026-11-27 10:00:00"
    # Real shapes: a JSON boolean, XML true/false (Crim's emailRead.xml <isOneToOne>true</isOneToOne>).
    assert email["isOneToOne"] in (False, "false")
    assert int(email["campaign_id"]) == 1001


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/prospect_id/1234", None),
        ("/prospect_email/ada%40example.com", None),
        ("/prospect_email/ADA%40example.com", None),
        ("/prospect_id/999999", 3),
        ("/prospect_id/x", 3),
        ("/prospect_email/nobody%40example.com", 4),
        ("/prospect_id/5007", 98),  # opted out: "Prospect not mailable"
        ("/prospect_email/p5007%40example.com", 98),  # opted out
    ],
)
def test_one_to_one_targets(client: httpx.Client, path: str, code: int | None) -> None:
    answer = send(client, path=SEND + path, campaign_id=1001, email_template_id=4002)
    assert answer.code == code
    if code is None:
        assert answer.body["email"]["isOneToOne"] in (True, "true")
        (email,) = emails(client)
        assert (email["kind"], email["recipients"]) == ("one-to-one", 1)


def test_opted_out_prospect_gets_an_operational_one_to_one(client: httpx.Client) -> None:
    answer = send(
        client, path=SEND + "/prospect_id/5007", campaign_id=1001, email_template_id=4002,
        operational_email=True,
    )
    assert answer.stat == "ok"


def test_one_to_one_target_as_a_body_field(client: httpx.Client) -> None:
    answer = send(client, campaign_id=1001, email_template_id=4001, prospect_id=1234)
    assert answer.stat == "ok"
    assert emails(client)[0]["kind"] == "one-to-one"


def test_one_to_one_templates_must_allow_one_to_one(tmp_path: Path) -> None:
    seed = yaml.safe_load(demo_seed_path().read_text())
    seed["templates"].append(
        {"id": 4009, "name": "list-only", "subject": "s", "text": TEXT, "is_one_to_one_email": False}
    )
    app = SandboxApp(seed=seed)
    with httpx.Client(transport=inprocess_transport(app), base_url=SANDBOX_BASE_URL, headers=AUTH) as c:
        answer = send(c, path=SEND + "/prospect_id/1234", campaign_id=1001, email_template_id=4009)
    assert answer.code == 68


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_email_read(client: httpx.Client, fmt: str) -> None:
    email_id = send(client, **BY_SENDER).body["email"]["id"]
    full = parse(client.get(f"/api/email/version/4/do/read/id/{email_id}", params={"format": fmt}))
    bare = parse(
        client.get(
            f"/api/email/version/4/do/read/id/{email_id}",
            params={"format": fmt, "include_message": "false"},
        )
    )
    assert full.body["email"]["message"]["text"] == TEXT
    assert "message" not in bare.body["email"]
    assert bare.body["email"]["name"] == "n"


@pytest.mark.parametrize("endpoint", ["read", "stats"])
def test_unknown_email_id_is_109(client: httpx.Client, endpoint: str) -> None:
    answer = parse(client.get(f"/api/email/version/4/do/{endpoint}/id/123", params={"format": "json"}))
    assert answer.code == 109
