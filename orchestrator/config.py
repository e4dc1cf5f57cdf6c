"""``orchestrator.yaml``: the project configuration, loaded and validated into typed values.

Only names of environment variables live in the file; the secrets themselves are read at the
edge (the API client and the state store), never here, so a config object can be printed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from orchestrator.checkout import git_tracks, inside_ci_checkout
from orchestrator.errors import ConfigError, Diagnostic, ProjectInvalid
from orchestrator.pardot.settings import (
    REQUEST_DEADLINE_S,
    ClientCredentialsAuth,
    CredentialRole,
    RefreshTokenAuth,
    TokenAuth,
    credential_url_problem,
    trusted_hosts,
)
from orchestrator.sandbox_defaults import DEFAULT_SANDBOX_ACCOUNT_TIMEZONE, DEFAULT_SANDBOX_DB, SANDBOX_BUSINESS_UNIT
from orchestrator.schemas import validate_document
from orchestrator.yamlload import Document, JsonPath, load_yaml

CONFIG_FILE = "orchestrator.yaml"
ENV_VAR_ENVIRONMENT = "ORCHESTRATOR_ENV"
#: Where a SQLite state lives unless ``state.path`` says otherwise.
DEFAULT_STATE_DB = ".orchestrator/state.db"

_DURATION = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    """``10m`` -> 10 minutes. The schema already checked the form."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"not a duration: {text!r} (use e.g. 30s, 10m, 2h, 14d, 1w)")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def format_duration(delta: timedelta) -> str:
    """The shortest exact ``parse_duration`` form of ``delta``."""
    seconds = int(delta.total_seconds())
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@dataclass(frozen=True)
class Policy:
    """Rules every send must satisfy; project-wide, overridable per environment and campaign."""

    min_lead_time: timedelta = timedelta(minutes=10)
    max_recipients: int | None = None
    plan_expiry: timedelta = timedelta(hours=1)
    late_grace: timedelta = timedelta(minutes=15)
    missed_lookback: timedelta = timedelta(days=7)
    #: Memberships and prospects created before this are not counted by the audience preflight.
    audience_since: str = "3 years ago"
    #: Email lint levels set so far (``off``/``warning``/``error``), as sorted pairs so the policy
    #: stays hashable; a campaign's ``policy.lints`` adds to its environment's, key by key.
    lints: tuple[tuple[str, str], ...] = ()
    #: Whether the HML opt-out tokens ``{{Unsubscribe}}`` / ``{{EmailPreferenceCenter}}`` satisfy
    #: the unsubscribe rule. Off by default: Pardot's v3/v4 send docs require ``%%unsubscribe%%``
    #: or ``%%email_preference_center%%`` (error 64 otherwise); HML there is unconfirmed.
    allow_hml_unsubscribe: bool = False

    def merged(self, raw: dict[str, Any] | None) -> Policy:
        """This policy with the keys of ``raw`` (a schema-checked mapping) applied on top."""
        if not raw:
            return self
        values: dict[str, Any] = {}
        for key, value in raw.items():
            if key == "lints":
                # YAML 1.1 reads an unquoted `off` as false: both mean off
                levels = {lint: "off" if level is False else level for lint, level in value.items()}
                values[key] = tuple(sorted({**dict(self.lints), **levels}.items()))
            else:
                keep = key in ("max_recipients", "audience_since", "allow_hml_unsubscribe")
                values[key] = value if keep else parse_duration(value)
        return Policy(**{**self.__dict__, **values})

    def lint_level(self, lint: str) -> str:
        """``off``, ``warning`` (the default) or ``error`` for the email lint named ``lint``."""
        return dict(self.lints).get(lint, "warning")


#: How ``api.auth`` reaches Pardot: the *names* of the variables that hold the secrets, never a
#: secret itself (:mod:`orchestrator.pardot.auth` reads them when the first call needs them).
PardotAuth = TokenAuth | RefreshTokenAuth | ClientCredentialsAuth


