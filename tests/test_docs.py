"""The docs cover the product (after sqlite-utils' tests/test_docs.py): every command, lint, exit
code and configuration key is named in README.md or docs/, so a newcomer who reads them meets
all of it, and a new one cannot be added without a word of documentation."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from orchestrator.cli.exitcodes import ExitCode
from orchestrator.cli.main import cli
from orchestrator.lints import LINTS
from orchestrator.schemas import load_schema

REPO = Path(__file__).resolve().parent.parent
DOCS = "\n".join(p.read_text(encoding="utf-8") for p in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))])


def _commands(group: click.Group, prefix: str = "") -> Iterator[str]:
    for name in sorted(group.list_commands(click.Context(group))):
        command = group.get_command(click.Context(group), name)
        assert command is not None
        yield f"{prefix}{name}"
        if isinstance(command, click.Group):
            yield from _commands(command, f"{prefix}{name} ")


def _keys(schema: object) -> Iterator[str]:
    """Every property name the config schema accepts, nested ones and those of $defs included."""
    if not isinstance(schema, dict):
        return
    for key, value in schema.get("properties", {}).items():
        yield key
        yield from _keys(value)
    for nested in ("items", "additionalProperties"):
        yield from _keys(schema.get(nested))
    for value in schema.get("$defs", {}).values():
        yield from _keys(value)
    for branch in ("oneOf", "anyOf", "allOf"):
        for option in schema.get(branch, []):
            yield from _keys(option)


@pytest.mark.parametrize("command", list(_commands(cli)))
def test_every_command_is_documented(command: str) -> None:
    named = re.search(rf"`(orchestrator )?{re.escape(command)}[ `]", DOCS)
    assert named or f"orchestrator {command}" in DOCS, f"`orchestrator {command}` is not in the docs"


@pytest.mark.parametrize("lint", sorted(LINTS))
def test_every_lint_is_documented(lint: str) -> None:
    assert f"`{lint}`" in DOCS or lint in DOCS, f"lint {lint} is not in the docs"


@pytest.mark.parametrize("code", [int(c) for c in ExitCode])
def test_every_exit_code_is_documented(code: int) -> None:
    assert re.search(rf"\|\s*{code}\s*\|", DOCS), f"exit code {code} is not in an exit-code table of the docs"


@pytest.mark.parametrize("key", sorted(set(_keys(load_schema("config")))))
def test_every_config_key_is_documented(key: str) -> None:
    assert re.search(rf"\b{re.escape(key)}\b", DOCS), f"orchestrator.yaml key {key!r} is not in the docs"
