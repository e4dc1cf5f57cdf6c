"""Issue 17: what the tool prints is hostile input for whoever reads it.

In CI, stdout and stderr are a GitHub Actions log, where a line can be a workflow command; plans
and Markdown become artifacts and public comments. Three rules, each checked through the real
CLI with the same hostile project:

1. no line of stdout or stderr is a workflow command, except the tool's own annotations;
2. no invisible format character (bidi, zero-width) reaches plan text, Markdown or errors raw;
3. no value of a variable a ``*_env`` setting names reaches any output or file written.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.cli.annotations import command
from orchestrator.cli.main import cli
from orchestrator.logsafe import SafeStream, neutralise_commands
from orchestrator.plan import Action
from orchestrator.planfile import read_plan, write_plan
from orchestrator.redact import REDACTED, forget_secrets, redact, register_secrets, registered_secrets, scrub
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


# -- 1. no forged workflow commands --------------------------------------------------------------

#: The tool's own annotations: a level, escaped properties (no raw ":" or ","), a title of ours.
OWN_ANNOTATION = re.compile(
    r"::(?:error|warning|notice)"
    r"(?: (?:file=[^:,]*(?:,line=\d+(?:,col=\d+)?)?)?(?:,?title=orchestrator[^:,]*)?)?"
    r"::(?!FORGED)"
)


def forged_lines(text: str, *, annotations: bool = False) -> list[str]:
    """Lines a GitHub runner would obey (actions/runner ``ActionCommand.cs``): after leading
    blanks ``::`` (``TryParseV2``), or ``##[`` anywhere (``TryParse``); lines end at CR or LF."""
    found = []
    for line in re.split(r"\r\n|\r|\n", text):
        command_v2 = line.lstrip().startswith("::") and not (annotations and OWN_ANNOTATION.match(line))
        if command_v2 or "##[" in line:
            found.append(line)
    return found


def _saved_plan(root: Path) -> str:
    plan = root.parent / "plan.json"
    assert _run(root, "plan", "--out", str(plan), "--now", NOW).code in (0, 2)
    return str(plan)


def _committed_plan(root: Path) -> str:
    """A plan file as a pull request can commit it: any field hostile, checksum recomputed."""
    path = Path(_saved_plan(root))
    plan = read_plan(path)
    hostile = "FORGED\n::error title=Security review::FORGED\r##[add-mask]FORGED"
    change = replace(plan.changes[0], action=Action.BLOCKED, reason=hostile, source=hostile)
    write_plan(replace(plan, environment=f"test {hostile}", changes=(change,)), path)
    return str(path)


def _applied_email(root: Path) -> str:
    assert _run(root, "apply", "--auto-approve", "--now", NOW).code == 0
    state = json.loads(_run(root, "state", "show", "a@now").stdout)
    return str(state["email_id"])


def _applied(root: Path) -> str:
    _applied_email(root)
    return "a@now"


