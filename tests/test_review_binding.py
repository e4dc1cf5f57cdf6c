"""What is reviewed is exactly what is sent (issue 8), through the real CLI.

Each test is one reproduction of the issue: a saved plan applied after the files changed, saved
plans edited with their checksum recomputed, exit codes for everything that needs a human, the
rename of a scheduled campaign, plans taken while the state is locked, and `--reviewed`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from orchestrator.config import load_config
from orchestrator.connect import build_store
from orchestrator.digest import digest
from tests.helpers import NOW, copy_example, sandbox_emails
from tests.helpers import run_at_now as run

SALE = "spring-sale@2027-03-01T14:00:00Z"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A fresh copy of the example project for each test: applies write state next to it."""
    return copy_example(tmp_path / "example")


def saved_plan(project: Path, path: Path, *args: str) -> dict[str, Any]:
    code, out, err = run(project, "plan", "--out", str(path), "--now", NOW, *args)
    assert code in (0, 2), out + err
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def rewrite(path: Path, document: dict[str, Any]) -> None:
    """Save an edited plan with a valid checksum, as an attacker who read the code would."""
    body = {k: v for k, v in document.items() if k != "checksum"}
    path.write_text(json.dumps({**body, "checksum": digest(body)}), encoding="utf-8")


def change(document: dict[str, Any], key: str) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in document["changes"] if c["key"] == key)
    return found


def edit(project: Path, name: str, old: str, new: str) -> None:
    path = project / "campaigns" / name
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


# -- a saved plan is bound to the files -----------------------------------------------------------


