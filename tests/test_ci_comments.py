"""Pull-request comments (``plan --format markdown``) never hide a change (issue 9).

What needs a human comes first, then the changes; no-ops are a count; a plan too long for one
GitHub comment is split into numbered parts with nothing dropped; user text cannot change the
comment's structure (checked by rendering it with a real CommonMark parser).
"""

from __future__ import annotations

import hashlib
import json
import re
import stat
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from orchestrator.cli.planview import (
    DETAIL_LIMIT,
    GITHUB_COMMENT_LIMIT,
    MARKDOWN_LIMIT,
    MARKER,
    markdown,
    markdown_parts,
)
from orchestrator.plan import Plan
from orchestrator.state.models import SendStatus
from tests.test_planner import NOW, plan, record, send, snap

HOSTILE = "Winter\n```\n<!-- hide everything\n</details><details><summary>fake</summary>\n| a | b |\n@team #1"


def applied_project(count: int, *new_subjects: str) -> Plan:
    """``count`` campaigns already scheduled, plus one new send per subject."""
    old = [send(f"campaign-{i:03d}", NOW + timedelta(days=3)) for i in range(count)]
    new = [send(f"new-{n}", NOW + timedelta(days=5), subject=s) for n, s in enumerate(new_subjects)]
    return plan(old + new, snap(*[record(s, SendStatus.SCHEDULED) for s in old], serial=count + 1))


def html_of(text: str) -> str:
    html: str = MarkdownIt("commonmark").enable("table").render(text)
    return html


def test_700_applied_campaigns_and_one_new_send_shows_the_new_send() -> None:
    """The reproduction: 552 no-op rows used to push the one new send out of the comment."""
    p = applied_project(700, "Winter launch")
    parts = markdown_parts(p)
    assert len(parts) == 1
    text = parts[0]
    assert "| `>` | schedule | `new-0@2027-01-15T12:00:00Z` |" in text
    assert "700 unchanged send(s) not listed" in text
    assert "campaign-000" not in text  # no-op rows are a count, not 700 rows
    assert "not shown" not in text and len(text) < 4000
    assert text.startswith(MARKER + "\n")
    assert "| state serial | 701 (lineage `lineage-1`) |" in text
    assert "| created | 2027-01-10T12:00:00Z |" in text and "| expires | 2027-01-10T13:00:00Z" in text
    assert "| counts | 1 schedule, 700 no-op |" in text and "| environment | `test`" in text


def test_show_unchanged_lists_the_no_ops() -> None:
    text = markdown(applied_project(3, "New"), show_unchanged=True)
    assert "#### Unchanged and deferred (3)" in text and "`campaign-002@2027-01-13T12:00:00Z`" in text


def test_what_needs_a_human_comes_before_the_changes() -> None:
    future = NOW + timedelta(days=2)
    blocked_old, blocked_new = send("blocked", future, subject="Old"), send("blocked", future, subject="New")
    unknown = send("unknown", future)
    missed = send("missed", NOW - timedelta(hours=2))
    fresh = send("fresh", future)
    p = plan(
        [fresh, blocked_new, unknown, missed],
        snap(record(blocked_old, SendStatus.SCHEDULED), record(unknown, SendStatus.UNKNOWN)),
    )
    text = markdown(p)
    human = text.index("#### :warning: Needs a human (3)")
    changes = text.index("#### Changes to apply (1)")
    assert human < changes
    for key in (blocked_new.key, unknown.key, missed.key):
        assert human < text.index(f"`{key}`") < changes, key
    assert text.index(f"`{fresh.key}`") > changes
    assert ":warning: **3 item(s) need a human before this is merged.**" in text


def test_a_scheduled_orphan_is_shown_loudly_first() -> None:
    future = NOW + timedelta(days=2)
    orphan, fresh = send("gone", future), send("fresh", future)
    text = markdown(plan([fresh], snap(record(orphan, SendStatus.SCHEDULED))))
    human = text.index("#### :warning: Needs a human")
    assert human < text.index(f"`{orphan.key}`") and "**WILL STILL GO OUT**" in text


