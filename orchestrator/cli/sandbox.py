"""``orchestrator sandbox``: run the local Pardot sandbox, and see what it has received.

A thin shell over :mod:`orchestrator.sandbox`: parse the options, build the app, hand over.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import httpx
from rich.table import Table
from rich.text import Text

from orchestrator.errors import OrchestratorError, StateError, display_path
from orchestrator.redact import mask_emails
from orchestrator.sandbox import (
    FAULT_KINDS,
    SANDBOX_BUSINESS_UNIT,
    SANDBOX_TOKEN,
    FaultConfig,
    SandboxApp,
    serve,
)
from orchestrator.sandbox.config import DEFAULT_ACCOUNT_TIMEZONE, account_zone
from orchestrator.sandbox.errors import SandboxSetupError
from orchestrator.sandbox.inspection import list_emails
from orchestrator.sandbox.sends import delete_email
from orchestrator.sandbox.store import Store

if TYPE_CHECKING:  # click >= 8.2 makes ParamType generic; older releases are not subscriptable
    _ParamType = click.ParamType[tuple[str, float], Any]
else:
    _ParamType = click.ParamType


class FaultRate(_ParamType):
    """``KIND=RATE`` with KIND a fault kind and RATE a number between 0 and 1."""

    name = "KIND=RATE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[str, float]:
        if isinstance(value, tuple):
            return value
        kind, sep, raw_rate = str(value).partition("=")
        if not sep:
            self.fail(f"{value!r} is not KIND=RATE (for example error66=0.1)", param, ctx)
        if kind not in FAULT_KINDS:
            self.fail(f"unknown fault kind {kind!r}; choose from {', '.join(FAULT_KINDS)}", param, ctx)
        try:
            rate = float(raw_rate)
        except ValueError:
            self.fail(f"rate {raw_rate!r} for {kind} is not a number", param, ctx)
        if not 0.0 <= rate <= 1.0:
            self.fail(f"rate for {kind} must be between 0 and 1, got {raw_rate}", param, ctx)
        return kind, rate


@click.group("sandbox")
def sandbox_group() -> None:
    """A local Pardot-compatible sandbox for trying sends without sending anything."""


@sandbox_group.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="Port to listen on (0 picks a free one).",
)
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="SQLite file to keep data in (seeded only when new); default: memory.",
)
@click.option(
    "--seed",
    "seed_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Seed YAML file; default: the built-in demo seed.",
)
@click.option("--token", default=SANDBOX_TOKEN, show_default=True, help="Bearer token the sandbox accepts.")
@click.option(
    "--read-only-token",
    metavar="TOKEN",
    help="Also accept TOKEN for a user that may read but not send: its sends get error 46 (for CI's plan jobs).",
)
@click.option(
    "--latency-ms", type=click.IntRange(min=0), default=0, show_default=True, help="Delay added to every API call."
)
@click.option(
    "--fault",
    "faults",
    type=FaultRate(),
    multiple=True,
    help=f"Inject a fault, repeatable. KIND is one of {', '.join(FAULT_KINDS)}; RATE between 0 and 1.",
)
@click.option("--fault-seed", type=int, default=0, show_default=True, help="Seed of the deterministic fault draws.")
@click.option(
    "--daily-limit", type=click.IntRange(min=0), default=None, help="API calls allowed per day before error 122."
)
@click.option(
    "--account-timezone",
    default=DEFAULT_ACCOUNT_TIMEZONE,
    show_default=True,
    metavar="ZONE",
    help="The account's IANA time zone: the daily limit resets at midnight there, as Pardot's does.",
)
@click.option(
    "--reload-seed",
    is_flag=True,
    help="With --db: if the seed changed since the file was seeded, delete its data and reseed.",
)
@click.option(
    "--allow-hml-unsubscribe",
    is_flag=True,
    help="Accept {{Unsubscribe}} / {{EmailPreferenceCenter}} for error 64's rule (policy.allow_hml_unsubscribe).",
)
def serve_command(
    host: str,
    port: int,
    db_path: Path | None,
    seed_path: Path | None,
    token: str,
    read_only_token: str | None,
    latency_ms: int,
    faults: tuple[tuple[str, float], ...],
    fault_seed: int,
    daily_limit: int | None,
    account_timezone: str,
    reload_seed: bool,
    allow_hml_unsubscribe: bool,
) -> None:
    """Serve the sandbox over HTTP until Ctrl-C."""
    config = FaultConfig(rates=dict(faults), seed=fault_seed, latency_ms=latency_ms, daily_limit=daily_limit)
    try:
        account_zone(account_timezone)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--account-timezone") from None
    try:
        app = SandboxApp(
            db_path=db_path,
            seed=seed_path,
            token=token,
            read_only_token=read_only_token,
            faults=config,
            reload_seed=reload_seed,
            allow_hml_unsubscribe=allow_hml_unsubscribe,
            account_timezone=account_timezone,
        )
        server = serve(app, host=host, port=port)
    except (OrchestratorError, SandboxSetupError) as exc:
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    try:  # from the first line printed: a Ctrl-C at any point after it stops the server cleanly
        click.echo(f"Pardot sandbox listening on {server.url}")
        click.echo(f"  business unit: {SANDBOX_BUSINESS_UNIT}")
        click.echo("  token: the one given with --token (default: the sandbox's well-known token)")
        click.echo("  control routes: GET /_sandbox/... from localhost; POST clock and DELETE emails/ID need the token")
        click.echo("Press Ctrl-C to stop.", err=True)
        threading.Event().wait()
    except KeyboardInterrupt:
        click.echo("stopping", err=True)
    finally:
        server.shutdown()
        app.close()


_DB_OPTION = click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Sandbox SQLite file (default: the project's in-process sandbox).",
)
_URL_OPTION = click.option("--url", help="Base URL of a running sandbox server.")


@sandbox_group.group("emails", invoke_without_command=True)
@_DB_OPTION
@_URL_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table (machine output, unmasked).")
@click.pass_context
def emails_command(ctx: click.Context, db_path: Path | None, url: str | None, as_json: bool) -> None:
    """List the emails the sandbox has received (`emails delete ID` deletes one).

    Without --db or --url, reads the in-process sandbox of the selected environment
    (`api: {kind: sandbox}` in orchestrator.yaml). Prospect addresses in email names (one-to-one
    sends) are masked like in every other command; the root option --reveal-emails shows them.
    Deleted emails are listed too, marked as such.
    """
    if ctx.invoked_subcommand is not None:
        return
    source = _source(ctx, db_path, url)
    try:
        emails = _emails_from_db(source) if isinstance(source, Path) else _emails_from_url(source)
    except (OrchestratorError, SandboxSetupError) as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps({"emails": emails}, indent=2))
    else:
        _print_table(emails, _app(ctx))


@emails_command.command("delete")
@click.argument("email_id", type=click.IntRange(min=1))
@_DB_OPTION
@_URL_OPTION
@click.option(
    "--token",
    envvar="ORCHESTRATOR_SANDBOX_TOKEN",
    default=SANDBOX_TOKEN,
    show_default="the sandbox's well-known token",
    help="With --url: the token the server was started with (or ORCHESTRATOR_SANDBOX_TOKEN).",
)
@click.pass_context
def delete_command(ctx: click.Context, email_id: int, db_path: Path | None, url: str | None, token: str) -> None:
    """Delete email EMAIL_ID in the sandbox, as an operator deletes one in Pardot's UI.

    It goes to the recycle bin: the v3/v4 email read answers "not found" (error 109), the v5
    list-email read 404, and the v5 query shows it only with `deleted`, as `isDeleted: true`.
    Rehearses the runbook "delete it in Pardot, then record it in the state"
    (`orchestrator state forget KEY`, or `state skip KEY`).
    """
    parent = ctx.parent.params if ctx.parent is not None else {}
    source = _source(ctx, db_path or parent.get("db_path"), url or parent.get("url"))
    try:
        if isinstance(source, Path):
            deleted = _delete_in_db(source, email_id)
        else:
            deleted = _delete_at_url(source, email_id, token)
    except (OrchestratorError, SandboxSetupError) as exc:
        raise click.ClickException(str(exc)) from exc
    name = deleted["name"] if _app(ctx).reveal_emails else mask_emails(str(deleted["name"]))
    click.echo(f"deleted {deleted['kind']} email {email_id} ({name}) in the sandbox at {deleted['deleted_at']}")
    click.echo(f"Record it in the state: orchestrator state forget {name}  (or `state skip` to keep it from going out)")


def _source(ctx: click.Context, db_path: Path | None, url: str | None) -> Path | str:
    """The database file or server URL a sandbox command works on."""
    if db_path is not None and url is not None:
        raise click.UsageError("give --db FILE or --url URL, not both")
    if url is not None:
        return url
    return db_path if db_path is not None else _project_sandbox_db(ctx)


@sandbox_group.command("reset")
@click.option("--state", "with_state", is_flag=True, help="Also delete the environment's SQLite state file.")
@click.pass_context
def reset_command(ctx: click.Context, with_state: bool) -> None:
    """Start the project's in-process sandbox over: delete its data, reseed on next use.

    The sandbox forgets every email it received (it sends nothing, so nothing real is lost).
    The state still records those sends unless --state deletes it too; without it, the next
    plan treats them as already sent.
    """
    from orchestrator.config import SqliteState
    from orchestrator.sandbox.app import remove_database

    app = _app(ctx)
    db_path = _project_sandbox_db(ctx)
    removed = remove_database(db_path)
    env = app.environment()
    if with_state:
        if not isinstance(env.state, SqliteState):
            message = f"environment {env.name!r} keeps its state in {env.state.backend}; --state removes SQLite only"
            raise click.UsageError(message)
        removed += remove_database(app.config().root / env.state.path)
    if not removed:
        click.echo(f"Nothing to reset: {display_path(db_path)} does not exist yet.")
        return
    for path in removed:
        click.echo(f"removed {display_path(path)}")
    click.echo("The sandbox will be seeded afresh on its next use.")


def _app(ctx: click.Context) -> Any:
    from orchestrator.cli.common import App

    return ctx.ensure_object(App)


def _project_sandbox_db(ctx: click.Context) -> Path:
    """The in-process sandbox database of the selected environment of the current project."""
    from orchestrator.cli.common import App
    from orchestrator.config import SandboxApi

    app = ctx.ensure_object(App)
    env = app.environment()
    if not isinstance(env.api, SandboxApi):
        raise click.UsageError(
            f"environment {env.name!r} does not use the in-process sandbox; pass --db FILE or --url URL"
        )
    return app.config().root / env.api.db


def _emails_from_db(db_path: Path) -> list[dict[str, Any]]:
    if not db_path.is_file():
        raise StateError(f"no sandbox database at {display_path(db_path)}")
    store = Store(db_path)
    try:
        return list_emails(store)
    finally:
        store.close()


def _delete_in_db(db_path: Path, email_id: int) -> dict[str, Any]:
    if not db_path.is_file():
        raise StateError(f"no sandbox database at {display_path(db_path)}")
    store = Store(db_path)
    try:
        deleted = delete_email(store, email_id, datetime.now(UTC))
    finally:
        store.close()
    if deleted is None:
        raise StateError(
            f"the sandbox at {display_path(db_path)} has no email {email_id}, or it is deleted already",
            hint="`orchestrator sandbox emails` lists the emails and marks the deleted ones",
        )
    return deleted


def _delete_at_url(url: str, email_id: int, token: str) -> dict[str, Any]:
    try:
        response = httpx.delete(
            f"{url.rstrip('/')}/_sandbox/emails/{email_id}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10.0,
        )
    except httpx.HTTPError as exc:
        raise OrchestratorError(f"cannot reach the sandbox at {url}: {exc}") from exc
    if response.status_code != 200:
        try:
            why = str(response.json()["error"])
        except (ValueError, KeyError, TypeError):
            why = f"HTTP {response.status_code}"
        hint = "pass the server's token with --token" if response.status_code == 401 else None
        raise OrchestratorError(f"the sandbox at {url} did not delete email {email_id}: {why}", hint=hint)
    deleted: dict[str, Any] = response.json()["deleted"]
    return deleted


def _emails_from_url(url: str) -> list[dict[str, Any]]:
    try:
        response = httpx.get(url.rstrip("/") + "/_sandbox/emails", timeout=10.0)
        response.raise_for_status()
        emails: list[dict[str, Any]] = response.json()["emails"]
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        raise OrchestratorError(f"cannot read emails from the sandbox at {url}: {exc}") from exc
    return emails


def _print_table(emails: list[dict[str, Any]], app: Any) -> None:
    """The emails as a table on the app's console (wide and unwrapped when piped)."""
    show = (lambda text: text) if app.reveal_emails else mask_emails
    table = Table(title=f"{len(emails)} email(s) received by the sandbox")
    # Keys and times never wrap (a folded send key cannot be copied or grepped); times are
    # shortened to the minute, in UTC, so the table fits the 160 columns used when piped.
    for column in ("id", "kind", "name", "campaign", "lists", "suppressed", "recipients", "oper.", "scheduled (UTC)"):
        wide = column in ("name", "scheduled (UTC)")
        table.add_column(column, no_wrap=wide, overflow="fold")
    table.add_column("created (UTC)", no_wrap=True)
    for e in emails:
        table.add_row(
            f"{e['id']} (deleted)" if e.get("deleted_at") else str(e["id"]),
            e["kind"],
            Text(show(e["name"])),
            str(e["campaign_id"]),
            ",".join(map(str, e["list_ids"])),
            ",".join(map(str, e["suppression_list_ids"])),
            str(e["recipients"]),
            "yes" if e["operational"] else "no",
            _minute(e["scheduled_time"]),
            _minute(e["created_at"]),
        )
    app.console.print(table)


def _minute(value: str | None) -> str:
    """``2026-12-07T08:00:00+00:00`` or ``2026-12-07 08:00:00`` -> ``2026-12-07 08:00``."""
    return "" if not value else value.replace("T", " ")[:16]
