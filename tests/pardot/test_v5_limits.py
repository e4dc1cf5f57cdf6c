"""The daily call limit under version 5: the sandbox answers it as a real account's v5 does.

Airbyte's Pardot source (``airbytehq/airbyte``
``airbyte-integrations/connectors/source-pardot/manifest.yaml`` at
``1c4ac610ffe29032296e57c7dceae38d4a0d70a6``) treats, on every ``/api/v5/`` stream, an HTTP 429
whose body says "Daily API rate limit met" as the daily limit (docs/wire-format.md, "Version 5").
So the sandbox answers error 122 on a v5 path with a 429, and the client still reads that
refusal as the quota being spent: nothing was sent, nothing is retried.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import tenacity

from orchestrator.errors import ApiQuotaExceeded
from orchestrator.pardot.client import PardotClient
from orchestrator.pardot.models import ListEmailSend
from orchestrator.pardot.settings import ApiSettings, StaticTokenAuth
from orchestrator.sandbox import (
    SANDBOX_BASE_URL,
    SANDBOX_BUSINESS_UNIT,
    SANDBOX_TOKEN,
    FaultConfig,
    SandboxApp,
    inprocess_transport,
)
from tests.helpers import NOW, sandbox_emails
from tests.helpers import run_at_now as run

from .fakes import Recorder

START = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
AUTH = {"Authorization": f"Bearer {SANDBOX_TOKEN}", "Pardot-Business-Unit-Id": SANDBOX_BUSINESS_UNIT}
SEND = ListEmailSend(
    campaign_id=1001, list_ids=(2001,), name="v5 news", subject="Hello",
    text_content="Bye %%unsubscribe%%", from_email="news@example.com", from_name="News",
)


@pytest.fixture
def spent() -> Iterator[SandboxApp]:
    """A sandbox whose daily limit is already met (no call left today)."""
    app = SandboxApp(clock=lambda: START, faults=FaultConfig(daily_limit=0))
    yield app
    app.close()


def _client(app: SandboxApp, recorder: Recorder) -> PardotClient:
    settings = ApiSettings(
        base_url=SANDBOX_BASE_URL, business_unit_id=SANDBOX_BUSINESS_UNIT, auth=StaticTokenAuth(SANDBOX_TOKEN),
        allow_insecure=True, version=5, format="json",
    )
    return PardotClient(
        settings, transport=inprocess_transport(app), env={}, tracer=recorder.tracer,
        retry_wait=tenacity.wait_none(), sleep=recorder.sleep,
    )


@pytest.mark.parametrize(
    "method,path,body",
    [
        ("GET", "/api/v5/objects/campaigns?fields=id,name", None),
        ("GET", "/api/v5/objects/list-emails/1/stats", None),
        ("POST", "/api/v5/objects/list-emails?fields=id", {"name": "n", "campaignId": 1, "recipientListIds": [2]}),
    ],
    ids=["query", "stats", "create"],
)
def test_a_v5_call_past_the_daily_limit_answers_429_with_code_122(
    spent: SandboxApp, method: str, path: str, body: dict[str, object] | None
) -> None:
    with httpx.Client(transport=inprocess_transport(spent), base_url=SANDBOX_BASE_URL, headers=AUTH) as h:
        answer = h.request(method, path, json=body)
    assert answer.status_code == 429
    payload = answer.json()
    assert payload["code"] == 122 and payload["message"].startswith("Daily API rate limit met")


def test_a_v4_call_past_the_daily_limit_keeps_the_v4_envelope(spent: SandboxApp) -> None:
    with httpx.Client(transport=inprocess_transport(spent), base_url=SANDBOX_BASE_URL, headers=AUTH) as h:
        answer = h.get("/api/campaign/version/4/do/query", params={"format": "json"})
    assert answer.status_code != 429
    assert answer.json()["@attributes"]["err_code"] == 122


def test_a_v5_send_past_the_daily_limit_is_refused_once_and_nothing_is_sent(spent: SandboxApp) -> None:
    recorder = Recorder()
    with _client(spent, recorder) as client, pytest.raises(ApiQuotaExceeded) as caught:
        client.send_list_email(SEND)
    assert (caught.value.code, caught.value.http_status) == (122, 429)
    assert recorder.exchanges == [("POST /api/v5/objects/list-emails", 429)]  # not retried
    with httpx.Client(transport=inprocess_transport(spent), base_url=SANDBOX_BASE_URL) as h:
        assert h.get("/_sandbox/emails").json()["emails"] == []


def test_apply_under_version_5_stops_cleanly_at_the_daily_limit(tmp_path: Path) -> None:
    """Through the CLI: the 429s end the run as the quota being spent, never as unknown sends."""
    root = tmp_path / "quota5"
    (root / "campaigns").mkdir(parents=True)
    (root / "orchestrator.yaml").write_text(
        "version: 1\ntimezone: UTC\nenvironments:\n  sandbox:\n"
        "    api: {kind: sandbox, version: 5, daily_limit: 6}\n    state: {backend: sqlite, path: state.db}\n"
        "    ids: {campaigns: {c: 1001}, lists: {newsletter: 2001}}\n"
    )
    for i in range(12):
        (root / "campaigns" / f"n{i:02d}.yaml").write_text(
            f"name: n{i:02d}\ncampaign: c\nlists: [newsletter]\nsender: {{name: A, email: a@example.com}}\n"
            f"subject: s{i}\ntext: '%%unsubscribe%%'\n"
        )
    code, out, err = run(root, "apply", "--auto-approve", "--now", NOW)
    assert code == 3, out + err  # a failed send needs a human
    assert "Stopped early: daily API limit reached" in out
    _, listing, _ = run(root, "state", "list", "--json")
    statuses = [s["status"] for s in json.loads(listing)["sends"]]
    assert set(statuses) == {"sent", "failed"}  # the refused one failed; none is unknown
    sent = [e for e in sandbox_emails(root) if str(e["name"]).startswith("n")]
    assert len(sent) == statuses.count("sent") and 0 < len(sent) < 12