def test_a_plan_longer_than_one_comment_is_split_and_nothing_is_dropped() -> None:
    subjects = [f"Subject {i} " + "S" * 300 for i in range(1200)]
    p = applied_project(50, *subjects)
    parts = markdown_parts(p)
    assert len(parts) >= 3
    assert all(len(part) <= MARKDOWN_LIMIT < GITHUB_COMMENT_LIMIT for part in parts)
    for number, part in enumerate(parts, start=1):
        assert part.startswith(f"{MARKER}\n<!-- orchestrator-plan part {number}/{len(parts)} -->\n")
        assert f"_Part {number} of {len(parts)} of this plan._" in part
    whole = "".join(parts)
    for change in p.pending:
        assert whole.count(f"| `{change.key}` |") == 1, change.key  # every change in exactly one table row
        assert whole.count(f"<code>{change.key}</code></summary>") == 1, change.key
    # a part that starts inside the table says so and repeats the table head
    assert "#### Changes to apply (1200) (continued)" in parts[1]
    assert "| | action | send | when | audience | flags |" in parts[1]
    for part in parts:  # each part renders on its own: the tables keep their heads
        rendered = html_of(part)
        assert rendered.count("<details") == rendered.count("</details>")


def test_one_huge_diff_is_cut_with_a_note_but_its_change_stays_listed() -> None:
    huge = "\n".join(f"line {i} " + "x" * 80 for i in range(5000))
    p = applied_project(1, huge)
    parts = markdown_parts(p)
    assert len(parts) == 1 and len(parts[0]) < DETAIL_LIMIT + 3000
    assert "| `>` | schedule | `new-0@2027-01-15T12:00:00Z` |" in parts[0]
    assert re.search(r"_\d+ more diff line\(s\) not shown here", parts[0])


def test_hostile_subject_cannot_close_the_fence_open_a_comment_or_hide_details() -> None:
    """A subject with a line break, backticks, ``<!--`` and ``</details>``: structure intact."""
    p = applied_project(2, HOSTILE)
    text = markdown(p)
    rendered = html_of(text)
    assert rendered.count("<!--") == 2  # the two hidden markers, nothing from the subject
    assert rendered.count("<details") == rendered.count("</details>") == 1
    assert "<summary>fake</summary>" not in rendered
    # the subject is visible, on one line, as text
    assert "Winter\\n```\\n&lt;!-- hide everything\\n&lt;/details&gt;" in rendered
    assert "700" not in text and "#### Changes to apply (1)" in rendered.replace("<h4>", "#### ").replace("</h4>", "")


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("`<>!-/|\n\r\t*_[]()#@&;\u202e\x00 aZ")), max_size=60))
def test_no_subject_or_key_text_changes_the_comment_structure(subject: str) -> None:
    p = applied_project(1, subject or "x")
    rendered = html_of(markdown(p))
    assert rendered.count("<!--") == 2
    assert rendered.count("<details") == rendered.count("</details>") == 1
    assert rendered.count("<table>") == 2  # the header table and the changes table
    assert rendered.count("<tr>") == 7 + 2  # header: 1 + 6 rows; changes: head + 1 row


# --- through the CLI -------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Path:
    from tests.helpers import copy_example

    return copy_example(tmp_path / "example")


