"""The sandbox's read-only token: what CI's plan jobs hold (issue 18, docs/ci.md "Two trust zones").

A Pardot integration user whose role lacks the "Send To List" and "Send One-to-one" abilities
may read (templates, lists, prospects, exports) but every send it tries is refused. The sandbox
plays that user with a second token; ``orchestrator apply`` with it records each send as failed
(a refusal, never "unknown") and nothing reaches any inbox.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from orchestrator.cli.main import cli
from orchestrator.sandbox import SANDBOX_BUSINESS_UNIT, SANDBOX_TOKEN, SandboxApp

BIN = Path(sys.executable).parent
READ_ONLY = "read-only-plan-token"


def client(app: SandboxApp, token: str) -> httpx.Client:
    return httpx.Client(
        transport=httpx.WSGITransport(app=app),
        base_url="http://localhost",  # a served sandbox answers /api/ only for localhost or an IP
        headers={"Authorization": f"Bearer {token}", "Pardot-Business-Unit-Id": SANDBOX_BUSINESS_UNIT},
    )


SEND = {"campaign_id": "1001", "list_ids[]": "2001", "from_name": "Example", "from_email": "news@example.com",
        "subject": "Hi", "text_content": "Hi. %%unsubscribe%%", "name": "probe", "format": "json"}


def test_the_read_only_token_reads_but_every_send_gets_error_46() -> None:
    app = SandboxApp(read_only_token=READ_ONLY)
    try:
        with client(app, READ_ONLY) as reader, client(app, SANDBOX_TOKEN) as sender:
            assert reader.get("/api/list/version/4/do/read/id/2001", params={"format": "json"}).json()["list"]
            for path in ("/api/email/version/4/do/send", "/api/email/version/4/do/send/prospect_id/1234",
                         "/api/email/version/4/do/send/prospect_email/jane.prospect@example.com"):
                answer = reader.post(path, data=SEND).json()
                assert answer["@attributes"] == {"stat": "fail", "version": 1, "err_code": 46}, path
            assert sender.post("/api/email/version/4/do/send", data=SEND).json()["email"]["name"] == "probe"
    finally:
        app.close()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """``orchestrator sandbox serve --read-only-token`` on loopback."""
    process = subprocess.Popen(
        [str(BIN / "orchestrator"), "sandbox", "serve", "--port", "0", "--read-only-token", READ_ONLY,
         "--db", str(tmp_path / "sandbox-api.db")],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", first)
        assert match, first
        yield match.group(1)
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_apply_with_the_read_only_token_sends_nothing_and_records_refusals(tmp_path: Path, served: str) -> None:
    project = tmp_path / "project"
    assert CliRunner().invoke(cli, ["init", str(project)]).exit_code == 0
    (project / "campaigns" / "welcome.yaml").unlink()
    (project / "campaigns" / "news.yaml").write_text(
        "name: news\ncampaign: example\nlists: [newsletter]\nsuppression_lists: [competitors]\n"
        "sender: {name: Example News, email: news@example.com}\nsubject: News\n"
        'text: "Hi. Unsubscribe: %%unsubscribe%%"\nschedule: {now: true}\n'
    )
    config = project / "orchestrator.yaml"
    config.write_text(
        config.read_text()
        + "  readonly:\n"
        + f"    api: {{kind: pardot, base_url: '{served}', business_unit_id: {SANDBOX_BUSINESS_UNIT},\n"
        + "          auth: {method: token, token_env: PLAN_TOKEN}}\n"
        + "    state: {backend: sqlite, path: .orchestrator/readonly.db}\n"
        + "    ids: {campaigns: {example: 1001}, lists: {newsletter: 2001, competitors: 2003}}\n"
    )
    done = subprocess.run(
        [str(BIN / "orchestrator"), "--project", str(project), "--env", "readonly", "apply", "--auto-approve"],
        env={"PATH": str(BIN), "HOME": str(tmp_path), "PLAN_TOKEN": READ_ONLY, "NO_COLOR": "1"},
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode != 0, done.stdout
    assert "failed" in done.stdout and "46" in done.stdout + done.stderr
    received = httpx.get(f"{served}/_sandbox/emails", timeout=10).json()["emails"]
    assert received == []
    listed = subprocess.run(
        [str(BIN / "orchestrator"), "--project", str(project), "--env", "readonly", "state", "list", "--json"],
        env={"PATH": str(BIN), "HOME": str(tmp_path), "PLAN_TOKEN": READ_ONLY}, capture_output=True, text=True,
        timeout=60,
    )
    statuses = {s["status"] for s in json.loads(listed.stdout)["sends"]} if listed.returncode == 0 else set()
    assert "unknown" not in statuses and "intent" not in statuses
