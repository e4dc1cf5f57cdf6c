"""Level 1: the one mapping from Pardot codes, HTTP statuses and httpx exceptions to our errors."""

from __future__ import annotations

import httpx
import pytest

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
from orchestrator.pardot.errormap import (
    error_for_code,
    error_for_status,
    map_transport_errors,
    proves_not_sent,
)

CODE_TABLE: list[tuple[int | None, type[ApiError]]] = [
    *((code, ApiAuthError) for code in (1, 15, 181, 182, 184, 199, 201)),
    (66, ApiRateLimited),
    (122, ApiQuotaExceeded),
    *((code, ApiNotFound) for code in (3, 4, 68, 86, 109)),
    *((code, ApiValidationError) for code in (10, 13, 36, 38, 55, 60, 64, 65, 93, 98)),
    *((code, ApiValidationError) for code in range(150, 155)),
    *((code, ApiValidationError) for code in (174, 175, 176, 177, 178, 180, 10000)),
    (183, ApiTransientError),
    (244, ApiTransientError),
    (9999, ApiValidationError),  # unknown code: still a refusal
    (None, ApiValidationError),
]


@pytest.mark.parametrize(("code", "cls"), CODE_TABLE)
def test_code_maps_to_class_and_keeps_code(code: int | None, cls: type[ApiError]) -> None:
    error = error_for_code(code, "msg", http_status=400)
    assert type(error) is cls
    assert error.code == code
    assert error.http_status == 400
    assert error.api_message == "msg"


@pytest.mark.parametrize(("code", "cls"), CODE_TABLE)
def test_refusals_of_a_send_keep_their_class(code: int | None, cls: type[ApiError]) -> None:
    """A fail envelope proves the send was refused, except "internal error" codes."""
    expected = ApiOutcomeUnknown if code in (183, 214) else cls
    assert type(error_for_code(code, "msg", is_send=True)) is expected


@pytest.mark.parametrize(
    ("status", "is_send", "cls"),
    [
        (401, False, ApiAuthError),
        (401, True, ApiAuthError),
        (500, False, ApiTransientError),
        (503, False, ApiTransientError),
        (500, True, ApiOutcomeUnknown),
        (200, True, ApiOutcomeUnknown),
        (200, False, ApiProtocolError),
        (400, False, ApiProtocolError),
        (400, True, ApiOutcomeUnknown),
        (404, False, ApiNotFound),
        (429, False, ApiRateLimited),
    ],
)
def test_status_without_envelope(status: int, is_send: bool, cls: type[ApiError]) -> None:
    error = error_for_status(status, "no envelope", is_send=is_send)
    assert type(error) is cls
    assert error.http_status == status


def _request() -> httpx.Request:
    return httpx.Request("POST", "https://pi.pardot.test/api/email/version/4/do/send")


def _instances() -> list[Exception]:
    """One instance of every exception class httpx exports."""
    found: list[Exception] = []
    for name in dir(httpx):
        cls = getattr(httpx, name)
        if not (isinstance(cls, type) and issubclass(cls, Exception)):
            continue
        if cls is httpx.HTTPStatusError:
            found.append(cls("x", request=_request(), response=httpx.Response(500)))
        elif issubclass(cls, httpx.RequestError):
            found.append(cls("x", request=_request()))
        elif issubclass(cls, httpx.StreamError) and cls is not httpx.StreamError:
            found.append(cls())  # type: ignore[call-arg]  # subclasses take no message
        else:
            found.append(cls("x"))
    return found


EXCEPTIONS = _instances()


def test_every_httpx_error_class_is_covered_by_the_test() -> None:
    assert {type(e) for e in EXCEPTIONS} >= {httpx.ReadTimeout, httpx.ConnectError, httpx.HTTPError}
    assert len(EXCEPTIONS) >= 20


@pytest.mark.parametrize("is_send", [True, False])
@pytest.mark.parametrize("exc", EXCEPTIONS, ids=lambda e: type(e).__name__)
def test_no_httpx_exception_escapes_unmapped(exc: Exception, is_send: bool) -> None:
    with pytest.raises(ApiError) as caught, map_transport_errors(is_send=is_send, what="POST /x"):
        raise exc
    assert caught.value.__cause__ is exc
    assert "POST /x" in str(caught.value)


NOT_SENT = [httpx.ConnectError("refused"), httpx.ConnectTimeout("slow"), httpx.PoolTimeout("full")]
MAYBE_SENT = [
    httpx.ReadTimeout("t"),
    httpx.WriteTimeout("t"),
    httpx.ReadError("reset"),
    httpx.WriteError("broken pipe"),
    httpx.RemoteProtocolError("Server disconnected without sending a response."),
    httpx.CloseError("c"),
    httpx.ProxyError("p"),
]


@pytest.mark.parametrize("exc", NOT_SENT, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("is_send", [True, False])
def test_connect_failures_prove_nothing_was_sent(exc: Exception, is_send: bool) -> None:
    with pytest.raises(ApiTransientError) as caught, map_transport_errors(is_send=is_send, what="w"):
        raise exc
    assert proves_not_sent(caught.value)


@pytest.mark.parametrize("exc", MAYBE_SENT, ids=lambda e: type(e).__name__)
def test_failures_after_writing_leave_a_send_unknown(exc: Exception) -> None:
    with pytest.raises(ApiOutcomeUnknown) as caught, map_transport_errors(is_send=True, what="w"):
        raise exc
    assert not proves_not_sent(caught.value)


@pytest.mark.parametrize("exc", MAYBE_SENT, ids=lambda e: type(e).__name__)
def test_failures_after_writing_are_transient_for_reads(exc: Exception) -> None:
    with pytest.raises(ApiTransientError) as caught, map_transport_errors(is_send=False, what="w"):
        raise exc
    assert not proves_not_sent(caught.value)


def test_non_transport_errors_pass_through() -> None:
    with pytest.raises(KeyError), map_transport_errors(is_send=True, what="w"):
        raise KeyError("ours")