def test_out_dir_writes_owner_only_parts_and_a_manifest_of_them(project: Path, tmp_path: Path) -> None:
    from tests.helpers import NOW as CLI_NOW
    from tests.helpers import run

    out = tmp_path / "comment"
    code, stdout, stderr = run(project, "plan", "--format", "markdown", "--out-dir", str(out), "--now", CLI_NOW)
    assert code == 0, stderr
    assert stdout == "" and "wrote the plan as 1 comment(s): plan-1.md (listed in manifest.json)" in stderr
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "plan-1.md"]
    assert stat.S_IMODE((out / "plan-1.md").stat().st_mode) == 0o600
    body = (out / "plan-1.md").read_text()
    assert body.startswith(MARKER) and "Plan: 2 to send now, 3 to schedule." in body
    assert "jane.prospect@example.com" not in body  # masked unless --reveal-emails
    manifest = json.loads((out / "manifest.json").read_text())
    data = (out / "plan-1.md").read_bytes()
    assert manifest["files"] == [{"path": "plan-1.md", "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}]


def test_out_dir_needs_markdown(project: Path, tmp_path: Path) -> None:
    from tests.helpers import run

    code, _, err = run(project, "plan", "--out-dir", str(tmp_path / "x"))
    assert code not in (0, 1) and "--format markdown" in err
    assert not (tmp_path / "x").exists()


def test_problems_come_first_escaped_and_bounded() -> None:
    from orchestrator.errors import Diagnostic
    from orchestrator.planner import make_plan

    message = "unknown key 'x\n```\n<!-- y'" + "z" * 5000
    p = make_plan(
        [send("a")],
        snap(),
        NOW,
        environment="test",
        business_unit_id="0Uv000000000000AAA",
        problems=[Diagnostic("campaigns/a.yaml", 3, 1, message)],
    )
    text = markdown(p)
    assert text.index("#### :x: Errors (1)") < text.index("#### Changes to apply (1)")
    assert ":x: **The plan has errors and cannot be applied.**" in text
    assert "more characters)" in text and len(text) < 8000
    rendered = html_of(text)
    assert rendered.count("<!--") == 2 and "unknown key 'x\\n```\\n&lt;!-- y'" in rendered


def test_many_warnings_come_after_the_changes_grouped_by_message() -> None:
    """After the email lints landed, 700 'no preheader' warnings pushed the one change to part 3."""
    from orchestrator.errors import Diagnostic
    from orchestrator.planner import make_plan

    old = [send(f"campaign-{i:03d}", NOW + timedelta(days=3)) for i in range(700)]
    new = send("winter", NOW + timedelta(days=5))
    lint = "preheader: no preheader text"
    warnings = [Diagnostic(f"campaigns/c{i:03d}.yaml", 7, 1, lint, "warning") for i in range(700)]
    warnings.append(Diagnostic("campaigns/winter.yaml", 3, 1, "image-alt: an image has no alt text", "warning"))
    p = make_plan(
        [*old, new],
        snap(*[record(s, SendStatus.SCHEDULED) for s in old], serial=701),
        NOW,
        environment="test",
        business_unit_id="0Uv000000000000AAA",
        problems=warnings,
    )
    parts = markdown_parts(p)
    assert len(parts) == 1 and len(parts[0]) < 5000
    text = parts[0]
    assert text.index(f"`{new.key}`") < text.index("#### Warnings (701)")
    assert f"- `{lint}`: 700 places: `campaigns/c000.yaml:7`, " in text
    assert "`campaigns/c009.yaml:7` and 690 more (`orchestrator validate` lists all)" in text
    assert "- `image-alt: an image has no alt text`: `campaigns/winter.yaml:3`" in text
    assert "Errors" not in text and ":white_check_mark: Nothing needs a human." in text


# --- GitHub's size limit, counted as GitHub counts ----------------------------------------------
#
# A part of 72,848 characters was written (10 deep paths of zero-width characters, each shown
# as six characters by the escaping), and GitHub refuses a body over 65,536 characters. Sizes
# are counted in UTF-16 code units (an emoji is two), which is never less than GitHub's count.

ASTRAL = "\U0001d518\U0001f600"  # a mathematical letter and an emoji: two UTF-16 units each
ZERO_WIDTH = "\u200b\u200d\u2060\ufeff\u202e"  # each shown as a six-character escape


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def assert_fits(parts: list[str]) -> None:
    for part in parts:
        assert utf16(part) <= MARKDOWN_LIMIT < GITHUB_COMMENT_LIMIT, utf16(part)
        assert len(part.encode("utf-8")) <= 3 * GITHUB_COMMENT_LIMIT  # bytes stay sane too
        rendered = html_of(part)
        assert rendered.count("<details") == rendered.count("</details>")


def test_ten_deep_zero_width_paths_fit_through_the_cli(project: Path, tmp_path: Path) -> None:
    """The reproduction: one warning naming ten deep paths of zero-width characters."""
    from tests.helpers import NOW as CLI_NOW
    from tests.helpers import run

    spring = (project / "campaigns" / "spring-sale.yaml").read_text()
    preheader = "{% block preheader %}Everything is {{ discount }}% off until {{ ends }}.{% endblock %}"
    component = "\u200b" * 84  # 252 bytes: the most one file name holds
    for number in range(10):
        folder = project / "campaigns" / f"d{number}" / Path(*[component] * 14)
        folder.mkdir(parents=True)
        (folder / "c.yaml").write_text(spring.replace("name: spring-sale", f"name: zw-{number}").replace(preheader, ""))
    out = tmp_path / "comment"
    code, stdout, stderr = run(project, "plan", "--format", "markdown", "--out-dir", str(out), "--now", CLI_NOW)
    assert code == 0, stdout + stderr
    parts = [(out / entry["path"]).read_text() for entry in json.loads((out / "manifest.json").read_text())["files"]]
    assert_fits(parts)
    whole = "".join(parts)
    assert "preheader: no preheader text" in whole and whole.count("more characters)") >= 10
    for number in range(10):
        assert whole.count(f"| `zw-{number}@2027-03-01T14:00:00Z` |") == 1


@pytest.mark.parametrize(
    "subject", [ASTRAL * 3_000, (ASTRAL * 2_000 + ZERO_WIDTH * 300 + "\n") * 3], ids=["astral", "mixed"]
)
def test_astral_and_zero_width_subjects_are_counted_as_github_counts(subject: str) -> None:
    """65,000 code points of emoji are 130,000 UTF-16 units: counting code points let them through."""
    subjects = [f"{n} {subject}" for n in range(12)]
    p = applied_project(3, *subjects)
    parts = markdown_parts(p)
    assert_fits(parts)
    whole = "".join(parts)
    for change in p.pending:
        assert whole.count(f"| `{change.key}` |") == 1, change.key


@pytest.mark.parametrize("limit", [3_000, 9_000])
def test_an_item_too_large_for_any_comment_is_cut_inside_a_code_block(limit: int) -> None:
    """The last guard (names and lines are cut first, so real plans never reach it): any limit holds."""
    huge = "\n".join(f"line {i} " + "`" * 5 + ASTRAL * 50 for i in range(400))
    p = applied_project(2, huge, "small")
    parts = markdown_parts(p, limit=limit)
    for part in parts:
        assert utf16(part) <= limit
        rendered = html_of(part)
        assert rendered.count("<!--") == 2 and rendered.count("<details") == rendered.count("</details>")
    whole = "".join(parts)
    assert "too large for one comment and is cut" in whole
    for change in p.pending:
        assert whole.count(f"| `{change.key}` |") == 1, change.key


@settings(max_examples=25, deadline=None)
@given(
    st.text(alphabet=st.sampled_from([*ASTRAL, *ZERO_WIDTH, "`", "|", "<", "a", "\n", " "]), min_size=1, max_size=40),
    st.integers(min_value=1, max_value=4_000),
    st.integers(min_value=1, max_value=8),
)
def test_no_part_is_ever_over_the_limit(chunk: str, repeat: int, sends: int) -> None:
    subject = chunk * repeat
    parts = markdown_parts(applied_project(2, *[f"{n}{subject}" for n in range(sends)]))
    assert_fits(parts)
