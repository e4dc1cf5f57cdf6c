"""Shared by the stats/report tests and tests/test_api_cmds.py: the CLI, the example project."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from click.testing import CliRunner

from orchestrator.cli.common import App, OrchestratorGroup
from orchestrator.cli.main import cli as main_cli
from orchestrator.cli.pardot_reads import emails_group, report_cmd, stats_cmd, templates_group

REPO = Path(__file__).resolve().parents[2]
NOW = "2026-11-27T12:00:00Z"
#: The five sends the example project makes when applied at NOW (see tests/test_lifecycle.py).
EXAMPLE_KEYS = (
    "demo-followup/1234",
    "demo-followup/jane.prospect@example.com",
    "weekly-newsletter@2026-12-07T08:00:00Z",
    "welcome-back@2027-01-12T15:30:00Z",
    "spring-sale@2027-03-01T14:00:00Z",
)
HIDDEN_ADDRESS = "jane.prospect@example.com"
MASKED_ADDRESS = "j***@example.com"

#: The real root command with this part's commands added, without touching the shared object.
CLI = OrchestratorGroup(
    name="orchestrator",
    params=main_cli.params,
    callback=main_cli.callback,
    commands={**main_cli.commands, "templates": templates_group, "emails": emails_group,
              "stats": stats_cmd, "report": report_cmd},
    context_settings=main_cli.context_settings,
)


def copy_example(dest: Path) -> Path:
    """The repository's example project (orchestrator.yaml + campaigns/) copied into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "orchestrator.yaml", dest)
    shutil.copytree(REPO / "campaigns", dest / "campaigns")
    return dest


def fixed_clock(moment: str = NOW) -> Callable[[], datetime]:
    """A clock that always reads ``moment``: the seam tests use instead of the calendar."""
    instant = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    return lambda: instant


def run(
    project: Path, *args: str, env: dict[str, str] | None = None, clock: Callable[[], datetime] | None = None
) -> tuple[int, str, str]:
    """Invoke the CLI like a user would; any exception but SystemExit is a bug (a traceback).

    ``clock`` replaces the system clock (:attr:`App.clock`), for commands that refuse ``--now``
    (real Pardot environments) but whose output depends on the date.
    """
    obj = App(clock=clock) if clock is not None else None
    result = CliRunner().invoke(
        CLI, ["--project", str(project), *args], env={"COLUMNS": "200", **(env or {})}, obj=obj
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.stdout, result.stderr


def applied_example(dest: Path) -> Path:
    """The example project, applied against its in-process sandbox at NOW (2 sent, 3 scheduled)."""
    project = copy_example(dest)
    code, out, err = run(project, "apply", "--auto-approve", "--now", NOW)
    assert code == 0, out + err
    return project
