"""Owned templates through the real CLI against the in-process sandbox (``version: 5``):
planned as create / update with a diff, applied through v5 and recorded in the state; drift
and orphans held; a campaign naming an owned template needs no id under ``ids.templates``;
on a v4 account, plan says owning templates needs version 5."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from orchestrator.schemas import validate_data
from tests.helpers import NOW, as_pardot, copy_example, run, sandbox_emails

TEMPLATE = """\
name: onboarding
subject: {subject}
sender: {{name: Jane Doe, email: jane@example.com}}
flags: {{isListEmail: true}}
html: '<p>Welcome to {{{{ site_url }}}}</p><a href="%%unsubscribe%%">Unsubscribe</a>'
text: "Welcome. Unsubscribe: %%unsubscribe%%"
"""

CAMPAIGN = """\
name: onboarding-mail
campaign: spring-2027
lists: [customers]
template: onboarding
sender: {user: jane}
schedule: {at: "2027-02-01T10:00:00-05:00"}
"""


def _project(tmp_path: Path, *, version: int = 5, subject: str = "Welcome aboard") -> Path:
    project = copy_example(tmp_path / "p")
    config = yaml.safe_load((project / "orchestrator.yaml").read_text(encoding="utf-8"))
    config["environments"]["sandbox"]["api"]["version"] = version
    (project / "orchestrator.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    (project / "templates").mkdir()
    _write(project, subject)
    return project


def _write(project: Path, subject: str) -> None:
    (project / "templates" / "onboarding.yaml").write_text(TEMPLATE.format(subject=subject), encoding="utf-8")


def _held(project: Path, template_id: int) -> dict[str, Any]:
    path = f"/api/v5/objects/email-templates/{template_id}"
    answer = as_pardot(project, "GET", path, params={"fields": "id,subject"})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _template_id(out: str) -> int:
    line = next(line for line in out.splitlines() if "template onboarding (" in line)
    return int(line.rsplit("(", 1)[1].rstrip(")"))


def _apply(project: Path) -> str:
    code, out, err = run(project, "apply", "--auto-approve", "--now", NOW)
    assert code == 0, out + err
    return out + err


def test_a_template_is_created_then_updated_with_a_diff_and_recorded(tmp_path: Path) -> None:
    project = _project(tmp_path)
    code, out, err = run(project, "plan", "--now", NOW)
    assert code == 0, out + err
    assert "+ create template onboarding" in out and "+Welcome aboard" in out
    applied = _apply(project)
    template_id = _template_id(applied)
    assert _held(project, template_id)["subject"] == "Welcome aboard"

    code, out, _ = run(project, "plan", "--now", NOW)
    assert "template onboarding" not in out  # recorded and unchanged: nothing to do

    _write(project, "Welcome on board")
    code, out, _ = run(project, "plan", "--now", NOW, "--detailed-exitcode")
    assert code == 2
    assert f"~ update template onboarding ({template_id})" in out
    assert "-Welcome aboard" in out and "+Welcome on board" in out
    _apply(project)
    assert _held(project, template_id)["subject"] == "Welcome on board"


def test_a_template_changed_in_pardot_is_drift_and_never_overwritten(tmp_path: Path) -> None:
    project = _project(tmp_path)
    template_id = _template_id(_apply(project))
    changed = as_pardot(
        project, "PATCH", f"/api/v5/objects/email-templates/{template_id}", json={"subject": "By hand\x1b[2J"}
    )
    assert changed.status_code == 200, changed.text
    _write(project, "From the file")
    code, out, _ = run(project, "plan", "--now", NOW, "--detailed-exitcode")
    assert code == 3
    assert f"! drifted template onboarding ({template_id})" in out and "changed in Pardot" in out
    assert "-By hand\\x1b[2J" in out and "\x1b" not in out  # Pardot's text shown, its escapes never run
    code, out, err = run(project, "apply", "--auto-approve", "--now", NOW)
    assert code == 3 and "Template(s) needing a human: onboarding." in out, out + err
    assert _held(project, template_id)["subject"] == "By hand\x1b[2J"


def test_a_deleted_template_file_is_an_orphan_held_in_pardot(tmp_path: Path) -> None:
    project = _project(tmp_path)
    template_id = _template_id(_apply(project))
    (project / "templates" / "onboarding.yaml").unlink()
    code, out, _ = run(project, "plan", "--now", NOW, "--detailed-exitcode")
    assert code == 3
    assert f"? orphaned template onboarding ({template_id})" in out and "stays in Pardot" in out
    code, out, err = run(project, "apply", "--auto-approve", "--now", NOW)
    assert code == 3, out + err
    assert _held(project, template_id)["subject"] == "Welcome aboard"


def test_a_campaign_names_an_owned_template_without_its_id_and_is_sent_after_its_update(tmp_path: Path) -> None:
    project = _project(tmp_path)
    template_id = _template_id(_apply(project))
    (project / "campaigns" / "onboarding-mail.yaml").write_text(CAMPAIGN, encoding="utf-8")
    _write(project, "Welcome, again")
    code, out, err = run(project, "validate", "--now", NOW)
    assert code == 0, out + err  # an owned template's name needs no entry under ids.templates
    code, out, err = run(project, "plan", "--now", NOW)
    assert code == 0, out + err
    assert f"~ update template onboarding ({template_id})" in out and "onboarding-mail@" in out
    _apply(project)
    sent = [e for e in sandbox_emails(project) if e["name"].startswith("onboarding-mail")]
    # The send took its subject from the template as the same apply had just updated it.
    assert len(sent) == 1 and sent[0]["subject"] == "Welcome, again", sent
    assert _held(project, template_id)["subject"] == "Welcome, again"


def test_on_a_v4_account_plan_says_owning_templates_needs_version_5(tmp_path: Path) -> None:
    project = _project(tmp_path, version=4)
    code, out, err = run(project, "plan", "--now", NOW)
    assert code == 0, out + err
    assert "not owned template onboarding" in out and "needs `version: 5`" in out
    code, out, err = run(project, "apply", "--auto-approve", "--now", NOW)
    assert code == 0 and "needs `version: 5`" in out, out + err  # said, not escalated; the sends go ahead
    code, out, err = run(project, "validate", "--now", NOW)
    assert code == 0, out + err


def _onboarding_mails(project: Path) -> list[dict[str, Any]]:
    return [e for e in sandbox_emails(project) if e["name"].startswith("onboarding-mail")]


def _settled(project: Path) -> None:
    """The next plan has nothing to do: the send and the template are recorded as the files say."""
    code, out, err = run(project, "plan", "--detailed-exitcode", "--now", NOW)
    assert code == 0, out + err


def test_a_send_using_a_template_created_in_the_same_apply_goes_out_with_its_id(tmp_path: Path) -> None:
    project = _project(tmp_path)
    (project / "campaigns" / "onboarding-mail.yaml").write_text(CAMPAIGN, encoding="utf-8")
    code, out, err = run(project, "plan", "--detailed-exitcode", "--now", NOW)
    assert code == 2, out + err
    assert "+ create template onboarding" in out and "onboarding (created by this apply first)" in out
    assert "> schedule  onboarding-mail@" in out
    out = _apply(project)
    template_id = _template_id(out)
    [sent] = _onboarding_mails(project)
    assert sent["email_template_id"] == template_id
    assert _held(project, template_id)["subject"] == "Welcome aboard"
    _settled(project)


def test_a_saved_plan_applies_the_template_changes_it_shows_then_its_sends(tmp_path: Path) -> None:
    """The CI kit's deploy: `plan --out` at review, `apply plan.json` after the merge."""
    project = _project(tmp_path)
    (project / "campaigns" / "onboarding-mail.yaml").write_text(CAMPAIGN, encoding="utf-8")
    plan_file = tmp_path / "plan.json"
    code, out, err = run(project, "plan", "--out", str(plan_file), "--now", NOW)
    assert code == 0, out + err
    code, out, err = run(project, "apply", str(plan_file), "--now", NOW)
    assert code == 0, out + err
    template_id = _template_id(out + err)
    [sent] = _onboarding_mails(project)
    assert sent["email_template_id"] == template_id
    _settled(project)

    _write(project, "Welcome, again")  # an update, reviewed in a second saved plan
    code, out, err = run(project, "plan", "--out", str(plan_file), "--now", NOW)
    assert code == 0 and "~ update template onboarding" in out, out + err
    code, out, err = run(project, "apply", str(plan_file), "--now", NOW)
    assert code == 0, out + err
    assert _held(project, template_id)["subject"] == "Welcome, again"


