"""What every command shares: the selected project and environment, the clock, the consoles,
the one place where library errors become exit code 1 without a traceback, and the one place
where output is made safe for a CI log (:func:`guarded_output`).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeVar, cast
from zoneinfo import ZoneInfo

import click

from orchestrator.cli.exitcodes import ExitCode
from orchestrator.errors import ConfigError, OrchestratorError
from orchestrator.logsafe import SafeStream
from orchestrator.redact import forget_secrets, register_secrets, registered_secrets, scrub_data, secret_variable_names
from orchestrator.textsafe import FORMAT_CHARS, escape_control

if TYPE_CHECKING:
    from rich.console import Console

    from orchestrator.config import Config, Environment
    from orchestrator.pardot.client import PardotClient
    from orchestrator.project import Project
    from orchestrator.state.base import StateStore

F = TypeVar("F", bound=Callable[..., Any])


def system_clock() -> datetime:
    """The real current time, aware UTC: the default :attr:`App.clock`."""
    return datetime.now(UTC)


def make_console(stderr: bool = False) -> Console:
    """A rich console: colour only on a terminal, never with NO_COLOR, no wrapping in pipes.

    It writes to whatever ``sys.stdout``/``sys.stderr`` is when it prints (rich's default when no
    file is given), so an :class:`App` made before the streams are redirected (tests, embedding)
    still prints where the command's output goes.
    """
    from rich.console import Console  # loads with the first command, not with --version

    stream = sys.stderr if stderr else sys.stdout
    tty = stream.isatty()
    return Console(
        stderr=stderr,
        no_color=bool(os.environ.get("NO_COLOR")),
        highlight=False,
        soft_wrap=not tty,
        width=None if tty else 160,  # logs and pipes: wide enough that tables keep send keys whole
    )


@dataclass
class App:
    """Per-invocation context: built once by the root command, passed to every subcommand."""

    project_dir: Path | None = None
    env_name: str | None = None
    #: Where every command reads the time. Tests inject a fixed clock through click's ``obj``
    #: (``CliRunner().invoke(cli, args, obj=App(clock=...))``); unlike ``--now`` it is not a
    #: user-facing override, so it applies to real Pardot environments too.
    clock: Callable[[], datetime] = system_clock
    now_override: datetime | None = None
    reveal_emails: bool = False
    console: Console = field(default_factory=make_console)
    err_console: Console = field(default_factory=lambda: make_console(stderr=True))
    _project: Project | None = None
    _config: Config | None = None
    _client: PardotClient | None = None
    _store: StateStore | None = None
    _ticking: Callable[[], datetime] | None = None

    def root(self) -> Path:
        """The project folder: ``--project`` (which must hold orchestrator.yaml), else the nearest
        folder at or above the current one that holds it."""
        if self.project_dir is not None:
            if not (self.project_dir / "orchestrator.yaml").is_file():
                raise ConfigError(
                    f"{self.project_dir} has no orchestrator.yaml",
                    hint="--project must name the project folder itself (the one holding orchestrator.yaml)",
                )
            return self.project_dir
        from orchestrator.config import find_project_root

        return find_project_root(Path.cwd())

    def project(self, paths: list[Path] | None = None) -> Project:
        """The loaded project (cached unless ``paths`` narrows it)."""
        from orchestrator.project import load_project  # YAML, JSON Schema and Jinja load here

        if paths:
            project = load_project(self.root(), paths)
            register_config_secrets(project.config)
            return project
        if self._project is None:
            self._project = load_project(self.root())
            register_config_secrets(self._project.config)
        return self._project

    def config(self) -> Config:
        """The project configuration (campaign files are not loaded for this)."""
        if self._project is not None:
            return self._project.config
        if self._config is None:
            from orchestrator.config import load_config

            self._config = load_config(self.root())
            register_config_secrets(self._config)
        return self._config

    def environment(self) -> Environment:
        return self.config().environment(self.env_name)

    def timezone(self) -> ZoneInfo:
        return self.config().timezone

    def now(self) -> datetime:
        """The current time, aware UTC; ``--now`` overrides it for reproducible output."""
        return self.now_override or self.clock()

    def send_now(self) -> datetime:
        """The time for commands that send or write state: only the sandbox may pretend.

        ``--now`` makes output reproducible; against a real Pardot it would let a plan be made
        or applied in a time that is not the real one (an expired plan, a missed send, a
        one-to-one send weeks early), so it is refused there.
        """
        if self.now_override is not None and not self.environment().is_sandbox:
            raise ConfigError(
                "--now (or ORCHESTRATOR_NOW) only simulates time against the sandbox",
                hint=f"environment {self.environment().name!r} sends through Pardot; run without --now",
            )
        return self.now()

    def client(self) -> PardotClient:
        """The API client for the selected environment (the in-process sandbox or Pardot)."""
        if self._client is None:
            from orchestrator.connect import build_client

            self._client = build_client(self.environment(), self.config().root, sandbox_clock=self.ticking_clock())
        return self._client

    def ticking_clock(self) -> Callable[[], datetime]:
        """This command's "now" (``--now`` or the injected clock), ticking from its first use.

        The in-process sandbox and the records apply writes read it, so a simulated time is the
        same on both sides of the API and in the state; elapsed-time checks still see time pass.
        """
        if self._ticking is None:
            start, started = self.now(), time.monotonic()
            self._ticking = lambda: start + timedelta(seconds=time.monotonic() - started)
        return self._ticking

    def store(self, *, read_only: bool = False) -> StateStore:
        """The state store for the selected environment; the first call of a command opens it.

        ``read_only`` (commands that only read) creates nothing and writes nothing: a state that
        does not exist yet reads as "no state yet".
        """
        if self._store is None:
            from orchestrator.connect import build_store

            self._store = build_store(
                self.environment(),
                self.config().root,
                read_only=read_only,
                announce=lambda line: click.echo(line, err=True),
            )
        return self._store

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        if self._store is not None:
            self._store.close()

    def print_json(self, data: Any) -> None:
        """Machine output: plain JSON on stdout, never coloured or wrapped.

        Secrets are removed from the data before it is serialised, so the JSON stays valid
        whatever characters a secret holds.
        """
        click.echo(json_text(data, indent=2))


def json_text(data: Any, *, indent: int | None = None) -> str:
    """``data`` as JSON for our output (what :meth:`App.print_json` prints; one line without
    ``indent``, for output streamed a record at a time): secrets removed, hidden characters escaped."""
    encoder = _ONE_LINE if indent is None else json.JSONEncoder(indent=indent, default=str, ensure_ascii=False)
    return json_shown(encoder.encode(scrub_data(data)))


def json_shown(text: str) -> str:
    """JSON ``text`` (secrets already removed) with every character a terminal would act on or hide
    written as a JSON escape: the same value, seen as it is."""
    if text.isascii() and "\x7f" not in text:  # nothing to hide (JSON escapes the other controls): skip
        return text  # the pattern, whose scan of Unicode's format characters costs 20 us a record
    return _JSON_HIDDEN.sub(_json_escape, text)


#: The encoder of one-line JSON (streamed output writes one per record: made once).
_ONE_LINE = json.JSONEncoder(default=str, ensure_ascii=False)
#: Characters JSON may carry raw that a terminal would act on or hide (DEL, C1 controls, line
#: separators, bidi and zero-width characters); they can only occur inside JSON strings.
_JSON_HIDDEN = re.compile(f"[\x7f-\x9f\u2028\u2029{FORMAT_CHARS}]")


def _json_escape(match: re.Match[str]) -> str:
    """One character as a JSON ``\\u`` escape (a surrogate pair beyond U+FFFF): the same value."""
    code = ord(match.group(0))
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def register_config_secrets(config: Config) -> None:
    """Register the value of every variable a ``*_env`` setting of any environment names.

    All environments, not only the selected one: a CI job may export production credentials
    while a pull request's ``orchestrator.yaml`` selects another environment.
    """
    names: set[str] = set()
    for env in config.environments.values():
        names |= secret_variable_names([asdict(env.api), asdict(env.state), env.ids, env.vars])
    register_secrets(os.environ.get(name) for name in sorted(names))


@contextlib.contextmanager
def guarded_output() -> Iterator[None]:
    """Route stdout and stderr through :class:`SafeStream` for one run of the CLI.

    Everything a command prints (click, rich, warnings, the error printer) reaches the log
    without forged workflow commands or registered secrets. At the end the held-back rest is
    written, the streams are put back and the registered secrets forgotten. Nested runs (the
    console script around the root group) are guarded once, by the outermost.
    """
    if isinstance(sys.stdout, SafeStream):
        yield
        return
    out, err = sys.stdout, sys.stderr
    safe_out, safe_err = SafeStream(out, registered_secrets), SafeStream(err, registered_secrets)
    sys.stdout, sys.stderr = cast(TextIO, safe_out), cast(TextIO, safe_err)
    try:
        yield
    finally:
        try:
            safe_out.close_filter()
            safe_err.close_filter()
        finally:
            sys.stdout, sys.stderr = out, err
            forget_secrets()


def echo_workflow_command(line: str) -> None:
    """Print one of the tool's own workflow commands (an annotation) so the runner obeys it."""
    stream = sys.stdout
    if isinstance(stream, SafeStream):
        stream.write_command(line)
    else:
        click.echo(line)


