"""Every exception the orchestrator raises on purpose, in one tree.

The CLI turns any :class:`OrchestratorError` into a message and exit code 1,
without a traceback: these are problems the user can act on.  Anything else
that escapes is a bug in the orchestrator and keeps its traceback.

Foreign exceptions (httpx, sqlite3, psycopg, yaml, jinja2) are translated into
this tree at the module that talks to that library, with ``raise ... from``.

::

    OrchestratorError
    ├── ConfigError                 orchestrator.yaml missing or invalid
    ├── ProjectInvalid              campaign files failed loading/schema/render/policy
    │                               (carries every Diagnostic, not just the first)
    ├── RenderError                 a single template failed to render
    ├── ApiError                    the Pardot API (or the sandbox) said no
    │   ├── ApiAuthError            credentials, token, permissions, business unit; HTTP 401
    │   ├── ApiRateLimited          66: too many concurrent requests (retryable)
    │   ├── ApiQuotaExceeded        122: daily call limit met (stop the run)
    │   ├── ApiNotFound             the id names nothing (3, 4, 68, 86, 109, 192)
    │   ├── ApiValidationError      the request was refused as invalid (13, 36, 38, 55, 64, 65, ...)
    │   ├── ApiTransientError       183, 214, 244, HTTP 5xx, connect errors: nothing done, try again
    │   ├── ApiProtocolError        the response could not be understood
    │   └── ApiOutcomeUnknown       a send may or may not have happened; never retried blindly
    ├── StateError                  the state store failed or refused
    │   ├── StateLocked             another apply holds the lock
    │   └── StateConflict           the state changed under us (our lock was broken)
    ├── PlanRefused                 a saved plan cannot be applied (stale, expired, altered, ...)
    ├── ExportError                 an export could not be created, finished or downloaded
    ├── SelectionError              render/preview: --occurrence or --at names no send
    └── BrowserUnavailable          previews: no Chromium (or Playwright) to take screenshots with
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


class OrchestratorError(Exception):
    """Base class: a problem the user can act on; shown without a traceback."""

    #: A short hint telling the user what to do next, appended to the message.
    hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if hint is not None:
            self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  hint: {self.hint}"
        return self.message


class ConfigError(OrchestratorError):
    """orchestrator.yaml is missing, unreadable or invalid, or names something unknown."""


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One located problem in a user's file: ``path:line:col: message``.

    ``line`` and ``col`` are 1-based; 0 means "the whole file".
    """

    path: str
    line: int
    col: int
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        if self.line:
            return f"{self.path}:{self.line}:{self.col}: {self.severity}: {self.message}"
        return f"{self.path}: {self.severity}: {self.message}"


class ProjectInvalid(OrchestratorError):
    """The campaign files have problems; ``diagnostics`` lists every one of them."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = sorted(diagnostics)
        errors = [d for d in self.diagnostics if d.severity == "error"]
        super().__init__(
            "\n".join(str(d) for d in self.diagnostics) + f"\n{len(errors)} error(s) found",
            hint="fix the problems above, then run `orchestrator validate` again",
        )


class RenderError(OrchestratorError):
    """A Jinja template could not be rendered (syntax, undefined variable, sandbox)."""

    def __init__(self, message: str, *, path: str = "", line: int = 0) -> None:
        super().__init__(message)
        self.path = path
        self.line = line


class ApiError(OrchestratorError):
    """The Pardot API refused a request; ``code`` is Pardot's error code when it gave one."""

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        http_status: int | None = None,
        hint: str | None = None,
    ) -> None:
        prefix = f"Pardot error {code}: " if code is not None else ""
        super().__init__(prefix + message, hint=hint)
        self.code = code
        self.http_status = http_status
        self.api_message = message


class ApiAuthError(ApiError):
    """Credentials, token, permissions or business unit were refused, or HTTP 401.

    The codes are :data:`orchestrator.pardot.errormap.AUTH_CODES` (the one table).
    """

    hint = "check the credentials named in orchestrator.yaml (api.auth) and the business unit id"


class ApiRateLimited(ApiError):
    """Error 66: more than the allowed concurrent requests; the request was not processed."""


class ApiQuotaExceeded(ApiError):
    """Error 122: the account's daily API call limit is met; nothing more can be done today."""

    hint = "the daily limit resets at the start of the day in the account's time zone; apply again then"


class ApiNotFound(ApiError):
    """The id in the request names nothing in Pardot."""


class ApiValidationError(ApiError):
    """Pardot refused the request as invalid; it was not processed."""


class ApiTransientError(ApiError):
    """A failure that proves nothing was done (183, connection refused); safe to retry."""


class ApiProtocolError(ApiError):
    """The response could not be parsed or had an unexpected shape."""


class ApiOutcomeUnknown(ApiError):
    """A send was written to the network but no answer proves whether Pardot processed it.

    Never retried automatically: resending could deliver the email twice.
    """

    hint = (
        "check Pardot for an email named after the send key, then record the answer with "
        "`orchestrator state resolve` (apply prints the command for each key)"
    )


class StateError(OrchestratorError):
    """The state store could not be read or written."""


class StateLocked(StateError):
    """Another process holds the state lock; ``holder`` describes it."""

    def __init__(self, message: str, *, holder: dict[str, Any] | None = None) -> None:
        super().__init__(
            message,
            hint="wait for it to finish, retry with --lock-timeout, or break a dead lock with "
            "`orchestrator state unlock LOCK_ID`",
        )
        self.holder = holder or {}


class StateConflict(StateError):
    """The state changed under a writer: the lock it held was broken by someone else.

    Raised by every backend's write (see :mod:`orchestrator.state.skeleton`) so a holder whose
    lock was broken stops before it sends anything more.
    """


class PlanRefused(OrchestratorError):
    """A saved plan cannot be applied as it is: stale, expired, altered or for another target."""

    hint = "run `orchestrator plan --out FILE` again and apply the new file"


class ExportError(OrchestratorError):
    """An export job could not be created, completed or downloaded."""


class BrowserUnavailable(OrchestratorError):
    """Previews: Chromium (or the Playwright library driving it) is missing or failed to start."""


def display_path(path: Path | str, root: Path | None = None) -> str:
    """Show ``path`` relative to ``root`` when it lies inside it: shorter, and stable in CI logs."""
    p = Path(path)
    if root is not None:
        try:
            return str(p.resolve().relative_to(root.resolve()))
        except ValueError:
            pass
    return str(p)


class SelectionError(OrchestratorError):
    """``--occurrence`` or ``--at`` names no send of the campaign; ``option`` says which."""

    def __init__(self, message: str, *, option: str) -> None:
        super().__init__(message)
        self.option = option
