"""Where access tokens come from, and how a refused one is replaced.

A :class:`TokenSource` hands out the current token and, when Pardot refuses it (error 184 or
HTTP 401), a fresh one. Environment variables are read on first use, not at construction, so
building a client for ``plan`` does not require credentials that only ``apply`` needs.

Refreshing is thread-safe and happens once per refusal: a thread that saw token T refused
asks ``refresh(stale=T)``; if another thread already replaced T, it gets the new token
without a second round-trip to Salesforce.

Every source can list its :meth:`~TokenSource.secrets` so the client can scrub them from any
message it builds.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from typing import Protocol

import httpx

from orchestrator.errors import ApiAuthError, ConfigError
from orchestrator.pardot.errormap import map_transport_errors
from orchestrator.pardot.settings import (
    MAX_TOKEN_RESPONSE_BYTES,
    AuthSettings,
    ClientCredentialsAuth,
    RefreshTokenAuth,
    StaticTokenAuth,
    TokenAuth,
    check_header_safe,
    secret_from_env,
)
from orchestrator.pardot.transport import BodyTooLarge, read_capped
from orchestrator.redact import redact

__all__ = ["FixedTokenSource", "OAuthTokenSource", "TokenSource", "token_source_for"]

TOKEN_PATH = "/services/oauth2/token"  # noqa: S105 - a URL path, not a secret

Tracer = Callable[[httpx.Request, httpx.Response | None], None]


class TokenSource(Protocol):
    """Gives out an access token; replaces it when the API refused it."""

    #: False for tokens given from outside: a refusal of those is final.
    refreshable: bool

    def token(self) -> str:
        """The current access token (fetching one if there is none yet)."""
        ...

    def refresh(self, stale: str) -> str:
        """A token other than ``stale``; raises ApiAuthError when none can be had."""
        ...

    def secrets(self) -> tuple[str, ...]:
        """Every secret value this source holds or has handed out, for redaction."""
        ...


def _read_env(env: Mapping[str, str], name: str, setting: str) -> str:
    """A credential from the environment: trimmed, printable ASCII, never shown (ConfigError)."""
    return secret_from_env(env, name, setting)


class FixedTokenSource:
    """A token that cannot be refreshed: a literal one, or one read from an env var."""

    refreshable = False

    def __init__(self, read: Callable[[], str], *, origin: str) -> None:
        self._read = read
        self._origin = origin
        self._value: str | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"FixedTokenSource(origin={self._origin!r})"

    def token(self) -> str:
        with self._lock:
            if self._value is None:
                self._value = self._read()
            return self._value

    def refresh(self, stale: str) -> str:
        raise ApiAuthError(f"the access token from {self._origin} was refused and cannot be refreshed")

    def secrets(self) -> tuple[str, ...]:
        return (self._value,) if self._value else ()


class OAuthTokenSource:
    """Salesforce OAuth: posts a grant to ``{login_url}/services/oauth2/token``.

    ``grant`` builds the form (it reads the env vars, lazily); ``http`` is the client's own
    httpx client, so tests can answer the token endpoint through the same transport.
    """

    refreshable = True

    def __init__(
        self,
        *,
        login_url: str,
        grant: Callable[[], dict[str, str]],
        http: httpx.Client,
        tracer: Tracer | None = None,
        max_response_bytes: int = MAX_TOKEN_RESPONSE_BYTES,
    ) -> None:
        self._url = login_url.rstrip("/") + TOKEN_PATH
        self._max_response_bytes = max_response_bytes
        self._grant = grant
        self._http = http
        self._tracer = tracer
        self._value: str | None = None
        self._seen: list[str] = []
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"OAuthTokenSource(url={self._url!r})"

    def token(self) -> str:
        with self._lock:
            if self._value is None:
                self._value = self._fetch()
            return self._value

    def refresh(self, stale: str) -> str:
        with self._lock:
            if self._value is None or self._value == stale:
                self._value = self._fetch()
            return self._value

    def secrets(self) -> tuple[str, ...]:
        return tuple(self._seen)

    def _fetch(self) -> str:
        form = self._grant()
        self._seen.extend(v for k, v in form.items() if k != "grant_type")
        request = self._http.build_request("POST", self._url, data=form)
        response: httpx.Response | None = None
        what = f"POST {self._url}"
        try:
            with map_transport_errors(is_send=False, what=what):
                response = self._http.send(request, stream=True)
                try:
                    content = read_capped(response, self._max_response_bytes)
                finally:
                    response.close()
        except BodyTooLarge as exc:
            raise ApiAuthError(f"{what}: {exc}") from exc
        finally:
            if self._tracer is not None:
                self._tracer(request, response)
        token = self._token_from(response, content)
        self._seen.append(token)
        return token

    def _token_from(self, response: httpx.Response, content: bytes) -> str:
        try:
            body = json.loads(content)
        except (ValueError, RecursionError):
            body = None
        if not isinstance(body, dict):
            raise ApiAuthError(
                f"OAuth token endpoint answered HTTP {response.status_code} without JSON",
                http_status=response.status_code,
            )
        token = body.get("access_token")
        if response.status_code != 200 or not isinstance(token, str) or not token:
            error = str(body.get("error", "no access_token"))
            detail = str(body.get("error_description", ""))
            message = redact(f"{error}: {detail}".rstrip(": "), self._seen)
            raise ApiAuthError(
                f"OAuth token request refused (HTTP {response.status_code}): {message}",
                http_status=response.status_code,
            )
        problem = check_header_safe(token)
        if problem:
            # The token goes into an Authorization header; never quote it.
            raise ApiAuthError(
                f"OAuth token endpoint returned an access token that {problem}",
                http_status=response.status_code,
            )
        return token


def token_source_for(
    auth: AuthSettings,
    *,
    env: Mapping[str, str],
    http: httpx.Client,
    tracer: Tracer | None = None,
    max_response_bytes: int = MAX_TOKEN_RESPONSE_BYTES,
) -> TokenSource:
    """Build the token source the settings ask for (OAuth answers capped at ``max_response_bytes``)."""
    if isinstance(auth, StaticTokenAuth):
        literal = auth.token
        problem = check_header_safe(literal)
        if problem:
            raise ConfigError(f"api.auth.token {problem}")
        return FixedTokenSource(lambda: literal, origin="api.auth.token")
    if isinstance(auth, TokenAuth):
        name = auth.token_env
        return FixedTokenSource(lambda: _read_env(env, name, "api.auth.token_env"), origin=f"${name}")
    if isinstance(auth, RefreshTokenAuth):
        refresh_auth = auth

        def refresh_grant() -> dict[str, str]:
            return {
                "grant_type": "refresh_token",
                "client_id": _read_env(env, refresh_auth.client_id_env, "api.auth.client_id_env"),
                "client_secret": _read_env(env, refresh_auth.client_secret_env, "api.auth.client_secret_env"),
                "refresh_token": _read_env(env, refresh_auth.refresh_token_env, "api.auth.refresh_token_env"),
            }

        return OAuthTokenSource(
            login_url=auth.login_url,
            grant=refresh_grant,
            http=http,
            tracer=tracer,
            max_response_bytes=max_response_bytes,
        )
    if isinstance(auth, ClientCredentialsAuth):
        cc_auth = auth

        def client_grant() -> dict[str, str]:
            return {
                "grant_type": "client_credentials",
                "client_id": _read_env(env, cc_auth.client_id_env, "api.auth.client_id_env"),
                "client_secret": _read_env(env, cc_auth.client_secret_env, "api.auth.client_secret_env"),
            }

        return OAuthTokenSource(
            login_url=auth.login_url,
            grant=client_grant,
            http=http,
            tracer=tracer,
            max_response_bytes=max_response_bytes,
        )
    raise ConfigError(f"unknown api.auth settings: {type(auth).__name__}")
