"""How to reach Pardot: base URL, business unit, credentials and limits.

Settings hold the *names* of environment variables, never their values: secrets are read
lazily by :mod:`orchestrator.pardot.auth` when the first call needs them, so a settings object
can be printed, compared and stored in a plan without leaking anything. The one literal token
(:class:`StaticTokenAuth`, for the sandbox) is kept out of ``repr``.

Construction validates everything that can be checked without I/O and raises
:class:`~orchestrator.errors.ConfigError`, most importantly that credentials only travel over
HTTPS unless the host is this machine or ``allow_insecure`` says it is the sandbox.

Where credentials may travel at all is decided here too (:func:`credential_url_problem`): a
Pardot API host for ``base_url``, a Salesforce login host for ``login_url``, this machine, or a
host the operator names in ``ORCHESTRATOR_TRUSTED_HOSTS``. ``orchestrator.yaml`` comes from the
checkout, which a pull request controls; that variable comes only from the process environment.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from orchestrator.errors import ConfigError

__all__ = [
    "DEFAULT_LOGIN_URL",
    "DOWNLOAD_DEADLINE_S",
    "MAX_RESPONSE_BYTES",
    "MAX_TOKEN_RESPONSE_BYTES",
    "MY_DOMAIN_SUFFIXES",
    "PARDOT_API_HOSTS",
    "REQUEST_DEADLINE_S",
    "SALESFORCE_LOGIN_HOSTS",
    "SUPPORTED_VERSIONS",
    "TRUSTED_HOSTS_ENV",
    "ApiSettings",
    "AuthSettings",
    "ClientCredentialsAuth",
    "CredentialRole",
    "RefreshTokenAuth",
    "StaticTokenAuth",
    "TokenAuth",
    "check_credential_hosts",
    "check_header_safe",
    "check_my_domain",
    "check_transport_security",
    "credential_url_problem",
    "is_loopback_host",
    "secret_from_env",
    "trusted_hosts",
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
#: The API versions the client speaks, one object each in :mod:`.versions` (a test keeps the two
#: in step; this module stays free of httpx, which the version objects' error rules import).
SUPPORTED_VERSIONS = (3, 4, 5)


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
        if self.version not in SUPPORTED_VERSIONS:
            choices = ", ".join(str(v) for v in SUPPORTED_VERSIONS[:-1]) + f" or {SUPPORTED_VERSIONS[-1]}"
            raise ConfigError(f"api.version must be {choices}, not {self.version!r}")
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


#: The environment variable in which the operator names extra hosts that credentials may go to
#: (a proxy, say): host names separated by commas. It is read from the process environment only:
#: no key of orchestrator.yaml and no file in the checkout (a pull request's) can set it.
TRUSTED_HOSTS_ENV = "ORCHESTRATOR_TRUSTED_HOSTS"

#: Pardot's API hosts: production accounts; developer orgs and sandboxes. Source: Pardot API
#: documentation, "Authentication", table of domains by org type (pardot/api-docs, gh-pages
#: kb/authentication, 2021; now developer.salesforce.com/docs/marketing/pardot/guide/authentication.html);
#: /work/shared/reference/pardot-api.md, sections 1 and 2.
PARDOT_API_HOSTS = frozenset({"pi.pardot.com", "pi.demo.pardot.com"})

#: Salesforce's generic OAuth login hosts: production and developer orgs; sandboxes (same source).
SALESFORCE_LOGIN_HOSTS = frozenset({"login.salesforce.com", "test.salesforce.com"})

#: My Domain login hosts end with one of these. ``MyDomainName.my.salesforce.com`` (production;
#: sandboxes without enhanced domains as ``MyDomainName--SandboxName.my.salesforce.com``) and, with
#: partitioned domains, ``MyDomainName[--SandboxName].PARTITION.my.salesforce.com``. Sources:
#: Salesforce Help, "Log In to Salesforce with Code" (xcloud.domain_name_login_code) and "My Domain
#: URL Formats" (products.domain_name_app_url_changes); Tooling API, OrgDomainLog.DomainPartition.
#: ``my.salesforce.mil``: the same formats in Government Cloud Plus - Defense (Salesforce's own
#: forcedotcom/sfdx-core, src/util/sfdcUrl.ts, ``SfdcUrl.toLightningDomain``).
MY_DOMAIN_SUFFIXES = (".my.salesforce.com", ".my.salesforce.mil")

#: The partitions a My Domain host may carry: Tooling API reference, OrgDomainLog.DomainPartition
#: (developer.salesforce.com/docs/atlas.en-us.262.0.api_tooling.meta/api_tooling/tooling_api_objects_mydomainlog.htm).
_PARTITIONS = ("demo", "develop", "free", "patch", "sandbox", "scratch", "sfdctest", "trailblaze")
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_MY_DOMAIN = re.compile(
    rf"{_LABEL}(?:\.(?:{'|'.join(_PARTITIONS)}))?(?:{'|'.join(re.escape(suffix) for suffix in MY_DOMAIN_SUFFIXES)})"
)
_HOST_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")

#: A URL simple enough that every parser reads the same host from it: scheme, host, optional port
#: and path; no user name, query, fragment, space or backslash (where urllib and httpx could
#: disagree about which host is meant).
_PLAIN_URL = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<host>[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])"
    r"(?::(?P<port>[0-9]{1,5}))?(?P<path>/[A-Za-z0-9._~%!$&'()*+,;=:@/-]*)?"
)

CredentialRole = Literal["api", "login"]

_WHAT = {"api": "a Pardot API host", "login": "a Salesforce login host"}
_USE = {
    "api": "use https://pi.pardot.com (production) or https://pi.demo.pardot.com (developer orgs and sandboxes)",
    "login": "use https://login.salesforce.com, https://test.salesforce.com (sandboxes) or your org's My Domain "
    "login URL, e.g. https://MyCompany.my.salesforce.com or https://MyCompany--SandboxName.sandbox.my.salesforce.com",
}
_TRUST = f"another host (a proxy) is trusted only when the operator names it in {TRUSTED_HOSTS_ENV} (docs/security.md)"


def trusted_hosts(environ: Mapping[str, str]) -> frozenset[str]:
    """The extra hosts ``ORCHESTRATOR_TRUSTED_HOSTS`` names in ``environ``, lower-cased.

    Host names only (``proxy.example.com``), separated by commas; anything else is refused
    with ConfigError rather than guessed at, since it widens where credentials may go.
    """
    hosts = set()
    for entry in environ.get(TRUSTED_HOSTS_ENV, "").split(","):
        host = entry.strip().lower()
        if not host:
            continue
        if not _HOST_NAME.fullmatch(host):
            raise ConfigError(
                f"environment variable {TRUSTED_HOSTS_ENV} holds {entry.strip()[:80]!r}, which is not a host name",
                hint=f"list host names separated by commas, e.g. {TRUSTED_HOSTS_ENV}=pardot-proxy.example.com "
                "(no scheme, port or path)",
            )
        hosts.add(host)
    return frozenset(hosts)


def _is_this_machine(host: str) -> bool:
    """``localhost`` or a loopback address literal: no name lookup can send it elsewhere."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_salesforce_host(host: str, role: CredentialRole) -> bool:
    if role == "api":
        return host in PARDOT_API_HOSTS
    return host in SALESFORCE_LOGIN_HOSTS or _MY_DOMAIN.fullmatch(host) is not None


