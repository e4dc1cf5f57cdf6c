"""How to reach Pardot: base URL, business unit, credentials and limits.

Settings hold the *names* of environment variables, never their values: secrets are read
lazily by :mod:`orchestrator.pardot.auth` when the first call needs them, so a settings object
can be printed, compared and stored in a plan without leaking anything. The one literal token
(:class:`StaticTokenAuth`, for the sandbox) is kept out of ``repr``.

Construction validates everything that can be checked without I/O and raises
:class:`~orchestrator.errors.ConfigError`, most importantly that credentials only travel over
HTTPS unless the host is this machine or ``allow_insecure`` says it is the sandbox.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from orchestrator.errors import ConfigError

__all__ = [
    "DEFAULT_LOGIN_URL",
    "DOWNLOAD_DEADLINE_S",
    "MAX_RESPONSE_BYTES",
    "MAX_TOKEN_RESPONSE_BYTES",
    "REQUEST_DEADLINE_S",
    "ApiSettings",
    "AuthSettings",
    "ClientCredentialsAuth",
    "RefreshTokenAuth",
    "StaticTokenAuth",
    "TokenAuth",
    "check_header_safe",
    "check_my_domain",
    "check_transport_security",
    "is_loopback_host",
    "secret_from_env",
]

DEFAULT_LOGIN_URL = "https://login.salesforce.com"

#: Largest answer read from an API call (templates with their HTML, email reads, export
#: status): Pardot's answers are a few KiB; 8 MiB leaves room for big HTML bodies while a
#: hostile server cannot make the client hold gigabytes. Export files are streamed instead.
MAX_RESPONSE_BYTES = 8 * 1024 * 1024
#: Largest answer read from the OAuth token endpoint (a few hundred bytes in practice).
MAX_TOKEN_RESPONSE_BYTES = 64 * 1024
#: Wall-clock limit for one request, from connecting to the last byte of the answer: the
#: per-read ``timeout_s`` alone lets a server that trickles a byte at a time hold a call
#: (and the state lock during apply) forever.
REQUEST_DEADLINE_S = 120.0
#: Wall-clock limit for one export file download, opening and streaming included.
DOWNLOAD_DEADLINE_S = 3600.0


@dataclass(frozen=True)
class TokenAuth:
    """An access token obtained elsewhere, read from the environment variable ``token_env``."""

    token_env: str


@dataclass(frozen=True)
class StaticTokenAuth:
    """A literal token, for the sandbox only (never a real secret, still never shown)."""

    token: str = field(repr=False)


@dataclass(frozen=True)
class RefreshTokenAuth:
    """OAuth refresh-token grant against ``login_url``; all three values come from env vars."""

    client_id_env: str
    client_secret_env: str
    refresh_token_env: str
    login_url: str = DEFAULT_LOGIN_URL


@dataclass(frozen=True)
class ClientCredentialsAuth:
    """OAuth client-credentials grant against ``login_url`` (a connected app's own identity)."""

    client_id_env: str
    client_secret_env: str
    login_url: str = DEFAULT_LOGIN_URL


AuthSettings = TokenAuth | StaticTokenAuth | RefreshTokenAuth | ClientCredentialsAuth

_FORMATS = ("json", "xml")
_VERSIONS = (3, 4)


@dataclass(frozen=True)
class ApiSettings:
    """Everything the client needs to talk to one Pardot business unit."""

    base_url: str
    business_unit_id: str
    auth: AuthSettings
    version: int = 4
    format: str = "json"
    max_in_flight: int = 5
    timeout_s: float = 30.0
    max_retries: int = 5
    allow_insecure: bool = False
    max_response_bytes: int = MAX_RESPONSE_BYTES
    max_token_response_bytes: int = MAX_TOKEN_RESPONSE_BYTES
    deadline_s: float = REQUEST_DEADLINE_S
    download_deadline_s: float = DOWNLOAD_DEADLINE_S

    def __post_init__(self) -> None:
        if self.version not in _VERSIONS:
            raise ConfigError(f"api.version must be 3 or 4, not {self.version!r}")
        if self.format not in _FORMATS:
            raise ConfigError(f"api.format must be 'json' or 'xml', not {self.format!r}")
        if self.max_in_flight < 1:
            raise ConfigError(f"api.max_in_flight must be at least 1, not {self.max_in_flight}")
        if self.timeout_s <= 0:
            raise ConfigError(f"api.timeout_s must be positive, not {self.timeout_s}")
        if self.max_retries < 0:
            raise ConfigError(f"api.max_retries must be 0 or more, not {self.max_retries}")
        if self.max_response_bytes < 1 or self.max_token_response_bytes < 1:
            raise ConfigError("the response size limits must be at least 1 byte")
        if self.deadline_s < self.timeout_s or self.download_deadline_s < self.timeout_s:
            raise ConfigError(f"the request deadlines must be at least api.timeout_s ({self.timeout_s} s)")
        if not self.business_unit_id.strip():
            raise ConfigError("api.business_unit_id is empty")
        problem = check_header_safe(self.business_unit_id)
        if problem:
            raise ConfigError(f"api.business_unit_id {problem}")
        check_transport_security(self.base_url, "api.base_url", allow_insecure=self.allow_insecure)
        if isinstance(self.auth, RefreshTokenAuth | ClientCredentialsAuth):
            check_transport_security(self.auth.login_url, "api.auth.login_url", allow_insecure=self.allow_insecure)
        if isinstance(self.auth, ClientCredentialsAuth):
            check_my_domain(self.auth.login_url)

    @property
    def api_root(self) -> str:
        """``base_url`` without a trailing slash, ready for ``/api/...`` paths."""
        return self.base_url.rstrip("/")


#: Hosts on which Salesforce does not support the client-credentials flow: it needs the org's
#: My Domain login URL. Source: Salesforce Help, "Migrate from OAuth Username-Password to
#: Client Credentials Flow" (help.salesforce.com, article 000886201).
_NO_CLIENT_CREDENTIALS_HOSTS = ("login.salesforce.com", "test.salesforce.com")


def check_my_domain(login_url: str) -> None:
    """Refuse ``login.salesforce.com`` / ``test.salesforce.com`` for client credentials, naming the setting."""
    host = (urlsplit(login_url).hostname or "").lower()
    if host in _NO_CLIENT_CREDENTIALS_HOSTS:
        raise ConfigError(
            f"api.auth.login_url is {login_url!r}, but Salesforce does not support the client_credentials "
            "flow on login.salesforce.com or test.salesforce.com",
            hint="set api.auth.login_url to your org's My Domain login URL, e.g. https://MyCompany.my.salesforce.com",
        )


def is_loopback_host(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ::1: traffic that never leaves this machine."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_transport_security(url: str, what: str, *, allow_insecure: bool) -> None:
    """Raise ConfigError unless ``url`` is HTTPS, or plain HTTP to loopback / an allowed sandbox.

    Bearer tokens and client secrets travel with every request, so plain HTTP to any other
    host would hand them to whoever sits on the path.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{what} must be an http(s) URL with a host, not {url!r}")
    if parts.username or parts.password:
        raise ConfigError(f"{what} must not carry credentials in the URL")
    if parts.scheme == "http" and not (allow_insecure or is_loopback_host(parts.hostname)):
        raise ConfigError(
            f"{what} uses plain http to {parts.hostname}; credentials would travel unencrypted",
            hint="use https, or set allow_insecure only for the sandbox",
        )


def check_header_safe(value: str) -> str:
    """Why ``value`` cannot travel in an HTTP header, or ``""`` when it can.

    Only printable ASCII is allowed: a line break would end the header (httpx then quotes the
    whole header, secret included, in its error), and anything else is not ASCII, which
    httpx cannot encode. The message never quotes the value.
    """
    for char in value:
        if char in "\r\n":
            return "contains a line break"
        if ord(char) < 0x20 or ord(char) == 0x7F:
            return f"contains a control character (U+{ord(char):04X})"
        if ord(char) > 0x7E:
            return "contains a non-ASCII character"
    return ""


def secret_from_env(env: Mapping[str, str], name: str, setting: str) -> str:
    """The credential in environment variable ``name``, trimmed and checked; never shown.

    Surrounding whitespace is removed (a trailing newline from ``$(cat file)`` or a secrets
    UI is common). What remains must be printable ASCII, else
    ConfigError naming the variable and what is wrong with it, never the value itself.
    ``setting`` is the orchestrator.yaml key that names the variable, for the hint.
    """
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(
            f"environment variable {name} is not set ({setting})",
            hint=f"export {name}=... before running, or change {setting} in orchestrator.yaml",
        )
    problem = check_header_safe(value)
    if problem:
        raise ConfigError(
            f"environment variable {name} {problem}; credentials are printable ASCII",
            hint=f"set {name} again from the original credential ({setting} names it)",
        )
    return value
