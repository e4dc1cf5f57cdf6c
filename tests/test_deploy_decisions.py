"""Decisions come from the command line that sends, and are made per send (issue 18), through the CLI.

* A plan file's copy of --allow-late (or of its expiry) decides nothing: the apply's own command
  line must say --allow-late, or nothing late is sent.
* An occurrence inside policy.min_lead_time holds that send alone, as needing a human, with its
  reason; the rest of the plan proceeds (plan and apply alike).
* A send that was reviewed but can no longer go out (inside the lead time, its time passed
  between review and merge) is reported by key, never dropped in silence.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from orchestrator.digest import digest
from tests.helpers import copy_example, sandbox_emails
from tests.helpers import run_at_now as run

WELCOME = "welcome-back@2027-01-12T15:30:00Z"
WEEKLY = "weekly-newsletter@2026-12-07T08:00:00Z"
AFTER_WELCOME = "2027-01-12T16:00:00Z"  # welcome-back's one-shot time passed half an hour ago


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_example(tmp_path / "example")


def names(project: Path) -> list[str]:
    return sorted(str(e["name"]) for e in sandbox_emails(project))


def test_a_plan_saved_with_allow_late_sends_late_only_with_allow_late_on_the_apply(
    project: Path, tmp_path: Path
) -> None:
    plan_file = tmp_path / "plan.json"
    code, out, err = run(project, "plan", "--out", str(plan_file), "--allow-late", "--now", AFTER_WELCOME)
    assert code == 0, out + err
    assert f"+ send      {WELCOME}" in out and "sent now because of --allow-late" in out
    for args in (("apply", str(plan_file)), ("apply", "--auto-approve", "--reviewed", str(plan_file))):
        code, out, err = run(project, *args, "--now", AFTER_WELCOME)
        assert code == 1, (args, out, err)
        assert "made with --allow-late" in err and "pass --allow-late explicitly" in err
        assert names(project) == []
    code, out, err = run(project, "apply", str(plan_file), "--allow-late", "--now", AFTER_WELCOME)
    assert code == 0, out + err
    assert WELCOME in names(project)


def test_a_plan_file_cannot_extend_its_own_expiry(project: Path, tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    assert run(project, "plan", "--out", str(plan_file), "--now", "2026-11-27T12:00:00Z")[0] == 0
    document: dict[str, Any] = json.loads(plan_file.read_text())
    document["expires_at"] = "2027-11-27T12:00:00+00:00"  # edited, checksum recomputed
    body = {k: v for k, v in document.items() if k != "checksum"}
    plan_file.write_text(json.dumps({**body, "checksum": digest(body)}))
    code, _, err = run(project, "apply", str(plan_file), "--now", "2026-11-27T14:00:00Z")
    assert code == 1 and "expired at 2026-11-27T13:00:00Z" in err  # policy.plan_expiry: 1h
    assert names(project) == []


def test_an_occurrence_inside_the_lead_time_holds_that_send_only(project: Path) -> None:
    now = "2026-12-07T07:55:00Z"  # the weekly newsletter is due at 08:00Z: 5 minutes, inside the 10m lead time
    code, out, _ = run(project, "plan", "--format", "json", "--now", now)
    assert code == 0, out
    document = json.loads(out)
    assert not document["errored"] and document["needs_attention"]
    held = next(c for c in document["changes"] if c["key"] == WEEKLY)
    assert held["action"] == "blocked" and "inside the minimum lead time" in held["reason"]
    assert document["attention"] == [WEEKLY]
    assert document["summary"]["send"] == 2 and document["summary"]["schedule"] == 3

    code, out, err = run(project, "apply", "--auto-approve", "--now", now)
    assert code == 3, out + err
    assert "Apply complete: 2 sent, 3 scheduled." in out and WEEKLY in out.splitlines()[-1]
    assert WEEKLY not in names(project) and len(names(project)) == 5


def with_plan_expiry(project: Path, expiry: str) -> None:
    config = project / "orchestrator.yaml"
    text = config.read_text()
    assert "plan_expiry: 1h" in text
    config.write_text(text.replace("plan_expiry: 1h", f"plan_expiry: {expiry}"))


def test_a_reviewed_occurrence_whose_time_passed_before_the_apply_is_reported(project: Path, tmp_path: Path) -> None:
    """Reviewed at 07:00 for 08:00, merged at 09:00: the newsletter cannot go; it says so, by key."""
    with_plan_expiry(project, "3h")
    plan_file = tmp_path / "plan.json"
    code, out, _ = run(project, "plan", "--out", str(plan_file), "--now", "2026-12-07T07:00:00Z")
    assert code == 0 and f"> schedule  {WEEKLY}" in out

    code, out, err = run(project, "apply", str(plan_file), "--now", "2026-12-07T09:00:00Z")
    assert code == 3, out + err
    assert f"x missed    {WEEKLY}" in out and "passed before it could be scheduled" in out
    assert WEEKLY in out.splitlines()[-1]
    assert WEEKLY not in names(project) and len(names(project)) == 5  # the rest went out


def test_apply_reviewed_reports_a_reviewed_occurrence_the_planner_no_longer_offers(
    project: Path, tmp_path: Path
) -> None:
    """The newsletter was never applied, so a plan made after 08:00 leaves its 08:00 occurrence out
    (it predates the campaign's first apply): the reviewed send must not vanish without a word."""
    reviewed = tmp_path / "reviewed.json"
    assert run(project, "plan", "--out", str(reviewed), "--now", "2026-12-07T07:00:00Z")[0] == 0
    merged = "2026-12-07T09:00:00Z"
    code, out, err = run(project, "apply", "--auto-approve", "--reviewed", str(reviewed), "--now", merged)
    assert code == 3, out + err
    assert f"x missed    {WEEKLY}" in out
    assert "reviewed as schedule, but the files no longer give it; its time 2026-12-07T08:00:00Z passed" in out
    assert WEEKLY in out.splitlines()[-1]
    assert WEEKLY not in names(project) and len(names(project)) == 5
