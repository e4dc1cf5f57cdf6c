"""No test may depend on today's date: the date-sensitive suites pass a year (and three) from now.

`main`'s CI once went red on 2026-12-01 because a test compared against keys fixed for
2026-11-27 while using the real clock. The CLI's clock seam (``App.clock``) and ``--now`` make
the tests independent of the calendar; this guard proves it by running the suites that plan,
apply, schedule and report under libfaketime with the system clock moved ahead (the `faketime`
Debian package, installed by the README's test command).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

#: The suites whose results depend on "now": plans, applies, schedules, state, stats and reports.
DATE_SENSITIVE = [
    "tests/test_lifecycle.py",
    "tests/test_review_binding.py",
    "tests/test_api_cmds.py",
    "tests/test_planner.py",
    "tests/test_schedule.py",
    "tests/test_cli.py",
    "tests/test_secrets_and_formats.py",
]


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("offset", ["+365d", "+1100d"], ids=["one-year-ahead", "three-years-ahead"])
def test_the_date_sensitive_suites_pass_with_the_clock_moved_ahead(offset: str, tmp_path: Path) -> None:
    faketime = shutil.which("faketime")
    assert faketime is not None, "install libfaketime's command: apt-get install faketime"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "FAKETIME"))}
    result = subprocess.run(
        [
            faketime,
            "-f",
            offset,
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-x",
            "-p",
            "no:cacheprovider",
            "-m",
            "not slow",
            "--basetemp",
            str(tmp_path / "basetemp"),
            *DATE_SENSITIVE,
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=840,
        check=False,
    )
    tail = "\n".join(result.stdout.splitlines()[-40:])
    assert result.returncode == 0, f"under faketime {offset}:\n{tail}\n{result.stderr[-2000:]}"
    assert " passed" in tail
