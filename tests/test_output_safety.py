"""Issue 17: what the tool prints is hostile input for whoever reads it.

No invisible format character (bidi, zero-width) reaches plan text, Markdown or errors raw.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from orchestrator.cli.main import cli
from orchestrator.textsafe import FORMAT_CHARS, escape_control

CASES = Path(__file__).parent / "cases"
SEED = Path(__file__).parents[1] / "orchestrator" / "sandbox" / "demo_seed.yaml"
NOW = "2027-01-01T00:00:00Z"

#: Every form of forged command; "FORGED" marks the attacker's part.
HOSTILE_LINES = [
    "::error title=Security review::FORGED LGTM",
    "  ::add-mask::FORGED",
    "\t::stop-commands::FORGED",
    "::warning::FORGED",
    "\u00a0\u2003::notice::FORGED",  # .NET's TrimStart removes every Unicode blank
    "##[error]FORGED",
    "prefix ##[add-mask]FORGED",
]
HOSTILE_TEXT = "Hello %%unsubscribe%%\n" + "\n".join(HOSTILE_LINES) + "\n"
HOSTILE_CAMPAIGN: dict[str, object] = {
    "name": "a",
    "campaign": "spring-2027",
    "lists": ["newsletter"],
    "sender": {"name": "Acme", "email": "news@example.com"},
    "subject": "::notice::FORGED subject ##[warning]FORGED",
    "text": HOSTILE_TEXT,
    "html": '<a href="%%unsubscribe%%">u</a>\n' + "\n".join(HOSTILE_LINES),
}
#: A template error keeps the line breaks of Jinja's message: a forged line on stderr.
ERROR_CAMPAIGN: dict[str, object] = {
    **HOSTILE_CAMPAIGN,
    "name": "b",
    "subject": "Hi",
    "text": "{{ '{:\\n::error title=Security review::FORGED}'.format(1) }} %%unsubscribe%%",
}


def _write_project(root: Path, campaigns: Sequence[Mapping[str, object]], *, config: str | None = None) -> Path:
    (root / "campaigns").mkdir(parents=True)
    text = config if config is not None else (CASES / "base.orchestrator.yaml").read_text()
    (root / "orchestrator.yaml").write_text(text)
    for campaign in campaigns:  # JSON is YAML
        (root / "campaigns" / f"{campaign['name']}.yaml").write_text(json.dumps(campaign, ensure_ascii=False))
    return root


def _hostile_project(root: Path) -> Path:
    """The hostile campaign, with a sandbox whose template 4001 carries the same lines."""
    seed = SEED.read_text().replace(
        "      Hello %%first_name%%, welcome aboard.\n      Unsubscribe",
        "".join(f"      {line}\n" for line in HOSTILE_LINES) + "      Unsubscribe",
        1,
    )
    assert "FORGED" in seed
    base = (CASES / "base.orchestrator.yaml").read_text()
    config = base.replace("{kind: sandbox}", "{kind: sandbox, seed: seed.yaml}")
    _write_project(root, [HOSTILE_CAMPAIGN], config=config)
    (root / "seed.yaml").write_text(seed)
    return root


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str


def _run(root: Path, *args: str) -> Run:
    result = CliRunner().invoke(cli, ["--project", str(root), *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return Run(result.exit_code, result.stdout, result.stderr)


# -- 2. no hidden characters ---------------------------------------------------------------------

HIDDEN = [
    *("\u202e", "\u200b", "\u200d", "\u200f", "\u202a", "\u2066", "\u2069"),
    *("\ufeff", "\u061c", "\u180e", "\u00ad", "\U000e0041"),
]


def test_format_chars_cover_every_unicode_format_character() -> None:
    pattern = re.compile(f"[{FORMAT_CHARS}]")
    missing = [
        f"U+{c:04X}" for c in range(0x110000) if unicodedata.category(chr(c)) == "Cf" and not pattern.match(chr(c))
    ]
    assert missing == []


@pytest.mark.parametrize("char", HIDDEN, ids=[f"U+{ord(c):04X}" for c in HIDDEN])
def test_hidden_characters_are_escaped_in_plan_text_markdown_and_errors(tmp_path: Path, char: str) -> None:
    escaped = escape_control(char)
    assert escaped.startswith("\\")
    campaign = {**HOSTILE_CAMPAIGN, "subject": f"Pay{char}pal", "html": '<a href="%%unsubscribe%%">u</a>'}
    root = _write_project(tmp_path / "project", [campaign])
    for args in (("plan", "--now", NOW), ("plan", "--format", "markdown", "--now", NOW)):
        out = _run(root, *args).stdout
        assert char not in out and f"Pay{escaped}pal" in out, args
    broken = {**ERROR_CAMPAIGN, "text": f"{{{{ '{{:x{char}y}}'.format(1) }}}} %%unsubscribe%%"}
    root = _write_project(tmp_path / "broken", [broken])
    run = _run(root, "render", "b", "--now", NOW)
    assert run.code == 1 and char not in run.stderr and f"x{escaped}y" in run.stderr, run.stderr


def test_hidden_characters_in_pardot_content_and_json_output_are_escaped(tmp_path: Path) -> None:
    """``emails show`` shows what Pardot holds; JSON output keeps the value (``\\u202e`` decodes back)."""
    campaign = {**HOSTILE_CAMPAIGN, "subject": "Pay\u202epal", "text": "Hi\u200b %%unsubscribe%%"}
    root = _write_project(tmp_path / "project", [campaign])
    assert _run(root, "apply", "--auto-approve", "--now", NOW).code == 0
    state = _run(root, "state", "show", "a@now").stdout
    assert json.loads(state)["payload"]["subject"] == "Pay\u202epal"
    email = str(json.loads(state)["email_id"])
    for out in (
        state,
        _run(root, "emails", "show", email).stdout,
        _run(root, "emails", "show", email, "--json").stdout,
        _run(root, "plan", "--format", "json", "--now", NOW).stdout,
    ):
        assert "\u202e" not in out and "\u200b" not in out and "\\u202e" in out, out