def test_a_saved_plan_is_refused_when_the_template_changed_after_it(tmp_path: Path) -> None:
    project = _project(tmp_path)
    (project / "campaigns" / "onboarding-mail.yaml").write_text(CAMPAIGN, encoding="utf-8")
    plan_file = tmp_path / "plan.json"
    code, out, err = run(project, "plan", "--out", str(plan_file), "--now", NOW)
    assert code == 0, out + err
    _write(project, "Not what was reviewed")
    for how in ([str(plan_file)], ["--reviewed", str(plan_file)]):
        code, out, err = run(project, "apply", *how, "--now", NOW)
        assert code == 1, out + err
        assert "does not show template change(s) the files now give (onboarding)" in err
        assert "Traceback" not in out + err
    assert sandbox_emails(project) == []  # nothing was sent
    held = as_pardot(project, "GET", "/api/v5/objects/email-templates", params={"fields": "id,name"}).json()
    assert [t for t in held["values"] if t["name"] == "onboarding"] == []  # and no template created


def test_a_reviewed_plan_applies_the_template_changes_it_shows(tmp_path: Path) -> None:
    project = _project(tmp_path)
    (project / "campaigns" / "onboarding-mail.yaml").write_text(CAMPAIGN, encoding="utf-8")
    plan_file = tmp_path / "plan.json"
    code, out, err = run(project, "plan", "--out", str(plan_file), "--now", NOW)
    assert code == 0, out + err
    code, out, err = run(project, "apply", "--reviewed", str(plan_file), "--now", NOW)
    assert code == 0, out + err
    [sent] = _onboarding_mails(project)
    assert sent["email_template_id"] == _template_id(out + err)
    _settled(project)


