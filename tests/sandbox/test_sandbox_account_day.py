"""The daily API limit resets at midnight in the account's time zone, not at UTC midnight.

Pardot: "reset at the start of the day in the account's time-zone setting" (pardot-api.md §5).
Through HTTP to the in-process sandbox on a controlled clock; the configuration error through the CLI.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from sandbox_helpers import AUTH, Clock, parse

from orchestrator.cli.main import cli
from orchestrator.sandbox import SANDBOX_BASE_URL, FaultConfig, SandboxApp, inprocess_transport
from tests.helpers import copy_example, fixed_clock, run

READ = "/api/emailTemplate/version/4/do/read/id/4001"


def _codes(app: SandboxApp, count: int) -> list[int | None]:
    with httpx.Client(transport=inprocess_transport(app), base_url=SANDBOX_BASE_URL, headers=AUTH) as client:
        return [parse(client.get(READ, params={"format": "json"})).code for _ in range(count)]


@pytest.mark.parametrize(
    ("zone", "later", "after_midnight_utc"),
    [
        # 22:30 UTC is 23:30 in Paris; 23:10 UTC is already the next day there (but not in UTC).
        ("Europe/Paris", datetime(2026, 11, 27, 23, 10, tzinfo=UTC), [None]),
        # 00:30 UTC on the 28th is still 16:30 on the 27th in Los Angeles: the limit holds.
        ("America/Los_Angeles", datetime(2026, 11, 28, 0, 30, tzinfo=UTC), [122]),
    ],
)
def test_the_daily_limit_follows_the_accounts_day(
    zone: str, later: datetime, after_midnight_utc: list[int | None]
) -> None:
    clock = Clock(datetime(2026, 11, 27, 22, 30, tzinfo=UTC))
    app = SandboxApp(clock=clock, faults=FaultConfig(daily_limit=2), account_timezone=zone)
    try:
        assert _codes(app, 3) == [None, None, 122]
        clock.now = later
        assert _codes(app, 1) == after_midnight_utc
    finally:
        app.close()


def test_the_default_account_zone_is_utc() -> None:
    clock = Clock(datetime(2026, 11, 27, 23, 59, tzinfo=UTC))
    app = SandboxApp(clock=clock, faults=FaultConfig(daily_limit=1))
    try:
        assert _codes(app, 2) == [None, 122]
        clock.now = datetime(2026, 11, 28, 0, 0, tzinfo=UTC)
        assert _codes(app, 1) == [None]
    finally:
        app.close()


def test_an_unknown_account_zone_in_orchestrator_yaml_is_a_located_error(tmp_path: Path) -> None:
    project = copy_example(tmp_path / "example")
    config = project / "orchestrator.yaml"
    config.write_text(
        config.read_text().replace("api: {kind: sandbox}", "api: {kind: sandbox, account_timezone: Mars/Olympus}", 1)
    )
    code, _, err = run(project, "templates", "list")
    assert code == 1 and "Traceback" not in err
    assert "environments.sandbox.api.account_timezone" in err and "Mars/Olympus" in err and "IANA" in err


def test_the_account_zone_in_orchestrator_yaml_is_taken(tmp_path: Path) -> None:
    """11:30 UTC is 20:30 in Tokyo, and 15:30 UTC already the next day there: the limit resets."""
    project = copy_example(tmp_path / "example")
    config = project / "orchestrator.yaml"
    config.write_text(
        config.read_text().replace(
            "api: {kind: sandbox}", "api: {kind: sandbox, account_timezone: Asia/Tokyo, daily_limit: 1}", 1
        )
    )
    evening, past_midnight = fixed_clock("2026-11-27T11:30:00Z"), fixed_clock("2026-11-27T15:30:00Z")
    assert run(project, "templates", "list", clock=evening)[0] == 0
    code, _, err = run(project, "templates", "list", clock=evening)
    assert code != 0 and "122" in err
    assert run(project, "templates", "list", clock=past_midnight)[0] == 0


def test_sandbox_serve_refuses_an_unknown_account_zone_before_listening() -> None:
    result = CliRunner().invoke(cli, ["sandbox", "serve", "--account-timezone", "Mars/Olympus"])
    assert result.exit_code == 64 and "--account-timezone" in result.output and "IANA" in result.output
    assert "listening" not in result.output