@dataclass(frozen=True)
class SandboxApi:
    """``api: {kind: sandbox}``: the built-in, in-process sandbox, and the faults it injects on purpose."""

    version: int = 4
    format: str = "json"
    #: The sandbox's database, relative to the project folder.
    db: str = DEFAULT_SANDBOX_DB
    #: A seed file, relative to the project folder.
    seed: str | None = None
    latency_ms: int = 0
    #: Fault rates by kind (``error66``, ``http500``...), as sorted pairs so the value stays hashable.
    faults: tuple[tuple[str, float], ...] = ()
    fault_seed: int = 0
    daily_limit: int | None = None
    account_timezone: str = DEFAULT_SANDBOX_ACCOUNT_TIMEZONE

    @property
    def is_sandbox(self) -> bool:
        """Always: the one answer to "is this the sandbox?" besides :attr:`PardotApi.is_sandbox`."""
        return True

    @property
    def business_unit_id(self) -> str:
        """The sandbox's own business unit, part of what ``kind: sandbox`` means."""
        return SANDBOX_BUSINESS_UNIT


@dataclass(frozen=True)
class PardotApi:
    """``api: {kind: pardot, ...}``: a real Pardot business unit over HTTPS.

    Holds no secret: ``auth`` names environment variables, so the value can be printed.
    """

    base_url: str
    business_unit_id: str
    auth: PardotAuth
    version: int = 4
    format: str = "json"
    max_in_flight: int = 5
    #: Seconds one read of an answer may take.
    timeout: float = 30.0
    #: Seconds one request may take, from connecting to the last byte.
    deadline: float = REQUEST_DEADLINE_S

    @property
    def is_sandbox(self) -> bool:
        """Never: Pardot is the real thing."""
        return False


#: An environment's ``api:`` setting, parsed.
ApiConfig = SandboxApi | PardotApi


@dataclass(frozen=True)
class SqliteState:
    """``state: {backend: sqlite}``: a file, relative to the project folder."""

    backend: ClassVar[Literal["sqlite"]] = "sqlite"
    path: str = DEFAULT_STATE_DB


@dataclass(frozen=True)
class PostgresState:
    """``state: {backend: postgres, dsn_env: VAR}``: the DSN (with its password) stays in ``VAR``."""

    backend: ClassVar[Literal["postgres"]] = "postgres"
    dsn_env: str


#: An environment's ``state:`` setting, parsed; ``backend`` names its loader in ``state.LOADERS``.
StateConfig = SqliteState | PostgresState


@dataclass(frozen=True)
class Environment:
    """One target: which API, which state store, which ids, which variables."""

    name: str
    api: ApiConfig
    state: StateConfig
    ids: dict[str, dict[str, int]]
    vars: dict[str, Any]
    policy: Policy

    @property
    def is_sandbox(self) -> bool:
        """True for ``api: {kind: sandbox}``: the built-in, in-process sandbox."""
        return self.api.is_sandbox

    @property
    def business_unit_id(self) -> str:
        """The Pardot business unit this environment sends through (the sandbox has its own)."""
        return self.api.business_unit_id


def _auth(raw: Mapping[str, Any]) -> PardotAuth:
    """``api.auth`` (schema-checked) as the settings of its method."""
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


def _fault_rates(raw: Mapping[str, Any]) -> tuple[tuple[str, float], ...]:
    return tuple(sorted((str(kind), float(rate)) for kind, rate in raw.items()))


#: How each key of a schema-checked ``api:`` mapping becomes a field; a key the file leaves out
#: keeps the field's default, written once, in the dataclass.
_SANDBOX_KEYS: dict[str, Any] = {
    "version": int, "format": str, "db": str, "seed": str, "latency_ms": int, "faults": _fault_rates,
    "fault_seed": int, "daily_limit": int, "account_timezone": str,
}
_PARDOT_KEYS: dict[str, Any] = {
    "base_url": str, "business_unit_id": str, "auth": _auth, "version": int, "format": str,
    "max_in_flight": int, "timeout": float, "deadline": float,
}


