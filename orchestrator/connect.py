"""Building the I/O edges for an environment: the API client and the state store.

The only module that turns ``orchestrator.yaml`` settings into live connections.  Secrets are
read here from the environment variables the config names, and nowhere else.  It is also the
only product module that knows the sandbox (``api: {kind: sandbox}``): the rest of the
orchestrator talks to a :class:`PardotClient` and never asks what is behind it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.config import CONFIG_FILE, DEFAULT_STATE_DB, Environment
from orchestrator.errors import ConfigError, StateError
from orchestrator.pardot.settings import (
    REQUEST_DEADLINE_S,
    ApiSettings,
    AuthSettings,
    ClientCredentialsAuth,
    RefreshTokenAuth,
    StaticTokenAuth,
    TokenAuth,
    check_credential_hosts,
    trusted_hosts,
)
from orchestrator.state import BACKENDS, StateStore, open_store
from orchestrator.state.dsn import dsn_problem

if TYPE_CHECKING:
    from orchestrator.pardot.client import PardotClient

#: Where the in-process sandbox keeps its data unless ``api.db`` says otherwise.
DEFAULT_SANDBOX_DB = ".orchestrator/sandbox-api.db"

__all__ = [
    "DEFAULT_SANDBOX_DB",
    "DEFAULT_STATE_DB",
    "build_client",
    "build_store",
    "business_unit_id",
    "in_flight_window",
    "request_deadline_s",
    "sandbox_app",
]


def _auth(raw: Mapping[str, Any]) -> AuthSettings:
    method = raw["method"]
    if method == "token":
        return TokenAuth(token_env=raw["token_env"])
    login = {"login_url": raw["login_url"]} if "login_url" in raw else {}
    if method == "refresh_token":
        return RefreshTokenAuth(
            client_id_env=raw["client_id_env"],
            client_secret_env=raw["client_secret_env"],
            refresh_token_env=raw["refresh_token_env"],
            **login,
        )
    return ClientCredentialsAuth(
        client_id_env=raw["client_id_env"], client_secret_env=raw["client_secret_env"], **login
    )


def sandbox_app(env: Environment, root: Path, *, clock: Callable[[], datetime] | None = None) -> Any:
    """The in-process sandbox application an ``api: {kind: sandbox}`` environment talks to.

    The one place the product meets the sandbox's own setup errors: a database it cannot open is
    a :class:`StateError`; a seed it cannot use (named in orchestrator.yaml), or any other setup
    error, a :class:`ConfigError`; each keeps the sandbox's message and hint.
    """
    from orchestrator.sandbox import FaultConfig, SandboxApp
    from orchestrator.sandbox.errors import SandboxSetupError, SandboxStorageError

    api = env.api
    db = root / api.get("db", DEFAULT_SANDBOX_DB)
    try:
        db.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the sandbox folder {db.parent}: {exc.strerror}") from None
    faults = FaultConfig(
        rates=dict(api.get("faults", {})),
        seed=int(api.get("fault_seed", 0)),
        latency_ms=int(api.get("latency_ms", 0)),
        daily_limit=api.get("daily_limit"),
    )
    seed = root / api["seed"] if "seed" in api else None
    try:
        return SandboxApp(
            db_path=db, seed=seed, faults=faults, clock=clock, allow_hml_unsubscribe=env.policy.allow_hml_unsubscribe
        )
    except SandboxStorageError as exc:
        raise StateError(exc.message, hint=exc.hint) from exc
    except SandboxSetupError as exc:  # SandboxSeedError, and whatever else the sandbox may add
        raise ConfigError(exc.message, hint=exc.hint) from exc


def business_unit_id(env: Environment) -> str:
    """The Pardot business unit ``env`` sends through (the sandbox has one of its own)."""
    return env.business_unit_id


def build_client(
    env: Environment,
    root: Path,
    *,
    environ: Mapping[str, str] | None = None,
    sandbox_clock: Callable[[], datetime] | None = None,
) -> PardotClient:
    """The API client for ``env``: the in-process sandbox (on ``sandbox_clock``), or Pardot over HTTPS.

    Pardot's hosts are checked again here, against ``ORCHESTRATOR_TRUSTED_HOSTS`` in ``environ``
    (default: the process environment), so no client is ever built that would send credentials
    elsewhere, whichever way the environment was made.
    """
    from orchestrator.pardot.client import PardotClient  # httpx loads with the first API call
    from orchestrator.pardot.versions import api_version  # the one place the API version is chosen

    api = env.api
    if api["kind"] == "sandbox":
        from orchestrator.sandbox import SANDBOX_BASE_URL, SANDBOX_BUSINESS_UNIT, SANDBOX_TOKEN, inprocess_transport

        settings = ApiSettings(
            base_url=SANDBOX_BASE_URL,
            business_unit_id=SANDBOX_BUSINESS_UNIT,
            auth=StaticTokenAuth(SANDBOX_TOKEN),
            version=int(api.get("version", 4)),
            format=api.get("format", "json"),
            allow_insecure=True,
        )
        transport = inprocess_transport(sandbox_app(env, root, clock=sandbox_clock), owns_app=True)
        return PardotClient(settings, transport=transport, env=environ, api=api_version(settings.version))
    settings = ApiSettings(
        base_url=api["base_url"],
        business_unit_id=api["business_unit_id"],
        auth=_auth(api["auth"]),
        version=int(api.get("version", 4)),
        format=api.get("format", "json"),
        max_in_flight=int(api.get("max_in_flight", 5)),
        timeout_s=float(api.get("timeout", 30.0)),
        deadline_s=request_deadline_s(env),
    )
    check_credential_hosts(settings, trusted_hosts(os.environ if environ is None else environ), environment=env.name)
    return PardotClient(settings, env=environ, api=api_version(settings.version))


def request_deadline_s(env: Environment) -> float:
    """The wall-clock limit of one API request in ``env`` (``api.deadline``, in seconds)."""
    return float(env.api.get("deadline", REQUEST_DEADLINE_S))


def in_flight_window(env: Environment) -> timedelta:
    """How long after a send's intent (or unknown outcome) its request may still create the email.

    The client gives a request up at the deadline, but the server may still be working on it
    (or may not even have read it yet: a request written before a crash stays in the socket's
    buffers). The margin is the deadline again. The in-process sandbox answers inside the
    process that asked, so nothing of it is left in flight once that process has ended.
    """
    if env.api.get("kind") == "sandbox":
        return timedelta(0)
    return timedelta(seconds=2 * request_deadline_s(env))


def _state_dsn(env: Environment, environ: Mapping[str, str] | None) -> str:
    """The PostgreSQL DSN from the variable ``state.dsn_env`` names; never shown, even when wrong."""
    variables = os.environ if environ is None else environ
    name = env.state["dsn_env"]
    dsn = variables.get(name, "").strip()
    if not dsn:
        raise ConfigError(
            f"environment variable {name} is not set",
            hint=f"state.dsn_env of environment {env.name!r} names it; export the PostgreSQL DSN there",
        )
    problem = dsn_problem(dsn)
    if problem:  # never the value: it holds the database password
        raise ConfigError(
            f"environment variable {name} {problem}",
            hint=f"set {name} again to the PostgreSQL DSN, on one line, special characters %-encoded",
        )
    return dsn


def build_store(
    env: Environment,
    root: Path,
    *,
    environ: Mapping[str, str] | None = None,
    create: bool = False,
    read_only: bool = False,
    announce: Callable[[str], None] | None = None,
) -> StateStore:
    """The state store for ``env``; a PostgreSQL DSN comes from the variable ``state.dsn_env`` names.

    A state that does not exist yet is created and, when it was, ``announce`` is told where. An
    existing but empty state (a 0-byte SQLite file, PostgreSQL tables without a lineage row) is
    refused unless ``create`` (``orchestrator state init``) asks for a new state there.
    ``read_only`` (commands that only read: plan) creates nothing and writes nothing: a state that
    does not exist yet reads as "no state yet", and a PostgreSQL role granted ``SELECT`` suffices.
    """
    state = env.state
    backend = str(state.get("backend"))
    if backend not in BACKENDS:  # the config schema refuses it first; never silently SQLite
        raise ConfigError(
            f"{CONFIG_FILE}: environments.{env.name}.state.backend: unknown state backend {backend!r}",
            hint="choose sqlite (state: {backend: sqlite, path: FILE}) or postgres (state: {backend: postgres, "
            "dsn_env: VAR})",
        )
    dsn = _state_dsn(env, environ) if backend == "postgres" else None
    path = root / state.get("path", DEFAULT_STATE_DB) if backend == "sqlite" else None
    store = open_store(backend, path=path, dsn=dsn, create=create, read_only=read_only)
    if announce is not None and getattr(store, "created", False):
        announce(f"Created a new, empty state at {getattr(store, 'location', '?')}")
    return store
