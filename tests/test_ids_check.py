"""Ids checked when planning, and ``orchestrator ids`` listing what Pardot has.

Unknown campaign, list, suppression-list and user ids used to pass ``plan`` and fail at apply
with error 38 (half an apply done). Now plan reads each id from Pardot (the sandbox here, over
the real client) once per run and reports unknown ones at the campaign file.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import yaml

from orchestrator.config import load_config
from orchestrator.pardot.client import PardotClient
from orchestrator.pardot.settings import ApiSettings, StaticTokenAuth
from orchestrator.planning import plan_project
from orchestrator.project import load_project
from orchestrator.sandbox import (
    SANDBOX_BASE_URL,
    SANDBOX_BUSINESS_UNIT,
    SANDBOX_TOKEN,
    SandboxApp,
    inprocess_transport,
)
from orchestrator.state.models import StateSnapshot
from tests.helpers import NOW, copy_example, fixed_clock, run


def _break_ids(project: Path) -> None:
    """Point the sandbox environment's names at ids the sandbox does not have."""
    path = project / "orchestrator.yaml"
    text = path.read_text()
    text = text.replace("campaigns: {spring-2027: 1001}", "campaigns: {spring-2027: 1999}")
    text = text.replace("competitors: 2003}", "competitors: 2999}")
    text = text.replace("users: {jane: 3001}", "users: {jane: 3999}")
    path.write_text(text)


def test_plan_reports_unknown_ids_at_the_campaign_file(tmp_path: Path) -> None:
    project = copy_example(tmp_path / "p")
    _break_ids(project)
    code, out, err = run(project, "plan", "--now", NOW)
    text = out + err
    assert code == 1, text
    assert re.search(r"spring-sale\.yaml:\d+:\d+: error: campaign 1999 does not exist in Pardot", text), text
    assert re.search(r"spring-sale\.yaml:\d+:\d+: error: suppression list 2999 does not exist in Pardot", text), text
    assert re.search(r"welcome-back\.yaml:\d+:\d+: error: user 3999 does not exist in Pardot", text), text
    assert "`orchestrator ids campaigns` lists the ones that do" in text


def test_plan_with_known_ids_has_no_id_problem(tmp_path: Path) -> None:
    project = copy_example(tmp_path / "p")
    code, out, err = run(project, "plan", "--now", NOW)
    assert "does not exist in Pardot" not in out + err
    assert code in (0, 2, 3), out + err


def test_each_id_is_read_once_per_run(tmp_path: Path) -> None:
    """The weekly newsletter has many occurrences; its campaign and lists cost one read each."""
    project_dir = copy_example(tmp_path / "p")
    _break_ids(project_dir)
    paths: list[str] = []
    app = SandboxApp()
    settings = ApiSettings(SANDBOX_BASE_URL, SANDBOX_BUSINESS_UNIT, StaticTokenAuth(SANDBOX_TOKEN), allow_insecure=True)

    def trace(request: httpx.Request, response: httpx.Response | None) -> None:
        paths.append(request.url.path)

    with PardotClient(settings, transport=inprocess_transport(app), tracer=trace) as client:
        project = load_project(project_dir)
        env = load_config(project_dir).environment("sandbox")
        now = fixed_clock()()
        plan = plan_project(project, env, StateSnapshot(lineage="test", serial=0), now, client=client)
    reads = [p for p in paths if "/do/read/id/" in p and "emailTemplate" not in p]
    assert len(reads) == len(set(reads)), reads
    assert "/api/campaign/version/4/do/read/id/1999" in reads
    assert any("campaign 1999 does not exist" in str(d) for d in plan.problems)
    app.close()