def test_pre_approved_only_refuses_a_template_change(tmp_path: Path) -> None:
    project = _project(tmp_path)
    plan_file = tmp_path / "plan.json"
    code, out, err = run(project, "plan", "--out", str(plan_file), "--now", NOW)
    assert code == 0, out + err
    code, out, err = run(project, "apply", str(plan_file), "--pre-approved-only", "--now", NOW)
    assert code == 1 and "template change(s) onboarding need a person" in err, out + err
    assert sandbox_emails(project) == []


def test_a_send_using_an_owned_template_on_a_v4_account_is_held(tmp_path: Path) -> None:
    project = _project(tmp_path, version=4)
    (project / "campaigns" / "onboarding-mail.yaml").write_text(CAMPAIGN, encoding="utf-8")
    code, out, err = run(project, "plan", "--detailed-exitcode", "--now", NOW)
    assert code == 3, out + err
    assert "not in Pardot yet and this plan does not create it" in out


def test_plan_json_lists_the_template_changes_and_validates_against_the_plan_schema(tmp_path: Path) -> None:
    project = _project(tmp_path)
    code, out, err = run(project, "plan", "--format", "json", "--now", NOW)
    assert code == 0, out + err
    document = json.loads(out)
    assert validate_data("plan", document) == []
    [change] = document["templates"]
    assert change["action"] == "create" and change["name"] == "onboarding" and change["template_id"] is None
    assert "+Welcome aboard" in change["diff"]


def test_a_template_pardot_already_holds_by_name_is_not_created_twice(tmp_path: Path) -> None:
    """As after an apply that died between the create and its record: the state knows nothing."""
    project = _project(tmp_path)
    made = as_pardot(
        project,
        "POST",
        "/api/v5/objects/email-templates",
        params={"fields": "id"},
        json={"name": "onboarding", "subject": "Made by hand", "textMessage": "%%unsubscribe%%"},
    )
    assert made.status_code == 201, made.text
    template_id = made.json()["id"]
    code, out, _ = run(project, "plan", "--now", NOW, "--detailed-exitcode")
    assert code == 3
    assert f"! drifted template onboarding ({template_id})" in out and "not created twice" in out
    code, out, err = run(project, "apply", "--auto-approve", "--now", NOW)
    assert code == 3 and "not created twice" in out, out + err  # shown again; the sends go ahead
    assert "Template(s) needing a human: onboarding." in out
    held = as_pardot(project, "GET", "/api/v5/objects/email-templates", params={"fields": "id,name"}).json()
    assert [t["id"] for t in held["values"] if t["name"] == "onboarding"] == [template_id]


def test_plan_format_github_annotates_template_changes_at_their_files(tmp_path: Path) -> None:
    project = _project(tmp_path)
    code, out, err = run(project, "plan", "--format", "github", "--now", NOW)
    assert code == 0, out + err
    [created] = [line for line in out.splitlines() if "template onboarding" in line]
    assert created.startswith("::notice file=") and "templates/onboarding.yaml" in created
    assert created.endswith("::template onboarding: create")
    assert "Templates: 1 create." in out.splitlines()
    template_id = _template_id(_apply(project))
    changed = as_pardot(project, "PATCH", f"/api/v5/objects/email-templates/{template_id}", json={"subject": "UI"})
    assert changed.status_code == 200, changed.text
    code, out, err = run(project, "plan", "--format", "github", "--now", NOW)
    [drifted] = [line for line in out.splitlines() if "template onboarding" in line]
    assert drifted.startswith("::warning file=") and "template onboarding: drift: " in drifted
