"""The docs cover the product (after sqlite-utils' tests/test_docs.py): every command, lint, exit
code and configuration key is named in README.md or docs/, so a newcomer who reads them meets
all of it, and a new one cannot be added without a word of documentation."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from orchestrator.cli.exitcodes import ExitCode
from orchestrator.cli.main import cli
from orchestrator.lints import LINTS
from orchestrator.schemas import load_schema
from tests.helpers import NOW, copy_example, fixed_clock, invoke

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


# -- every shell example runs -----------------------------------------------------------------

#: Fenced blocks with these info strings are shell examples a reader may paste.
SHELL = {"sh", "shell", "bash", "console"}

#: Each command of a shell example that this test does not run, with the reason. Everything else
#: must be an ``orchestrator`` command, and runs against the in-process sandbox. A stale entry (no
#: longer in the docs) fails too, so the list cannot hide anything.
NOT_RUN: dict[str, str] = {
    "python3 -m venv .venv": "creates a virtualenv; the test runs the orchestrator already installed",
    ". .venv/bin/activate": "activates that virtualenv (a shell builtin, nothing of ours)",
    "pip install .": "installs from PyPI (network); the test uses the installed package",
    "pip install -e '.[test]'": "installs from PyPI (network); the test uses the installed package",
    "pip install '.[test]'": "installs from PyPI (network); the test uses the installed package",
    "pip install pardot-orchestrator": "downloads the published package from PyPI (network)",
    "apt-get update -qq": "system packages: needs root and the Debian mirrors (network)",
    "apt-get install -y -qq postgresql-15 chromium fonts-dejavu-core faketime nodejs": (
        "system packages: needs root and the Debian mirrors (network)"
    ),
    "pytest": "the test suite itself",
    "ruff check .": "the linter CI runs (.ci/run), not a command of the product",
    "mypy": "the type checker CI runs (.ci/run), not a command of the product",
    "export ORCHESTRATOR_TRUSTED_HOSTS=pardot-proxy.example.com,sso-proxy.example.com": (
        "trusts proxies in front of real Salesforce hosts; there is nothing to run against the sandbox"
    ),
}


def _shell_examples() -> list[tuple[str, list[str]]]:
    """``(where, commands)`` per fenced shell block: each line split at ``&&``, comments dropped."""
    out = []
    for path in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        text = path.read_text(encoding="utf-8")
        for block in re.finditer(r"^```(\w*)\n(.*?)^```", text, re.S | re.M):
            if block.group(1) not in SHELL:
                continue
            commands = []
            for line in block.group(2).splitlines():
                code = re.sub(r"(^|\s)#.*$", "", line).strip()
                commands += [part.strip() for part in code.split("&&") if part.strip()]
            where = f"{path.relative_to(REPO)}:{text.count(chr(10), 0, block.start()) + 1}"
            out.append((where, commands))
    return out


EXAMPLES = _shell_examples()


def test_every_shell_command_is_run_or_says_why_not() -> None:
    commands = {c for _, block in EXAMPLES for c in block}
    unknown = sorted(c for c in commands if not c.startswith("orchestrator ") and c not in NOT_RUN)
    assert not unknown, f"shell examples neither run nor in NOT_RUN (with a reason): {unknown}"
    stale = sorted(set(NOT_RUN) - commands)
    assert not stale, f"NOT_RUN names commands no longer in the docs: {stale}"


@pytest.mark.parametrize(("where", "commands"), EXAMPLES, ids=[w for w, _ in EXAMPLES])
def test_shell_example_runs_against_the_sandbox(
    where: str, commands: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The block's ``orchestrator`` commands, in order, in the example project (a block that starts
    with ``orchestrator init`` starts from an empty folder), on a clock pinned at NOW."""
    runnable = [shlex.split(c) for c in commands if c.startswith("orchestrator ")]
    if not runnable:
        assert all(c in NOT_RUN for c in commands)  # every command is accounted for, with a reason
        return
    project = tmp_path / "project"
    if runnable[0][1] == "init":
        project.mkdir()
    else:
        copy_example(project)
    monkeypatch.chdir(project)
    monkeypatch.delenv("ORCHESTRATOR_ENV", raising=False)
    for argv in runnable:
        code, out, err = invoke(*argv[1:], clock=fixed_clock(NOW))
        assert code == 0, f"{where}: `{' '.join(argv)}` exited {code}:\n{out}\n{err}"