def test_ids_yaml_is_an_ids_block_that_the_config_accepts(tmp_path: Path) -> None:
    project = copy_example(tmp_path / "p")
    code, out, err = run(project, "ids", "--format", "yaml")
    assert code == 0, out + err
    doc = yaml.safe_load(out)
    assert doc["ids"]["campaigns"] == {"spring-2027": 1001}
    assert doc["ids"]["lists"] == {"newsletter": 2001, "customers": 2002, "competitors": 2003}
    assert doc["ids"]["users"] == {"jane-doe": 3001}
    assert doc["ids"]["templates"] == {"welcome": 4001, "follow-up": 4002}
    assert "lists only templates enabled for one-to-one emails" in out
    # Pasted as printed (comments included) under an environment, the block validates.
    pasted = "".join(f"    {line}\n" for line in out.splitlines())
    (project / "orchestrator.yaml").write_text(
        "version: 1\nenvironments:\n  sandbox:\n    api: {kind: sandbox}\n    state: {backend: sqlite}\n" + pasted
    )
    assert load_config(project).environment("sandbox").ids["users"] == {"jane-doe": 3001}


def test_ids_table_and_templates_note(tmp_path: Path) -> None:
    project = copy_example(tmp_path / "p")
    code, out, _ = run(project, "ids", "templates")
    assert code == 0
    assert "welcome" in out and "4001" in out
    assert "Content > Email Templates" in out
    code, out, _ = run(project, "templates", "list")
    assert code == 0 and "lists only templates enabled for one-to-one emails" in out


def test_plan_time_reads_run_side_by_side(tmp_path: Path) -> None:
    """Templates and ids are read concurrently (within the client's in-flight limit), so a plan
    waits for about one round trip rather than one per id. The sandbox counts requests in flight;
    its 30 ms latency makes reads made one after another never overlap."""
    from orchestrator.sandbox.config import FaultConfig

    project_dir = copy_example(tmp_path / "p")
    app = SandboxApp(faults=FaultConfig(latency_ms=30))
    settings = ApiSettings(
        SANDBOX_BASE_URL, SANDBOX_BUSINESS_UNIT, StaticTokenAuth(SANDBOX_TOKEN), allow_insecure=True, max_in_flight=3
    )
    with PardotClient(settings, transport=inprocess_transport(app)) as client:
        project = load_project(project_dir)
        env = load_config(project_dir).environment("sandbox")
        plan = plan_project(project, env, StateSnapshot(lineage="test", serial=0), fixed_clock()(), client=client)
    with httpx.Client(transport=inprocess_transport(app), base_url=SANDBOX_BASE_URL) as inspect:
        stats = inspect.get("/_sandbox/stats").json()
    assert not plan.errored, plan.problems
    assert stats["requests"] >= 4, stats  # a campaign, lists, a user and templates
    assert stats["max_in_flight"] == 3, stats  # side by side, and never above the client's limit


def test_a_failing_read_stops_the_reads_not_yet_started() -> None:
    """An unexpected error (or Ctrl-C) in one read surfaces at once; the queued reads are dropped
    instead of all being made first."""
    import threading

    import pytest

    from orchestrator.desired import SendKind
    from orchestrator.plan import Action, Change
    from orchestrator.remote_checks import prefetch

    release = threading.Event()
    started: list[int] = []

    class Client:
        def read_campaign(self, campaign_id: int) -> object:
            raise RuntimeError("a bug in the client")

        def read_list(self, list_id: int) -> object:
            started.append(list_id)
            release.wait(timeout=0.5)
            return object()

        def read_template(self, template_id: int, *, archived: bool = False) -> object:
            return object()

        def read_user(self, user_id: int) -> object:
            return object()

    payload = {"campaign_id": 1001, "list_ids": list(range(2001, 2021))}
    change = Change(Action.SEND, "a@now", "a", SendKind.LIST, None, "UTC", payload, "fingerprint")
    with pytest.raises(RuntimeError, match="a bug in the client"):
        prefetch(Client(), [change], max_workers=5)  # type: ignore[arg-type]
    release.set()
    assert len(started) <= 5, started  # at most the reads the five workers had already started
