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

from orchestrator.config import CONFIG_FILE, Environment, PardotApi, PostgresState, SandboxApi
from orchestrator.errors import ConfigError, StateError
from orchestrator.pardot.settings import (
    REQUEST_DEADLINE_S,
    ApiSettings,
    StaticTokenAuth,
    check_credential_hosts,
    trusted_hosts,
)
from orchestrator.state import StateStore, open_store
from orchestrator.state.dsn import dsn_problem

if TYPE_CHECKING:
    from orchestrator.pardot.client import PardotClient

__all__ = [
    "build_client",
    "build_store",
    "business_unit_id",
    "in_flight_window",
    "request_deadline_s",
    "sandbox_app",
]


def sandbox_app(env: Environment, root: Path, *, clock: Callable[[], datetime] | None = None) -> Any:
    """The in-process sandbox application an ``api: {kind: sandbox}`` environment talks to.

    The one place the product meets the sandbox's own setup errors: a database it cannot open is
    a :class:`StateError`; a seed it cannot use (named in orchestrator.yaml), or any other setup
    error, a :class:`ConfigError`; each keeps the sandbox's message and hint.
    """
    from orchestrator.sandbox import FaultConfig, SandboxApp
    from orchestrator.sandbox.config import account_zone
    from orchestrator.sandbox.errors import SandboxSetupError, SandboxStorageError

    api = env.api
    if not isinstance(api, SandboxApi):
        raise ConfigError(f"environment {env.name!r} does not use the in-process sandbox (api: {{kind: sandbox}})")
    db = root / api.db
    try:
        db.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the sandbox folder {db.parent}: {exc.strerror}") from None
    faults = FaultConfig(
        rates=dict(api.faults),
        seed=api.fault_seed,
        latency_ms=api.latency_ms,
        daily_limit=api.daily_limit,
    )
    seed = root / api.seed if api.seed is not None else None
    zone = api.account_timezone
    try:
        account_zone(zone)
    except ValueError:
        raise ConfigError(
            f"{CONFIG_FILE}: environments.{env.name}.api.account_timezone: unknown time zone {zone!r}",
            hint="give an IANA name such as UTC or America/New_York (the sandbox's daily limit resets there)",
        ) from None
    try:
        return SandboxApp(
            db_path=db, seed=seed, faults=faults, clock=clock, allow_hml_unsubscribe=env.policy.allow_hml_unsubscribe,
            account_timezone=zone,
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
    if isinstance(api, SandboxApi):
        from orchestrator.sandbox import SANDBOX_BASE_URL, SANDBOX_TOKEN, inprocess_transport

        settings = ApiSettings(
            base_url=SANDBOX_BASE_URL,
            business_unit_id=api.business_unit_id,
            auth=StaticTokenAuth(SANDBOX_TOKEN),
            version=api.version,
            format=api.format,
            allow_insecure=True,
        )
        transport = inprocess_transport(sandbox_app(env, root, clock=sandbox_clock), owns_app=True)
        return PardotClient(settings, transport=transport, env=environ, api=api_version(settings.version))
    settings = ApiSettings(
        base_url=api.base_url,
        business_unit_id=api.business_unit_id,
        auth=api.auth,
        version=api.version,
        format=api.format,
        max_in_flight=api.max_in_flight,
        timeout_s=api.timeout,
        deadline_s=api.deadline,
    )
    check_credential_hosts(settings, trusted_hosts(os.environ if environ is None else environ), environment=env.name)
    return PardotClient(settings, env=environ, api=api_version(settings.version))


def request_deadline_s(env: Environment) -> float:
    """The wall-clock limit of one API request in ``env`` (``api.deadline``, in seconds)."""
    return env.api.deadline if isinstance(env.api, PardotApi) else REQUEST_DEADLINE_S


def in_flight_window(env: Environment) -> timedelta:
    """How long after a send's intent (or unknown outcome) its request may still create the email.

    The client gives a request up at the deadline, but the server may still be working on it
    (or may not even have read it yet: a request written before a crash stays in the socket's
    buffers). The margin is the deadline again. The in-process sandbox answers inside the
    process that asked, so nothing of it is left in flight once that process has ended.
    """
    if env.is_sandbox:
        return timedelta(0)
    return timedelta(seconds=2 * request_deadline_s(env))


def _state_dsn(env: Environment, state: PostgresState, environ: Mapping[str, str] | None) -> str:
    """The PostgreSQL DSN from the variable ``state.dsn_env`` names; never shown, even when wrong."""
    variables = os.environ if environ is None else environ
    name = state.dsn_env
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
    dsn = _state_dsn(env, state, environ) if isinstance(state, PostgresState) else None
    path = None if isinstance(state, PostgresState) else root / state.path
    store = open_store(state.backend, path=path, dsn=dsn, create=create, read_only=read_only)
    if announce is not None and getattr(store, "created", False):
        announce(f"Created a new, empty state at {getattr(store, 'location', '?')}")
    return store
