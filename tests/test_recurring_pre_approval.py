"""Recurring sends without routine red (issue 18, item 5): pre-approved occurrences.

Through the real CLI against the in-process sandbox, week by week (``ORCHESTRATOR_NOW``): a weekly
campaign's next occurrence is pre-approved when its content (its payload without its name and
time) equals an earlier occurrence's that a person approved; ``apply PLAN --pre-approved-only``
sends such a plan without a person, and refuses, sending nothing, a plan with any other change.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from orchestrator.digest import digest
from tests.helpers import REPO, fixed_clock, run, sandbox_emails

WEEK1 = "2026-11-30T12:00:00Z"  # Mondays: one new occurrence enters the 7-day horizon each week
WEEK2 = "2026-12-07T12:00:00Z"
WEEK3 = "2026-12-14T12:00:00Z"
FIRST = "weekly@2026-12-07T08:00:00Z"
SECOND = "weekly@2026-12-14T08:00:00Z"
THIRD = "weekly@2026-12-21T08:00:00Z"
#: No person: every variable provenance.approver reads is empty (as on a laptop).
NOBODY = {"ORCHESTRATOR_APPROVED_BY": "", "GITHUB_TRIGGERING_ACTOR": "", "GITHUB_ACTOR": ""}
ALICE = {**NOBODY, "ORCHESTRATOR_APPROVED_BY": "Alice"}
#: A scheduled workflow run: GitHub names an actor, but no person approved anything.
SCHEDULED = {**NOBODY, "GITHUB_ACTOR": "cron-editor"}

WEEKLY = """\
name: weekly
campaign: spring-2027
lists: [newsletter]
tags: [newsletter]
sender: {name: Acme Weekly, email: weekly@example.com}
subject: "This week at Acme"
text: "Hello {{Recipient.FirstName}}, see {{ site_url }}/news. %%unsubscribe%%"
html: "<p>Hello {{Recipient.FirstName}}, see <a href='{{ site_url }}/news'>the news</a>.
  <a href='%%unsubscribe%%'>Unsubscribe</a></p>"
schedule:
  cron: "0 9 * * MON"
  timezone: Europe/Berlin
  start: "2026-12-01T00:00:00"
  horizon: 7d
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The example's orchestrator.yaml with one weekly campaign whose content does not depend on the date."""
    root = tmp_path / "project"
    (root / "campaigns").mkdir(parents=True)
    shutil.copy(REPO / "orchestrator.yaml", root)
    (root / "campaigns" / "weekly.yaml").write_text(WEEKLY, encoding="utf-8")
    return root


