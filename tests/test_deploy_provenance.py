"""Deploy exactly what was approved (issue 18): never apply the past, and an audit trail per send.

Through the real CLI on the example project, in real git repositories made in tmp folders: the
state journals the commit of every apply that sends; an apply from a checkout that does not
descend from it (an old workflow run re-run, a force-pushed revert) is refused, saved plan or
not; each send's journal names the commit, the saved plan's checksum and the approver.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import NOW, copy_example, fixed_clock, run, sandbox_emails

SALE = "spring-sale@2027-03-01T14:00:00Z"
GIT = ["git", "-c", "user.name=Tess Ter", "-c", "user.email=tess@example.com", "-c", "commit.gpgsign=false"]


def git(repo: Path, *args: str) -> str:
    done = subprocess.run([*GIT, *args], cwd=repo, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def cli(project: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    return run(project, *args, env={"ORCHESTRATOR_NOW": NOW, **(env or {})}, clock=fixed_clock(NOW))


def add_campaign(project: Path, name: str) -> None:
    """A new one-shot list send, different from every other (a copy would be held as a repeat)."""
    text = (project / "campaigns" / "welcome-back.yaml").read_text(encoding="utf-8")
    text = text.replace("name: welcome-back", f"name: {name}").replace("tags: [lifecycle]", f"tags: [{name}]")
    (project / "campaigns" / f"{name}.yaml").write_text(text)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """The example project as a git repository: its first commit holds everything but the spring sale."""
    project = copy_example(tmp_path / "example")
    (project / ".gitignore").write_text(".orchestrator/\n")
    shutil.move(project / "campaigns" / "spring-sale.yaml", tmp_path / "spring-sale.yaml")
    git(project, "init", "-q", "-b", "main")
    commit_all(project, "first")
    return project


def test_apply_refuses_a_checkout_that_does_not_descend_from_the_last_applied_commit(
    repo: Path, tmp_path: Path
) -> None:
    first = git(repo, "rev-parse", "HEAD")
    code, out, err = cli(repo, "apply", "--auto-approve")
    assert code == 0, out + err
    shutil.move(tmp_path / "spring-sale.yaml", repo / "campaigns" / "spring-sale.yaml")
    second = commit_all(repo, "spring sale")
    code, out, err = cli(repo, "apply", "--auto-approve")
    assert code == 0 and "scheduled spring-sale" in out, out + err
    sent = len(sandbox_emails(repo))

    # A re-run of the first commit's workflow: its checkout is older than what was applied.
    git(repo, "checkout", "-q", first)
    add_campaign(repo, "old-run")  # anything it would send must not go out
    plan_file = tmp_path / "old.json"
    assert cli(repo, "plan", "--out", str(plan_file))[0] == 0  # planning reads only: no refusal
    for args in (("apply", "--auto-approve"), ("apply", str(plan_file)), ("apply", "--reviewed", str(plan_file))):
        code, out, err = cli(repo, *args)
        assert code == 1, (args, out, err)
        assert f"this checkout (commit {first[:12]}) does not descend from {second[:12]}" in err
        assert "the last commit applied to this state" in err and "nothing was sent" in err
        assert "git revert" in err and "then plan that commit and approve its plan" in err
    assert len(sandbox_emails(repo)) == sent

    # A force-pushed "revert": main rewritten from the first commit.
    (repo / "campaigns" / "old-run.yaml").unlink()
    git(repo, "checkout", "-q", "-B", "main", first)
    add_campaign(repo, "rewritten")
    commit_all(repo, "rewritten history")
    code, _, err = cli(repo, "apply", "--auto-approve")
    assert code == 1 and "does not descend from" in err
    assert len(sandbox_emails(repo)) == sent

    # The way forward: a new commit on top of the last applied one.
    git(repo, "checkout", "-q", "-B", "main", second)
    add_campaign(repo, "forward")
    commit_all(repo, "forward")
    code, out, err = cli(repo, "apply", "--auto-approve")
    assert code == 0 and "forward@" in out, out + err


def test_a_commit_this_clone_does_not_have_is_refused_with_what_to_fetch(repo: Path, tmp_path: Path) -> None:
    assert cli(repo, "apply", "--auto-approve")[0] == 0
    clone = tmp_path / "unrelated"
    shutil.copytree(repo, clone, ignore=shutil.ignore_patterns(".git"))  # the state comes along
    git(clone, "init", "-q", "-b", "main")
    commit_all(clone, "another history")
    add_campaign(clone, "more")
    commit_all(clone, "more")
    code, _, err = cli(clone, "apply", "--auto-approve")
    assert code == 1, err
    assert "git does not have that commit here" in err and "fetch-depth: 0" in err


def test_outside_git_there_is_no_commit_to_check(tmp_path: Path) -> None:
    project = copy_example(tmp_path / "example")
    code, out, err = cli(project, "apply", "--auto-approve")
    assert code == 0, out + err
    code, out, _ = cli(project, "state", "journal", "--json")
    assert "apply-commit" not in [e["action"] for e in json.loads(out)["entries"]]
    detail = json.loads(cli(project, "state", "show", SALE)[1])["applied_from"]
    assert detail["commit"] is None


def test_each_send_records_commit_checksum_and_approver(repo: Path, tmp_path: Path) -> None:
    shutil.move(tmp_path / "spring-sale.yaml", repo / "campaigns" / "spring-sale.yaml")
    head = commit_all(repo, "spring sale")
    plan_file = tmp_path / "plan.json"
    code, out, err = cli(repo, "plan", "--out", str(plan_file))
    assert code == 0, out + err
    checksum = json.loads(plan_file.read_text())["checksum"]
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", checksum)
    assert f"Saved the plan to {plan_file} (checksum {checksum})" in out
    code, out, _ = cli(repo, "show", str(plan_file))
    assert code == 0 and f"Checksum: {checksum}" in out
    code, out, _ = cli(repo, "show", str(plan_file), "--format", "json")
    assert code == 0 and json.loads(out)["checksum"] == checksum
    code, out, err = cli(repo, "plan", "--out", str(tmp_path / "again.json"), "--format", "json")
    assert code == 0 and "checksum sha256:" in err and json.loads(out)  # stdout stays the JSON plan

    code, out, err = cli(
        repo, "apply", str(plan_file), env={"ORCHESTRATOR_APPROVED_BY": "alice", "GITHUB_TRIGGERING_ACTOR": "bob"}
    )
    assert code == 0, out + err
    first_line = out.splitlines()[0]
    assert first_line == f"Applying the saved plan {plan_file} (checksum {checksum})."  # before any send

    shown = json.loads(cli(repo, "state", "show", SALE)[1])
    alice = "alice (ORCHESTRATOR_APPROVED_BY)"
    expected = {"commit": head, "dirty": False, "plan_checksum": checksum, "approved_by": alice}
    assert shown["applied_from"] == expected
    assert [e["detail"]["apply"] for e in shown["journal"]] == [expected, expected]  # intent, then scheduled
    code, out, _ = cli(repo, "state", "journal", "--json")
    commits = [e for e in json.loads(out)["entries"] if e["action"] == "apply-commit"]
    assert [e["detail"] for e in commits] == [expected] and commits[0]["key"] is None


def test_the_approver_falls_back_to_the_github_actor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ORCHESTRATOR_APPROVED_BY", "GITHUB_TRIGGERING_ACTOR", "GITHUB_ACTOR"):
        monkeypatch.delenv(name, raising=False)
    project = copy_example(tmp_path / "example")
    code, out, err = cli(project, "apply", "--auto-approve", env={"GITHUB_TRIGGERING_ACTOR": "carol"})
    assert code == 0, out + err
    applied = json.loads(cli(project, "state", "show", SALE)[1])["applied_from"]
    carol = "carol (GITHUB_TRIGGERING_ACTOR)"
    assert applied == {"commit": None, "dirty": None, "plan_checksum": None, "approved_by": carol}
