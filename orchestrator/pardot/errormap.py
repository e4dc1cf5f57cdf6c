"""The one place where Pardot's answers and httpx's failures become orchestrator errors.

Three inputs, one tree (:mod:`orchestrator.errors`):

* an error code from a fail envelope → :func:`error_for_code`;
* an HTTP status without a readable envelope → :func:`error_for_status`;
* an httpx exception → :func:`map_transport_errors` (a context manager, like httpx's own
  ``map_httpcore_exceptions``), so no ``httpx.HTTPError`` ever reaches a caller.

Sends are different from every other call: they are irreversible and carry no idempotency
key, so anything that does not *prove* the request went unprocessed becomes
:class:`ApiOutcomeUnknown`. What proves it: a refusal envelope (Pardot answered "no"), and
transport failures that happen before a single byte of the request left (:data:`NOT_SENT`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from orchestrator.errors import (
    ApiAuthError,
    ApiError,
    ApiNotFound,
    ApiOutcomeUnknown,
    ApiProtocolError,
    ApiQuotaExceeded,
    ApiRateLimited,
    ApiTransientError,
    ApiValidationError,
)

__all__ = [
    "AUTH_CODES",
    "INVALID_ID_CODES",
    "NOT_FOUND_CODES",
    "NOT_SENT",
    "REFRESH_CODES",
    "TRANSIENT_CODES",
    "UNKNOWN_IF_SEND_CODES",
    "VERSION_HINTS",
    "error_for_code",
    "error_for_code_v5",
    "error_for_status",
    "map_transport_errors",
    "proves_not_sent",
]

#: Credentials, token, permissions or business unit refused (§4 of the reference).
AUTH_CODES = frozenset({1, 15, 46, 49, 53, 76, 126, 131, 181, 182, 184, 196, 199, 201})
#: A refreshed token may fix these: 184 is the documented "bad access token"; HTTP 401 joins it.
REFRESH_CODES = frozenset({184})
RATE_LIMITED_CODES = frozenset({66, 202})
QUOTA_CODES = frozenset({122})
#: The id in the request names nothing (or nothing visible).
NOT_FOUND_CODES = frozenset({3, 4, 68, 86, 109, 192})
#: "Try again": Pardot did not finish the request. 244 is "temporary connection issue".
TRANSIENT_CODES = frozenset({183, 214, 244})
#: Codes that say the server failed *while* handling the request: for a send, nothing proves
#: the email was not created, so they become ApiOutcomeUnknown there.
UNKNOWN_IF_SEND_CODES = frozenset({183, 214})

#: Codes a v3/v4 call answers when an id it was given names no object of that kind:
#: 10 "Invalid user ID", 38 "Invalid campaign ID", 55 "Invalid list ID" (error-codes page,
#: pardot/api-docs kb/error-codes-messages; Crim's fixture userRead_invalidUserId.xml shows 10 on
#: a user read). Sends map them to ApiValidationError (a refusal); the plan-time id check
#: (:mod:`orchestrator.remote_checks`) reads them as "this id does not exist".
INVALID_ID_CODES = frozenset({10, 38, 55})

#: Version switches (error-codes page): 88 "must use version 4" (the account allows several
#: prospects with one address), 89 "unable to use version 4". The message says which to set.
VERSION_HINTS: dict[int, str] = {
    88: "this Pardot account requires API version 4: set `version: 4` under api in orchestrator.yaml",
    89: "this Pardot account cannot use API version 4: set `version: 3` under api in orchestrator.yaml",
}

#: Transport failures raised before the request was written: safe to retry even for a send.
#: (ConnectTimeout/ConnectError: no connection; PoolTimeout: no connection from the pool.)
NOT_SENT: tuple[type[httpx.HTTPError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)
# Refused locally before anything was sent, and not worth retrying.
_LOCAL_REFUSALS: tuple[type[Exception], ...] = (
    httpx.UnsupportedProtocol,
    httpx.LocalProtocolError,
    httpx.InvalidURL,
)


def error_for_code(
    code: int | None, message: str, *, http_status: int | None = None, is_send: bool = False
) -> ApiError:
    """The orchestrator error for a Pardot error code (unknown codes are refusals: validation)."""
    if is_send and code in UNKNOWN_IF_SEND_CODES:
        return ApiOutcomeUnknown(
            f"{message} (the send may or may not have been processed)",
            code=code,
            http_status=http_status,
        )
    cls: type[ApiError]
    if code in AUTH_CODES:
        cls = ApiAuthError
    elif code in RATE_LIMITED_CODES:
        cls = ApiRateLimited
    elif code in QUOTA_CODES:
        cls = ApiQuotaExceeded
    elif code in NOT_FOUND_CODES:
        cls = ApiNotFound
    elif code in TRANSIENT_CODES:
        cls = ApiTransientError
    else:
        cls = ApiValidationError
    hint = VERSION_HINTS.get(code) if code is not None else None
    return cls(message, code=code, http_status=http_status, hint=hint)


def error_for_status(status: int, reason: str, *, is_send: bool = False) -> ApiError:
    """The error for a response whose body is not a Pardot envelope; ``reason`` says why.

    401 is an auth failure (refresh and retry once). For a send, anything else is an unknown
    outcome: a 200 with garbage may well have created the email, and a 5xx or a proxy's 4xx
    does not say whether Pardot saw it.
    """
    message = f"HTTP {status}: {reason}"
    if status == 401:
        return ApiAuthError(message, http_status=status)
    if is_send:
        return ApiOutcomeUnknown(f"{message}; the send may or may not have been processed", http_status=status)
    if status == 429:
        return ApiRateLimited(message, http_status=status)
    if status >= 500:
        return ApiTransientError(message, http_status=status)
    if status == 404:
        return ApiNotFound(message, http_status=status)
    return ApiProtocolError(message, http_status=status)


def proves_not_sent(error: BaseException) -> bool:
    """True when ``error`` was mapped from a transport failure that happened before sending."""
    return isinstance(error, ApiTransientError) and isinstance(error.__cause__, NOT_SENT)


def _describe(exc: Exception) -> str:
    """``ReadTimeout: timed out``; never the text of a protocol or URL error.

    h11's messages quote the offending header or line (``Illegal header value b'Bearer ...'``)
    in a repr whose escapes dodge redaction, so only their type is shown.
    """
    if isinstance(exc, httpx.ProtocolError | httpx.InvalidURL | httpx.DecodingError):
        return f"{type(exc).__name__} (details withheld: they may quote headers or credentials)"
    detail = str(exc).strip()
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__


@contextmanager
def map_transport_errors(*, is_send: bool, what: str) -> Iterator[None]:
    """Translate every httpx exception raised inside the block, ``raise ... from`` it.

    ``what`` names the call in messages (callers pass a masked path, never a URL with secrets).
    """
    try:
        yield
    except NOT_SENT as exc:
        raise ApiTransientError(f"{what}: could not connect ({_describe(exc)})") from exc
    except _LOCAL_REFUSALS as exc:
        raise ApiProtocolError(f"{what}: request refused locally ({_describe(exc)})") from exc
    except (httpx.TransportError, httpx.StreamError) as exc:
        # The request may have been written: a read timeout, a reset or closed connection, a
        # broken response, a write error part-way, a proxy failure.
        if is_send:
            raise ApiOutcomeUnknown(f"{what}: {_describe(exc)}; the send may or may not have been processed") from exc
        raise ApiTransientError(f"{what}: {_describe(exc)}") from exc
    except (httpx.HTTPError, httpx.CookieConflict) as exc:
        # DecodingError, TooManyRedirects, HTTPStatusError: a response we cannot use.
        if is_send:
            raise ApiOutcomeUnknown(f"{what}: {_describe(exc)}; the send may or may not have been processed") from exc
        raise ApiProtocolError(f"{what}: {_describe(exc)}") from exc


def error_for_code_v5(
    code: int | None, message: str, *, http_status: int | None = None, is_send: bool = False
) -> ApiError:
    """The v5 reading of a ``{"code": N, "message": ...}`` answer (docs/wire-format.md, "Version 5").

    version5overview documents failures as 4xx answers: 400 (a bad or missing parameter), 404
    (no such object, or in the recycle bin), 405 (not allowed). A 4xx with a code is Pardot's
    refusal, which proves a send was not processed, exactly as a v3/v4 fail envelope does. A
    send's code that arrives with any other status (a 5xx, or a 2xx where a create answers 201
    with the object) is not such a refusal, and nothing then proves the email was not created.
    """
    if is_send and http_status is not None and not 400 <= http_status < 500:
        return ApiOutcomeUnknown(
            f"{message} (HTTP {http_status}; the send may or may not have been processed)",
            code=code,
            http_status=http_status,
        )
    return error_for_code(code, message, http_status=http_status, is_send=is_send)
