"""``api.version: 5`` through the real CLI: the same plan, the same sends, no fingerprint change.

A send's payload is the project's own form and only the API version object translates it, so a
state applied under version 4 plans as no-ops under version 5; the example project plans the
same text and applies under version 5 against the sandbox (in process, and served on loopback,
where the request log shows which endpoints were used).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from orchestrator.sandbox import SANDBOX_BUSINESS_UNIT, SANDBOX_TOKEN, SandboxApp, serve
from tests.helpers import NOW, applied_example, copy_example, fixed_clock, run, sandbox_emails


def _set_version(project: Path, version: int, *, environment: str = "sandbox") -> None:
    config = yaml.safe_load((project / "orchestrator.yaml").read_text(encoding="utf-8"))
    config["environments"][environment]["api"]["version"] = version
    (project / "orchestrator.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")


def _drop_tags(project: Path) -> None:
    """v5 creates take no tags; without them every send can go through the v5 endpoints."""
    for path in (project / "campaigns").rglob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        path.write_text(re.sub(r"(?m)^tags: .*\n", "", text), encoding="utf-8")


def _sent(project: Path) -> list[tuple[str, str, int, str | None]]:
    return sorted(
        (e["name"], e["kind"], e["recipients"], e["scheduled_time"]) for e in sandbox_emails(project)
    )


def test_a_state_applied_under_v4_plans_only_noops_under_v5(tmp_path: Path) -> None:
    project = applied_example(tmp_path / "example")  # version 4, the default
    _set_version(project, 5)
    code, out, err = run(project, "plan", "--now", NOW, "--detailed-exitcode")
    assert code == 0, out + err  # 0: no changes
    _set_version(project, 4)
    assert run(project, "plan", "--now", NOW, "--detailed-exitcode")[0] == 0


def test_the_example_plans_the_same_and_applies_under_v5(tmp_path: Path) -> None:
    v4 = copy_example(tmp_path / "v4")
    v5 = copy_example(tmp_path / "v5")
    _set_version(v5, 5)
    plan4 = run(v4, "plan", "--now", NOW)
    plan5 = run(v5, "plan", "--now", NOW)
    assert plan4[0] == plan5[0] == 0
    assert plan4[1] == plan5[1]

    for project in (v4, v5):
        code, out, err = run(project, "apply", "--auto-approve", "--now", NOW)
        assert code == 0, out + err
    assert _sent(v5) == _sent(v4) != []
    assert run(v5, "plan", "--now", NOW, "--detailed-exitcode")[0] == 0  # applied once, nothing left


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, str]]:
    """The example project (tags dropped) with an environment `live` on a loopback sandbox, v5."""
    sandbox = SandboxApp(db_path=tmp_path / "server.db")
    server = serve(sandbox)
    project = copy_example(tmp_path / "example")
    _drop_tags(project)
    config = yaml.safe_load((project / "orchestrator.yaml").read_text(encoding="utf-8"))
    live = dict(config["environments"]["sandbox"])
    live["api"] = {"kind": "pardot", "base_url": server.url, "business_unit_id": SANDBOX_BUSINESS_UNIT,
                   "version": 5, "auth": {"method": "token", "token_env": "ORCHESTRATOR_TEST_TOKEN"}}
    live["state"] = {"backend": "sqlite", "path": ".orchestrator/live.db"}
    config["environments"]["live"] = live
    (project / "orchestrator.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    monkeypatch.setenv("ORCHESTRATOR_TEST_TOKEN", SANDBOX_TOKEN)
    try:
        yield project, server.url
    finally:
        server.shutdown()
        sandbox.close()


def test_version_5_sends_through_the_v5_endpoints(served: tuple[Path, str]) -> None:
    project, url = served
    code, out, err = run(project, "--env", "live", "apply", "--auto-approve", clock=fixed_clock(NOW))
    assert code == 0, out + err
    log = httpx.get(f"{url}/_sandbox/requests").json()["requests"]
    sends = [(e["method"], e["path"], e["status"]) for e in log if e["method"] == "POST"]
    list_sends = [s for s in sends if s[1] == "/api/v5/objects/list-emails"]
    assert len(list_sends) == 3 and all(status == 201 for _, _, status in list_sends)
    # One-to-one: by id through v5; by address through v4 (v5 names a prospect by id only).
    assert ("POST", "/api/v5/objects/emails", 201) in sends
    assert [s for s in sends if s[1].startswith("/api/email/version/4/do/send/prospect_email/")]
    assert not [s for s in sends if s[1] == "/api/email/version/4/do/send"]
    code, out, err = run(project, "--env", "live", "plan", "--detailed-exitcode", clock=fixed_clock(NOW))
    assert code == 0, out + err


def test_an_unknown_version_is_a_located_error(tmp_path: Path) -> None:
    project = copy_example(tmp_path / "example")
    _set_version(project, 6)
    code, out, err = run(project, "validate")
    assert code != 0 and "orchestrator.yaml" in out + err and "api.version must be 3, 4 or 5" in out + err
    assert "Traceback" not in out + err
