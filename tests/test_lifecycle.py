"""plan / apply / show / state through the real CLI against the in-process sandbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.schemas import validate_data
from tests.helpers import NOW, copy_example, sandbox_emails
from tests.helpers import run_at_now as run


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A fresh copy of the example project for each test: applies write state next to it."""
    return copy_example(tmp_path / "example")


def test_plan_apply_plan_again(project: Path) -> None:
    code, out, _ = run(project, "plan", "--now", NOW, "--detailed-exitcode")
    assert code == 2, out
    assert "Plan: 2 to send now, 3 to schedule." in out
    assert "j***@example.com" in out and "jane.prospect@example.com" not in out  # masked unless --reveal-emails

    code, out, err = run(project, "apply", "--auto-approve", "--now", NOW)
    assert code == 0, out + err
    assert "Apply complete: 2 sent, 3 scheduled" in out
    emails = sandbox_emails(project)
    assert sorted(e["name"] for e in emails) == sorted(
        [
            "demo-followup/1234",
            "demo-followup/jane.prospect@example.com",
            "spring-sale@2027-03-01T14:00:00Z",
            "weekly-newsletter@2026-12-07T08:00:00Z",
            "welcome-back@2027-01-12T15:30:00Z",
        ]
    )
    spring = next(e for e in emails if str(e["name"]).startswith("spring-sale"))
    assert spring["list_ids"] == [2001, 2002] and spring["suppression_list_ids"] == [2003]
    assert spring["tags"] == ["spring", "promo"]

    code, out, _ = run(project, "sandbox", "emails", "--json")  # the project's in-process sandbox by default
    assert code == 0 and len(json.loads(out)["emails"]) == 5
    code, out, _ = run(project, "plan", "--now", NOW, "--detailed-exitcode")
    assert code == 0, out
    assert "Plan: 5 unchanged." in out
    code, out, _ = run(project, "apply", "--auto-approve", "--now", NOW)
    assert code == 0 and "No changes" in out
    assert len(sandbox_emails(project)) == 5


def test_apply_without_terminal_or_approval_refuses(project: Path) -> None:
    code, _, err = run(project, "apply", "--now", NOW)
    assert code == 1
    assert "no terminal" in err and "--auto-approve" in err
    assert sandbox_emails(project) == []


def test_plan_json_validates_against_schema_and_markdown(project: Path) -> None:
    code, out, _ = run(project, "plan", "--format", "json", "--now", NOW)
    assert code == 0
    document = json.loads(out)
    assert validate_data("plan", document) == []
    assert document["summary"]["send"] == 2 and document["summary"]["schedule"] == 3
    code, out, _ = run(project, "plan", "--format", "markdown", "--now", NOW)
    assert code == 0
    assert out.startswith("<!-- orchestrator-plan -->\n") and "### orchestrator plan: `sandbox`" in out
    assert "<details" in out


