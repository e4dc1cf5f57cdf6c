"""Export tests: the case files under cases/ are written against one fixed clock and zone.

NOW is Friday 27 November 2026, 10:00 UTC (11:00 in Paris); PARIS is the project time zone.
The fixtures here build the real client on the in-process sandbox, on a clock the test moves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from orchestrator.pardot.client import PardotClient
from orchestrator.pardot.settings import ApiSettings, StaticTokenAuth
from orchestrator.sandbox import (
    SANDBOX_BASE_URL,
    SANDBOX_BUSINESS_UNIT,
    SANDBOX_TOKEN,
    ExportConfig,
    SandboxApp,
    inprocess_transport,
)
from tests.export.manual_clock import ManualClock


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 27, 10, 0, tzinfo=UTC))


def make_client(app: SandboxApp) -> PardotClient:
    settings = ApiSettings(
        base_url=SANDBOX_BASE_URL,
        business_unit_id=SANDBOX_BUSINESS_UNIT,
        auth=StaticTokenAuth(SANDBOX_TOKEN),
        allow_insecure=True,
    )
    return PardotClient(settings, transport=inprocess_transport(app), sleep=lambda _: None)


@pytest.fixture
def sandbox(clock: ManualClock) -> Iterator[SandboxApp]:
    """The demo seed; exports wait 40 s, process until 100 s, files of 10 rows."""
    app = SandboxApp(
        clock=clock.now,
        exports=ExportConfig(processing_after_s=40, complete_after_s=100, rows_per_file=10),
    )
    yield app
    app.close()


@pytest.fixture
def client(sandbox: SandboxApp) -> Iterator[PardotClient]:
    with make_client(sandbox) as api:
        yield api


@pytest.fixture
def client_for() -> Iterator[Callable[[SandboxApp], PardotClient]]:
    """Clients on other sandboxes (closed after the test)."""
    made: list[PardotClient] = []

    def build(app: SandboxApp) -> PardotClient:
        made.append(make_client(app))
        return made[-1]

    yield build
    for api in made:
        api.close()
