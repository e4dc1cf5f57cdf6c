"""``plan --refresh`` through the real CLI: the plan knows what Pardot holds (issue 19).

Before the refresh, a plan compared the files with the state only: after the sandbox lost every
email it still said "5 unchanged" with exit 0. Each test here changes Pardot behind the tool's
back, as an operator in Pardot's UI would (the sandbox's ``emails delete``, ``reset``, or moving a
scheduled email), and checks that ``plan --refresh`` reports it as needing a human, with the
command that settles it.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from orchestrator.config import load_config
from orchestrator.connect import sandbox_app
from orchestrator.sandbox import SANDBOX_TOKEN, inprocess_transport
from tests.helpers import REPO, applied_example, sandbox_emails
from tests.helpers import run_at_now as run

AFTER = "2026-11-27T12:10:00Z"  # ten minutes after the example was applied (2 sent, 3 scheduled)
WEEKLY = "weekly-newsletter@2026-12-07T08:00:00Z"  # a scheduled list email
LIST_KEYS = (WEEKLY, "spring-sale@2027-03-01T14:00:00Z", "welcome-back@2027-01-12T15:30:00Z")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return applied_example(tmp_path / "example")


def email_id_of(project: Path, key: str) -> int:
    """The id the sandbox gave ``key``'s email (apply sends in parallel: ids follow no file order)."""
    return int(next(e["id"] for e in sandbox_emails(project) if e["name"] == key))


def plan_json(project: Path, *args: str) -> tuple[int, dict[str, Any]]:
    code, out, err = run(project, "plan", "--refresh", "--format", "json", "--detailed-exitcode", *args)
    assert code in (0, 2, 3), out + err
    document: dict[str, Any] = json.loads(out)
    jsonschema.validate(document, json.loads((REPO / "schemas" / "plan.schema.json").read_text()))
    return code, document


def delete_in_pardot(project: Path, key: str, at: str = AFTER) -> None:
    """Delete ``key``'s email at ``at`` through the sandbox's control route (what `sandbox emails
    delete` calls with --url), on a fixed clock: whether it was deleted before its time must not
    depend on the calendar."""
    app = sandbox_app(load_config(project).environment("sandbox"), project, clock=lambda: _instant(at))
    email_id = email_id_of(project, key)
    try:
        transport = inprocess_transport(app)
        with httpx.Client(transport=transport, base_url="http://sandbox.local") as http:
            answer = http.delete(f"/_sandbox/emails/{email_id}", headers={"Authorization": f"Bearer {SANDBOX_TOKEN}"})
    finally:
        app.close()
    assert answer.status_code == 200, answer.text


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def move(project: Path, email_id: int, to: str, now: str) -> None:
    """Move a scheduled email to another time, as an operator can in Pardot's UI."""
    from orchestrator.sandbox.objects import reschedule_list_email  # the sandbox's stand-in for the UI

    app = sandbox_app(load_config(project).environment("sandbox"), project)
    try:
        moved = reschedule_list_email(
            app.store, email_id, datetime.fromisoformat(to.replace("Z", "+00:00")),
            datetime.fromisoformat(now.replace("Z", "+00:00")),
        )  # fmt: skip
    finally:
        app.close()
    assert moved


def relist(project: Path, email_id: int, lists: list[int], suppression: list[int], now: str) -> None:
    """Give a scheduled email other lists, as an operator can in Pardot's UI."""
    from orchestrator.sandbox.objects import relist_list_email  # the sandbox's stand-in for the UI

    app = sandbox_app(load_config(project).environment("sandbox"), project)
    try:
        changed = relist_list_email(app.store, email_id, lists, suppression, _instant(now))
    finally:
        app.close()
    assert changed


def test_nothing_changed_in_pardot_reads_one_page_and_needs_no_one(project: Path) -> None:
    code, plan = plan_json(project, "--now", AFTER)
    assert code == 0 and plan["summary"]["no-op"] == 5 and plan["attention"] == []
    since = plan["refresh"].pop("since")
    assert since.startswith("2026-11-27T11:50:0")  # the oldest checked record (12:00:0x), less CREATED_SKEW
    assert plan["refresh"] == {
        "checked": 3,  # the three scheduled list sends; the two one-to-one sends are not list emails
        "pages": 1,
        "not_checked": 2,
        "notes": [],
    }