def test_a_saved_plan_is_refused_when_the_subject_changed_in_the_checkout(project: Path, tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    saved_plan(project, plan_file)
    edit(project, "spring-sale.yaml", "Spring sale:", "SPRING SALE:")
    code, out, err = run(project, "apply", str(plan_file), "--now", NOW)
    assert code == 1, out + err
    assert f"{SALE}: content differs from the files: subject" in err
    assert "nothing was sent" in err and "plan again" in err
    assert sandbox_emails(project) == []  # refused before the first API call


def test_a_saved_plan_is_refused_when_a_campaign_was_deleted(project: Path, tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    saved_plan(project, plan_file)
    (project / "campaigns" / "spring-sale.yaml").unlink()
    code, _, err = run(project, "apply", str(plan_file), "--now", NOW)
    assert code == 1 and f"{SALE}: no longer in the files" in err
    assert sandbox_emails(project) == []


def test_an_unchanged_checkout_applies_the_saved_plan(project: Path, tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    document = saved_plan(project, plan_file)
    assert document["source"]["desired_digest"].startswith("sha256:")
    assert document["source"]["git_commit"] is None and document["source"]["note"] == "not a git checkout"
    assert plan_file.stat().st_mode & 0o077 == 0  # exact payloads and addresses: owner only
    code, out, err = run(project, "apply", str(plan_file), "--now", NOW)
    assert code == 0, out + err
    assert len(sandbox_emails(project)) == 5


def test_the_git_commit_is_recorded(project: Path, tmp_path: Path) -> None:
    import subprocess

    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"]
    subprocess.run([*git, "init", "-q"], cwd=project, check=True)
    subprocess.run([*git, "add", "."], cwd=project, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "x"], cwd=project, check=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=project, check=True, capture_output=True, text=True)
    document = saved_plan(project, tmp_path / "plan.json")
    assert document["source"]["git_commit"] == head.stdout.strip() and document["source"]["git_dirty"] is False
    edit(project, "spring-sale.yaml", "Spring sale:", "Spring sale!")
    document = saved_plan(project, tmp_path / "plan2.json")
    assert document["source"]["git_dirty"] is True and document["source"]["note"] == "uncommitted changes"


# -- edited plans, checksum recomputed ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "why"),
    [
        ("list_ids", [2001, 9999], "content differs from the files: list_ids"),
        ("suppression_list_ids", [], "content differs from the files: suppression_list_ids"),
        ("operational_email", True, "content differs from the files: operational_email"),
    ],
)
def test_an_edited_payload_with_a_recomputed_checksum_is_refused(
    project: Path, tmp_path: Path, field: str, value: Any, why: str
) -> None:
    plan_file = tmp_path / "plan.json"
    document = saved_plan(project, plan_file)
    target = change(document, SALE)
    target["payload"][field] = value
    target["fingerprint"] = digest(target["payload"])  # consistent with itself, not with the files
    rewrite(plan_file, document)
    code, out, err = run(project, "apply", str(plan_file), "--now", NOW)
    assert code == 1, out + err
    assert f"{SALE}: {why}" in err
    assert sandbox_emails(project) == []


def test_a_duplicated_change_is_refused(project: Path, tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    document = saved_plan(project, plan_file)
    document["changes"].append(change(document, SALE))
    rewrite(plan_file, document)
    code, _, err = run(project, "apply", str(plan_file), "--now", NOW)
    assert code == 1 and f"{SALE}: appears more than once in the plan" in err
    assert sandbox_emails(project) == []


def test_a_noop_turned_into_a_send_is_refused(project: Path, tmp_path: Path) -> None:
    code, out, err = run(project, "apply", "--auto-approve", "--now", NOW)
    assert code == 0, out + err
    plan_file = tmp_path / "plan.json"
    document = saved_plan(project, plan_file)
    noop = change(document, "demo-followup/1234")
    assert noop["action"] == "no-op"
    noop["action"], noop["symbol"] = "send", "+"
    rewrite(plan_file, document)
    code, _, err = run(project, "apply", str(plan_file), "--now", NOW)
    assert code == 1 and "demo-followup/1234: the state already holds it as sent" in err
    assert len(sandbox_emails(project)) == 5  # never a sixth email


# -- exit codes -------------------------------------------------------------------------------


def test_exit_codes_changes_nothing_and_usage(project: Path) -> None:
    assert run(project, "plan", "--now", NOW, "--detailed-exitcode")[0] == 2
    assert run(project, "plan", "--now", NOW)[0] == 0  # without the flag: 0 even with changes
    assert run(project, "apply", "--auto-approve", "--now", NOW)[0] == 0
    assert run(project, "plan", "--now", NOW, "--detailed-exitcode")[0] == 0
    assert run(project, "plan", "--no-such-option")[0] == 64  # never confused with "changes" (2)
    assert run(project, "apply", "a.json", "--reviewed", "b.json")[0] == 64


def test_a_scheduled_orphan_needs_a_human(project: Path) -> None:
    assert run(project, "apply", "--auto-approve", "--now", NOW)[0] == 0
    (project / "campaigns" / "spring-sale.yaml").unlink()  # still scheduled in Pardot
    code, out, _ = run(project, "plan", "--now", NOW, "--detailed-exitcode")
    assert code == 3, out
    code, out, _ = run(project, "plan", "--now", NOW, "--format", "json")
    document = json.loads(out)
    assert document["needs_attention"] and document["attention"] == [SALE] and document["summary"]["attention"] == 1
    code, out, _ = run(project, "apply", "--auto-approve", "--now", NOW)
    assert code == 3 and out.strip().splitlines()[-1].startswith("Needs attention:")


def test_a_missed_occurrence_needs_a_human(project: Path) -> None:
    later = "2027-03-02T12:00:00Z"  # spring-sale's time passed without a send
    code, out, _ = run(project, "plan", "--now", later, "--detailed-exitcode")
    assert code == 3 and "missed" in out


# -- renaming a scheduled campaign never schedules a second copy ------------------------------------


def test_renaming_a_scheduled_campaign_holds_until_forgotten_or_kept(project: Path) -> None:
    assert run(project, "apply", "--auto-approve", "--now", NOW)[0] == 0
    edit(project, "spring-sale.yaml", "name: spring-sale", "name: spring-sale-v2")
    code, out, _ = run(project, "plan", "--now", NOW, "--detailed-exitcode")
    assert code == 3, out
    assert "rename the send" not in out and "state skip" in out and "state keep" in out
    code, out, _ = run(project, "apply", "--auto-approve", "--now", NOW)
    assert code == 3
    assert [e["name"] for e in sandbox_emails(project)].count("spring-sale-v2@2027-03-01T14:00:00Z") == 0

    # Let the old one go out: the orphan's hold lifts, but the renamed copy is still held as a
    # repeat of it (it used to go out too, mailing the same people twice).
    code, out, _ = run(project, "state", "keep", SALE)
    assert code == 0 and "goes out as scheduled" in out and "will go out too" in out
    code, out, _ = run(project, "plan", "--now", NOW, "--detailed-exitcode")
    assert code == 3 and "kept with `orchestrator state keep`" in out
    assert f"looks like '{SALE}'" in out and "state rename" in out
    code, out, _ = run(project, "state", "journal", SALE, "--json")
    assert [e["action"] for e in json.loads(out)["entries"]] == ["intent", "scheduled", "keep"]


def test_forget_then_plan_schedules_the_new_version(project: Path) -> None:
    assert run(project, "apply", "--auto-approve", "--now", NOW)[0] == 0
    edit(project, "spring-sale.yaml", "name: spring-sale", "name: spring-sale-v2")
    email_id = json.loads(run(project, "state", "show", SALE)[1])["email_id"]
    assert run(project, "sandbox", "emails", "delete", str(email_id))[0] == 0  # deleted in Pardot's UI
    assert run(project, "state", "forget", SALE)[0] == 0  # Pardot confirms it is gone
    code, out, _ = run(project, "plan", "--now", NOW, "--detailed-exitcode")
    assert code == 2 and "spring-sale-v2@2027-03-01T14:00:00Z" in out


# -- plans are read-only and concurrent ------------------------------------------------------------


def test_plan_out_does_not_wait_for_the_apply_lock(project: Path, tmp_path: Path) -> None:
    env = load_config(project).environment("sandbox")
    store = build_store(env, project)
    try:
        with store.lock("apply (another runner)"):
            first = saved_plan(project, tmp_path / "a.json")
            second = saved_plan(project, tmp_path / "b.json")
            code, _, err = run(project, "apply", "--auto-approve", "--now", NOW)
            assert code == 1 and "apply (another runner)" in err  # apply still takes the lock
    finally:
        store.close()
    assert first["source"] == second["source"] and first["state"] == second["state"]


def test_waiting_for_the_lock_is_logged(project: Path) -> None:
    env = load_config(project).environment("sandbox")
    store = build_store(env, project)
    try:
        with store.lock("apply (another runner)"):
            code, _, err = run(project, "apply", "--auto-approve", "--now", NOW, "--lock-timeout", "0.2")
    finally:
        store.close()
    assert code == 1 and "Waiting up to 0.2 s for the state lock held by" in err and "apply (another runner)" in err


# -- apply --reviewed: what CI runs on merge ----------------------------------------------------------


def test_reviewed_sends_only_what_was_reviewed(project: Path, tmp_path: Path) -> None:
    reviewed = tmp_path / "reviewed.json"
    saved_plan(project, reviewed)
    # After review, a subject changes and a new campaign appears: neither was seen by a reviewer.
    edit(project, "spring-sale.yaml", "Spring sale:", "SPRING SALE:")
    late = (project / "campaigns" / "welcome-back.yaml").read_text(encoding="utf-8")
    (project / "campaigns" / "late.yaml").write_text(late.replace("name: welcome-back", "name: late-addition"))
    # Hours later, past the plan's 1 h expiry: the review still vouches for identical changes.
    later = "2026-11-27T18:00:00Z"
    code, out, err = run(project, "apply", "--auto-approve", "--reviewed", str(reviewed), "--now", later)
    assert code == 3, out + err
    names = sorted(str(e["name"]) for e in sandbox_emails(project))
    assert SALE not in names and not any(n.startswith("late-addition") for n in names)
    assert len(names) == 4 and "not in the reviewed plan" in out
    assert out.strip().splitlines()[-1].startswith("Needs attention:")


def test_reviewed_refuses_a_plan_for_another_state(project: Path, tmp_path: Path) -> None:
    reviewed = tmp_path / "reviewed.json"
    document = saved_plan(project, reviewed)
    document["state"]["lineage"] = "00000000-0000-0000-0000-000000000000"
    rewrite(reviewed, document)
    code, _, err = run(project, "apply", "--auto-approve", "--reviewed", str(reviewed), "--now", NOW)
    assert code == 1 and "another state" in err
    assert sandbox_emails(project) == []


# -- output without a terminal ----------------------------------------------------------------------


def test_each_send_is_logged_as_it_completes_without_a_terminal(project: Path) -> None:
    code, out, _ = run(project, "apply", "--auto-approve", "--now", NOW)
    assert code == 0
    lines = [line for line in out.splitlines() if line.startswith(("sent ", "scheduled "))]
    assert len(lines) == 5 and all("(email " in line for line in lines)
    assert "j***@example.com" in out and "jane.prospect@example.com" not in out


def test_the_state_journal_command_lists_every_write(project: Path) -> None:
    assert run(project, "apply", "--auto-approve", "--now", NOW)[0] == 0
    code, out, _ = run(project, "state", "journal", "--json")
    entries = json.loads(out)["entries"]
    assert code == 0 and [e["action"] for e in entries].count("intent") == 5
    code, out, _ = run(project, "state", "journal", "--last", "2")
    assert code == 0 and "2 entries." in out


def test_what_a_plan_shows_comes_from_the_payload_not_the_labels(project: Path, tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    document = saved_plan(project, plan_file)
    target = change(document, SALE)
    target["payload"]["list_ids"] = [2001, 9999]  # labels still say newsletter and customers only
    target["payload"]["operational_email"] = True  # and no operational reason
    rewrite(plan_file, document)
    code, out, _ = run(project, "show", str(plan_file))
    assert code == 0
    assert "lists:       newsletter (2001), 9999" in out and "customers" not in out.split(SALE)[1].split("why")[0]
    assert "OPERATIONAL: (no reason given)" in out


def test_a_deleted_scheduled_campaign_shows_its_lists_and_zone(project: Path) -> None:
    assert run(project, "apply", "--auto-approve", "--now", NOW)[0] == 0
    (project / "campaigns" / "spring-sale.yaml").unlink()
    _, out, _ = run(project, "plan", "--now", NOW, "--show-unchanged")
    block = out.split(f"- orphaned  {SALE}")[1]
    assert "lists:       2001, 2002" in block and "None" not in block.split("why")[0]


def test_a_template_based_send_shows_its_templates_subject_and_text(project: Path) -> None:
    """Issue 11: the plan shows what a template will send, not just "(from the template)"."""
    code, out, _ = run(project, "plan", "--now", NOW)
    assert code == 0
    assert "subject:     Welcome, %%first_name%% (from the template)" in out
    assert "text:        Hello %%first_name%%, welcome aboard." in out
    code, out, _ = run(project, "plan", "--now", NOW, "--format", "json")
    welcome = change(json.loads(out), "welcome-back@2027-01-12T15:30:00Z")
    assert welcome["payload"]["subject"] is None  # shown, never sent: the payload is untouched
    assert welcome["labels"]["template_subject"] == "Welcome, %%first_name%%"


def test_render_shows_the_templates_parts_for_a_template_based_send(project: Path) -> None:
    code, out, _ = run(project, "render", "welcome-back", "--now", NOW)
    assert code == 0
    assert "(from the template welcome:)\nWelcome, %%first_name%%" in out
    assert '<a href="%%unsubscribe%%">Unsubscribe</a>' in out