def parse_api(raw: Mapping[str, Any]) -> ApiConfig:
    """A schema-checked ``api:`` mapping as its typed value: the one reading of ``api.kind``."""
    if raw["kind"] == "sandbox":
        return SandboxApi(**{key: _SANDBOX_KEYS[key](value) for key, value in raw.items() if key != "kind"})
    return PardotApi(**{key: _PARDOT_KEYS[key](value) for key, value in raw.items() if key != "kind"})


def parse_state(env_name: str, raw: Mapping[str, Any]) -> StateConfig:
    """A schema-checked ``state:`` mapping as its typed value; never SQLite for a backend it does not know."""
    backend = raw.get("backend")
    settings = {key: str(value) for key, value in raw.items() if key != "backend"}
    if backend == SqliteState.backend:
        return SqliteState(**settings)
    if backend == PostgresState.backend:
        return PostgresState(**settings)
    raise ConfigError(  # the config schema refuses it first
        f"{CONFIG_FILE}: environments.{env_name}.state.backend: unknown state backend {backend!r}",
        hint="choose sqlite (state: {backend: sqlite, path: FILE}) or postgres (state: {backend: postgres, "
        "dsn_env: VAR})",
    )


@dataclass(frozen=True)
class Config:
    """The whole project configuration."""

    root: Path
    path: Path
    timezone: ZoneInfo
    campaigns_dir: Path
    default_environment: str | None
    policy: Policy
    environments: dict[str, Environment] = field(default_factory=dict)
    #: ``samples:``: named sample recipients for previews (schema-checked mappings of strings).
    samples: dict[str, dict[str, Any]] = field(default_factory=dict)

    def environment(self, name: str | None = None) -> Environment:
        """The environment ``name``, else ``$ORCHESTRATOR_ENV``, else the default one."""
        chosen = name or os.environ.get(ENV_VAR_ENVIRONMENT) or self.default_environment
        if chosen is None:
            if len(self.environments) == 1:
                return next(iter(self.environments.values()))
            raise ConfigError(
                "no environment selected",
                hint="pass --env NAME, set ORCHESTRATOR_ENV, or set default_environment in "
                f"{CONFIG_FILE}; known: {', '.join(sorted(self.environments))}",
            )
        try:
            return self.environments[chosen]
        except KeyError:
            raise ConfigError(
                f"unknown environment {chosen!r}",
                hint=f"known environments: {', '.join(sorted(self.environments))}",
            ) from None


def find_project_root(start: Path) -> Path:
    """The nearest folder at or above ``start`` holding ``orchestrator.yaml``."""
    here = start.resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_FILE).is_file():
            return folder
    raise ConfigError(
        f"no {CONFIG_FILE} found in {here} or any folder above it",
        hint="run the command inside a project, or pass --project DIR",
    )


def load_config(root: Path, *, environ: Mapping[str, str] | None = None) -> Config:
    """Load and validate ``root/orchestrator.yaml``; raise with every problem located.

    ``environ`` (default: the process environment) is where ``ORCHESTRATOR_TRUSTED_HOSTS`` and
    the CI flags are read: settings that no file of the checkout can change.
    """
    path = root / CONFIG_FILE
    if not path.is_file():
        raise ConfigError(f"{path} does not exist", hint="pass --project DIR pointing at a project")
    loaded = load_yaml(path, CONFIG_FILE)
    if isinstance(loaded, Diagnostic):
        raise ProjectInvalid([loaded])
    problems = validate_document("config", loaded)
    if problems:
        raise ProjectInvalid(problems)
    return _build_config(root, path, loaded, os.environ if environ is None else environ)


