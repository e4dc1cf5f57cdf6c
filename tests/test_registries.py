"""One registry per extension point: a state backend is one entry of ``orchestrator.state.LOADERS``.

``open_store``, ``connect.build_store``, the tests' ``BACKENDS`` and the config schema all agree
with that table, and a backend it does not hold is a located configuration error, never SQLite.
(The lints' registry is checked in tests/lints/test_lint_cases.py.)
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from orchestrator.cli.main import cli
from orchestrator.config import PostgresState, SqliteState, parse_state
from orchestrator.errors import ConfigError
from orchestrator.schemas import load_schema
from orchestrator.state import BACKENDS, LOADERS, open_store

CASES = Path(__file__).parent / "cases"


def test_the_config_offers_only_registered_backends() -> None:
    offered = load_schema("config")["$defs"]
    text = json.dumps(offered)
    state = next(v for v in _walk(offered) if isinstance(v, dict) and "backend" in v.get("properties", {}))
    names = state["properties"]["backend"]["enum"]
    assert set(names) <= set(LOADERS), text[:200]
    assert tuple(LOADERS) == BACKENDS


def _walk(node: object) -> list[object]:
    out: list[object] = [node]
    if isinstance(node, dict):
        for value in node.values():
            out += _walk(value)
    elif isinstance(node, list):
        for value in node:
            out += _walk(value)
    return out


def test_an_unknown_backend_in_the_config_is_a_located_error(tmp_path: Path) -> None:
    (tmp_path / "campaigns").mkdir()
    config = (CASES / "base.orchestrator.yaml").read_text(encoding="utf-8")
    shutil.copy(CASES / "base.orchestrator.yaml", tmp_path / "orchestrator.yaml")
    config = config.replace("{backend: sqlite, path: .orchestrator/test.db}", "{backend: mysql}")
    (tmp_path / "orchestrator.yaml").write_text(config, encoding="utf-8")
    result = CliRunner().invoke(cli, ["--project", str(tmp_path), "plan", "--now", "2027-01-01T00:00:00Z"])
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert "orchestrator.yaml:10:" in result.output and "unknown state backend" in result.output, result.output
    assert not (tmp_path / ".orchestrator").exists()  # nothing opened, no SQLite file made instead


def test_the_state_setting_never_falls_back_to_sqlite() -> None:
    """An environment's state is a typed value of a known backend, or the config does not load."""
    with pytest.raises(ConfigError, match=r"orchestrator\.yaml: environments\.prod\.state\.backend: .*'mysql'"):
        parse_state("prod", {"backend": "mysql"})


def test_each_typed_state_setting_names_a_registered_backend() -> None:
    assert {SqliteState.backend, PostgresState.backend} <= set(LOADERS)


def test_open_store_refuses_an_unknown_name() -> None:
    with pytest.raises(ConfigError, match="choose one of: sqlite, postgres, memory"):
        open_store("mysql")
