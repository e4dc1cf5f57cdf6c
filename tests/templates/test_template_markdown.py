"""Owned templates in the pull-request comment (``plan --format markdown``), through the real
CLI against the in-process sandbox: a reviewer sees each create/update with its subject, text
and HTML diff, and drift and orphans with their reason, before anything goes out. A template's
text is hostile input: it is shown by the sends' rules, so it can never change the comment's
structure (docs/templates.md)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from markdown_it import MarkdownIt

from tests.helpers import NOW, as_pardot, run
from tests.templates.test_owned_templates_plan_apply import _apply, _project, _template_id, _write


def _markdown(project: Path, *args: str) -> tuple[int, str]:
    code, out, err = run(project, "plan", "--format", "markdown", "--now", NOW, *args)
    assert "Traceback" not in out + err
    return code, out


def _html(text: str) -> str:
    rendered: str = MarkdownIt("commonmark").enable("table").render(text)
    return rendered


def test_a_created_then_updated_template_is_in_the_comment_with_its_diff(tmp_path: Path) -> None:
    project = _project(tmp_path)
    code, out = _markdown(project)
    assert code == 0, out
    assert "#### Template changes to apply (1)" in out
    assert "| `+` | create | `onboarding` |  |" in out
    assert "+Welcome aboard" in out and "| templates | 1 create |" in out
    template_id = _template_id(_apply(project))

    _write(project, "Welcome on board")
    code, out = _markdown(project, "--detailed-exitcode")
    assert code == 2, out
    assert f"| `~` | update | `onboarding` | {template_id} |" in out
    assert "-Welcome aboard" in out and "+Welcome on board" in out
    assert "<details open><summary><code>~ update template</code> <code>onboarding</code></summary>" in out


def test_drift_and_orphans_need_a_human_in_the_comment_with_their_reason(tmp_path: Path) -> None:
    project = _project(tmp_path)
    template_id = _template_id(_apply(project))
    changed = as_pardot(
        project, "PATCH", f"/api/v5/objects/email-templates/{template_id}", json={"subject": "By hand\x1b[2J"}
    )
    assert changed.status_code == 200, changed.text
    code, out = _markdown(project, "--detailed-exitcode")
    assert code == 3, out
    assert ":warning: **1 item(s) need a human before this is merged.**" in out
    assert "#### :warning: Templates needing a human (1)" in out and "changed in Pardot" in out
    assert "-By hand\\x1b[2J" in out and "\x1b" not in out  # Pardot's text shown, its escapes never run

    (project / "templates" / "onboarding.yaml").unlink()
    code, out = _markdown(project, "--detailed-exitcode")
    assert code == 3, out
    assert f"| `?` | orphaned | `onboarding` | {template_id} |" in out and "stays in Pardot" in out


def test_a_hostile_template_subject_stays_inert_text_in_the_comment(tmp_path: Path) -> None:
    """``</details><img>``, a fence, ``<!--`` and an @-mention in a subject: as inert as in a send's."""
    hostile = "Winter ``` </details><img src=x> <!-- hide @someone"
    project = _project(tmp_path, subject=json.dumps(hostile))
    code, out = _markdown(project)
    assert code == 0, out
    rendered = _html(out)
    assert "<img" not in rendered
    assert rendered.count("<!--") == 2  # the workflow's two hidden markers, nothing from the subject
    # every <details> (the template's and the example's sends') is closed by its own tag, not the subject's
    assert rendered.count("<details") == rendered.count("</details>") == rendered.count("</summary>") > 0
    assert "+Winter ``` &lt;/details&gt;&lt;img src=x&gt; &lt;!-- hide @someone" in rendered
    # GitHub mentions nobody from inside code: every @someone is in a code block
    assert len(re.findall(r"<code[^>]*>[^<]*@someone", rendered)) == rendered.count("@someone") == 1


def test_the_comment_parts_written_for_the_workflow_hold_the_template_changes(tmp_path: Path) -> None:
    project = _project(tmp_path)
    out_dir = tmp_path / "comment"
    code, out, err = run(project, "plan", "--format", "markdown", "--out-dir", str(out_dir), "--now", NOW)
    assert code == 0, out + err
    text = (out_dir / "plan-1.md").read_text(encoding="utf-8")
    assert "#### Template changes to apply (1)" in text and "+Welcome aboard" in text
