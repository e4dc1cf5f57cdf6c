"""No secret reaches output, state or plan files; the XML response format works end to end."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from orchestrator.cli.common import App
from orchestrator.cli.main import cli
from orchestrator.sandbox import SANDBOX_BUSINESS_UNIT, SandboxApp, serve
from tests.helpers import fixed_clock

REPO = Path(__file__).resolve().parent.parent
NOW = "2026-11-27T12:00:00Z"
SECRET = "tok-Sup3rSecret-8f2c"


def _example(root: Path, api: str) -> Path:
    root.mkdir()
    shutil.copytree(REPO / "campaigns", root / "campaigns")
    config = (REPO / "orchestrator.yaml").read_text()
    config = config.replace(
        "api: {kind: sandbox}            # the built-in local Pardot sandbox, no credentials needed", f"api: {api}"
    )
    assert f"api: {api}" in config
    (root / "orchestrator.yaml").write_text(config)
    return root


def test_xml_format_plan_and_apply(tmp_path: Path) -> None:
    root = _example(tmp_path / "xml", "{kind: sandbox, format: xml}")
    runner = CliRunner()
    result = runner.invoke(cli, ["--project", str(root), "apply", "--auto-approve", "--now", NOW])
    assert result.exit_code == 0, result.output
    assert "Apply complete: 2 sent, 3 scheduled" in result.output
    result = runner.invoke(cli, ["--project", str(root), "plan", "--now", NOW, "--detailed-exitcode"])
    assert result.exit_code == 0 and "Plan: 5 unchanged." in result.output


def test_token_never_in_output_state_or_plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = SandboxApp(token=SECRET)
    with serve(app, host="127.0.0.1", port=0) as server:
        api = (
            f"{{kind: pardot, base_url: '{server.url}', business_unit_id: {SANDBOX_BUSINESS_UNIT}, "
            "auth: {method: token, token_env: SECRET_TOKEN_VAR}}"
        )
        root = _example(tmp_path / "live", api)
        monkeypatch.setenv("SECRET_TOKEN_VAR", SECRET)
        runner = CliRunner()
        outputs = []
        plan_file = tmp_path / "plan.json"
        for args in (
            ["plan", "--out", str(plan_file)],
            ["apply", str(plan_file)],
            ["state", "list", "--json"],
            ["plan", "--format", "json"],
            ["plan", "--format", "markdown"],
        ):
            result = runner.invoke(  # a Pardot environment refuses --now: the clock seam pins "today"
                cli, ["--project", str(root), *args], obj=App(clock=fixed_clock(NOW))
            )
            assert result.exit_code == 0, result.output
            outputs.append(result.output)
        # a wrong token: the template check fails with a clear error that does not echo the token
        monkeypatch.setenv("SECRET_TOKEN_VAR", SECRET + "-wrong")
        config = (root / "orchestrator.yaml").read_text().replace(".orchestrator/sandbox.db", "fresh-state/s.db")
        (root / "orchestrator.yaml").write_text(config)
        result = runner.invoke(cli, ["--project", str(root), "plan", "--now", NOW])
        assert result.exit_code == 1
        assert "184" in result.output and "welcome" in result.output
        outputs.append(result.output)
    files = [plan_file, *root.rglob("*.db"), *root.rglob("*.db-wal")]
    assert any(f.name.endswith(".db") for f in files)
    for text in outputs:
        assert SECRET not in text
    for path in files:
        assert SECRET.encode() not in path.read_bytes(), path