def test_an_email_deleted_in_pardot_needs_a_human_and_names_the_commands(project: Path) -> None:
    delete_in_pardot(project, WEEKLY)
    code, out, _ = run(project, "plan", "--now", AFTER, "--detailed-exitcode")
    assert code == 0 and "Plan: 5 unchanged." in out  # without a refresh the plan cannot know
    code, out, _ = run(project, "plan", "--refresh", "--now", AFTER, "--detailed-exitcode")
    assert code == 3, out
    assert f"~ drifted   {WEEKLY}" in out and "DELETED IN PARDOT before it went out" in out
    assert f"`orchestrator state skip {WEEKLY} --reason TEXT`" in out
    assert f"`orchestrator state forget {WEEKLY}`" in out
    assert "Plan: 4 unchanged, 1 drifted in Pardot." in out
    # The runbook: cancel it for good; the refresh then has nothing left to report.
    code, out, err = run(project, "state", "skip", WEEKLY, "--reason", "cancelled in the UI", "--now", AFTER)
    assert code == 0, out + err
    code, plan = plan_json(project, "--now", AFTER)
    assert code == 0 and plan["attention"] == [] and plan["refresh"]["checked"] == 2


def test_an_emptied_account_is_never_unchanged(project: Path) -> None:
    code, out, _ = run(project, "sandbox", "reset")
    assert code == 0, out
    code, plan = plan_json(project, "--now", AFTER)
    assert code == 3
    assert sorted(plan["attention"]) == sorted(LIST_KEYS)
    for change in plan["changes"]:
        if change["key"] in LIST_KEYS:
            assert change["action"] == "drifted" and "MISSING IN PARDOT" in change["reason"]
            assert f"`orchestrator state forget {change['key']}`" in change["reason"]
    assert plan["summary"]["no-op"] == 2  # the one-to-one sends, which the refresh says it did not check
    assert plan["refresh"]["not_checked"] == 2
    # The step it names works: Pardot has no such email, so `state forget` records that, and the
    # next apply would schedule it again.
    spring = "spring-sale@2027-03-01T14:00:00Z"
    code, out, err = run(project, "state", "forget", spring, "--now", AFTER)
    assert code == 0, out + err
    code, plan = plan_json(project, "--now", AFTER)
    actions = {c["key"]: c["action"] for c in plan["changes"]}
    assert code == 3 and actions[spring] == "schedule" and plan["summary"]["drifted"] == 2


def test_a_scheduled_email_moved_later_is_reported_once_its_time_has_passed(project: Path) -> None:
    move(project, email_id_of(project, WEEKLY), "2026-12-08T08:00:00Z", AFTER)
    code, plan = plan_json(project, "--now", AFTER)
    assert code == 0  # its recorded time has not come: scheduledTime is write-only, nothing to see yet
    code, plan = plan_json(project, "--now", "2026-12-07T09:00:00Z")
    assert code == 3 and WEEKLY in plan["attention"], plan["attention"]
    weekly = next(c for c in plan["changes"] if c["key"] == WEEKLY)
    assert weekly["action"] == "drifted" and weekly["reason"].startswith("NOT SENT: scheduled for 2026-12-07T08:00:00Z")


def test_a_scheduled_email_moved_earlier_is_a_note_once_it_went_out(project: Path) -> None:
    weekly = email_id_of(project, WEEKLY)
    move(project, weekly, "2026-12-05T08:00:00Z", AFTER)
    _, out, _ = run(project, "plan", "--refresh", "--now", "2026-12-06T09:00:00Z", "--detailed-exitcode")
    assert WEEKLY not in [line.split()[-1] for line in out.splitlines() if line.startswith("~")]
    assert (
        f"note: {WEEKLY}: list email {weekly} went out at 2026-12-05T08:00:00Z, not at its recorded time "
        "2026-12-07T08:00:00Z"
    ) in out


def test_a_saved_refreshed_plan_keeps_its_findings(project: Path, tmp_path: Path) -> None:
    delete_in_pardot(project, WEEKLY)
    saved = tmp_path / "plan.json"
    code, out, err = run(project, "plan", "--refresh", "--out", str(saved), "--now", AFTER, "--detailed-exitcode")
    assert code == 3, out + err
    code, out, err = run(project, "show", str(saved))
    assert code == 0, out + err
    assert f"~ drifted   {WEEKLY}" in out and "Refreshed from Pardot: 3 recorded list send(s)" in out
    # apply does not refresh (it never sends a recorded key again); it shows the saved findings.
    code, out, err = run(project, "apply", str(saved), "--auto-approve", "--now", AFTER)
    assert code == 3, out + err
    assert f"(blocked, missed, unknown, orphaned or drifted in Pardot: {WEEKLY})" in out + err
    assert "Run `orchestrator plan --refresh` to see why." in out + err