#: (case, project, setup returning extra arguments, command). ``{}`` in the command is the
#: setup's result. Every command that prints campaign text, Pardot content or a saved plan.
COMMANDS: list[tuple[str, Callable[[Path], Path], Callable[[Path], str] | None, tuple[str, ...]]] = [
    ("render", _hostile_project, None, ("render", "a", "--now", NOW)),
    ("preview", _hostile_project, None, ("preview", "a", "--no-screenshots", "--now", NOW)),
    ("plan text", _hostile_project, None, ("plan", "--now", NOW)),
    ("plan markdown", _hostile_project, None, ("plan", "--format", "markdown", "--now", NOW)),
    ("plan json", _hostile_project, None, ("plan", "--format", "json", "--now", NOW)),
    ("show text", _hostile_project, _saved_plan, ("show", "{}")),
    ("show markdown", _hostile_project, _saved_plan, ("show", "{}", "--format", "markdown")),
    ("show json", _hostile_project, _saved_plan, ("show", "{}", "--format", "json")),
    ("show committed text", _hostile_project, _committed_plan, ("show", "{}")),
    ("show committed markdown", _hostile_project, _committed_plan, ("show", "{}", "--format", "markdown")),
    ("show committed github", _hostile_project, _committed_plan, ("show", "{}", "--format", "github")),
    ("apply", _hostile_project, None, ("apply", "--auto-approve", "--now", NOW)),
    ("state show", _hostile_project, _applied, ("state", "show", "{}")),
    ("emails show", _hostile_project, _applied_email, ("emails", "show", "{}")),
    ("emails show json", _hostile_project, _applied_email, ("emails", "show", "{}", "--json")),
    ("templates show", _hostile_project, None, ("templates", "show", "4001")),
    ("templates show json", _hostile_project, None, ("templates", "show", "4001", "--json")),
    ("validate error", lambda r: _write_project(r, [ERROR_CAMPAIGN]), None, ("validate", "--now", NOW)),
    (
        "validate error github",
        lambda r: _write_project(r, [ERROR_CAMPAIGN]),
        None,
        ("validate", "--format", "github", "--now", NOW),
    ),
    (
        "validate error json",
        lambda r: _write_project(r, [ERROR_CAMPAIGN]),
        None,
        ("validate", "--format", "json", "--now", NOW),
    ),
    ("render error", lambda r: _write_project(r, [ERROR_CAMPAIGN]), None, ("render", "b", "--now", NOW)),
    ("plan error", lambda r: _write_project(r, [ERROR_CAMPAIGN]), None, ("plan", "--now", NOW)),
    (
        "plan error github",
        lambda r: _write_project(r, [ERROR_CAMPAIGN]),
        None,
        ("plan", "--format", "github", "--now", NOW),
    ),
]


@pytest.mark.parametrize(
    ("project", "setup", "args"), [c[1:] for c in COMMANDS], ids=[c[0] for c in COMMANDS]
)
def test_no_command_forges_a_workflow_command(
    tmp_path: Path,
    project: Callable[[Path], Path],
    setup: Callable[[Path], str] | None,
    args: tuple[str, ...],
) -> None:
    root = project(tmp_path / "project")
    value = setup(root) if setup is not None else ""
    run = _run(root, *(a.replace("{}", value) for a in args))
    github = "github" in args
    assert "FORGED" in run.stdout + run.stderr, run  # the hostile text was printed, escaped
    assert forged_lines(run.stdout, annotations=github) == [], run.stdout
    assert forged_lines(run.stderr) == [], run.stderr
    if github:  # the tool's own annotations still work
        assert any(OWN_ANNOTATION.match(line) for line in run.stdout.splitlines()), run.stdout


def test_json_output_stays_valid_and_keeps_the_exact_values(tmp_path: Path) -> None:
    """``##[`` is written as ``##\\u005b`` in JSON: the same string once parsed."""
    root = _hostile_project(tmp_path / "project")
    run = _run(root, "plan", "--format", "json", "--now", NOW)
    (change,) = json.loads(run.stdout)["changes"]
    assert change["payload"]["text_content"] == HOSTILE_TEXT


