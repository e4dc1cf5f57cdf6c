"""The CLI and the example project, shared by every test that drives the real command line.

One copy, so that every suite builds the example project, pins "today" and catches tracebacks the
same way: ``from tests.helpers import copy_example, run, ...``.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from click.testing import CliRunner

from orchestrator.cli.common import App, OrchestratorGroup
from orchestrator.cli.main import cli as main_cli
from orchestrator.cli.pardot_reads import emails_group, report_cmd, stats_cmd, templates_group

REPO = Path(__file__).resolve().parents[1]
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
MASKED_ADDRESS = "j***@example.com#7c86"  # first letter, domain, tag (redact.mask_email)

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


def invoke(
    *args: str, input: str | None = None, clock: Callable[[], datetime] | None = None
) -> tuple[int, str, str]:
    """The shipped CLI with ``args`` exactly as typed (no ``--project`` added); any exception but
    SystemExit is a bug, and so is a traceback in the output. ``clock`` pins "today" (:attr:`App.clock`)."""
    obj = App(clock=clock) if clock is not None else None
    result = CliRunner().invoke(main_cli, list(args), input=input, obj=obj)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    return result.exit_code, result.stdout, result.stderr


def output(project: Path, *args: str) -> tuple[int, str]:
    """``(exit code, what the user saw)`` for the shipped CLI in ``project``: stdout and stderr
    together, as a terminal shows them; any exception but SystemExit, or a traceback, is a bug."""
    result = CliRunner().invoke(main_cli, ["--project", str(project), *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def applied_example(dest: Path) -> Path:
    """The example project, applied against its in-process sandbox at NOW (2 sent, 3 scheduled)."""
    project = copy_example(dest)
    code, out, err = run(project, "apply", "--auto-approve", "--now", NOW)
    assert code == 0, out + err
    return project


def run_at_now(project: Path, *args: str, input: str | None = None) -> tuple[int, str, str]:
    """The CLI exactly as shipped, on a clock fixed at NOW; any exception but SystemExit is a bug.

    Unlike :func:`run`, no commands are added and the environment is left as the caller has it (no
    ``COLUMNS``): the plan/apply/state suites (tests/test_lifecycle.py, tests/test_review_binding.py)
    assert on that output. The fixed "today" is the clock seam (:attr:`App.clock`): no test depends
    on the calendar, which tests/test_calendar_guard.py checks by moving the system clock ahead.
    """
    result = CliRunner().invoke(
        main_cli, ["--project", str(project), *args], input=input, obj=App(clock=fixed_clock(NOW))
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.stdout, result.stderr


def as_pardot(project: Path, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """A request to the project's in-process sandbox as Pardot itself: what someone changes in
    Pardot's UI behind the tool's back (imports deferred, as for :func:`sandbox_emails`)."""
    from orchestrator.config import load_config
    from orchestrator.connect import sandbox_app
    from orchestrator.sandbox import SANDBOX_BUSINESS_UNIT, SANDBOX_TOKEN, inprocess_transport

    env = load_config(project).environment("sandbox")
    headers = {"Authorization": f"Bearer {SANDBOX_TOKEN}", "Pardot-Business-Unit-Id": SANDBOX_BUSINESS_UNIT}
    transport = inprocess_transport(sandbox_app(env, project))
    with httpx.Client(transport=transport, base_url="http://sandbox.local", headers=headers) as client:
        return client.request(method, path, **kwargs)


def sandbox_emails(project: Path) -> list[dict[str, Any]]:
    """Every email the project's in-process sandbox holds: what a run really sent or scheduled.

    Read from the sandbox itself, not from the CLI's output or state, so a test sees what Pardot
    would have. The imports are deferred: most modules that import these helpers never read the sandbox.
    """
    from orchestrator.config import load_config
    from orchestrator.connect import sandbox_app
    from orchestrator.sandbox import inprocess_transport

    env = load_config(project).environment("sandbox")
    with httpx.Client(transport=inprocess_transport(sandbox_app(env, project)), base_url="http://sandbox.local") as c:
        emails: list[dict[str, Any]] = c.get("/_sandbox/emails").json()["emails"]
        return emails