def test_markdown_says_what_the_refresh_read(project: Path) -> None:
    _, out, _ = run(project, "plan", "--format", "markdown", "--now", AFTER)
    assert "| refresh |" not in out
    _, out, _ = run(project, "plan", "--refresh", "--format", "markdown", "--now", AFTER)
    assert "| refresh | Refreshed from Pardot: 3 recorded list send(s) checked with 1 query page(s)" in out


def test_an_email_deleted_after_it_went_out_is_a_note(project: Path) -> None:
    delete_in_pardot(project, WEEKLY, at="2026-12-07T09:00:00Z")  # an hour after it went out
    _, plan = plan_json(project, "--now", "2026-12-08T09:00:00Z")
    assert WEEKLY not in plan["attention"]
    (note,) = plan["refresh"]["notes"]
    assert note.startswith(f"{WEEKLY}: list email ") and "went out at 2026-12-07T08:00:00Z and was deleted" in note


def test_a_refresh_that_cannot_read_pardot_fails_the_plan(project: Path) -> None:
    config = project / "orchestrator.yaml"
    refusing = "api: {kind: sandbox, faults: {http500: 1.0}}"  # every API call fails
    config.write_text(config.read_text().replace("api: {kind: sandbox}", refusing))
    code, out, _ = run(project, "plan", "--now", AFTER, "--detailed-exitcode")
    assert code == 0 and "Plan: 5 unchanged." in out  # an unchanged plan reads nothing from Pardot
    code, out, err = run(project, "plan", "--refresh", "--now", AFTER, "--detailed-exitcode")
    assert code == 1 and "unchanged" not in out, out + err  # never "found nothing" when it read nothing
    assert "plan --refresh could not read Pardot's list emails" in err and "Traceback" not in err, err


def test_a_scheduled_email_given_other_lists_in_pardot_needs_a_human(project: Path) -> None:
    weekly = email_id_of(project, WEEKLY)  # applied to lists [newsletter 2001], suppressing [competitors 2003]
    relist(project, weekly, [2001, 2002], [], AFTER)
    code, out, _ = run(project, "plan", "--now", AFTER, "--detailed-exitcode")
    assert code == 0 and "Plan: 5 unchanged." in out  # without a refresh the plan cannot know
    code, plan = plan_json(project, "--now", AFTER)
    assert code == 3 and plan["attention"] == [WEEKLY], plan["attention"]
    change = next(c for c in plan["changes"] if c["key"] == WEEKLY)
    assert change["action"] == "drifted"
    assert change["reason"] == (
        f"EDITED IN PARDOT: list email {weekly} will go to other lists than applied: recipient lists [2001, 2002] "
        "in Pardot, not [2001] as applied; suppression lists [] in Pardot, not [2003] as applied; correct the lists "
        f"in Pardot's UI, or delete it there and `orchestrator state forget {WEEKLY}` to schedule what the files say"
    )
    assert plan["refresh"]["notes"] == []  # the two other list emails: their lists were read and match
    # Put back as applied (the order Pardot gives them in does not matter): nothing left to report.
    relist(project, weekly, [2001], [2003], AFTER)
    code, plan = plan_json(project, "--now", AFTER)
    assert code == 0 and plan["attention"] == [] and plan["refresh"]["notes"] == []


def test_an_email_that_went_out_to_other_lists_names_the_archive_that_ends_the_finding(project: Path) -> None:
    weekly = email_id_of(project, WEEKLY)
    relist(project, weekly, [2002], [2003], AFTER)  # changed in the UI before it went out; noticed after
    later = "2026-12-07T09:00:00Z"
    code, plan = plan_json(project, "--now", later)
    assert code == 3 and plan["attention"] == [WEEKLY]
    reason = next(c["reason"] for c in plan["changes"] if c["key"] == WEEKLY)
    assert reason.startswith(
        f"SENT TO OTHER LISTS: list email {weekly} went out at 2026-12-07T08:00:00Z to other lists than applied: "
        "recipient lists [2002] in Pardot, not [2001] as applied; check in Pardot's UI who received it"
    )
    step = "`orchestrator state archive --before 2026-12-07T08:00:01Z`"
    assert step in reason
    code, out, err = run(project, "state", "archive", "--before", "2026-12-07T08:00:01Z", "--now", later)
    assert code == 0, out + err
    code, plan = plan_json(project, "--now", later)
    assert code != 3 and plan["attention"] == [], plan["attention"]  # 2: the files' later sends are pending
    actions = {c["key"]: c["action"] for c in plan["changes"]}
    assert actions[WEEKLY] == "no-op" and plan["refresh"]["checked"] == 2  # archived: history, not refreshed