def _zone(doc: Document, json_path: tuple[str, ...], name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ProjectInvalid(
            [doc.diagnostic(json_path, f"unknown time zone {name!r} (use an IANA name such as America/New_York)")]
        ) from None


#: The files an environment names, by where they sit in its settings: they must stay inside the
#: project, since ``plan`` runs a pull request's ``orchestrator.yaml`` with secrets around.
_FILE_SETTINGS = (("state", "path"), ("api", "db"), ("api", "seed"))


def _confine_files(root: Path, doc: Document) -> None:
    """Refuse a state, sandbox database or seed path that resolves outside the project folder.

    A pull request could otherwise point the tool at any file the CI runner can read (a seed is
    parsed and quoted in errors: ``seed: ../.git/config``) or write (a new state at any path).
    Symbolic links are followed, as for campaign files.
    """
    inside = root.resolve()
    problems = []
    for env_name, raw in doc.data["environments"].items():
        for section, key in _FILE_SETTINGS:
            value = raw.get(section, {}).get(key)
            if not isinstance(value, str):
                continue
            where = (root / value).resolve()
            if not where.is_relative_to(inside):
                problems.append(
                    doc.diagnostic(
                        ("environments", env_name, section, key),
                        f"{section}.{key} resolves to {where}, outside the project folder; keep it (and any "
                        "symbolic link on the way) inside the project"
                        + (", or keep the state in PostgreSQL (backend: postgres)" if section == "state" else ""),
                    )
                )
    if problems:
        raise ProjectInvalid(problems)


def _credential_host_problems(
    doc: Document, envs: Mapping[str, Environment], trusted: frozenset[str]
) -> list[Diagnostic]:
    """Each ``base_url`` / ``login_url`` that would send credentials somewhere other than Salesforce.

    Checked when the config is loaded, so ``validate`` (a pull request's first CI step) already
    says so, and ``plan`` stops before any connection is made.
    """
    problems = []
    for env_name, env in envs.items():
        api = env.api
        if not isinstance(api, PardotApi):
            continue
        urls: list[tuple[tuple[str, ...], str, CredentialRole]] = [(("api", "base_url"), api.base_url, "api")]
        if isinstance(api.auth, RefreshTokenAuth | ClientCredentialsAuth):  # the default login_url passes
            urls.append((("api", "auth", "login_url"), api.auth.login_url, "login"))
        for where, url, role in urls:
            problem = credential_url_problem(url, role, trusted)
            if problem:
                message = f"{'.'.join(where)} of environment {env_name!r} {problem}"
                problems.append(doc.diagnostic(("environments", env_name, *where), message))
    return problems


def _variable_uses(section: Any, where: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], str]]:
    """Every ``*_env`` setting below ``section`` and the variable it names."""
    if not isinstance(section, dict):
        return
    for key, value in section.items():
        if isinstance(value, dict):
            yield from _variable_uses(value, (*where, key))
        elif key.endswith("_env") and isinstance(value, str):
            yield (*where, key), value


def _shared_variable_problems(doc: Document) -> list[Diagnostic]:
    """Each ``*_env`` naming a variable that another role (another ``*_env`` key) also names.

    A variable holds one credential. With ``token_env: ORCHESTRATOR_STATE_DSN`` the database
    password went out as a Pardot bearer token. The same role may share a variable across
    environments (one token for two business units); two roles never, in any environment.
    Names are compared without case (Windows runners do not distinguish them).
    """
    uses: dict[str, list[tuple[str, str, tuple[str, ...], str]]] = {}
    for env_name, raw in doc.data["environments"].items():
        for section in ("api", "state"):
            for where, variable in _variable_uses(raw.get(section), (section,)):
                uses.setdefault(variable.upper(), []).append((".".join(where), env_name, where, variable))
    problems = []
    for named in uses.values():
        if len({role for role, *_ in named}) < 2:
            continue
        for role, env_name, where, variable in named:
            others = sorted({f"{r} of environment {e!r}" for r, e, *_ in named if r != role})
            problems.append(
                doc.diagnostic(
                    ("environments", env_name, *where),
                    f"{role} of environment {env_name!r} names {variable}, which {' and '.join(others)} also "
                    "names: one variable holds one credential, else a credential goes where another belongs "
                    "(a database password sent as a Pardot token); name a different variable for each",
                )
            )
    return problems


