"""The sandbox as a user meets it: a changed seed is noticed, reset starts over, a scheduled
email has no statistics before its time, and ``sandbox emails`` masks addresses."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from sandbox_helpers import Clock

from orchestrator.errors import OrchestratorError
from orchestrator.pardot.client import PardotClient
from orchestrator.pardot.models import ListEmailSend
from orchestrator.pardot.settings import ApiSettings, StaticTokenAuth
from orchestrator.sandbox import SANDBOX_BASE_URL, SANDBOX_BUSINESS_UNIT, SANDBOX_TOKEN, SandboxApp, inprocess_transport
from orchestrator.sandbox.app import SeedChanged
from orchestrator.sandbox.errors import SandboxSeedError
from tests.helpers import HIDDEN_ADDRESS, MASKED_ADDRESS, NOW, applied_example, copy_example, run

SEED_A = "campaigns: [{id: 7001, name: spring}]\nlists: [{id: 8001, name: news}]\n"
SEED_B = "campaigns: [{id: 7002, name: autumn}]\nlists: [{id: 8001, name: news}]\n"


def _campaign_ids(app: SandboxApp) -> list[int]:
    with app.store.reading() as conn:
        return [int(r[0]) for r in conn.execute("SELECT id FROM campaigns ORDER BY id")]


def test_a_changed_seed_is_reported_never_ignored(tmp_path: Path) -> None:
    seed, db = tmp_path / "seed.yaml", tmp_path / "sandbox.db"
    seed.write_text(SEED_A)
    SandboxApp(db_path=db, seed=seed).close()
    seed.write_text("# a comment and new spacing change nothing\n" + SEED_A.replace(", ", ",  "))
    SandboxApp(db_path=db, seed=seed).close()
    seed.write_text(SEED_B)
    with pytest.raises(SeedChanged) as caught:
        SandboxApp(db_path=db, seed=seed)
    assert isinstance(caught.value, SandboxSeedError) and not isinstance(caught.value, OrchestratorError)
    assert "changed since" in str(caught.value) and "orchestrator sandbox reset" in str(caught.value)


def test_a_changed_seed_is_reloaded_on_request(tmp_path: Path) -> None:
    seed, db = tmp_path / "seed.yaml", tmp_path / "sandbox.db"
    seed.write_text(SEED_A)
    app = SandboxApp(db_path=db, seed=seed)
    assert _campaign_ids(app) == [7001]
    app.close()
    seed.write_text(SEED_B)
    app = SandboxApp(db_path=db, seed=seed, reload_seed=True)
    assert _campaign_ids(app) == [7002]
    app.close()
    SandboxApp(db_path=db, seed=seed).close()  # the new digest is remembered


def test_plan_after_a_seed_change_says_so_and_reset_starts_over(tmp_path: Path) -> None:
    project = copy_example(tmp_path / "p")
    seed = project / "sandbox-seed.yaml"
    demo = Path(__file__).resolve().parents[2] / "orchestrator" / "sandbox" / "demo_seed.yaml"
    seed.write_text(demo.read_text())
    config = project / "orchestrator.yaml"
    config.write_text(
        config.read_text().replace("api: {kind: sandbox}", "api: {kind: sandbox, seed: sandbox-seed.yaml}")
    )
    code, out, err = run(project, "plan", "--now", NOW)
    assert code in (0, 2, 3), out + err
    seed.write_text(demo.read_text().replace("{id: 1001, name: spring-2027}", "{id: 1001, name: spring-2028}"))
    code, out, err = run(project, "plan", "--now", NOW)
    assert code == 1
    assert "sandbox-seed.yaml changed since" in out + err
    assert "orchestrator sandbox reset" in out + err
    code, out, err = run(project, "sandbox", "reset")
    assert code == 0 and "removed" in out, out + err
    code, out, err = run(project, "plan", "--now", NOW)
    assert code in (0, 2, 3), out + err


def _sandbox_project(tmp_path: Path, api: str) -> Path:
    project = copy_example(tmp_path / "p")
    config = project / "orchestrator.yaml"
    assert "api: {kind: sandbox}" in config.read_text()
    config.write_text(config.read_text().replace("api: {kind: sandbox}", api))
    return project


def test_plan_with_an_invalid_seed_names_the_problem_without_a_traceback(tmp_path: Path) -> None:
    project = _sandbox_project(tmp_path, "api: {kind: sandbox, seed: bad.yaml}")
    (project / "bad.yaml").write_text("lists: [{id: 8001}]\n")
    code, out, err = run(project, "plan", "--now", NOW)  # run() fails on any exception but SystemExit
    assert code == 1, out + err
    assert "invalid sandbox seed" in err and "bad.yaml::$.lists.0: 'name' is a required property" in err, err
    assert "Traceback" not in out + err


def test_plan_with_an_unreadable_sandbox_database_is_a_state_error(tmp_path: Path) -> None:
    project = _sandbox_project(tmp_path, "api: {kind: sandbox, db: not-a.db}")
    (project / "not-a.db").write_bytes(b"this is no SQLite database, " * 100)
    code, out, err = run(project, "plan", "--now", NOW)
    assert code == 1, out + err
    assert "cannot open the sandbox database (" in err and "not-a.db" in err, err
    assert "Traceback" not in out + err


def test_a_scheduled_email_has_no_statistics_before_its_time() -> None:
    clock = Clock()
    app = SandboxApp(clock=clock)
    settings = ApiSettings(SANDBOX_BASE_URL, SANDBOX_BUSINESS_UNIT, StaticTokenAuth(SANDBOX_TOKEN), allow_insecure=True)
    with PardotClient(settings, transport=inprocess_transport(app)) as client:
        send = ListEmailSend(
            campaign_id=1001,
            list_ids=(2001,),
            email_template_id=4001,
            scheduled_time=clock() + timedelta(days=60),
        )
        email = client.send_list_email(send)
        before = client.email_stats(email.id)
        assert not before.known and before.figure("sent") is None
        clock.advance(61 * 86400)
        after = client.email_stats(email.id)
        assert after.known and (after.figure("sent") or 0) > 0
    app.close()


def test_stats_show_a_dash_for_an_email_not_yet_sent(tmp_path: Path) -> None:
    """Scheduled 30 days after the real clock (the in-process sandbox's), so never date-bound."""
    project = copy_example(tmp_path / "p")
    db = project / ".orchestrator" / "sandbox-api.db"
    db.parent.mkdir(parents=True)
    app = SandboxApp(db_path=db)
    settings = ApiSettings(SANDBOX_BASE_URL, SANDBOX_BUSINESS_UNIT, StaticTokenAuth(SANDBOX_TOKEN), allow_insecure=True)
    with PardotClient(settings, transport=inprocess_transport(app)) as client:
        send = ListEmailSend(
            campaign_id=1001, list_ids=(2001,), email_template_id=4001, scheduled_time=app.now() + timedelta(days=30)
        )
        email_id = client.send_list_email(send).id
    app.close()
    code, out, err = run(project, "stats", str(email_id))
    assert code == 0, out + err
    assert re.search(r"sent\s+│?\s*—", out), out
    code, out, _ = run(project, "stats", str(email_id), "--format", "json")
    assert json.loads(out)["sent"] is None


def test_sandbox_emails_masks_addresses_unless_revealed_and_stays_readable_piped(tmp_path: Path) -> None:
    project = applied_example(tmp_path / "p")
    code, out, err = run(project, "sandbox", "emails")
    assert code == 0, out + err
    assert HIDDEN_ADDRESS not in out
    assert any(f"demo-followup/{MASKED_ADDRESS}" in line for line in out.splitlines()), out
    assert max(len(line) for line in out.splitlines()) <= 160
    code, out, _ = run(project, "--reveal-emails", "sandbox", "emails")
    assert any(f"demo-followup/{HIDDEN_ADDRESS}" in line for line in out.splitlines()), out
