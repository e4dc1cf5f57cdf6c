"""The authoring loop as a newcomer meets it: documented forms work, refusals say what to do."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import NOW, copy_example
from tests.helpers import run_at_now as run


def test_an_unquoted_off_lint_level_is_off(tmp_path: Path) -> None:
    """The README's `lints: {image-alt: error, subject-length: off}`: YAML 1.1 reads `off` as false."""
    project = copy_example(tmp_path / "example")
    config = project / "orchestrator.yaml"
    config.write_text(config.read_text().replace(
        "  plan_expiry: 1h", "  plan_expiry: 1h\n  lints: {image-alt: error, subject-length: off}"
    ))
    sale = project / "campaigns" / "spring-sale.yaml"
    sale.write_text(sale.read_text() + "policy: {lints: {preheader: off}}\n")
    code, out, err = run(project, "validate", "--now", NOW)
    assert code == 0, out + err
    assert "a lint level is" not in out + err and "subject-length" not in out + err


def test_validate_all_envs_fails_when_the_environment_ci_plans_in_does_not_exist(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from orchestrator.cli.common import App
    from orchestrator.cli.main import cli
    from tests.helpers import fixed_clock

    project = copy_example(tmp_path / "example")
    result = CliRunner().invoke(
        cli, ["--project", str(project), "validate", "--all-envs"], env={"ORCHESTRATOR_ENV": "staging"},
        obj=App(clock=fixed_clock(NOW)),
    )
    assert result.exit_code == 1, result.output
    assert "staging" in result.output
    result = CliRunner().invoke(
        cli, ["--project", str(project), "validate", "--all-envs"], env={"ORCHESTRATOR_ENV": "production"},
        obj=App(clock=fixed_clock(NOW)),
    )
    assert result.exit_code == 0, result.output


def test_an_archived_template_points_at_archived(tmp_path: Path) -> None:
    project = copy_example(tmp_path / "example")
    code, _, err = run(project, "templates", "show", "4003")
    assert code == 1 and "Pardot error 68" in err and "templates show 4003 --archived" in err, err
    code, out, err = run(project, "templates", "show", "4003", "--archived")
    assert code == 0, out + err


def test_validate_counts_its_warnings(tmp_path: Path) -> None:
    project = copy_example(tmp_path / "example")
    sale = project / "campaigns" / "spring-sale.yaml"
    long_subject = "subject: \"Spring sale, " + "really " * 20 + "{{ discount }}% off everything\""
    sale.write_text(sale.read_text().replace("subject: \"Spring sale: {{ discount }}% off everything\"", long_subject))
    code, out, err = run(project, "validate", "--now", NOW)
    assert code == 0 and "warning" in out and "valid, with" in out and "warning(s) above" in out, out + err
    assert "all valid" not in out


def test_render_and_preview_of_a_valid_campaign_work_while_another_file_is_broken(tmp_path: Path) -> None:
    project = copy_example(tmp_path / "example")
    (project / "campaigns" / "broken.yaml").write_text("name: broken\nsuject: typo\n")
    code, out, err = run(project, "render", "spring-sale", "--now", NOW)
    assert code == 0, out + err
    assert "Spring sale" in out and "1 other file(s) have errors (campaigns/broken.yaml)" in err
    code, out, err = run(project, "preview", "spring-sale", "--no-screenshots", "--now", NOW)
    assert code == 0 and "campaigns/broken.yaml" in err, out + err
    code, out, err = run(project, "render", "broken", "--now", NOW)
    assert code == 1  # the broken one itself still fails


def test_an_occurrence_without_its_issue_is_not_rendered_as_if_it_had_content(tmp_path: Path) -> None:
    project = copy_example(tmp_path / "example")
    now = "2026-12-10T12:00:00Z"  # the next Monday, 2026-12-14, has content; 2026-12-21 has none
    code, out, err = run(project, "render", "weekly-newsletter", "--at", "2026-12-21T09:00:00", "--now", now)
    assert code == 0, out + err
    assert "weekly-newsletter@2026-12-21T08:00:00Z: not rendered: " in out and "2026-12-21" in out
    assert "subject" not in out.lower().split("not rendered")[0]  # nothing shown as its content
    out_dir = tmp_path / "rendered"
    code, out, err = run(project, "render", "weekly-newsletter", "--at", "2026-12-21T09:00:00", "--out", str(out_dir),
                         "--now", now)
    assert code == 0 and "not rendered" in out and not out_dir.exists(), out + err


def test_global_options_are_accepted_after_the_command(tmp_path: Path) -> None:
    project = copy_example(tmp_path / "example")
    code, out, err = run(project, "plan", "--env", "sandbox", "--now", NOW)
    assert code == 0 and "Plan: 2 to send now" in out, out + err
    code, out, err = run(project, "state", "list", "--reveal-emails")
    assert code == 0, out + err
    code, out, err = run(project, "validate", f"--project={project}", "--now", NOW)
    assert code == 0, out + err
    code, out, err = run(project, "plan", "--env", "nowhere", "--now", NOW)
    assert code == 1 and "nowhere" in err  # taken as the global option, and refused as such


def test_the_documented_preview_example_runs_on_the_example_project(tmp_path: Path) -> None:
    """docs/policy.md: `orchestrator preview weekly-newsletter --occurrence 0 --sample vip`."""
    project = copy_example(tmp_path / "example")
    code, out, err = run(project, "preview", "weekly-newsletter", "--occurrence", "0", "--sample", "vip",
                         "--no-screenshots", "--now", NOW)
    assert code == 0, out + err
    assert "Merge tags filled from vip." in out


def test_now_at_the_ends_of_the_calendar_is_a_usage_error(tmp_path: Path) -> None:
    project = copy_example(tmp_path / "example")
    for moment in ("9999-12-31T23:59:59Z", "0001-01-01T00:00:00+05:00"):
        code, out, err = run(project, "plan", "--now", moment)
        assert code == 64 and "ends of the calendar" in err, out + err
