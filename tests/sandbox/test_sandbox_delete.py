"""Deleting an email in the sandbox, as an operator deletes one in Pardot's UI (issue 19).

The runbook "delete it in Pardot, then record it" (``state forget``) can be rehearsed: after
``orchestrator sandbox emails delete ID`` the email reads as Pardot reads a deleted one. v3/v4
email read: error 109 "not found"; v5 list-email read: 404 with ``Pardot-Warning: 201;Record
In Recycle Bin``; v5 query: absent by default, ``isDeleted: true`` with ``deleted=true|all``
(pardot/api-docs, kb/api-version-5/version5overview: the ``deleted`` parameter and the 404 "does
not exist or is in the recycle bin").
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import tenacity
from click.testing import CliRunner
from sandbox_helpers import AUTH

from orchestrator.cli.main import cli
from orchestrator.errors import ApiNotFound
from orchestrator.pardot.client import PardotClient
from orchestrator.pardot.settings import ApiSettings, StaticTokenAuth
from orchestrator.sandbox import (
    SANDBOX_BASE_URL,
    SANDBOX_BUSINESS_UNIT,
    SANDBOX_TOKEN,
    SandboxApp,
    SandboxServer,
    inprocess_transport,
    serve,
)
from tests.helpers import output as run

NOW = "2027-01-01T00:00:00Z"
KEY = "welcome@2027-03-01T09:00:00Z"
V5 = "/api/v5/objects/list-emails"


@pytest.fixture
def scheduled(tmp_path: Path) -> Path:
    """A fresh project whose welcome email is scheduled in the in-process sandbox (email 70001)."""
    root = tmp_path / "project"
    assert CliRunner().invoke(cli, ["init", str(root)]).exit_code == 0
    campaign = root / "campaigns" / "welcome.yaml"
    campaign.write_text(re.sub(r"(?m)^schedule: .*$", 'schedule: {at: "2027-03-01T09:00:00"}', campaign.read_text()))
    code, out = run(root, "apply", "--auto-approve", "--now", NOW)
    assert code == 0 and f"scheduled {KEY} (email 70001)" in out, out
    return root


@pytest.fixture
def pardot(scheduled: Path) -> Iterator[PardotClient]:
    """The orchestrator's own API client on the project's sandbox database."""
    app = SandboxApp(db_path=scheduled / ".orchestrator" / "sandbox-api.db")
    settings = ApiSettings(
        base_url=SANDBOX_BASE_URL,
        business_unit_id=SANDBOX_BUSINESS_UNIT,
        auth=StaticTokenAuth(SANDBOX_TOKEN),
        allow_insecure=True,
    )
    client = PardotClient(settings, transport=inprocess_transport(app), env={}, retry_wait=tenacity.wait_none())
    try:
        yield client
    finally:
        client.close()
        app.close()


def test_the_runbook_delete_in_pardot_then_record_it(scheduled: Path, pardot: PardotClient) -> None:
    assert pardot.read_email(70001, include_message=False).id == 70001
    code, out = run(scheduled, "state", "forget", KEY, "--now", NOW)
    assert code == 1 and "Pardot still has list email 70001" in out  # the runbook's order matters

    code, out = run(scheduled, "sandbox", "emails", "delete", "70001")
    assert code == 0, out
    assert f"deleted list email 70001 ({KEY})" in out
    assert f"orchestrator state forget {KEY}" in out

    with pytest.raises(ApiNotFound) as v4:
        pardot.read_email(70001)
    assert v4.value.code == 109
    with pytest.raises(ApiNotFound):
        pardot.read_list_email_v5(70001)
    page, _ = pardot.query_list_emails_v5()  # the client asks with deleted=all
    assert [(e.id, e.is_deleted) for e in page] == [(70001, True)]

    code, out = run(scheduled, "state", "forget", KEY, "--now", NOW)
    assert code == 0, out
    assert "recorded as deleted in Pardot" in out

    code, out = run(scheduled, "sandbox", "emails", "--json")
    (listed,) = json.loads(out)["emails"]
    assert listed["id"] == 70001 and listed["deleted_at"] is not None
    code, out = run(scheduled, "sandbox", "emails")
    assert "70001 (deleted)" in out


def test_deleting_twice_or_an_unknown_id_is_a_located_error(scheduled: Path) -> None:
    assert run(scheduled, "sandbox", "emails", "delete", "70001")[0] == 0
    for email_id in ("70001", "123"):
        code, out = run(scheduled, "sandbox", "emails", "delete", email_id)
        assert code == 1
        assert f"has no email {email_id}, or it is deleted already" in out
        assert "Traceback" not in out


def _v5(client: httpx.Client, path: str, **params: str) -> httpx.Response:
    return client.get(path, params={"fields": "id,name,isDeleted", **params})


@pytest.fixture
def served(scheduled: Path) -> Iterator[SandboxServer]:
    app = SandboxApp(db_path=scheduled / ".orchestrator" / "sandbox-api.db")
    with serve(app) as server:
        yield server
    app.close()


def test_delete_through_a_served_sandbox_and_the_v5_recycle_bin(served: SandboxServer, scheduled: Path) -> None:
    refused = httpx.delete(f"{served.url}/_sandbox/emails/70001", timeout=10)
    assert refused.status_code == 401  # state-changing: the token is required
    code, out = run(scheduled, "sandbox", "emails", "delete", "70001", "--url", served.url, "--token", "wrong")
    assert code == 1 and "pass the server's token with --token" in out

    code, out = run(scheduled, "sandbox", "emails", "delete", "70001", "--url", served.url)
    assert code == 0, out

    with httpx.Client(base_url=served.url, headers=AUTH, timeout=10) as client:
        read = _v5(client, f"{V5}/70001")
        assert read.status_code == 404
        assert read.headers["Pardot-Warning"] == "201;Record In Recycle Bin"
        assert _v5(client, f"{V5}/70001", deleted="true").json() == {
            "id": 70001, "name": KEY, "isDeleted": True,
        }
        assert _v5(client, V5).json() == {"values": []}  # deleted=false by default
        for deleted in ("true", "all"):
            assert _v5(client, V5, deleted=deleted).json()["values"] == [{"id": 70001, "name": KEY, "isDeleted": True}]
        assert _v5(client, V5, deleted="maybe").status_code == 400
        v4: dict[str, Any] = client.get("/api/email/version/4/do/read/id/70001", params={"format": "json"}).json()
        assert v4["@attributes"]["err_code"] == 109


def test_v5_pages_keep_the_deleted_filter_of_the_first_page(client: httpx.Client) -> None:
    """Only ``fields`` may travel with a page token, so the token carries ``deleted`` along."""
    ids = []
    for name in ("a", "b", "c"):
        form = {"format": "json", "campaign_id": "1001", "list_ids[]": "2001", "email_template_id": "4001"}
        form["name"] = name
        ids.append(client.post("/api/email/version/4/do/send", data=form).json()["email"]["id"])
    assert client.delete(f"/_sandbox/emails/{ids[1]}").status_code == 200  # the client carries the token
    seen: list[tuple[int, bool]] = []
    page = _v5(client, V5, deleted="all", limit="1").json()
    while True:
        seen += [(v["id"], v["isDeleted"]) for v in page["values"]]
        if "nextPageToken" not in page:
            break
        page = client.get(V5, params={"fields": "id,name,isDeleted", "nextPageToken": page["nextPageToken"]}).json()
    assert seen == [(ids[0], False), (ids[1], True), (ids[2], False)]
    assert [v["id"] for v in _v5(client, V5).json()["values"]] == [ids[0], ids[2]]


def test_a_database_made_before_deletion_existed_gains_the_column(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "old.db"
    SandboxApp(db_path=db).close()
    with sqlite3.connect(db) as conn:
        conn.execute("ALTER TABLE emails DROP COLUMN deleted_at")  # as an older version made it
    conn.close()
    app = SandboxApp(db_path=db)
    try:
        with app.store.reading() as reading:
            columns = {row[1] for row in reading.execute("PRAGMA table_info(emails)")}
    finally:
        app.close()
    assert "deleted_at" in columns