def credential_url_problem(url: str, role: CredentialRole, trusted: frozenset[str] = frozenset()) -> str:
    """Why credentials must not be sent to ``url`` as its ``role`` host, or ``""`` when they may.

    ``api`` URLs (``base_url``) carry the bearer token with every call; ``login`` URLs receive
    the client id, client secret and refresh token. Allowed: Salesforce's documented hosts for
    the role, over HTTPS on the default port with no path; this machine (``localhost``, a
    loopback address: the sandbox server, tests); and the ``trusted`` hosts the operator named.
    Decided from the text alone, before any name lookup or connection.
    """
    match = _PLAIN_URL.fullmatch(url)
    if match is None:
        return "is not a plain https://HOST URL (no user name, query, fragment, spaces or backslashes)"
    scheme, host, port = match["scheme"].lower(), match["host"].lower(), match["port"]
    if scheme not in ("http", "https"):
        return f"must be an https URL, not {scheme}"
    if port is not None and not 0 < int(port) < 65536:
        return f"has an invalid port {port}"
    if _is_this_machine(host.strip("[]")):
        return ""
    if scheme != "https":
        return f"uses plain http to {host}; credentials would travel unencrypted: use https"
    if host in trusted:
        return ""
    if not _is_salesforce_host(host, role):
        return f"sends credentials to {host}, which is not {_WHAT[role]}: {_USE[role]}; {_TRUST}"
    if port not in (None, "443") or (match["path"] or "/") != "/":
        return f"must be just https://{host} (no port or path): credentials go to Salesforce's own endpoints"
    return ""


def check_credential_hosts(settings: ApiSettings, trusted: frozenset[str], *, environment: str | None = None) -> None:
    """Raise ConfigError unless every host ``settings`` sends credentials to is allowed.

    The message names the setting (and ``environment``, when given); nothing has been sent yet.
    """
    urls: list[tuple[str, str, CredentialRole]] = [("api.base_url", settings.base_url, "api")]
    if isinstance(settings.auth, RefreshTokenAuth | ClientCredentialsAuth):
        urls.append(("api.auth.login_url", settings.auth.login_url, "login"))
    for setting, url, role in urls:
        problem = credential_url_problem(url, role, trusted)
        if problem:
            subject = setting if environment is None else f"{setting} of environment {environment!r}"
            raise ConfigError(f"{subject} {problem}", hint=f"change {setting} in orchestrator.yaml; nothing was sent")


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
    if _CONNECTION_STRING.search(value):
        # A pull request can point a Salesforce credential at the variable that holds the state
        # database's DSN: its password must never travel as a token or a client secret.
        raise ConfigError(
            f"environment variable {name} holds a connection string (a URL or a database DSN), not a "
            f"Salesforce credential ({setting} names it); it is not sent",
            hint=f"point {setting} at the variable that holds the credential itself",
        )
    return value


#: What a Salesforce token, client id, secret or refresh token never looks like: a URL with a
#: scheme, or libpq's ``key=value`` connection parameters.
_CONNECTION_STRING = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://|\b(?:password|host|hostaddr|dbname|user)\s*=")