def test_saved_plan_apply_and_refusals(project: Path, tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    code, out, _ = run(project, "plan", "--out", str(plan_file), "--now", NOW)
    assert code == 0, out
    document = json.loads(plan_file.read_text())
    assert validate_data("plan", document) == []
    assert document["checksum"].startswith("sha256:")

    # altered
    altered = tmp_path / "altered.json"
    doc = json.loads(plan_file.read_text())
    doc["changes"][0]["payload"]["subject"] = "Hacked"
    altered.write_text(json.dumps(doc))
    code, _, err = run(project, "apply", str(altered), "--now", NOW)
    assert code == 1 and "altered" in err
    # expired
    code, _, err = run(project, "apply", str(plan_file), "--now", "2026-11-27T14:00:00Z")
    assert code == 1 and "expired" in err
    # wrong environment
    code, _, err = run(project, "--env", "production", "apply", str(plan_file), "--now", NOW)
    assert code == 1 and ("environment" in err or "ORCHESTRATOR_STATE_DSN" in err)
    assert sandbox_emails(project) == []

    # show, then apply exactly the saved plan
    code, out, _ = run(project, "show", str(plan_file))
    assert code == 0 and "Plan: 2 to send now, 3 to schedule." in out
    code, out, err = run(project, "apply", str(plan_file), "--now", NOW)
    assert code == 0, out + err
    assert len(sandbox_emails(project)) == 5
    # stale: the state moved on since the plan was made
    code, _, err = run(project, "apply", str(plan_file), "--now", NOW)
    assert code == 1 and "state changed since the plan was made" in err
    assert len(sandbox_emails(project)) == 5


def test_a_send_now_inside_the_lead_time_is_held_alone_at_apply(project: Path, tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    code, _, _ = run(project, "plan", "--out", str(plan_file), "--now", "2026-12-07T07:00:00Z")
    assert code == 0
    # 55 minutes later the plan has not expired, but the 08:00Z send is 5 minutes away (< 10m lead time):
    # that send is held and reported by key; the rest of the plan goes out (issue 18).
    code, out, err = run(project, "apply", str(plan_file), "--now", "2026-12-07T07:55:00Z")
    assert code == 3, out + err
    assert "! blocked   weekly-newsletter@2026-12-07T08:00:00Z" in out and "inside the minimum lead" in out
    assert "Apply complete: 2 sent, 3 scheduled." in out
    assert "need a human (blocked, missed, unknown or orphaned: weekly-newsletter@2026-12-07T08:00:00Z)" in out
    assert "weekly-newsletter@2026-12-07T08:00:00Z" not in [e["name"] for e in sandbox_emails(project)]


def test_blocked_change_and_accept(project: Path) -> None:
    run(project, "apply", "--auto-approve", "--now", NOW)
    sale = project / "campaigns" / "spring-sale.yaml"
    sale.write_text(sale.read_text().replace("discount: 20", "discount: 25"))
    code, out, _ = run(project, "plan", "--now", NOW, "--detailed-exitcode")
    assert code == 3, out  # blocked is not a change apply can make: it needs a human
    assert "! blocked   spring-sale@2027-03-01T14:00:00Z" in out
    assert "-Spring sale: 20% off everything" in out and "+Spring sale: 25% off everything" in out
    code, out, _ = run(project, "state", "accept", "spring-sale@2027-03-01T14:00:00Z", "--now", NOW)
    assert code == 0, out
    code, out, _ = run(project, "plan", "--now", NOW)
    assert "blocked" not in out and "Plan: 5 unchanged." in out
    code, out, _ = run(project, "state", "show", "spring-sale@2027-03-01T14:00:00Z")
    assert [e["action"] for e in json.loads(out)["journal"]] == ["intent", "scheduled", "accept-drift"]


def test_state_list_json_and_unknown_resolution(project: Path) -> None:
    run(project, "apply", "--auto-approve", "--now", NOW)
    code, out, _ = run(project, "state", "list", "--json")
    sends = json.loads(out)["sends"]
    assert code == 0 and len(sends) == 5 and {s["status"] for s in sends} == {"sent", "scheduled"}
    code, _, err = run(project, "state", "resolve", "demo-followup/1234", "--not-sent")
    assert code == 1 and "not unknown" in err
    code, _, err = run(project, "state", "show", "nope")
    assert code == 1 and "no send 'nope'" in err


def test_daily_limit_stops_the_run_cleanly_leaving_the_rest_pending(tmp_path: Path) -> None:
    root = tmp_path / "quota"
    (root / "campaigns").mkdir(parents=True)
    (root / "orchestrator.yaml").write_text(
        "version: 1\ntimezone: UTC\nenvironments:\n  sandbox:\n"
        "    api: {kind: sandbox, daily_limit: 6}\n    state: {backend: sqlite, path: state.db}\n"
        "    ids: {campaigns: {c: 1001}, lists: {newsletter: 2001}}\n"
    )
    for i in range(12):
        (root / "campaigns" / f"n{i:02d}.yaml").write_text(
            f"name: n{i:02d}\ncampaign: c\nlists: [newsletter]\nsender: {{name: A, email: a@example.com}}\n"
            f"subject: s{i}\ntext: '%%unsubscribe%%'\n"  # distinct: the same email twice would be a repeat
        )
    code, out, _ = run(root, "apply", "--auto-approve", "--now", NOW)
    assert code == 3  # a failed send needs a human
    assert "Stopped early: daily API limit reached" in out
    code, listing, _ = run(root, "state", "list", "--json")
    statuses = [s["status"] for s in json.loads(listing)["sends"]]
    assert statuses.count("sent") == 4  # six calls: the plan's two id checks, then four sends
    assert set(statuses) == {"sent", "failed"}  # the refused ones failed; none is unknown
    assert len(statuses) < 12  # the rest were never started: no intent, still pending
    emails = [e for e in sandbox_emails(root) if str(e["name"]).startswith("n")]
    assert len(emails) == 4
    code, out, _ = run(root, "plan", "--now", NOW)
    assert "Plan: 8 to send now, 4 unchanged." in out  # failed and pending sends are offered again


def test_changed_cron_is_held_until_old_occurrences_are_forgotten(project: Path) -> None:
    run(project, "apply", "--auto-approve", "--now", NOW)
    weekly = project / "campaigns" / "newsletter" / "weekly.yaml"
    weekly.write_text(weekly.read_text().replace('cron: "0 9 * * MON"', 'cron: "0 10 * * MON"'))
    code, out, _ = run(project, "plan", "--now", NOW)
    assert "- orphaned  weekly-newsletter@2026-12-07T08:00:00Z" in out and "WILL STILL GO OUT" in out
    assert "! blocked   weekly-newsletter@2026-12-07T09:00:00Z" in out and "state skip" in out
    old_key = "weekly-newsletter@2026-12-07T08:00:00Z"
    code, out, err = run(project, "state", "skip", old_key, "--reason", "cron moved")
    assert code == 1 and "Pardot still has list email" in err  # not before it is deleted in Pardot
    email_id = json.loads(run(project, "state", "show", old_key)[1])["email_id"]
    assert run(project, "sandbox", "emails", "delete", str(email_id))[0] == 0  # the operator deletes it
    code, out, err = run(project, "state", "skip", old_key, "--reason", "cron moved")
    assert code == 0, out + err
    code, out, _ = run(project, "plan", "--now", NOW)
    assert "> schedule  weekly-newsletter@2026-12-07T09:00:00Z" in out
    code, _, err = run(project, "state", "forget", "demo-followup/1234")
    assert code == 1 and "not scheduled" in err


def test_faults_configured_for_the_in_process_sandbox(tmp_path: Path) -> None:
    root = tmp_path / "faulty"
    (root / "campaigns").mkdir(parents=True)
    (root / "orchestrator.yaml").write_text(
        "version: 1\ntimezone: UTC\nenvironments:\n  sandbox:\n"
        "    api: {kind: sandbox, faults: {drop-after: 1.0}, fault_seed: 1}\n"
        "    state: {backend: sqlite, path: state.db}\n"
        "    ids: {campaigns: {c: 1001}, lists: {newsletter: 2001}}\n"
    )
    (root / "campaigns" / "a.yaml").write_text(
        "name: a\ncampaign: c\nlists: [newsletter]\nsender: {name: A, email: a@example.com}\n"
        "subject: s\ntext: '%%unsubscribe%%'\n"
    )
    code, out, _ = run(root, "apply", "--auto-approve", "--now", NOW)
    assert code == 3 and "Some outcomes are unknown" in out
    assert "orchestrator state resolve a@now --sent EMAIL_ID" in out and " KEY " not in out  # the key itself
    assert [e["name"] for e in sandbox_emails(root)] == ["a@now"]  # created, but the answer was lost
    code, out, _ = run(root, "plan", "--now", NOW, "--detailed-exitcode")
    assert code == 3 and "? unknown   a@now" in out  # an unknown outcome needs a human


def test_lead_time_holds_one_send_in_plan_and_is_a_warning_for_validate(project: Path) -> None:
    now = "2026-12-07T07:55:00Z"  # the weekly newsletter is due at 08:00Z, inside the 10m lead time
    code, out, _ = run(project, "validate", "--now", now)
    assert code == 0 and "warning" in out and "inside the minimum lead time" in out
    code, out, _ = run(project, "plan", "--now", now, "--detailed-exitcode")
    assert code == 3 and "inside the minimum lead time" in out  # that send needs a human; the rest is planned
    assert "Plan: 2 to send now, 3 to schedule, 1 blocked." in out
    run(project, "apply", "--auto-approve", "--now", "2026-12-07T07:00:00Z")
    code, out, _ = run(project, "plan", "--now", now)  # already scheduled: no longer a problem
    assert code == 0 and "inside the minimum lead time" not in out


def test_render_any_occurrence_and_at_in_the_campaign_zone(project: Path) -> None:
    code, out, _ = run(project, "render", "weekly-newsletter", "--at", "2026-12-07T09:00:00", "--now", NOW)
    assert code == 0, out  # 09:00 in the campaign's Europe/Berlin, not the project's New York
    assert "=== weekly-newsletter@2026-12-07T08:00:00Z" in out
    code, out, _ = run(
        project, "render", "weekly-newsletter", "--at", "2026-12-07T09:00:00", "--now", "2026-12-07T08:55:00Z"
    )
    assert code == 0, out  # rendering a send that is minutes away (or past) is not a policy question


def test_state_forget_refuses_an_email_whose_time_has_passed(project: Path) -> None:
    run(project, "apply", "--auto-approve", "--now", NOW)
    db = project / ".orchestrator" / "sandbox.db"
    import sqlite3

    with sqlite3.connect(db) as conn:  # make the scheduled newsletter's time lie in the past
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        assert tables
    from orchestrator.state import open_store

    store = open_store("sqlite", path=db)
    key = "weekly-newsletter@2026-12-07T08:00:00Z"
    record = store.get(key)
    assert record is not None
    import dataclasses
    from datetime import UTC, datetime

    with store.lock("test"):
        store.put(dataclasses.replace(record, scheduled_time=datetime(2026, 11, 1, tzinfo=UTC)), action="test")
    store.close()
    code, _, err = run(project, "state", "forget", key)
    assert code == 1 and "has passed" in err


def test_accept_on_a_send_held_by_orphans_is_a_clean_error(project: Path) -> None:
    run(project, "apply", "--auto-approve", "--now", NOW)
    weekly = project / "campaigns" / "newsletter" / "weekly.yaml"
    weekly.write_text(weekly.read_text().replace('cron: "0 9 * * MON"', 'cron: "0 10 * * MON"'))
    code, _, err = run(project, "state", "accept", "weekly-newsletter@2026-12-07T09:00:00Z", "--now", NOW)
    assert code == 1 and "blocked because of other emails" in err


def test_plan_out_to_an_unwritable_path_is_a_clean_error(project: Path) -> None:
    code, _, err = run(project, "plan", "--out", str(project / "orchestrator.yaml" / "plan.json"), "--now", NOW)
    assert code == 1 and "cannot write the plan" in err


def test_operational_sends_are_flagged_in_every_listing(project: Path) -> None:
    sale = project / "campaigns" / "spring-sale.yaml"
    sale.write_text(sale.read_text().replace("reply_to:", "operational: {reason: 'Price error correction'}\nreply_to:"))
    code, out, _ = run(project, "plan", "--format", "markdown", "--now", NOW)
    assert "| **OPERATIONAL** |" in out
    code, out, _ = run(project, "apply", "--auto-approve", "--now", NOW)
    assert "scheduled spring-sale@2027-03-01T14:00:00Z (email" in out and "[OPERATIONAL]" in out
    code, out, _ = run(project, "state", "list")
    assert code == 0 and "OPERATIONAL" in out


def test_render_masks_prospect_addresses_unless_revealed(project: Path) -> None:
    followup = project / "campaigns" / "demo-followup.yaml"
    followup.write_text(followup.read_text().replace("prospects: [1234, ", "prospects: ["))
    code, out, _ = run(project, "render", "demo-followup", "--now", NOW)
    assert "jane.prospect@example.com" not in out and "j***@example.com" in out
    code, out, _ = run(project, "--reveal-emails", "render", "demo-followup", "--now", NOW)
    assert code == 0 and "=== demo-followup/jane.prospect@example.com" in out


def test_a_masked_key_from_state_list_works_with_state_show(project: Path) -> None:
    assert run(project, "apply", "--auto-approve", "--now", NOW)[0] == 0
    code, out, _ = run(project, "state", "list")
    assert "demo-followup/j***@example.com" in out
    code, out, err = run(project, "state", "show", "demo-followup/j***@example.com")
    assert code == 0, err
    assert json.loads(out)["key"] == "demo-followup/jane.prospect@example.com"



def test_a_newsletter_issue_without_content_waits_for_it(project: Path) -> None:
    """Issue 11: per-issue content; a Monday without its issue is deferred, never sent stale."""
    code, out, _ = run(project, "plan", "--now", "2026-12-10T12:00:00Z", "--show-unchanged", "--format", "json")
    changes = {c["key"]: c for c in json.loads(out)["changes"]}
    written = changes["weekly-newsletter@2026-12-14T08:00:00Z"]
    assert written["action"] == "schedule" and "Holiday opening hours" in written["payload"]["html_content"]
    waiting = changes["weekly-newsletter@2026-12-21T08:00:00Z"]
    assert waiting["action"] == "defer" and waiting["payload"]["html_content"] is None
    assert "no content for the issue of 2026-12-21 yet" in waiting["reason"]
    assert run(project, "apply", "--auto-approve", "--now", "2026-12-10T12:00:00Z")[0] == 0
    assert "weekly-newsletter@2026-12-21T08:00:00Z" not in [e["name"] for e in sandbox_emails(project)]
    # Its time passes without content: missed (a human must look), never sent with old stories.
    code, out, _ = run(project, "plan", "--now", "2026-12-21T12:00:00Z", "--detailed-exitcode")
    assert code == 3 and "passed with no content" in out