def test_the_console_script_escapes_too(tmp_path: Path) -> None:
    """``python -m orchestrator`` (the console script's ``main``), not only the click group."""
    root = _write_project(tmp_path / "project", [ERROR_CAMPAIGN, {**HOSTILE_CAMPAIGN, "name": "c"}])
    for args in (("render", "c"), ("render", "b")):
        done = subprocess.run(
            [sys.executable, "-m", "orchestrator", "--project", str(root), *args, "--now", NOW],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert "FORGED" in done.stdout + done.stderr
        assert forged_lines(done.stdout) == [] and forged_lines(done.stderr) == [], done


def test_a_forged_line_shows_with_a_backslash(tmp_path: Path) -> None:
    root = _hostile_project(tmp_path / "project")
    out = _run(root, "render", "a", "--now", NOW).stdout
    assert "\\::error title=Security review::FORGED LGTM\n" in out
    assert "  \\::add-mask::FORGED\n" in out
    assert "prefix ##\\u005badd-mask]FORGED\n" in out


# The stream itself: whatever the writes and flushes, the result is the whole text made safe.

_PIECES = st.sampled_from(
    [":", "::", "#", "##", "[", " ", "\t", "\n", "\r", "\r\n", "a", "SECRET!", "SEC", "RET!", "TOK", "EN", "TOKEN"]
)


@settings(max_examples=300, deadline=None)
@given(steps=st.lists(st.tuples(st.lists(_PIECES, max_size=4).map("".join), st.booleans()), max_size=12))
def test_the_stream_writes_what_the_whole_text_would_give(steps: list[tuple[str, bool]]) -> None:
    secrets = ["SECRET!", "TOKEN"]
    inner = io.StringIO()
    stream = SafeStream(inner, lambda: secrets)
    for text, flush in steps:
        stream.write(text)
        if flush:
            stream.flush()
    stream.close_filter()
    whole = "".join(text for text, _ in steps)
    assert inner.getvalue() == neutralise_commands(redact(whole, secrets))
    assert forged_lines(inner.getvalue()) == []
    assert not any(secret in inner.getvalue() for secret in secrets)


def test_a_prompt_appears_before_the_answer_is_read() -> None:
    inner = io.StringIO()
    stream = SafeStream(inner, lambda: [])
    stream.write("Apply these changes? [y/N]: ")
    stream.flush()
    assert inner.getvalue() == "Apply these changes? [y/N]: "


def test_the_tools_own_command_goes_through_on_a_line_of_its_own() -> None:
    inner = io.StringIO()
    stream = SafeStream(inner, lambda: ["s3cr3t-value"])
    stream.write("partial")
    stream.write_command("::error file=a.yaml::s3cr3t-value ##[x]")
    assert inner.getvalue() == f"partial\n::error file=a.yaml::{REDACTED} ##\\u005bx]\n"
    with pytest.raises(ValueError, match="one line"):
        stream.write_command("::error::a\n::error::b")


def test_annotation_parts_are_escaped_as_the_toolkit_does() -> None:
    line = command("error", "50%\r\n::warning::x \u202e", file="a:b,c.yaml", line=3, title="t:1,2\n")
    assert line == "::error file=a%3Ab%2Cc.yaml,line=3,title=t%3A1%2C2%0A::50%25%0D%0A::warning::x \\u202e"
    assert len(line.splitlines()) == 1


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


# -- 3. no secret in any output ------------------------------------------------------------------

DSN_CANARY = "Zq81xKcanaryDsnValue"  # libpq quotes a DSN without "=" whole in its error
TOKEN_CANARY = "tok:canary/7 x%y"  # needs URL-encoding three different ways
CANARY_FORMS = [
    DSN_CANARY,
    TOKEN_CANARY,
    quote(TOKEN_CANARY, safe=""),
    quote(TOKEN_CANARY),
    quote_plus(TOKEN_CANARY),
]
SECRETS_CONFIG = (CASES / "base.orchestrator.yaml").read_text() + """
  production:
    api:
      kind: pardot
      base_url: https://pi.pardot.com
      business_unit_id: 0Uv000000000001AAA
      version: 4
      auth: {method: token, token_env: ORCH_TEST_TOKEN}
    state: {backend: postgres, dsn_env: SF_CLIENT_SECRET}
    ids: {campaigns: {spring-2027: 1}, lists: {newsletter: 2}}
"""


@pytest.fixture
def canaries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SF_CLIENT_SECRET", DSN_CANARY)
    monkeypatch.setenv("ORCH_TEST_TOKEN", TOKEN_CANARY)


def _leaks(text: str) -> list[str]:
    return [form for form in CANARY_FORMS if form in text]


@pytest.mark.usefixtures("canaries")
def test_a_secret_is_in_no_output_and_no_file_written(tmp_path: Path) -> None:
    """The canaries reach the content (as a leaked secret would) and a library error; every
    command's stdout and stderr, the saved plan, the Markdown parts and rendered files lack them."""
    content = {
        **HOSTILE_CAMPAIGN,
        "subject": f"Code {TOKEN_CANARY}",
        "text": f"{DSN_CANARY} {quote(TOKEN_CANARY, safe='')} {quote(TOKEN_CANARY)} {quote_plus(TOKEN_CANARY)} "
        "%%unsubscribe%%",
    }
    broken = {**ERROR_CAMPAIGN, "text": f"{{{{ '{{:{TOKEN_CANARY}}}'.format(1) }}}} %%unsubscribe%%"}
    root = _write_project(tmp_path / "project", [content], config=SECRETS_CONFIG)
    failing = _write_project(tmp_path / "failing", [broken], config=SECRETS_CONFIG)
    out = tmp_path / "out"
    runs = [
        (root, ("render", "a", "--now", NOW)),
        (root, ("render", "a", "--out", str(out / "render"), "--now", NOW)),
        (root, ("plan", "--now", NOW)),
        (root, ("plan", "--format", "json", "--now", NOW)),
        (root, ("plan", "--format", "github", "--now", NOW)),
        (root, ("plan", "--format", "markdown", "--now", NOW)),
        (root, ("plan", "--format", "markdown", "--out-dir", str(out / "md"), "--now", NOW)),
        (root, ("plan", "--out", str(out / "plan.json"), "--now", NOW)),
        (root, ("show", str(out / "plan.json"))),
        (root, ("apply", str(out / "plan.json"), "--auto-approve", "--now", NOW)),
        (root, ("apply", "--auto-approve", "--now", NOW)),
        (root, ("state", "show", "a@now")),
        (root, ("--env", "production", "state", "list")),  # libpq quotes the "DSN"
        (failing, ("validate", "--now", NOW)),
        (failing, ("validate", "--format", "github", "--now", NOW)),
        (failing, ("validate", "--format", "json", "--now", NOW)),
        (failing, ("render", "b", "--now", NOW)),
        (failing, ("plan", "--format", "markdown", "--now", NOW)),
    ]
    for project, args in runs:
        run = _run(project, *args)
        assert _leaks(run.stdout + run.stderr) == [], (args, run)
        if args[:2] == ("apply", str(out / "plan.json")):  # its payload was redacted: never sent
            assert run.code == 1 and "does not match its fingerprint" in run.stderr, run
    assert REDACTED in _run(root, "--env", "production", "state", "list").stderr
    assert REDACTED in _run(failing, "render", "b", "--now", NOW).stderr
    written = [p for p in out.rglob("*") if p.is_file()]
    assert {"plan.json", "plan-1.md", "subject.txt", "body.txt"} <= {p.name for p in written}
    for path in written:
        assert _leaks(path.read_text()) == [], path


@pytest.mark.usefixtures("canaries")
def test_the_console_script_keeps_secrets_out_of_its_errors(tmp_path: Path) -> None:
    root = _write_project(tmp_path / "project", [HOSTILE_CAMPAIGN], config=SECRETS_CONFIG)
    done = subprocess.run(
        [sys.executable, "-m", "orchestrator", "--project", str(root), "--env", "production", "state", "list"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1 and "PostgreSQL" in done.stderr
    assert _leaks(done.stdout + done.stderr) == [], done.stderr


def test_short_values_are_not_secrets() -> None:
    """A value such as ``test`` would blank out ordinary words everywhere."""
    register_secrets(["test", None, "", "  long-enough  "])
    try:
        assert scrub("test long-enough") == f"test {REDACTED}"
    finally:
        forget_secrets()


def test_secrets_are_forgotten_when_the_run_ends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SF_CLIENT_SECRET", DSN_CANARY)
    root = _write_project(tmp_path / "project", [HOSTILE_CAMPAIGN], config=SECRETS_CONFIG)
    _run(root, "validate", "--now", NOW)
    assert registered_secrets() == frozenset()
