"""templates / emails / stats / report through the real CLI, against the sandbox in process and
on a loopback socket (a project whose api is `kind: pardot` with a base URL and a token)."""

from __future__ import annotations

import csv
import io
import json
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator.sandbox import SANDBOX_BUSINESS_UNIT, SANDBOX_TOKEN, SandboxApp, serve
from orchestrator.stats import COUNT_FIELDS, RATE_FIELDS, ROW_FIELDS
from tests.helpers import (
    EXAMPLE_KEYS,
    HIDDEN_ADDRESS,
    MASKED_ADDRESS,
    NOW,
    applied_example,
    copy_example,
    fixed_clock,
    run,
)

#: After every scheduled send of the example: the sandbox (on the CLI clock seam) has statistics.
AFTER = fixed_clock("2027-06-01T00:00:00Z")


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example project after `apply` (2 one-to-one sent, 3 list emails scheduled). Read only."""
    return applied_example(tmp_path_factory.mktemp("api") / "example")


@pytest.fixture
def project(applied: Path, tmp_path: Path) -> Path:
    """A private copy of the applied project (state and sandbox data included), free to change."""
    return Path(shutil.copytree(applied, tmp_path / "example"))


def email_ids(project: Path) -> dict[str, int]:
    code, out, _ = run(project, "state", "list", "--json")
    assert code == 0
    return {s["key"]: s["email_id"] for s in json.loads(out)["sends"]}


def as_json(out: str) -> Any:
    return json.loads(out)


# --- help -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "words"),
    [
        (["templates", "list"], ["--archived", "--json", "one-to-one"]),
        (["templates", "show"], ["ID", "--archived", "--json"]),
        (["emails", "show"], ["ID", "--no-message", "--json"]),
        (["stats"], ["NAME ...|EMAIL_ID", "--all", "--format [table|json|csv]", "--json"]),
        (["report"], ["--out", "report.html", "--all", "self-contained"]),
    ],
)
def test_every_command_has_help(applied: Path, command: list[str], words: list[str]) -> None:
    code, out, _ = run(applied, *command, "--help")
    assert code == 0
    for word in words:
        assert word in out


# --- templates ------------------------------------------------------------------------------


def test_templates_list_table_and_json(applied: Path) -> None:
    code, out, _ = run(applied, "templates", "list")
    assert code == 0 and "welcome" in out and "follow-up" in out and "old-promo" not in out
    assert "2 template(s)." in out
    code, out, _ = run(applied, "templates", "list", "--archived", "--json")
    templates = as_json(out)["templates"]
    assert code == 0 and [t["id"] for t in templates] == [4001, 4002, 4003]
    assert templates[2] == {"id": 4003, "name": "old-promo", "subject": "Last year's promotion",
                            "is_one_to_one_email": True, "is_archived": True, "is_autoresponder_email": False,
                            "is_drip_email": False, "is_list_email": True}


def test_templates_show(applied: Path) -> None:
    code, out, _ = run(applied, "templates", "show", "4001")
    assert code == 0
    assert "Welcome, %%first_name%%" in out and "list, one-to-one" in out and "%%unsubscribe%%" in out
    code, out, _ = run(applied, "templates", "show", "4001", "--json")
    template = as_json(out)
    assert template["reply_to_address"] == "jane@example.com"
    assert template["send_from"] == [{"type": "general_user", "user_id": 3001}]


@pytest.mark.parametrize(
    ("args", "code", "expected"),
    [
        (["templates", "show", "4003"], 1, "Pardot error 68"),  # archived: not found unless asked for
        (["templates", "show", "4003", "--archived", "--json"], 0, '"is_archived": true'),
        (["templates", "show", "4999"], 1, "Pardot error 68"),
        (["templates", "show", "0"], 64, "0 is not in the range x>=1"),
        (["emails", "show", "999999"], 1, "Pardot error 109"),
        (["stats", "999999"], 1, "Pardot error 109"),
        (["stats", "999999", "--json"], 1, "Pardot error 109"),
    ],
)
def test_ids_that_name_nothing_fail_cleanly(applied: Path, args: list[str], code: int, expected: str) -> None:
    got, out, err = run(applied, *args)  # run() fails the test on any traceback
    assert got == code, out + err
    assert expected in (out if code == 0 else err)


# --- emails ---------------------------------------------------------------------------------


def test_emails_show_masks_the_prospect_unless_revealed(applied: Path) -> None:
    key = f"demo-followup/{HIDDEN_ADDRESS}"
    email_id = email_ids(applied)[key]
    code, out, _ = run(applied, "emails", "show", str(email_id))
    assert code == 0 and f"demo-followup/{MASKED_ADDRESS}" in out and HIDDEN_ADDRESS not in out
    assert "one-to-one" in out and "text body" in out
    code, out, _ = run(applied, "--reveal-emails", "emails", "show", str(email_id))
    assert code == 0 and key in out


def test_emails_show_json_with_and_without_message(applied: Path) -> None:
    email_id = email_ids(applied)["spring-sale@2027-03-01T14:00:00Z"]
    code, out, _ = run(applied, "emails", "show", str(email_id), "--json")
    email = as_json(out)
    assert code == 0 and email["name"] == "spring-sale@2027-03-01T14:00:00Z" and email["campaign_id"] == 1001
    assert email["scheduled_time"] == "2027-03-01T14:00:00+00:00" and "%%unsubscribe%%" in email["text"]
    code, out, _ = run(applied, "emails", "show", str(email_id), "--json", "--no-message")
    assert as_json(out)["text"] is None and as_json(out)["html"] is None
    code, out, _ = run(applied, "emails", "show", str(email_id), "--no-message")
    assert code == 0 and "text body" not in out


# --- stats of one email ---------------------------------------------------------------------


def test_stats_of_one_email_id_in_every_format(applied: Path) -> None:
    email_id = email_ids(applied)["weekly-newsletter@2026-12-07T08:00:00Z"]
    code, out, _ = run(applied, "stats", str(email_id), "--json", clock=AFTER)
    single = as_json(out)
    assert code == 0 and list(single) == ["email_id", *COUNT_FIELDS, *RATE_FIELDS]
    assert single["email_id"] == email_id and single["sent"] > 0 and isinstance(single["opens_rate"], float)
    assert run(applied, "stats", str(email_id), "--format", "json", clock=AFTER)[1] == out

    code, out, _ = run(applied, "stats", str(email_id), "--format", "csv", clock=AFTER)
    (row,) = list(csv.DictReader(io.StringIO(out)))
    assert int(row["sent"]) == single["sent"] and float(row["delivery_rate"]) == single["delivery_rate"]

    code, out, _ = run(applied, "stats", str(email_id), clock=AFTER)
    assert code == 0 and f"Statistics of email {email_id}" in out and f"{single['delivery_rate']:.2f} %" in out


# --- stats of campaigns ---------------------------------------------------------------------


def test_stats_all_json_joins_state_and_pardot(applied: Path) -> None:
    code, out, err = run(applied, "stats", "--all", "--json", clock=AFTER)
    document = as_json(out)
    assert code == 0 and err == ""
    sends = document["sends"]
    assert [s["key"] for s in sends] == list(EXAMPLE_KEYS)  # in send-time order, never masked in JSON
    assert all(list(s) == list(ROW_FIELDS) for s in sends)
    assert {s["kind"] for s in sends} == {"list", "one-to-one"}
    spring = sends[-1]
    assert (spring["campaign"], spring["status"], spring["sent_at"]) == (
        "spring-sale", "scheduled", "2027-03-01T14:00:00+00:00")
    ids = email_ids(applied)
    single = as_json(run(applied, "stats", str(ids[spring["key"]]), "--json", clock=AFTER)[1])
    figures = (*COUNT_FIELDS, *RATE_FIELDS)
    assert {k: spring[k] for k in figures} == {k: single[k] for k in figures}
    totals = {t["campaign"]: t for t in document["campaigns"]}
    assert totals["demo-followup"]["sends"] == 2
    assert totals["demo-followup"]["sent"] == sum(s["sent"] for s in sends if s["campaign"] == "demo-followup")
    assert document["skipped"] == []


def test_stats_campaigns_as_csv_are_masked_and_numeric(applied: Path) -> None:
    code, out, _ = run(applied, "stats", "demo-followup", "weekly-newsletter", "--format", "csv", clock=AFTER)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and tuple(rows[0]) == ROW_FIELDS
    assert [r["key"] for r in rows] == ["demo-followup/1234", f"demo-followup/{MASKED_ADDRESS}",
                                        "weekly-newsletter@2026-12-07T08:00:00Z"]
    assert all(0.0 <= float(r["delivery_rate"]) <= 100.0 and int(r["sent"]) >= 1 for r in rows)
    code, out, _ = run(applied, "--reveal-emails", "stats", "demo-followup", "--format", "csv", clock=AFTER)
    assert f"demo-followup/{HIDDEN_ADDRESS}" in out


def test_stats_table_groups_sends_by_campaign(applied: Path) -> None:
    code, out, _ = run(applied, "stats", "--all", clock=AFTER)
    assert code == 0
    for key in EXAMPLE_KEYS:
        assert key.replace(HIDDEN_ADDRESS, MASKED_ADDRESS) in out
    assert HIDDEN_ADDRESS not in out
    assert out.count("total of 1") == 3 and out.count("total of 2") == 1
    assert "5 send(s) in 4 campaign(s)." in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "nothing selected"),
        (["spring-sale", "--all"], "not both"),
        (["70001", "spring-sale"], "an EMAIL_ID stands alone"),
        (["70001", "70002"], "an EMAIL_ID stands alone"),
        (["70001", "--all"], "an EMAIL_ID stands alone"),
        (["--all", "--json", "--format", "csv"], "--json is the same as --format json"),
        (["--all", "--format", "xml"], "'xml' is not one of 'table', 'json', 'csv'"),
    ],
)
def test_stats_usage_errors(applied: Path, args: list[str], message: str) -> None:
    code, _, err = run(applied, "stats", *args, clock=AFTER)
    assert code == 64 and message in err


def test_stats_of_an_unknown_campaign_is_an_error(applied: Path) -> None:
    code, _, err = run(applied, "stats", "spring-sale", "sprnig-sale", clock=AFTER)
    assert code == 1 and "campaign(s) sprnig-sale" in err and "Traceback" not in err


def test_sends_pardot_does_not_know_are_skipped_with_a_note(project: Path) -> None:
    """The sandbox data is lost (a fresh sandbox): every email id in the state names nothing."""
    (project / ".orchestrator" / "sandbox-api.db").unlink()
    code, out, err = run(project, "stats", "--all", clock=AFTER)
    assert code == 0 and "No sent or scheduled emails" in out
    assert err.count("note: no statistics for") == 5 and "Pardot error 109" in err
    assert MASKED_ADDRESS in err and HIDDEN_ADDRESS not in err
    code, out, _ = run(project, "stats", "--all", "--json", clock=AFTER)
    skipped = as_json(out)["skipped"]
    assert [s["key"] for s in skipped] == list(EXAMPLE_KEYS) and as_json(out)["sends"] == []


# --- report ---------------------------------------------------------------------------------


def test_report_writes_one_html_file(project: Path) -> None:
    out = project / "nested-name.html"
    args = ("demo-followup", "spring-sale", "--out", str(out), "--now", NOW)
    code, stdout, _ = run(project, "report", *args, clock=AFTER)
    assert code == 0 and f"Wrote {out}: 3 send(s) in 2 campaign(s)." in stdout
    html = out.read_text(encoding="utf-8")
    assert html.count("<svg") == 4 and "Generated 2026-11-27 12:00 UTC" in html
    assert 'id="campaign-spring-sale"' in html and 'id="campaign-welcome-back"' not in html
    assert MASKED_ADDRESS in html and HIDDEN_ADDRESS not in html
    assert stat.S_IMODE(out.stat().st_mode) & 0o044 == 0o044  # readable by others, unlike a mkstemp file
    assert [p.name for p in project.iterdir() if p.name.startswith(".nested-name")] == []  # no temporary left


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        ([], 64, "nothing selected: name campaigns (NAME ...) or pass --all"),
        (["--all", "x"], 64, "not both"),
        (["--all", "--out", "missing-dir/report.html"], 1, "cannot write missing-dir/report.html"),
        (["nope"], 1, "campaign(s) nope"),
    ],
)
def test_report_errors(project: Path, args: list[str], code: int, message: str) -> None:
    got, _, err = run(project, "report", *args, clock=AFTER)
    assert got == code and message in err


# --- against a base URL ---------------------------------------------------------------------


@pytest.fixture
def live_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The example project with an environment `live` that reaches a sandbox server on 127.0.0.1
    the way it would reach Pardot: `kind: pardot`, a base URL, a business unit and a token variable."""
    sandbox = SandboxApp(db_path=tmp_path / "server.db")
    server = serve(sandbox)
    project = copy_example(tmp_path / "example")
    config = yaml.safe_load((project / "orchestrator.yaml").read_text(encoding="utf-8"))
    live = dict(config["environments"]["sandbox"])
    live["api"] = {"kind": "pardot", "base_url": server.url, "business_unit_id": SANDBOX_BUSINESS_UNIT,
                   "auth": {"method": "token", "token_env": "ORCHESTRATOR_TEST_TOKEN"}}
    live["state"] = {"backend": "sqlite", "path": ".orchestrator/live.db"}
    config["environments"]["live"] = live
    (project / "orchestrator.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    monkeypatch.setenv("ORCHESTRATOR_TEST_TOKEN", SANDBOX_TOKEN)
    try:
        yield project
    finally:
        server.shutdown()
        sandbox.close()


def test_commands_against_a_configured_base_url(live_project: Path) -> None:
    live = ("--env", "live")
    code, out, err = run(live_project, *live, "apply", "--auto-approve", "--now", NOW)
    assert code == 1 and "only simulates time against the sandbox" in err  # real Pardot: the real clock
    # The real clock is refused as --now, but the clock seam still pins "today" (no calendar dependence).
    code, out, err = run(live_project, *live, "apply", "--auto-approve", clock=fixed_clock(NOW))
    assert code == 0, out + err
    assert not (live_project / ".orchestrator" / "sandbox-api.db").exists()  # nothing went in process

    code, out, _ = run(live_project, *live, "templates", "list", "--json")
    assert code == 0 and [t["name"] for t in as_json(out)["templates"]] == ["welcome", "follow-up"]
    code, out, _ = run(live_project, *live, "templates", "show", "4002", "--json")
    assert code == 0 and as_json(out)["subject"] == "Following up"

    code, out, _ = run(live_project, *live, "stats", "--all", "--json")
    sends = as_json(out)["sends"]
    assert code == 0 and [s["key"] for s in sends] == list(EXAMPLE_KEYS)
    first = sends[0]["email_id"]
    code, out, _ = run(live_project, *live, "emails", "show", str(first), "--json", "--no-message")
    assert code == 0 and as_json(out)["name"] == EXAMPLE_KEYS[0]
    code, out, _ = run(live_project, *live, "stats", str(first), "--json")
    assert code == 0 and as_json(out)["sent"] == sends[0]["sent"]


def test_a_refused_token_against_a_base_url_fails_cleanly(live_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCHESTRATOR_TEST_TOKEN", "not-the-token")
    code, _, err = run(live_project, "--env", "live", "templates", "list")
    assert code == 1 and "Pardot error 184" in err and "not-the-token" not in err


def test_stats_skip_an_email_id_that_now_names_another_email(project: Path) -> None:
    """After `sandbox reset` without --state the ids are handed out again: 70001 is another email."""
    first = next(key for key, email_id in email_ids(project).items() if email_id == 70001)  # sends go in parallel
    code, out, err = run(project, "sandbox", "reset")
    assert code == 0, out + err
    stray = project / "campaigns" / "stray.yaml"
    stray.write_text(
        "name: stray\ncampaign: spring-2027\nlists: [newsletter]\nsender: {name: A, email: a@example.com}\n"
        "subject: Stray\ntext: '%%unsubscribe%%'\nschedule: {now: true}\n"
    )
    assert run(project, "apply", "--auto-approve", "--now", NOW)[0] in (0, 3)
    code, out, err = run(project, "stats", "--all", "--json", clock=AFTER)
    document = as_json(out)
    skipped = {s["key"]: s["reason"] for s in document["skipped"]}
    assert first in skipped and "is named 'stray@now' in Pardot, not" in skipped[first], out + err
    assert first not in [s["key"] for s in document["sends"]]