def cli(project: Path, now: str, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    return run(project, *args, env={"ORCHESTRATOR_NOW": now, **NOBODY, **(env or {})}, clock=fixed_clock(now))


def plan(project: Path, now: str, name: str) -> tuple[Path, dict[str, object]]:
    """Save the plan at ``now``; return its file and its JSON form."""
    path = project.parent / f"{name}.json"
    code, out, err = cli(project, now, "plan", "--out", str(path))
    assert code in (0, 3), out + err
    code, out, err = cli(project, now, "show", str(path), "--format", "json")
    assert code == 0, out + err
    return path, json.loads(out)


def change(document: dict[str, object], key: str) -> dict[str, object]:
    changes = document["changes"]
    assert isinstance(changes, list)
    return next(c for c in changes if c["key"] == key)


def approve_first_week(project: Path, env: dict[str, str] = ALICE) -> None:
    path, _ = plan(project, WEEK1, "week1")
    code, out, err = cli(project, WEEK1, "apply", str(path), env=env)
    assert code == 0 and f"scheduled {FIRST}" in out, out + err


def test_an_unchanged_occurrence_is_pre_approved_and_applied_without_a_person(project: Path) -> None:
    approve_first_week(project)
    path, document = plan(project, WEEK2, "week2")
    second = change(document, SECOND)
    assert second["action"] == "schedule"
    assert second["pre_approved"] == {
        "key": FIRST,
        "approved_by": "Alice (ORCHESTRATOR_APPROVED_BY)",
        "approved_at": "2026-11-30T12:00:00Z",
    }
    label = f"pre-approved: same content as {FIRST}, approved by Alice (ORCHESTRATOR_APPROVED_BY) on 2026-11-30"
    code, out, _ = cli(project, WEEK2, "plan")
    assert label in out
    code, out, _ = cli(project, WEEK2, "plan", "--format", "markdown")
    assert label in out and "pre-approved" in out

    sent = len(sandbox_emails(project))
    code, out, err = cli(project, WEEK2, "apply", str(path), "--pre-approved-only", env=SCHEDULED)
    assert code == 0 and f"scheduled {SECOND}" in out, out + err
    assert len(sandbox_emails(project)) == sent + 1
    shown = json.loads(cli(project, WEEK2, "state", "show", SECOND)[1])
    assert shown["applied_from"]["approved_by"] is None  # no person approved this run: the actor is not one
    assert shown["applied_from"]["pre_approved"] == second["pre_approved"]  # the approval it carries on

    # The week after, the approval carries on: the third occurrence names the one Alice approved.
    path, document = plan(project, WEEK3, "week3")
    assert change(document, THIRD)["pre_approved"] == second["pre_approved"]
    code, out, err = cli(project, WEEK3, "apply", str(path), "--pre-approved-only", env=SCHEDULED)
    assert code == 0 and f"scheduled {THIRD}" in out, out + err


@pytest.mark.parametrize(
    ("edit", "what"),
    [
        (lambda p: _replace(p / "campaigns" / "weekly.yaml", "This week at Acme", "Last chance at Acme"), "subject"),
        (
            lambda p: _replace(p / "orchestrator.yaml", "https://staging.example.com", "https://other.example.com"),
            "variable",
        ),
    ],
)
def test_changed_content_is_not_pre_approved_and_pre_approved_only_sends_nothing(
    project: Path, edit: object, what: str
) -> None:
    approve_first_week(project)
    assert callable(edit)
    edit(project)
    path, document = plan(project, WEEK2, "week2")
    assert change(document, SECOND)["pre_approved"] is None, what
    code, out, _ = cli(project, WEEK2, "plan")
    assert "pre-approved" not in out

    sent = len(sandbox_emails(project))
    code, out, err = cli(project, WEEK2, "apply", str(path), "--pre-approved-only", env=SCHEDULED)
    assert code == 1, out + err
    assert "need a person" in err and SECOND in err and "nothing was sent" in err
    assert len(sandbox_emails(project)) == sent
    # The same plan, approved by a person, goes out (the first occurrence, sent as it was, is
    # reported blocked: its file changed after it went out).
    code, out, err = cli(project, WEEK2, "apply", str(path), env=ALICE)
    assert code in (0, 3) and f"scheduled {SECOND}" in out, out + err


def test_an_occurrence_applied_without_a_person_pre_approves_nothing(project: Path) -> None:
    approve_first_week(project, env=NOBODY)
    _, document = plan(project, WEEK2, "week2")
    assert change(document, SECOND)["pre_approved"] is None
    # Nor does a scheduled run's actor count as a person's approval.
    path, _ = plan(project, WEEK2, "week2b")
    sent = len(sandbox_emails(project))
    code, _, err = cli(project, WEEK2, "apply", str(path), "--pre-approved-only", env=SCHEDULED)
    assert code == 1 and SECOND in err
    assert len(sandbox_emails(project)) == sent


def test_pre_approved_only_refuses_a_plan_with_any_other_change(project: Path) -> None:
    approve_first_week(project)
    other = WEEKLY.replace("name: weekly", "name: launch").replace("This week at Acme", "Launch day")
    other = other.split("schedule:")[0] + 'schedule: {at: "2026-12-20T10:00:00", timezone: Europe/Berlin}\n'
    (project / "campaigns" / "launch.yaml").write_text(other, encoding="utf-8")
    path, document = plan(project, WEEK2, "week2")
    assert change(document, SECOND)["pre_approved"] is not None
    assert change(document, "launch@2026-12-20T09:00:00Z")["pre_approved"] is None

    sent = len(sandbox_emails(project))
    code, out, err = cli(project, WEEK2, "apply", str(path), "--pre-approved-only", env=SCHEDULED)
    assert code == 1, out + err
    assert "1 change(s) in the plan need a person" in err and "launch@2026-12-20T09:00:00Z" in err
    assert "nothing was sent" in err
    assert len(sandbox_emails(project)) == sent


def test_pre_approved_only_needs_a_saved_plan(project: Path) -> None:
    code, _, err = cli(project, WEEK1, "apply", "--auto-approve", "--pre-approved-only")
    assert code == 64 and "--pre-approved-only applies a saved plan" in err


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_a_saved_plan_s_own_pre_approved_label_decides_nothing(project: Path) -> None:
    """No decision comes from a file: a label written into the saved plan (checksum recomputed, as
    anyone who can write the file can) does not let --pre-approved-only send a changed occurrence."""
    approve_first_week(project)
    _replace(project / "campaigns" / "weekly.yaml", "This week at Acme", "Last chance at Acme")
    path, _ = plan(project, WEEK2, "week2")
    document = json.loads(path.read_text(encoding="utf-8"))
    (forged,) = [c for c in document["changes"] if c["key"] == SECOND]
    forged["pre_approved"] = {"key": FIRST, "approved_by": "Alice (ORCHESTRATOR_APPROVED_BY)", "approved_at": WEEK1}
    body = {k: v for k, v in document.items() if k != "checksum"}
    path.write_text(json.dumps({**body, "checksum": digest(body)}), encoding="utf-8")
    assert "pre-approved: same content as" in cli(project, WEEK2, "show", str(path))[1]  # the file's word

    sent = len(sandbox_emails(project))
    code, out, err = cli(project, WEEK2, "apply", str(path), "--pre-approved-only", env=SCHEDULED)
    assert code == 1 and "need a person" in err and SECOND in err, out + err
    assert len(sandbox_emails(project)) == sent