pass_app = click.make_pass_decorator(App, ensure=True)


def parse_now(value: str | None) -> datetime | None:
    """``--now`` values: ISO-8601 with an offset (or Z); a naive time is taken as UTC."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO-8601 time such as 2027-03-01T09:00:00Z") from None
    try:
        moment = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except OverflowError:
        moment = None
    # A plan looks days ahead (horizons, expiry, lookback): keep clear of the calendar's ends.
    if moment is None or not 1 < moment.year < 9999:
        raise click.BadParameter(f"{value!r} is too close to the ends of the calendar; use a year from 2 to 9998")
    return moment


def now_option(func: F) -> F:
    """``--now TIME``: evaluate schedules as if it were TIME."""

    def callback(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
        parsed = parse_now(value)
        if parsed is not None:
            ctx.ensure_object(App).now_override = parsed

    return click.option(
        "--now",
        metavar="TIME",
        envvar="ORCHESTRATOR_NOW",
        expose_value=False,
        callback=callback,
        help="Evaluate schedules as if the current time were TIME (ISO-8601), for reproducible output.",
    )(func)


class UserFacingError(click.ClickException):
    """An :class:`OrchestratorError` on its way out: message on stderr, exit 1, no traceback."""

    exit_code = 1

    def show(self, file: Any = None) -> None:
        # Messages quote user text (file content, API answers): control characters such as an
        # ANSI escape are shown as `\x1b`, never sent to the terminal raw, nor are bidi overrides
        # and zero-width characters. Forged workflow commands and secrets are removed on the way
        # out, by the guarded stderr (`guarded_output`).
        click.echo(f"Error: {escape_control(self.message, keep_newlines=True)}", err=True)


class UsageError(click.UsageError):
    """A usage error (unknown option, bad argument): exit 64, so it is never mistaken for exit 2."""

    exit_code = ExitCode.USAGE


def _globals_first(args: list[str], params: list[click.Parameter]) -> list[str]:
    """``args`` with the root options found after the subcommand moved before it (values kept)."""
    takes_value = {
        name: not option.is_flag
        for option in params
        if isinstance(option, click.Option)
        for name in option.opts
        if name.startswith("--") and name not in ("--help", "--version")
    }
    front: list[str] = []
    rest: list[str] = []
    index, seen_command = 0, False
    while index < len(args):
        word = args[index]
        if word == "--":
            rest.extend(args[index:])
            break
        name = word.split("=", 1)[0]
        if name in takes_value and seen_command:
            value = takes_value[name] and "=" not in word and index + 1 < len(args)
            front.extend(args[index : index + (2 if value else 1)])
            index += 2 if value else 1
            continue
        if not word.startswith("-") and not seen_command:
            previous = args[index - 1].split("=", 1)[0] if index else ""
            seen_command = not (takes_value.get(previous) and "=" not in args[index - 1])
        rest.append(word)
        index += 1
    return front + rest


class OrchestratorGroup(click.Group):
    """A click group that turns library errors into clean user messages (exit 1), and gives usage
    errors their own exit code (64), so "changes pending" (2) never means "you mistyped"."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """Run the command with its output guarded (see :func:`guarded_output`)."""
        with guarded_output():
            return super().main(*args, **kwargs)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Accept the root's own options after the subcommand too (``plan --env production``):
        people type them there, and no subcommand has an option of the same name."""
        if ctx.parent is None:
            args = _globals_first(args, self.params)
        return super().parse_args(ctx, args)

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            raise UsageError(exc.format_message(), exc.ctx) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            raise UsageError(exc.format_message(), exc.ctx) from None
        except OrchestratorError as exc:
            raise UserFacingError(str(exc)) from exc
