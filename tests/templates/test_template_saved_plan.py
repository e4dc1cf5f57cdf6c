"""Owned templates in a saved plan (``plan --out``), through the real CLI against the in-process
sandbox: ``show PLAN_FILE`` prints them (text, JSON, Markdown) so a reviewer of the attached
plan sees them too; the file's checksum covers them, and applying the file applies the template changes the
files still give identically (docs/templates.md)."""

from __future__ import annotations

import json
from pathlib import Path

from markdown_it import MarkdownIt

from orchestrator.digest import digest
from orchestrator.schemas import validate_data
from tests.helpers import NOW, run
from tests.templates.test_owned_templates_plan_apply import _project


def _saved(tmp_path: Path, subject: str = "Welcome aboard") -> tuple[Path, Path]:
    project = _project(tmp_path, subject=json.dumps(subject))
    plan_file = tmp_path / "plan.json"
    code, out, err = run(project, "plan", "--out", str(plan_file), "--now", NOW)
    assert code == 0, out + err
    return project, plan_file


def test_show_prints_the_saved_template_changes_in_every_format(tmp_path: Path) -> None:
    project, plan_file = _saved(tmp_path)
    document = json.loads(plan_file.read_text(encoding="utf-8"))
    assert validate_data("plan", document) == []
    [saved] = document["templates"]
    assert saved["action"] == "create" and "+Welcome aboard" in saved["diff"]

    code, out, err = run(project, "show", str(plan_file))
    assert code == 0, out + err
    assert "+ create template onboarding" in out and "+Welcome aboard" in out
    code, out, err = run(project, "show", str(plan_file), "--format", "markdown")
    assert code == 0, out + err
    assert "#### Template changes to apply (1)" in out and "+Welcome aboard" in out
    code, out, err = run(project, "show", str(plan_file), "--format", "json")
    assert code == 0, out + err
    assert json.loads(out)["templates"] == document["templates"]

    code, out, err = run(project, "apply", str(plan_file), "--now", NOW)
    assert code == 0 and "created   template onboarding (" in out + err, out + err  # the change the file showed


def test_a_saved_template_change_edited_in_the_file_is_refused_by_its_checksum(tmp_path: Path) -> None:
    project, plan_file = _saved(tmp_path)
    document = json.loads(plan_file.read_text(encoding="utf-8"))
    document["templates"][0]["diff"] = ["+Nothing to see"]
    plan_file.write_text(json.dumps(document), encoding="utf-8")
    code, out, err = run(project, "show", str(plan_file))
    assert code != 0 and "altered after it was saved" in out + err and "Traceback" not in out + err


def test_a_hostile_saved_template_is_shown_inert(tmp_path: Path) -> None:
    """A plan file is an attachment anyone could replace, checksum recomputed: its template text
    is shown as text (escapes visible, HTML inert), never run by the terminal or the comment."""
    project, plan_file = _saved(tmp_path, "Hi </details><img src=x>")
    document = json.loads(plan_file.read_text(encoding="utf-8"))
    document["templates"][0]["name"] = "on\x1b[2Jboarding"
    document["templates"][0]["reason"] = "look\x1b]8;;http://evil\x07"
    document["checksum"] = digest({k: v for k, v in document.items() if k != "checksum"})
    plan_file.write_text(json.dumps(document), encoding="utf-8")
    code, out, err = run(project, "show", str(plan_file))
    assert code == 0, out + err
    assert "template on\\x1b[2Jboarding" in out and "look\\x1b]8;;http://evil\\x07" in out
    assert "\x1b" not in out and "\x07" not in out
    code, out, err = run(project, "show", str(plan_file), "--format", "markdown")
    assert code == 0, out + err
    assert "\x1b" not in out and "\x07" not in out
    assert "<code>on\\x1b[2Jboarding</code>" in out
    assert "+Hi </details><img src=x>" in out  # inside the diff's fence: text, not HTML
    rendered = MarkdownIt("commonmark").enable("table").render(out)
    assert "<img" not in rendered and rendered.count("<details") == rendered.count("</details>")
