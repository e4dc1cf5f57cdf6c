"""``api.version: 5`` through the real CLI: the reads go through v5 too.

The example project (tags dropped) against a loopback sandbox, on an environment with
``version: 5``: ``plan`` (which checks every id and template a send names), ``ids``, ``templates
show`` and ``emails show`` read through ``/api/v5/objects/...``; the sandbox's request log shows
which endpoints were used. Prospects keep the v4 read (docs/wire-format.md, "Version 5 reads").
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from orchestrator.sandbox import SANDBOX_BUSINESS_UNIT, SANDBOX_TOKEN, SandboxApp, serve
from tests.helpers import NOW, copy_example, fixed_clock, run
from tests.test_api_version5 import _drop_tags


@pytest.fixture
def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, str]]:
    """The example project with an environment `live` on a loopback sandbox, version 5."""
    sandbox = SandboxApp(db_path=tmp_path / "server.db")
    server = serve(sandbox)
    project = copy_example(tmp_path / "example")
    _drop_tags(project)
    config = yaml.safe_load((project / "orchestrator.yaml").read_text(encoding="utf-8"))
    env = dict(config["environments"]["sandbox"])
    env["api"] = {"kind": "pardot", "base_url": server.url, "business_unit_id": SANDBOX_BUSINESS_UNIT,
                  "version": 5, "auth": {"method": "token", "token_env": "ORCHESTRATOR_TEST_TOKEN"}}  # fmt: skip
    env["state"] = {"backend": "sqlite", "path": ".orchestrator/live.db"}
    config["environments"]["live"] = env
    (project / "orchestrator.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    monkeypatch.setenv("ORCHESTRATOR_TEST_TOKEN", SANDBOX_TOKEN)
    try:
        yield project, server.url
    finally:
        server.shutdown()
        sandbox.close()


def _reads(url: str) -> list[str]:
    log = httpx.get(f"{url}/_sandbox/requests").json()["requests"]
    return [e["path"] for e in log if e["method"] == "GET"]


def test_plan_checks_ids_and_templates_through_v5(live: tuple[Path, str]) -> None:
    project, url = live
    code, out, err = run(project, "--env", "live", "plan", clock=fixed_clock(NOW))
    assert code == 0, out + err
    reads = _reads(url)
    assert any(p.startswith("/api/v5/objects/campaigns/") for p in reads), reads
    assert any(p.startswith("/api/v5/objects/lists/") for p in reads), reads
    assert not [p for p in reads if p.startswith(("/api/campaign/", "/api/list/", "/api/user/", "/api/emailTemplate/"))]


def test_ids_templates_and_emails_read_through_v5(live: tuple[Path, str]) -> None:
    project, url = live
    code, out, err = run(project, "--env", "live", "ids", "--format", "json")
    assert code == 0, out + err
    found = json.loads(out)
    assert [c["id"] for c in found["campaigns"]] and [t["id"] for t in found["templates"]]
    code, out, err = run(project, "--env", "live", "templates", "show", str(found["templates"][0]["id"]))
    assert code == 0, out + err
    code, out, err = run(project, "--env", "live", "apply", "--auto-approve", clock=fixed_clock(NOW))
    assert code == 0, out + err
    code, out, err = run(project, "--env", "live", "emails", "show", "70001", "--json")
    assert code == 0, out + err
    assert json.loads(out)["id"] == 70001
    reads = _reads(url)
    classic = [p for p in reads if not p.startswith(("/api/v5/", "/api/prospect/"))]
    assert classic == [], classic
    for collection in ("campaigns", "lists", "users", "email-templates", "list-emails"):
        assert any(p.startswith(f"/api/v5/objects/{collection}") for p in reads), collection
