"""Settings of one sandbox: who may call it, which faults it injects, how exports behave.

Kept apart from the application so that the CLI, the transport and the tests can build a
configuration without importing the WSGI machinery.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

SANDBOX_TOKEN = "sandbox-token"  # noqa: S105 - a well-known, non-secret sandbox token
SANDBOX_BUSINESS_UNIT = "0Uv000000SANDBOXAA"
SANDBOX_BASE_URL = "http://sandbox.local"

#: Fault kinds, in the order in which they are drawn for each API request.
FAULT_KINDS: tuple[str, ...] = ("error66", "error183", "http500", "drop-before", "drop-after")

#: Pardot's documented concurrency limit: the 6th request in flight is refused with error 66.
MAX_IN_FLIGHT = 5

#: The sandbox account's time zone unless one is given (``sandbox serve --account-timezone``,
#: ``api: {kind: sandbox, account_timezone: ...}``). Pardot resets the daily API limit "at the
#: start of the day in the account's time zone" (pardot/api-docs ``docs/index.md``; pardot-api.md
#: §5), so the sandbox counts calls per day of this zone. UTC unless told otherwise.
DEFAULT_ACCOUNT_TIMEZONE = "UTC"


def account_zone(name: str) -> ZoneInfo:
    """The IANA zone ``name`` (``Europe/Paris``); ValueError saying what to give instead."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown account time zone {name!r}; give an IANA name such as UTC or America/New_York"
        ) from None


@dataclass(frozen=True)
class FaultConfig:
    """Faults the sandbox injects into ``/api/`` calls (never into ``/_sandbox/``).

    ``rates`` maps a kind from :data:`FAULT_KINDS` to a probability in [0, 1]; draws are
    deterministic for a given ``seed`` and request sequence number, so a failing run can be
    replayed. ``daily_limit`` makes the sandbox answer error 122 once that many API calls were
    made on the same day of the account's time zone (on the sandbox clock).
    """

    rates: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    seed: int = 0
    latency_ms: int = 0
    daily_limit: int | None = None

    def __post_init__(self) -> None:
        for kind, rate in self.rates.items():
            if kind not in FAULT_KINDS:
                raise ValueError(
                    f"unknown fault kind {kind!r}; expected one of {', '.join(FAULT_KINDS)}"
                )
            if not 0.0 <= float(rate) <= 1.0:
                raise ValueError(f"fault rate for {kind} must be between 0 and 1, got {rate}")
        if self.latency_ms < 0:
            raise ValueError("latency_ms must be >= 0")
        if self.daily_limit is not None and self.daily_limit < 0:
            raise ValueError("daily_limit must be >= 0")
        object.__setattr__(self, "rates", MappingProxyType(dict(self.rates)))


@dataclass(frozen=True)
class ExportConfig:
    """How export jobs progress on the sandbox clock and how their results are split.

    Real Pardot takes minutes; the defaults keep tests fast while still showing every state.
    """

    processing_after_s: float = 1.0
    complete_after_s: float = 2.0
    expires_after_days: int = 7
    rows_per_file: int = 100_000

    def __post_init__(self) -> None:
        if not 0 <= self.processing_after_s <= self.complete_after_s:
            raise ValueError("need 0 <= processing_after_s <= complete_after_s")
        if self.rows_per_file < 1:
            raise ValueError("rows_per_file must be >= 1")
        if self.expires_after_days < 0:
            raise ValueError("expires_after_days must be >= 0")
