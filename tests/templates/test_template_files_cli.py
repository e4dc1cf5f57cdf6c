"""Owned template files through the real CLI: ``validate`` reports their problems, located;
``preview --template`` renders one as a recipient sees it (no API call: the file is the template)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import NOW, copy_example, output, run

WELCOME = """\
name: welcome
subject: "Welcome to {{ env.name }}"
sender: {name: Jane Doe, email: jane@example.com}
flags: {isListEmail: true}
html: '<p>Hi {{Recipient.FirstName}}, see {{ site_url }}</p><a href="%%unsubscribe%%">Unsubscribe</a>'
text: "Hi {{Recipient.FirstName}}. Unsubscribe: %%unsubscribe%%"
"""


def _project(tmp_path: Path, welcome: str = WELCOME) -> Path:
    project = copy_example(tmp_path / "p")
    (project / "templates").mkdir()
    (project / "templates" / "welcome.yaml").write_text(welcome, encoding="utf-8")
    return project


def test_validate_reports_a_template_without_unsubscribe_link_located(tmp_path: Path) -> None:
    project = _project(tmp_path, WELCOME.replace('<a href="%%unsubscribe%%">Unsubscribe</a>', ""))
    code, out, _ = run(project, "validate", "--format", "json", "--now", NOW)
    assert code == 1
    problems = json.loads(out)["problems"]
    assert [(p["path"], p["line"]) for p in problems if p["severity"] == "error"] == [("templates/welcome.yaml", 5)]
    assert "unsubscribe" in problems[0]["message"]


def test_validate_accepts_a_sound_template(tmp_path: Path) -> None:
    code, out, err = run(_project(tmp_path), "validate", "--now", NOW)
    assert code == 0, out + err


def test_preview_template_renders_variables_and_fills_merge_tags(tmp_path: Path) -> None:
    project = _project(tmp_path)
    code, shown = output(
        project, "preview", "welcome", "--template", "--no-screenshots", "--sample", "vip", "--now", NOW
    )
    assert code == 0, shown
    assert "Subject: Welcome to sandbox" in shown
    assert "Hi Alan." in shown
    folder = next((project / ".orchestrator" / "previews").iterdir())
    html = next(folder.rglob("preview.html")).read_text(encoding="utf-8")
    assert "https://staging.example.com" in html and "Hi Alan" in html


def test_preview_of_a_broken_template_shows_its_located_problem(tmp_path: Path) -> None:
    project = _project(tmp_path, WELCOME.replace("{{ site_url }}", "{{ missing_var }}"))
    code, shown = output(project, "preview", "welcome", "--template", "--no-screenshots", "--now", NOW)
    assert code == 1
    assert "templates/welcome.yaml:5" in shown and "missing_var" in shown


def test_preview_of_an_unknown_template_names_the_known_ones(tmp_path: Path) -> None:
    code, shown = output(_project(tmp_path), "preview", "welcom", "--template", "--no-screenshots", "--now", NOW)
    assert code == 1
    assert "no template named 'welcom'" in shown and "known: welcome" in shown
