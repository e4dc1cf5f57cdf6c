"""The authoring loop as a newcomer meets it: documented forms work, refusals say what to do."""

from __future__ import annotations

from pathlib import Path

from tests.report.helpers import NOW, copy_example
from tests.report.helpers import run_at_now as run


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
    from tests.report.helpers import fixed_clock

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
