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
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from orchestrator.errors import ConfigError

__all__ = [
    "DEFAULT_LOGIN_URL",
    "ApiSettings",
    "AuthSettings",
    "ClientCredentialsAuth",
    "RefreshTokenAuth",
    "StaticTokenAuth",
    "TokenAuth",
    "check_my_domain",
    "check_transport_security",
    "is_loopback_host",
]

DEFAULT_LOGIN_URL = "https://login.salesforce.com"


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
        if not self.business_unit_id.strip():
            raise ConfigError("api.business_unit_id is empty")
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
