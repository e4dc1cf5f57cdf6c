"""The ``orchestrator`` command: a thin shell over the library (parse, build, execute, exit)."""

from __future__ import annotations

from pathlib import Path

import click

from orchestrator import __version__
from orchestrator.cli.api_cmds import emails_group, report_cmd, stats_cmd, templates_group
from orchestrator.cli.authoring import render, validate
from orchestrator.cli.common import App, OrchestratorGroup
from orchestrator.cli.export_cmd import export_group
from orchestrator.cli.ids_cmd import ids_cmd
from orchestrator.cli.init_cmd import init_cmd
from orchestrator.cli.lifecycle import apply, plan, show
from orchestrator.cli.preview_cmd import preview
from orchestrator.cli.sandbox_cmd import sandbox_group
from orchestrator.cli.state_cmd import state_group


@click.group(cls=OrchestratorGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--project",
    "project_dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="ORCHESTRATOR_PROJECT",
    help="Project folder (default: nearest folder with orchestrator.yaml).",
)
@click.option(
    "--env",
    "env_name",
    envvar="ORCHESTRATOR_ENV",
    metavar="NAME",
    help="Environment from orchestrator.yaml (default: default_environment).",
)
@click.option("--reveal-emails", is_flag=True, help="Show prospect email addresses unmasked in human output.")
@click.version_option(__version__, prog_name="orchestrator")
@click.pass_context
def cli(ctx: click.Context, project_dir: Path | None, env_name: str | None, reveal_emails: bool) -> None:
    """Manage Pardot (Account Engagement) email sends as code.

    Write campaigns as YAML, then: validate -> render -> plan -> apply.
    """
    app = ctx.ensure_object(App)
    app.project_dir = project_dir
    app.env_name = env_name
    app.reveal_emails = reveal_emails
    ctx.call_on_close(app.close)


cli.add_command(init_cmd)
cli.add_command(validate)
cli.add_command(render)
cli.add_command(preview)
cli.add_command(plan)
cli.add_command(apply)
cli.add_command(show)
cli.add_command(state_group)
cli.add_command(sandbox_group)
cli.add_command(export_group)
cli.add_command(templates_group)
cli.add_command(emails_group)
cli.add_command(stats_cmd)
cli.add_command(report_cmd)
cli.add_command(ids_cmd)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="orchestrator")
