"""The CLI as users meet it: help everywhere, exit codes, no tracebacks, the example project."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from orchestrator.cli.main import cli
from tests.helpers import NOW, copy_example
from tests.helpers import invoke as run


def _all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [prefix]
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            out.extend(_all_commands(command, (*prefix, name)))
        else:
            out.append((*prefix, name))
    return out


@pytest.mark.parametrize("path", _all_commands(cli), ids=lambda p: " ".join(p) or "orchestrator")
def test_every_command_has_help(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    assert command.help, f"{' '.join(path)} has no help text"


@pytest.fixture
def example(tmp_path: Path) -> Path:
    return copy_example(tmp_path / "example")


def test_example_project_validates(example: Path) -> None:
    code, out, _ = run("--project", str(example), "validate", "--now", NOW)
    assert code == 0, out
    assert "4 campaign(s), 5 send(s): all valid." in out


def test_validate_json_lists_campaigns(example: Path) -> None:
    code, out, _ = run("--project", str(example), "validate", "--format", "json", "--now", NOW)
    report = json.loads(out)
    assert code == 0 and report["valid"] is True
    assert {c["campaign"] for c in report["campaigns"]} == {
        "spring-sale",
        "welcome-back",
        "weekly-newsletter",
        "demo-followup",
    }


def test_validate_github_annotations(example: Path) -> None:
    (example / "campaigns" / "broken.yaml").write_text(
        "name: broken\ncampaign: spring-2027\nlists: [newsletter]\nbogus: 1\n"
    )
    code, out, _ = run("--project", str(example), "validate", "--format", "github", "--now", NOW)
    assert code == 1
    assert "::error file=campaigns/broken.yaml,line=4,col=8::unknown key 'bogus'" in out


def test_validate_single_path(example: Path) -> None:
    (example / "campaigns" / "broken.yaml").write_text("name: [\n")
    code, _, _ = run(
        "--project", str(example), "validate", str(example / "campaigns" / "spring-sale.yaml"), "--now", NOW
    )
    assert code == 0


def test_no_project_is_a_clean_error(tmp_path: Path) -> None:
    code, _, err = run("--project", str(tmp_path), "validate")
    assert code == 1
    assert "has no orchestrator.yaml" in err


def test_unknown_environment(example: Path) -> None:
    code, _, err = run("--project", str(example), "--env", "staging", "validate")
    assert code == 1
    assert "unknown environment 'staging'" in err and "production, sandbox" in err


def test_invalid_config_is_located(example: Path) -> None:
    (example / "orchestrator.yaml").write_text("version: 2\nenvironments: {}\n")
    code, out, _ = run("--project", str(example), "validate")
    assert code == 1
    assert "orchestrator.yaml:1:10: error: version must be 1" in out
    code, out, _ = run("--project", str(example), "validate", "--format", "json")
    assert code == 1 and json.loads(out)["problems"][0]["message"] == "version must be 1"


def test_render_prints_parts_and_keeps_merge_tags(example: Path) -> None:
    code, out, _ = run("--project", str(example), "render", "weekly-newsletter", "--occurrence", "0", "--now", NOW)
    assert code == 0
    assert "=== weekly-newsletter@2026-12-07T08:00:00Z" in out
    assert "{{#if Recipient.FirstName}}{{Recipient.FirstName}}{{else}}there{{/if}}" in out
    assert "{{{Organization.Address}}}" in out and "%%unsubscribe%%" in out


def test_render_at_and_out(example: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    code, out, _ = run(
        "--project",
        str(example),
        "render",
        "spring-sale",
        "--at",
        "2027-03-01T09:00:00",
        "--out",
        str(out_dir),
        "--now",
        NOW,
    )
    assert code == 0, out
    folder = out_dir / "spring-sale@2027-03-01T140000Z"
    assert (folder / "subject.txt").read_text() == "Spring sale: 20% off everything"
    assert "%%first_name%%" in (folder / "body.txt").read_text()
    assert "<h1>Spring sale</h1>" in (folder / "body.html").read_text()


def test_render_unknown_campaign_and_bad_occurrence(example: Path) -> None:
    code, _, err = run("--project", str(example), "render", "nope")
    assert code == 1 and "no campaign named 'nope'" in err
    code, _, err = run("--project", str(example), "render", "spring-sale", "--occurrence", "3", "--now", NOW)
    assert code == 64 and "has 1 occurrence(s)" in err


def test_bad_now_is_a_usage_error(example: Path) -> None:
    code, _, err = run("--project", str(example), "validate", "--now", "yesterday")
    assert code == 64 and "not an ISO-8601 time" in err


def test_python_dash_m_entry_point() -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "orchestrator", "--version"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and "orchestrator" in result.stdout


def test_a_command_closes_the_in_process_sandbox(tmp_path: Path) -> None:
    """The whole process, as users run it: the sandbox's database is closed on the way out
    (checkpointed into the .db file, no -wal left), even though the exit skips the last
    garbage collection that used to close it."""
    import subprocess
    import sys

    root = copy_example(tmp_path / "p")
    done = subprocess.run(
        [sys.executable, "-m", "orchestrator", "apply", "--auto-approve", "--now", NOW],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    database = root / ".orchestrator" / "sandbox-api.db"
    assert database.is_file()
    assert not database.with_name("sandbox-api.db-wal").exists()
