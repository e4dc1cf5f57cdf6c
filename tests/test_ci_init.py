"""``orchestrator init``: a project that validates, plans and applies at once; never overwrites;
ships inside the wheel (issue 9)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from orchestrator.cli.main import cli
from tests.helpers import NOW, run

REPO = Path(__file__).resolve().parent.parent
WORKFLOWS = ("orchestrator-plan.yml", "orchestrator-deploy.yml")


def init(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["init", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.stdout, result.stderr


def test_init_then_validate_plan_apply_work_against_the_sandbox(tmp_path: Path) -> None:
    project = tmp_path / "mail"
    code, out, err = init(str(project))
    assert code == 0, err
    assert {p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file()} == {
        "orchestrator.yaml",
        ".gitignore",
        "campaigns/welcome.yaml",
        "campaigns/_layouts/base.html.j2",
    }
    assert "orchestrator validate && orchestrator plan && orchestrator apply" in out
    config = (project / "orchestrator.yaml").read_text()
    assert "  # production:\n" in config and "dsn_env: ORCHESTRATOR_STATE_DSN" in config
    code, out, _ = run(project, "validate", "--now", NOW)
    assert code == 0 and "1 campaign(s), 1 send(s): all valid." in out
    assert "warning" not in out  # the starter passes every lint too (preheader, alt texts, ...)
    code, out, _ = run(project, "plan", "--detailed-exitcode", "--now", NOW)
    assert code == 2 and "Plan: 1 to send now." in out
    code, out, _ = run(project, "apply", "--auto-approve", "--now", NOW)
    assert code == 0 and "Apply complete: 1 sent" in out
    code, out, _ = run(project, "sandbox", "emails", "--json")
    assert [e["name"] for e in json.loads(out)["emails"]] == ["welcome@now"]
    code, out, _ = run(project, "plan", "--detailed-exitcode", "--now", NOW)
    assert code == 0 and "Plan: 1 unchanged." in out


def test_the_commented_production_environment_is_valid_once_uncommented(tmp_path: Path) -> None:
    project = tmp_path / "mail"
    assert init(str(project))[0] == 0
    config = project / "orchestrator.yaml"
    lines = config.read_text().splitlines()
    start = lines.index("  # production:")
    uncommented = [line.replace("  # ", "  ", 1) if i >= start else line for i, line in enumerate(lines)]
    config.write_text("\n".join(uncommented) + "\n")
    code, out, _ = run(project, "validate", "--all-envs", "--now", NOW)
    assert code == 0, out


def test_init_ci_github_writes_the_example_workflows(tmp_path: Path) -> None:
    code, out, _ = init(str(tmp_path), "--ci", "github")
    assert code == 0
    for name in WORKFLOWS:
        written = tmp_path / ".github" / "workflows" / name
        assert written.read_bytes() == (REPO / "examples" / "github-actions" / name).read_bytes()
        assert f"created .github/workflows/{name}" in out
    requirements = tmp_path / ".github" / "orchestrator-requirements.in"
    assert requirements.read_bytes() == (REPO / "examples" / "github-actions" / requirements.name).read_bytes()
    assert requirements.read_text().splitlines()[-1] == "pardot-orchestrator[preview]==0.1.0"
    # The pin is this build's version: init says it must exist where pip looks, and how to lock it.
    assert "must resolve where pip looks" in out
    assert "pip download --no-deps 'pardot-orchestrator[preview]==0.1.0'" in out
    assert "is this build's own version; if it is not published" in out and "--pip-spec" in out
    assert "pip-compile --generate-hashes --allow-unsafe --output-file .github/orchestrator-requirements.txt" in out


def test_init_pip_spec_pins_a_fork_or_an_unpublished_build(tmp_path: Path) -> None:
    wheel = "pardot-orchestrator @ https://example.com/releases/pardot_orchestrator-0.1.1-py3-none-any.whl"
    code, out, err = init(str(tmp_path), "--ci", "github", "--pip-spec", wheel)
    assert code == 0, err
    assert (tmp_path / ".github" / "orchestrator-requirements.in").read_text().splitlines()[-1] == wheel
    assert f"install {wheel} from the hash-locked" in out and "this build's own version" not in out


@pytest.mark.parametrize(
    ("spec", "why"),
    [
        ("git+https://github.com/me/orchestrator@main", "version-control URL, which pip cannot check against a hash"),
        ("pardot-orchestrator\n--index-url https://evil.example", "is not one requirement"),
        ("--extra-index-url=https://evil.example", "is not one requirement"),
    ],
)
def test_init_refuses_a_pip_spec_the_workflows_could_not_install_by_hash(tmp_path: Path, spec: str, why: str) -> None:
    code, _, err = init(str(tmp_path), "--ci", "github", "--pip-spec", spec)
    assert code == 64 and "--pip-spec" in err and why in " ".join(err.split())
    assert not (tmp_path / ".github").exists()


def test_init_pip_spec_needs_ci(tmp_path: Path) -> None:
    code, _, err = init(str(tmp_path), "--pip-spec", "pardot-orchestrator==0.1.0")
    assert code == 64 and "use it with --ci github" in err


def test_init_refuses_to_overwrite_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "orchestrator.yaml").write_text("# mine\n")
    code, _, err = init(str(tmp_path))
    assert code == 1 and "already has orchestrator.yaml; nothing was written" in err
    assert (tmp_path / "orchestrator.yaml").read_text() == "# mine\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["orchestrator.yaml"]


def test_init_adds_missing_entries_to_an_existing_gitignore_and_keeps_plans_out_of_git(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True, timeout=30)
    (tmp_path / ".gitignore").write_text("node_modules/\n.orchestrator/")
    code, out, _ = init(str(tmp_path))
    assert code == 0 and "updated .gitignore (added plan.json" in out
    text = (tmp_path / ".gitignore").read_text()
    assert text.startswith("node_modules/\n.orchestrator/\n# added by orchestrator init\n")
    assert text.count(".orchestrator/") == 1
    ignored = subprocess.run(
        ["git", "-C", str(tmp_path), "check-ignore", "plan.json", "plan-comment/plan-1.md", ".orchestrator/state.db",
         "previews/welcome/preview.html"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert ignored.stdout.split() == [
        "plan.json", "plan-comment/plan-1.md", ".orchestrator/state.db", "previews/welcome/preview.html"
    ]
    kept = subprocess.run(
        ["git", "-C", str(tmp_path), "check-ignore", "campaigns/welcome.yaml"], capture_output=True, timeout=30
    )
    assert kept.returncode == 1  # campaign files are not ignored


@pytest.mark.slow
def test_the_wheel_ships_the_scaffold_and_init_works_from_it(tmp_path: Path) -> None:
    """Build the wheel offline with hatchling, install it into a folder, run init from there."""
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(tmp_path / "dist")],
        cwd=REPO,
        check=True,
        capture_output=True,
        timeout=120,
    )
    (wheel,) = (tmp_path / "dist").glob("pardot_orchestrator-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for name in WORKFLOWS:
        assert f"orchestrator/scaffold/github/{name}" in names
    assert "orchestrator/scaffold/project/gitignore" in names
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)  # a pure-Python wheel installs by unpacking
    project = tmp_path / "from-wheel"
    result = subprocess.run(
        [sys.executable, "-c", "from orchestrator.cli.main import main; main()", "init", str(project), "--ci=github"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert (project / ".github" / "workflows" / "orchestrator-deploy.yml").is_file()
    assert (project / "campaigns" / "welcome.yaml").is_file()


def test_init_ci_github_adds_only_the_workflows_to_an_existing_project(tmp_path: Path) -> None:
    code, _, err = init(str(tmp_path))
    assert code == 0, err
    config = (tmp_path / "orchestrator.yaml").read_text()
    code, out, err = init(str(tmp_path), "--ci", "github")
    assert code == 0, out + err
    assert "created .github/workflows/orchestrator-plan.yml" in out and "orchestrator.yaml" not in out
    assert (tmp_path / "orchestrator.yaml").read_text() == config  # untouched
    code, _, err = init(str(tmp_path), "--ci", "github")  # never overwrites a workflow
    assert code == 1 and "already has .github/workflows/orchestrator-deploy.yml" in err and "nothing was written" in err
