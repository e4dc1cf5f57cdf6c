"""The operator's corrections through the real CLI: skip, forget and resolve check Pardot first."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import NOW, applied_example, sandbox_emails
from tests.helpers import run_at_now as run

MISSED_AT = "2026-12-15T09:00:00Z"  # the 2026-12-14 issue (08:00Z) was never applied: missed
MISSED_KEY = "weekly-newsletter@2026-12-14T08:00:00Z"
SCHEDULED_KEY = "spring-sale@2027-03-01T14:00:00Z"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return applied_example(tmp_path / "example")


def journal(project: Path, key: str) -> list[dict[str, object]]:
    code, out, err = run(project, "state", "show", key)
    assert code == 0, out + err
    entries: list[dict[str, object]] = json.loads(out)["journal"]
    return entries


def test_a_skipped_missed_issue_no_longer_needs_a_human(project: Path) -> None:
    code, out, _ = run(project, "plan", "--now", MISSED_AT, "--detailed-exitcode")
    assert code == 3 and f"x missed    {MISSED_KEY}" in out, out
    code, out, err = run(project, "state", "skip", MISSED_KEY, "--reason", "holiday week: no issue", "--now", MISSED_AT)
    assert code == 0, out + err
    code, out, _ = run(project, "plan", "--now", MISSED_AT, "--detailed-exitcode")
    assert code == 0, out
    assert f"/ skipped   {MISSED_KEY}" in out and "holiday week: no issue" in out and "skipped on purpose by" in out
    assert "1 skipped" in out
    entry = journal(project, MISSED_KEY)[-1]
    assert entry["action"] == "skip" and entry["detail"]["reason"] == "holiday week: no issue"  # type: ignore[index]
    code, out, _ = run(project, "apply", "--auto-approve", "--allow-late", "--now", MISSED_AT)
    assert MISSED_KEY not in [e["name"] for e in sandbox_emails(project)]  # never sent, even with --allow-late


def test_a_skip_ends_when_the_content_changes(project: Path) -> None:
    key = "weekly-newsletter@2026-12-14T08:00:00Z"
    now = "2026-12-01T12:00:00Z"  # the issue of 2026-12-14 is inside the horizon, not yet applied
    code, out, _ = run(project, "plan", "--now", now)
    assert f"> schedule  {key}" in out, out
    code, out, err = run(project, "state", "skip", key, "--reason", "cancelled", "--now", now)
    assert code == 0, out + err
    code, out, _ = run(project, "plan", "--now", now)
    assert f"/ skipped   {key}" in out
    weekly = project / "campaigns" / "newsletter" / "weekly.yaml"
    weekly.write_text(weekly.read_text().replace("Holiday opening hours", "Holiday hours, corrected"))
    code, out, _ = run(project, "plan", "--now", now)
    assert f"> schedule  {key}" in out and "skipped before, but its content changed since" in out, out


def test_skip_refuses_a_scheduled_email_pardot_still_holds(project: Path) -> None:
    code, out, err = run(project, "state", "skip", SCHEDULED_KEY, "--reason", "cancelled", "--now", NOW)
    assert code == 1 and "Pardot still has list email" in err and "delete it in Pardot first" in err, err
    code, out, _ = run(project, "plan", "--now", NOW, "--detailed-exitcode")
    assert code == 0 and "skipped" not in out  # nothing was written


def test_skip_needs_a_reason_and_a_send(project: Path) -> None:
    code, _, err = run(project, "state", "skip", MISSED_KEY, "--now", MISSED_AT)
    assert code == 64 and "--reason" in err
    code, _, err = run(project, "state", "skip", "nope@now", "--reason", "x", "--now", NOW)
    assert code == 1 and "neither a send the files ask for nor one in the state" in err
    code, _, err = run(project, "state", "skip", "demo-followup/1234", "--reason", "x", "--now", NOW)
    assert code == 1 and "is sent: only a send that has not gone out can be skipped" in err


def test_forget_refuses_while_pardot_still_holds_the_email(project: Path) -> None:
    code, _, err = run(project, "state", "forget", SCHEDULED_KEY, "--now", NOW)
    assert code == 1 and "Pardot still has list email" in err, err
    code, out, _ = run(project, "state", "show", SCHEDULED_KEY)
    assert json.loads(out)["status"] == "scheduled"
    code, _, err = run(project, "state", "forget", SCHEDULED_KEY, "--force", "--now", NOW)
    assert code == 64 and "--force needs --reason" in err
    code, out, err = run(
        project, "state", "forget", SCHEDULED_KEY, "--force", "--reason", "deleted in the UI, v5 lags", "--now", NOW
    )
    assert code == 0, out + err
    entry = journal(project, SCHEDULED_KEY)[-1]
    assert entry["action"] == "forget"
    assert entry["detail"] == {  # the override and its reason are journaled
        "previous": "scheduled",
        "email_id": entry["detail"]["email_id"],  # type: ignore[index]
        "forced": True,
        "reason": "deleted in the UI, v5 lags",
    }


def test_resolve_sent_checks_the_state_before_reading_pardot(project: Path) -> None:
    config = project / "orchestrator.yaml"
    failing = "api: {kind: sandbox, faults: {http500: 1.0}}"  # every API call fails
    config.write_text(config.read_text().replace("api: {kind: sandbox}", failing))
    code, _, err = run(project, "state", "resolve", "demo-followup/1234", "--sent", "70001", "--now", NOW)
    assert code == 1 and "is sent, not unknown: nothing to resolve" in err, err


def blast_project(root: Path) -> Path:
    (root / "campaigns").mkdir(parents=True)
    (root / "orchestrator.yaml").write_text(
        "version: 1\ntimezone: UTC\nenvironments:\n  sandbox:\n"
        "    api: {kind: sandbox}\n    state: {backend: sqlite, path: state.db}\n"
        "    ids: {campaigns: {c: 1001}, lists: {newsletter: 2001}}\n"
    )
    (root / "campaigns" / "blast.yaml").write_text(
        "name: blast-1\ncampaign: c\nlists: [newsletter]\nsender: {name: A, email: a@example.com}\n"
        "subject: Big news\ntext: 'Hello %%unsubscribe%%'\nschedule: {now: true}\n"
    )
    code, out, err = run(root, "apply", "--auto-approve", "--now", NOW)
    assert code == 0, out + err
    blast = root / "campaigns" / "blast.yaml"
    blast.write_text(blast.read_text().replace("name: blast-1", "name: blast2-1"))
    return root


def test_a_renamed_sent_campaign_is_a_repeat_that_needs_a_human(tmp_path: Path) -> None:
    root = blast_project(tmp_path / "blast")
    code, out, _ = run(root, "plan", "--now", NOW, "--detailed-exitcode")
    assert code == 3, out
    assert "! blocked   blast2-1@now" in out and "looks like 'blast-1@now'" in out and "as email 70001" in out
    code, out, _ = run(root, "apply", "--auto-approve", "--now", NOW)
    assert code == 3 and [e["name"] for e in sandbox_emails(root)] == ["blast-1@now"], out  # not sent again

    code, out, err = run(root, "state", "rename", "blast-1@now", "blast2-1@now", "--now", NOW)
    assert code == 0 and "blast2-1@now: now holds blast-1@now's record (sent, email 70001)" in out, out + err
    code, out, _ = run(root, "plan", "--now", NOW, "--detailed-exitcode")
    assert code == 0, out
    assert [e["action"] for e in journal(root, "blast2-1@now")] == ["rename"]
    assert [e["action"] for e in journal(root, "blast-1@now")][-1] == "renamed"


def test_an_intended_repeat_is_confirmed_with_accept(tmp_path: Path) -> None:
    root = blast_project(tmp_path / "blast")
    code, out, err = run(root, "state", "accept", "blast2-1@now", "--now", NOW)
    assert code == 0 and "repeat confirmed; the next apply sends it" in out, out + err
    code, out, _ = run(root, "plan", "--now", NOW, "--detailed-exitcode")
    assert code == 2 and "+ send      blast2-1@now" in out, out
    code, out, _ = run(root, "apply", "--auto-approve", "--now", NOW)
    assert code == 0 and sorted(e["name"] for e in sandbox_emails(root)) == ["blast-1@now", "blast2-1@now"], out


def one_to_one_project(root: Path, prospects: str) -> Path:
    (root / "campaigns").mkdir(parents=True)
    (root / "orchestrator.yaml").write_text(
        "version: 1\ntimezone: UTC\nenvironments:\n  sandbox:\n"
        "    api: {kind: sandbox}\n    state: {backend: sqlite, path: state.db}\n"
        "    ids: {campaigns: {c: 1001}, lists: {newsletter: 2001}, users: {jane: 3001}}\n"
    )
    (root / "campaigns" / "welcome.yaml").write_text(
        f"name: welcome\nkind: one-to-one\ncampaign: c\nprospects: {prospects}\nsender: {{user: jane}}\n"
        "subject: Welcome\ntext: 'Hello %%email_preference_center%%'\nschedule: {now: true}\n"
    )
    return root


@pytest.mark.parametrize(
    ("prospects", "message"),
    [
        ("[424242]", "welcome.yaml:4:13: error: prospect 424242 does not exist in Pardot"),
        ("[5007]", "prospect 5007 has opted out: Pardot would refuse the send (error 98)"),
        ("[nobody@example.com]", "prospect n***@example.com#6bb5 does not exist in Pardot"),
        ("[1234, Ada@Example.com]", "prospect 1234 is listed twice (1234 and a***@example.com#27e9)"),
    ],
    ids=["unknown-id", "opted-out", "unknown-address", "same-person-twice"],
)
def test_one_to_one_recipients_are_checked_at_plan_time(tmp_path: Path, prospects: str, message: str) -> None:
    root = one_to_one_project(tmp_path / "p", prospects)
    code, out, err = run(root, "plan", "--now", NOW, "--detailed-exitcode")
    assert code == 1, out + err
    assert "campaigns/welcome.yaml:" in out + err and message in out + err, out + err
    code, out, err = run(root, "apply", "--auto-approve", "--now", NOW)
    assert code == 1 and sandbox_emails(root) == [], out + err  # nothing was sent


def test_mailable_one_to_one_recipients_plan_as_before(tmp_path: Path) -> None:
    root = one_to_one_project(tmp_path / "p", "[1234, jane.prospect@example.com]")
    code, out, err = run(root, "plan", "--now", NOW, "--detailed-exitcode")
    assert code == 2 and "Plan: 2 to send now." in out, out + err


def test_the_runbook_delete_in_pardot_then_skip(project: Path) -> None:
    """A scheduled send that must not go out: delete it in Pardot, `state skip`, then change the file."""
    email_id = json.loads(run(project, "state", "show", SCHEDULED_KEY)[1])["email_id"]
    code, out, err = run(project, "sandbox", "emails", "delete", str(email_id))
    assert code == 0, out + err
    code, out, err = run(project, "state", "skip", SCHEDULED_KEY, "--reason", "sale cancelled", "--now", NOW)
    assert code == 0 and f"email {email_id} deleted in Pardot" in out, out + err
    code, out, _ = run(project, "plan", "--now", NOW, "--detailed-exitcode")
    assert code == 0 and f"/ skipped   {SCHEDULED_KEY}" in out, out
    assert run(project, "apply", "--auto-approve", "--now", NOW)[0] == 0
    names = [e["name"] for e in sandbox_emails(project)]
    assert names.count(SCHEDULED_KEY) == 1  # the deleted one only: never scheduled again
