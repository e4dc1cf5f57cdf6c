"""Runs every folder under tests/cases/ through the real CLI (see tests/cases/README.md)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from orchestrator.cli.main import cli

CASES = Path(__file__).parent / "cases"
DEFAULT_NOW = "2027-01-01T00:00:00Z"


def _cases(kind: str) -> list[Path]:
    return sorted(p for p in (CASES / kind).iterdir() if p.is_dir())


def _project(case: Path, tmp_path: Path) -> tuple[Path, str]:
    root = tmp_path / "project"
    shutil.copytree(case, root, symlinks=True)  # a case may hold symbolic links (never followed when copying)
    if not (root / "orchestrator.yaml").exists():
        shutil.copy(CASES / "base.orchestrator.yaml", root / "orchestrator.yaml")
    now_file = case / "now.txt"
    now = now_file.read_text().strip() if now_file.exists() else DEFAULT_NOW
    return root, now


def _validate(root: Path, now: str) -> tuple[int, dict[str, Any], str]:
    result = CliRunner().invoke(cli, ["--project", str(root), "validate", "--format", "json", "--now", now])
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result.exit_code, json.loads(result.stdout) if result.stdout.strip().startswith("{") else {}, result.output


@pytest.mark.parametrize("case", _cases("valid"), ids=lambda p: p.name)
def test_valid_case(case: Path, tmp_path: Path) -> None:
    root, now = _project(case, tmp_path)
    code, report, output = _validate(root, now)
    assert code == 0, output
    assert report["valid"] is True
    expected = case / "render"
    if not expected.is_dir():
        return
    for send_dir in sorted(p for p in expected.iterdir() if p.is_dir()):
        campaign = send_dir.name.split("@")[0].split("/")[0]
        out = tmp_path / "out"
        result = CliRunner().invoke(cli, ["--project", str(root), "render", campaign, "--out", str(out), "--now", now])
        assert result.exit_code == 0, result.output
        for part in ("subject.txt", "body.txt", "body.html"):
            want = send_dir / part
            if want.exists():
                got = (out / send_dir.name / part).read_bytes()
                assert got == want.read_bytes(), f"{send_dir.name}/{part} differs"


def _expected(case: Path) -> list[tuple[str, int, str]]:
    out = []
    for line in (case / "expected.txt").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        path, lineno, message = line.split(":", 2)
        out.append((path, int(lineno), message.strip()))
    return out


@pytest.mark.parametrize("case", _cases("invalid"), ids=lambda p: p.name)
def test_invalid_case(case: Path, tmp_path: Path) -> None:
    root, now = _project(case, tmp_path)
    code, report, output = _validate(root, now)
    assert code == 1, output
    problems = [p for p in report["problems"] if p["severity"] == "error"]
    expected = _expected(case)
    for path, line, fragment in expected:
        matches = [p for p in problems if p["path"] == path and p["line"] == line and fragment in p["message"]]
        assert matches, f"no problem {path}:{line}: {fragment!r} in:\n" + "\n".join(
            f"{p['path']}:{p['line']}: {p['message']}" for p in problems
        )
    assert len(problems) == len(expected), "unexpected extra problems:\n" + "\n".join(
        f"{p['path']}:{p['line']}: {p['message']}" for p in problems
    )