def _shared_state_problems(
    root: Path, doc: Document, envs: Mapping[str, Environment], environ: Mapping[str, str]
) -> list[Diagnostic]:
    """Each non-sandbox environment whose SQLite state git tracks, or that sits in a CI checkout.

    Either way the state is not one record shared by every run: a committed file's lineage is
    fixed, so ``apply`` from two fresh clones sends the same email twice; and a fresh CI checkout
    starts from the committed copy or from nothing. The sandbox keeps whatever state it likes.
    """
    problems = []
    for env_name, env in envs.items():
        if env.is_sandbox or not isinstance(env.state, SqliteState):
            continue
        written = env.state.path
        in_file = "path" in doc.data["environments"][env_name]["state"]
        where: JsonPath = ("environments", env_name, "state", *(("path",) if in_file else ()))
        fix = (
            "keep this environment's state in PostgreSQL, shared by every machine and run "
            "(state: {backend: postgres, dsn_env: VAR})"
        )
        if any(git_tracks(root, candidate) for candidate in _state_paths(root, written)):
            problems.append(
                doc.diagnostic(
                    where,
                    f"state of environment {env_name!r} is {written!r}, a SQLite file that git tracks: every fresh "
                    f"clone starts from the same committed record, so a send can go out twice; {fix}, and take "
                    "the file out of git",
                )
            )
        elif inside_ci_checkout(root, environ):
            problems.append(
                doc.diagnostic(
                    where,
                    f"state of environment {env_name!r} is {written!r}, a SQLite file inside a CI checkout: a "
                    "fresh checkout holds either a committed copy or no state at all, so a send can go out "
                    f"twice; {fix}",
                )
            )
    return problems


def _state_paths(root: Path, written: str) -> list[str]:
    """The state path as written, and (when a link inside the project moves it) where it resolves.

    Git does not look through symbolic links (``dir-link/state.db`` is "beyond a symbolic link"
    to it), so a committed file reached through a committed link is asked about by its real path.
    """
    paths = [written]
    try:
        real = (root / written).resolve().relative_to(root.resolve())
    except (OSError, ValueError):
        return paths
    if real.as_posix() != Path(written).as_posix():
        paths.append(real.as_posix())
    return paths


def _build_config(root: Path, path: Path, doc: Document, environ: Mapping[str, str]) -> Config:
    data: dict[str, Any] = doc.data
    policy = Policy().merged(data.get("policy"))
    envs = {
        name: Environment(
            name=name,
            api=parse_api(raw["api"]),
            state=parse_state(name, raw["state"]),
            ids={k: dict(v) for k, v in raw.get("ids", {}).items()},
            vars=dict(raw.get("vars", {})),
            policy=policy.merged(raw.get("policy")),
        )
        for name, raw in data["environments"].items()
    }
    default = data.get("default_environment")
    if default is not None and default not in envs:
        raise ProjectInvalid(
            [
                doc.diagnostic(
                    ("default_environment",),
                    f"default_environment {default!r} is not in environments ({', '.join(sorted(envs))})",
                )
            ]
        )
    _confine_files(root, doc)
    problems = _credential_host_problems(doc, envs, trusted_hosts(environ)) + _shared_variable_problems(doc)
    problems += _shared_state_problems(root, doc, envs, environ)
    if problems:
        raise ProjectInvalid(problems)
    campaigns_dir = (root / data.get("campaigns_dir", "campaigns")).resolve()
    return Config(
        root=root.resolve(),
        path=path,
        timezone=_zone(doc, ("timezone",), data.get("timezone", "UTC")),
        campaigns_dir=campaigns_dir,
        default_environment=default,
        policy=policy,
        environments=envs,
        samples={name: dict(raw) for name, raw in data.get("samples", {}).items()},
    )
