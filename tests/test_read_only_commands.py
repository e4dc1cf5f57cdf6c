"""validate, plan, show and preview never create or write the state (issue 18), through the real CLI.

On a pull request these commands run with read-only credentials: a state that does not exist
yet is "no state yet" (every send new), never created by them. A plan saved against no state
applies only while the state is still empty, so two applies of it cannot both send.
(PostgreSQL with a role granted only SELECT: tests/state/test_state_read_only.py.)
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.helpers import NOW, copy_example, sandbox_emails
from tests.helpers import run_at_now as run


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_example(tmp_path / "example")


def state_file(project: Path) -> Path:
    return project / ".orchestrator" / "sandbox.db"


def digest_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_reading_commands_never_create_the_state(project: Path, tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    code, out, err = run(project, "plan", "--now", NOW)
    assert code == 0, out + err
    assert "no state yet" in out and "Plan: 2 to send now, 3 to schedule." in out
    assert not state_file(project).exists()
    assert "Created a new, empty state" not in err

    code, out, err = run(project, "plan", "--out", str(plan_file), "--now", NOW, "--format", "markdown")
    assert code == 0, out + err
    assert "no state yet" in out
    assert json.loads(plan_file.read_text())["state"] == {"lineage": None, "serial": 0}
    for args in (
        ("show", str(plan_file)),
        ("validate", "--now", NOW),
        ("preview", "spring-sale", "--no-screenshots", "--out", str(tmp_path / "previews"), "--now", NOW),
    ):
        code, out, err = run(project, *args)
        assert code == 0, (args, out + err)
    assert not state_file(project).exists()


def test_a_plan_reads_an_existing_state_without_writing_it(project: Path) -> None:
    assert run(project, "apply", "--auto-approve", "--now", NOW)[0] == 0
    before = digest_of(state_file(project))
    code, out, err = run(project, "plan", "--now", NOW)
    assert code == 0, out + err
    assert "Plan: 5 unchanged." in out and "state serial 10" in out
    assert digest_of(state_file(project)) == before


def test_an_emptied_state_file_is_still_refused_by_a_plan(project: Path) -> None:
    state_file(project).parent.mkdir(parents=True)
    state_file(project).write_bytes(b"")  # a state someone emptied is not "no state yet"
    code, _, err = run(project, "plan", "--now", NOW)
    assert code == 1 and "holds no state (a file of 0 bytes)" in err and "restore the state" in err
    assert state_file(project).read_bytes() == b""


def test_a_plan_made_before_the_state_existed_applies_once(project: Path, tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    assert run(project, "plan", "--out", str(plan_file), "--now", NOW)[0] == 0
    code, out, err = run(project, "apply", str(plan_file), "--now", NOW)
    assert code == 0, out + err
    assert "Created a new, empty state" in err and len(sandbox_emails(project)) == 5
    code, out, err = run(project, "apply", str(plan_file), "--now", NOW)  # the same plan again
    assert code == 1, out + err
    assert "state changed since the plan was made (no state yet -> serial 10" in err
    assert len(sandbox_emails(project)) == 5


def test_a_plan_made_before_the_state_existed_is_refused_once_another_apply_wrote_it(
    project: Path, tmp_path: Path
) -> None:
    plan_file = tmp_path / "plan.json"
    assert run(project, "plan", "--out", str(plan_file), "--now", NOW)[0] == 0
    sale = project / "campaigns" / "spring-sale.yaml"
    text = sale.read_text()
    sale.unlink()  # another branch applies first, without the spring sale
    assert run(project, "apply", "--auto-approve", "--now", NOW)[0] == 0
    sale.write_text(text)
    assert len(sandbox_emails(project)) == 4
    code, _, err = run(project, "apply", str(plan_file), "--now", NOW)
    assert code == 1 and "state changed since the plan was made (no state yet -> serial 8" in err
    assert len(sandbox_emails(project)) == 4
