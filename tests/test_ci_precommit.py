""".pre-commit-hooks.yaml: the ``orchestrator-validate`` hook (issue 9).

The hook is ``language: system`` (``language: python`` took 55-163 s to build its environment,
too slow for a commit hook): it runs the ``orchestrator`` on PATH. One test runs the hook's entry
and arguments exactly as the manifest declares them; the other runs ``pre-commit try-repo`` on
this checkout in a throwaway git repository, with this environment's ``orchestrator`` on PATH.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from orchestrator.cli.main import cli

REPO = Path(__file__).resolve().parent.parent
BROKEN = "name: broken\ncampaign: example\nlists: [newsletter]\nbogus: 1\n"


def hook() -> dict[str, object]:
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    (found,) = [h for h in hooks if h["id"] == "orchestrator-validate"]
    return dict(found)


def scaffolded(root: Path) -> Path:
    result = CliRunner().invoke(cli, ["init", str(root)])
    assert result.exit_code == 0, result.output
    return root


def test_manifest_runs_validate_for_every_environment_on_campaign_and_template_changes() -> None:
    spec = hook()
    assert spec["entry"] == "orchestrator" and spec["args"] == ["validate", "--all-envs"]
    assert spec["pass_filenames"] is False and spec["language"] == "system"
    files = re.compile(str(spec["files"]))
    for path in ("campaigns/spring.yaml", "campaigns/_layouts/base.html.j2", "orchestrator.yaml", "x/news.yml"):
        assert files.search(path), path
    for path in ("README.md", "src/app.py", "campaigns/notes.txt"):
        assert not files.search(path), path


def test_the_hook_command_passes_a_valid_project_and_fails_a_broken_campaign(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = hook()
    project = scaffolded(tmp_path / "p")
    monkeypatch.chdir(project)  # pre-commit runs hooks at the repository root
    args = [*shlex.split(str(spec["entry"]))[1:], *spec["args"]]  # type: ignore[misc]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    (project / "campaigns" / "broken.yaml").write_text(BROKEN)
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1 and "campaigns/broken.yaml:4:" in result.output


@pytest.mark.timeout(200)
def test_pre_commit_try_repo_runs_the_hook(tmp_path: Path) -> None:
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    if shutil.which("pre-commit", path=path) is None:  # the venv's, even when it is not activated
        pytest.fail("pre-commit is in the test extra: pip install '.[test]'")
    repo = scaffolded(tmp_path / "repo")
    git = ["git", "-C", str(repo), "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True, timeout=30)
    subprocess.run([*git, "add", "-A"], check=True, timeout=30)
    subprocess.run([*git, "commit", "-qm", "init"], check=True, timeout=30)
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"), "PATH": path}
    command = ["pre-commit", "try-repo", str(REPO), "orchestrator-validate", "--all-files"]
    ok = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True, timeout=90)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert re.search(r"orchestrator validate\.+Passed", ok.stdout)
    (repo / "campaigns" / "broken.yaml").write_text(BROKEN)
    subprocess.run([*git, "add", "-A"], check=True, timeout=30)
    failed = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True, timeout=90)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert re.search(r"orchestrator validate\.+Failed", failed.stdout)
    assert "campaigns/broken.yaml:4:8: error: unknown key 'bogus'" in failed.stdout
