"""The ``orchestrator`` command: a thin shell over the library (parse, build, execute, exit).

Commands load lazily: the root group knows each command by ``module:attribute`` and imports the
module only when the command runs (or its help is shown), so ``orchestrator --version`` or
``orchestrator validate`` never pays for the API client, the sandbox or matplotlib.
"""

from __future__ import annotations

import gc
import importlib
import traceback
from collections.abc import Iterator, Mapping, MutableMapping
from pathlib import Path

import click

from orchestrator import __version__
from orchestrator.cli.common import App, OrchestratorGroup, guarded_output

#: Every command of the root group: name -> ``module:attribute``, imported on first use.
COMMANDS: Mapping[str, str] = {
    "init": "orchestrator.cli.init:init_cmd",
    "validate": "orchestrator.cli.validate_render:validate",
    "render": "orchestrator.cli.validate_render:render",
    "preview": "orchestrator.cli.preview:preview",
    "plan": "orchestrator.cli.plan_apply:plan",
    "apply": "orchestrator.cli.plan_apply:apply",
    "show": "orchestrator.cli.plan_apply:show",
    "state": "orchestrator.cli.state:state_group",
    "sandbox": "orchestrator.cli.sandbox:sandbox_group",
    "export": "orchestrator.cli.export:export_group",
    "templates": "orchestrator.cli.pardot_reads:templates_group",
    "emails": "orchestrator.cli.pardot_reads:emails_group",
    "stats": "orchestrator.cli.pardot_reads:stats_cmd",
    "report": "orchestrator.cli.pardot_reads:report_cmd",
    "ids": "orchestrator.cli.ids:ids_cmd",
    "import": "orchestrator.cli.import_cmd:import_group",
}


class LazyCommands(MutableMapping[str, click.Command]):
    """A group's ``commands`` mapping whose values are imported when first looked up.

    Names are known up front, so listing, completion and "did you mean" cost nothing; a
    command's module loads on ``[name]`` (running it, or showing its help). Being a full
    mapping, ``group.commands`` keeps working for code that walks the tree.
    """

    def __init__(self, specs: Mapping[str, str]) -> None:
        self._specs = dict(specs)
        self._loaded: dict[str, click.Command] = {}

    def __getitem__(self, name: str) -> click.Command:
        if name not in self._loaded:
            spec = self._specs[name]  # KeyError for an unknown name, as a dict would
            module, _, attribute = spec.partition(":")
            command = getattr(importlib.import_module(module), attribute)
            if not isinstance(command, click.Command):
                raise TypeError(f"{spec} is not a click command")
            self._loaded[name] = command
        return self._loaded[name]

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._specs.pop(name, None)
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        if name not in self._specs and name not in self._loaded:
            raise KeyError(name)
        self._specs.pop(name, None)
        self._loaded.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter({**dict.fromkeys(self._specs), **dict.fromkeys(self._loaded)})

    def __len__(self) -> int:
        return len(self._specs.keys() | self._loaded.keys())

    def __contains__(self, name: object) -> bool:
        return name in self._specs or name in self._loaded


class LazyGroup(OrchestratorGroup):
    """The root group: commands given as ``name -> "module:attribute"`` load on first use
    (the pattern of click's "Lazily Loading Subcommands" documentation, kept as a mapping)."""

    def __init__(self, *args: object, lazy_commands: Mapping[str, str], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.commands = LazyCommands(lazy_commands)


@click.group(
    cls=LazyGroup,
    lazy_commands=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
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


def main() -> None:
    """Console-script entry point."""
    try:
        with guarded_output():
            try:
                cli(prog_name="orchestrator")
            except Exception:  # a bug: its traceback too is printed through the guarded stderr
                traceback.print_exc()
                raise SystemExit(1) from None
    finally:
        # Everything still alive lives until the process ends: moving it out of the collector's
        # reach spares the interpreter's final collections, a tenth of a second after an apply
        # of a few hundred sends. Files, the state and the in-process sandbox were closed already
        # (``App.close``; ``tests/test_cli.py`` checks the sandbox's database is left whole).
        gc.freeze()
