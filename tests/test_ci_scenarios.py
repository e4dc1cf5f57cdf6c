"""Issue 18's scenarios, replayed through the CI kit as GitHub would run it.

Each test uses the simulation of ``tests/test_ci_workflows.py``: the workflows' own ``run:``
scripts and github-script steps, each job in its own git clone, ``orchestrator sandbox serve`` on
loopback as Pardot (the plan jobs hold its read-only token), and one PostgreSQL state with a
SELECT-only role (plan jobs) and a writer role (the deploy job). Each test compares what was sent
(the sandbox's emails) with what the plan comment and the deploy summary showed.

The schedules are set relative to the real clock with margins of hours, never waited on: a saved
plan (``plan --out``) and an apply against a Pardot API refuse a simulated time (``--now``), so
the jobs run at the real time, and the scenario's "later" is a send whose time is already near.

Which scenario of issue 18 each test replays is in its name and docstring; (d) is
``test_a_cancelled_deploy_stops_in_order_and_leaves_no_intent`` and (e)
``test_an_occurrence_that_appears_between_review_and_merge_is_shown_as_not_reviewed``, both in
``tests/test_ci_workflows.py``.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import psycopg
import pytest

from orchestrator.digest import digest
from orchestrator.sandbox import SANDBOX_TOKEN
from tests.test_ci_workflows import (  # noqa: F401  (sandbox_url, state_roles: fixtures)
    BIN,
    DEPLOY_WORKFLOW,
    PLAN_WORKFLOW,
    READ_ONLY_TOKEN,
    GitHub,
    JobRun,
    StateRoles,
    applied_checksum,
    campaign,
    clone,
    commit_files,
    git,
    origin_repository,
    run_job,
    sandbox_url,
    shown_keys,
    state_roles,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(300)]

#: Distinct values for every secret, so a test can tell which credentials went where.
PLAN_SECRET_VALUES = {
    "PLAN_SF_CLIENT_ID": "plan-client-id",
    "PLAN_SF_CLIENT_SECRET": "plan-client-secret",
    "PLAN_SF_REFRESH_TOKEN": READ_ONLY_TOKEN,
}
SEND_SECRET_VALUES = {
    "SF_CLIENT_ID": "send-client-id",
    "SF_CLIENT_SECRET": "send-client-secret",
    "SF_REFRESH_TOKEN": SANDBOX_TOKEN,
}


class Hub(GitHub):
    """The fake GitHub of ``tests/test_ci_workflows.py``, with a pull request's comment kept
    up to date across runs (a push re-runs the plan job, which edits its sticky comment)."""

    url: str = ""

    def pull_request(self, number: int, branch: str, workflow_from: str | None = None) -> JobRun:
        before = list(self.comments.get(str(number), []))
        self.comments[str(number)] = before
        job = super().pull_request(number, branch, workflow_from)
        by_id = {c["id"]: c for c in self.comments[str(number)]}
        for call in job.calls:
            if call[0] == "update":
                by_id[call[1]]["body"] = call[2]
            elif call[0] == "delete":
                self.comments[str(number)] = [c for c in self.comments[str(number)] if c["id"] != call[1]]
        return job

    def deploy(self, sha: str, artifacts: Path, approver: str = "alice", attempt: int = 1) -> JobRun:
        """The deploy job of a run for ``sha``, approved; ``attempt`` 2 or more is a re-run."""
        runner = clone(self.origin, self.folder("deploy") / "checkout", sha)
        reviews = [{"state": "approved", "environments": [{"name": "production"}], "user": {"login": approver}}]
        return run_job(runner / ".github" / "workflows" / DEPLOY_WORKFLOW, "deploy", runner, self.secrets_send,
                       artifacts, {"reviews": reviews, "context": {"sha": sha}},
                       extra_env={"GITHUB_SHA": sha, "GITHUB_RUN_ATTEMPT": str(attempt)})

    def comment(self, number: int) -> str:
        """What the pull request's page shows from the bot, all comments together."""
        return "\n".join(c["body"] for c in self.comments.get(str(number), []))

    def sent(self) -> dict[str, dict[str, Any]]:
        """The emails Pardot (the sandbox) holds and has not deleted, by name (the send key)."""
        response = httpx.get(f"{self.url}/_sandbox/emails", timeout=10)
        response.raise_for_status()
        return {str(e["name"]): e for e in response.json()["emails"] if not e["deleted_at"]}

    def text_of(self, name: str) -> str:
        """The text part Pardot (the sandbox) received for email ``name``, from its database."""
        with sqlite3.connect(f"file:{self.work / 'sandbox-api.db'}?mode=ro", uri=True) as conn:
            (row,) = conn.execute("SELECT text FROM emails WHERE name = ?", (name,)).fetchall()
        return str(row[0])


@pytest.fixture
def hub(tmp_path: Path, sandbox_url: str, state_roles: StateRoles) -> Hub:  # noqa: F811
    origin = origin_repository(tmp_path / "origin", sandbox_url)
    config = origin / "orchestrator.yaml"
    config.write_text(config.read_text().replace("newsletter: 2001,", "newsletter: 2001, customers: 2002,"))
    git(origin, "commit", "-q", "-am", "the customers list")
    found = Hub(
        origin, tmp_path,
        secrets_plan={**PLAN_SECRET_VALUES, "PLAN_STATE_DSN": state_roles.reader},
        secrets_send={**SEND_SECRET_VALUES, "ORCHESTRATOR_STATE_DSN": state_roles.writer},
    )
    found.url = sandbox_url
    return found


def failure(job: JobRun) -> list[tuple[str, int, str]]:
    return [(s.name, s.code, s.output) for s in job.steps]


_SHOWN = re.compile(r"<summary><code>(?:\+ send|&gt; schedule)</code> <code>([^<]+)</code></summary>\n\n```\n(.*?)```",
                    flags=re.DOTALL)


def shown_sends(markdown: str) -> dict[str, dict[str, Any]]:
    """The sends a plan's Markdown (comment or summary) shows in detail: subject and list ids."""
    shown = {}
    for key, block in _SHOWN.findall(markdown):
        fields = dict(re.findall(r"^(\w+):\s+(.*)$", block, flags=re.MULTILINE))
        lists = sorted(int(i) for i in re.findall(r"\((\d+)\)", fields.get("lists", "")))
        shown[key] = {"subject": fields.get("subject"), "lists": lists}
    return shown


def what_went_out(hub: Hub) -> dict[str, dict[str, Any]]:
    """The sandbox's emails in the form of :func:`shown_sends`."""
    return {name: {"subject": e["subject"], "lists": sorted(e["list_ids"])} for name, e in hub.sent().items()}


def state_tables(dsn: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1"
        ).fetchall()
    return [str(r[0]) for r in rows]


# --- (i) a one-line workflow edit ------------------------------------------------------------------


def test_i_a_pull_request_that_applies_from_its_own_workflow_sends_nothing(
    hub: Hub, state_roles: StateRoles  # noqa: F811
) -> None:
    """(i) A pull request adds ``orchestrator apply --auto-approve`` to its own plan step.

    Its job holds only the plan credentials: the SELECT-only role cannot create the state (the
    first apply of the repository), and when the pull request also moves the state to a file of
    its own, the Pardot user cannot send (error 46). Its comment shows the send as waiting for
    a deploy, and that is what happened: nothing was sent.
    """
    plan_step = 'orchestrator plan --out "$RUNNER_TEMP/plan.json"'
    workflow = (hub.origin / ".github" / "workflows" / PLAN_WORKFLOW).read_text()
    assert plan_step in workflow
    evil = workflow.replace(plan_step, f"orchestrator apply --auto-approve\n          {plan_step}")
    commit_files(hub.origin, "pr1", {"campaigns/rogue.yaml": campaign("rogue", "Sent before review"),
                                     f".github/workflows/{PLAN_WORKFLOW}": evil}, "send from the PR")
    pr1 = hub.pull_request(1, "pr1")
    assert "permission denied" in pr1.step("plan").output.lower(), failure(pr1)
    assert hub.sent() == {} and state_tables(state_roles.writer) == []  # no state tables either
    # The comment shows a send that waits for a deploy, and nothing went out: what it says is true.
    assert shown_sends(hub.comment(1)) == {"rogue@now": {"subject": "Sent before review", "lists": [2001]}}

    # The same pull request keeps its own state file, out of the checkout's CI detection: the
    # apply gets as far as Pardot, and Pardot refuses the planner's sends.
    validate = "run: orchestrator validate --all-envs --format github"
    assert validate in workflow
    local_state = workflow.replace(
        validate, "run: env -u CI -u GITHUB_ACTIONS -u GITHUB_WORKSPACE orchestrator apply --auto-approve || true"
    )
    config = (hub.origin / "orchestrator.yaml").read_text()
    commit_files(hub.origin, "pr1", {
        f".github/workflows/{PLAN_WORKFLOW}": local_state,
        "orchestrator.yaml": config.replace("state: {backend: postgres, dsn_env: ORCHESTRATOR_STATE_DSN}",
                                            "state: {backend: sqlite, path: .orchestrator/mine.db}"),
    }, "send from the PR, with a state of its own", base="pr1")
    again = hub.pull_request(1, "pr1")
    output = again.step("validate").output
    assert "failed" in output and "46" in output, failure(again)
    assert "sent rogue@now" not in output
    assert hub.sent() == {} and state_tables(state_roles.writer) == []


def approve(hub: Hub, sha: str, artifacts: Path, approver: str = "alice", attempt: int = 1) -> JobRun:
    """The deploy job of a run, approved at the ``production`` gate (``attempt`` > 1: a re-run)."""
    return hub.deploy(sha, artifacts, approver=approver, attempt=attempt)


def assert_applied(job: JobRun) -> JobRun:
    """The deploy job applied its plan (exit 0); else the failure shows every step's output."""
    assert "apply" in job.ran() and job.step("apply").code == 0, failure(job)
    return job


# --- (b) a commit pushed after the review -------------------------------------------------------------


def holiday(subject: str, lists: str) -> str:
    return campaign("holiday", subject).replace("lists: [newsletter]", f"lists: [{lists}]")


def test_b_a_commit_pushed_after_the_review_goes_out_only_as_the_deploy_summary_showed_it(hub: Hub) -> None:
    """(b) Reviewed: v1 "Happy holidays" to the newsletter. Pushed after the approval and merged
    before any plan ran on it: v2 "LAST CHANCE" to newsletter and customers.

    The deploy plan shows v2, labelled "not reviewed in any pull request" (the review record
    holds v1's payload), in the summary and on the pull request; the approver sees v2, and what
    goes out is exactly what that summary showed, never something only the review saw.
    """
    v1: dict[str, Any] = {"subject": "Happy holidays", "lists": [2001]}
    v2: dict[str, Any] = {"subject": "LAST CHANCE: 50% off everything", "lists": [2001, 2002]}
    commit_files(hub.origin, "pr1", {"campaigns/holiday.yaml": holiday(v1["subject"], "newsletter")}, "v1")
    pr1 = hub.pull_request(1, "pr1")
    assert not pr1.failed, failure(pr1)
    assert shown_sends(hub.comment(1)) == {"holiday@now": v1}

    commit_files(hub.origin, "pr1", {"campaigns/holiday.yaml": holiday(v2["subject"], "newsletter, customers")},
                 "v2, after the approval", base="pr1")
    merged = hub.merge(1, "pr1")
    plan, artifacts = hub.deploy_plan(merged)
    assert shown_keys(plan.summary) == {"holiday@now": "not reviewed in any pull request"}
    assert shown_sends(plan.summary) == {"holiday@now": v2}
    (on_pr,) = [c for c in plan.calls if c[0] == "create"]
    assert on_pr[1] == 1 and "`holiday@now` (send): not reviewed in any pull request" in on_pr[2]
    assert hub.sent() == {}  # nothing before the gate

    deployed = approve(hub, merged, artifacts)
    assert deployed.step("apply").code == 0, failure(deployed)
    assert applied_checksum(deployed.step("apply").output) == plan.job_outputs["checksum"]
    assert what_went_out(hub) == shown_sends(plan.summary) == {"holiday@now": v2}


# --- (h) re-running an old run --------------------------------------------------------------------------


def test_h_re_running_an_old_run_never_sends_a_campaign_main_has_since_deleted(hub: Hub) -> None:
    """(h) Run 1 planned ``doomed`` and waited at the gate; pull request #2 deleted it and added
    ``kept``; run 2 was approved and sent ``kept``. Re-running run 1 (its deploy job, or the
    whole run, which checks out the old commit) sends nothing: ``doomed`` never goes out."""
    commit_files(hub.origin, "pr1", {"campaigns/doomed.yaml": campaign("doomed", "Withdrawn")}, "doomed")
    assert not hub.pull_request(1, "pr1").failed
    m1 = hub.merge(1, "pr1")
    run1_plan, run1 = hub.deploy_plan(m1)
    assert shown_keys(run1_plan.summary) == {"doomed@now": "reviewed in #1"}

    git(hub.origin, "checkout", "-q", "-B", "pr2", "main")
    git(hub.origin, "rm", "-q", "campaigns/doomed.yaml")
    git(hub.origin, "commit", "-q", "-m", "withdraw doomed")
    commit_files(hub.origin, "pr2", {"campaigns/kept.yaml": campaign("kept", "Still on")}, "kept", base="pr2")
    assert not hub.pull_request(2, "pr2").failed
    m2 = hub.merge(2, "pr2")
    run2_plan, run2 = hub.deploy_plan(m2)
    assert shown_keys(run2_plan.summary) == {"kept@now": "reviewed in #2"}
    assert_applied(approve(hub, m2, run2))
    assert what_went_out(hub) == shown_sends(run2_plan.summary)

    # As a first attempt (run 1 approved only now), the saved plan no longer matches the state.
    late_approval = approve(hub, m1, run1)
    assert late_approval.step("apply").code == 1, failure(late_approval)
    assert "Explain a failed apply" in late_approval.ran()
    # "Re-run all jobs" of run 1: the plan job checks out m1 again; the deploy refuses before the apply.
    rerun_plan, rerun = hub.deploy_plan(m1)
    assert shown_keys(rerun_plan.summary) == {"doomed@now": "reviewed in #1"}
    rerun_whole = approve(hub, m1, rerun, attempt=2)
    assert rerun_whole.step("current").code == 1 and f"main is now at {m2}" in rerun_whole.step("current").output
    assert "apply" not in rerun_whole.ran()
    assert list(hub.sent()) == ["kept@now"]


def test_h_re_running_an_old_run_after_a_deploy_with_nothing_to_send_sends_nothing(hub: Hub) -> None:
    """(h), when nothing was applied since: run 1 planned ``doomed`` and its deploy was
    rejected; main then deleted ``doomed`` in a run with nothing to send (its deploy job
    skipped, so no apply recorded a newer commit). Run 1's commit still descends from the last
    applied one and its plan still matches the state, so only the workflow can tell: a re-run
    (attempt 2) of a commit that is no longer main's head is refused before the apply."""
    commit_files(hub.origin, "pr1", {"campaigns/doomed.yaml": campaign("doomed", "Withdrawn")}, "doomed")
    m1 = hub.merge(1, "pr1")
    _, run1 = hub.deploy_plan(m1)
    git(hub.origin, "checkout", "-q", "-B", "pr2", "main")
    git(hub.origin, "rm", "-q", "campaigns/doomed.yaml")
    git(hub.origin, "commit", "-q", "-m", "withdraw doomed")
    m2 = hub.merge(2, "pr2")
    run2_plan, _ = hub.deploy_plan(m2)
    assert run2_plan.job_outputs["changes"] == "false"  # the deploy job is skipped
    rerun = approve(hub, m1, run1, attempt=2)
    assert rerun.step("current").code == 1 and "Run the workflow on main" in rerun.step("current").output
    assert "apply" not in rerun.ran() and hub.sent() == {}, failure(rerun)


# --- (k) a decision from a file -------------------------------------------------------------------------


def minutes_from_now(minutes: int) -> str:
    """A schedule time this many minutes from the real clock (negative: in the past), to the minute."""
    moment = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=minutes)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def at(name: str, subject: str, when: str) -> str:
    return campaign(name, subject).replace("schedule: {now: true}", f'schedule: {{at: "{when}"}}')


def forged(artifacts: Path, into: Path, **changes: Any) -> Path:
    """A copy of a run's saved plan with ``changes`` made and its checksum recomputed (a plain
    digest: anyone who can write the file can recompute it)."""
    document = json.loads((artifacts / "orchestrator-plan").read_text())
    document.update(changes)
    document["checksum"] = digest({k: v for k, v in document.items() if k != "checksum"})
    into.mkdir(parents=True, exist_ok=True)
    (into / "orchestrator-plan").write_text(json.dumps(document))
    return into


def test_k_a_missed_send_is_never_sent_late_on_a_files_say_so(hub: Hub) -> None:
    """(k) A send whose time passed 5 minutes ago: the comment and the summary show it as
    missed. No saved plan can make the deploy send it late (``allow_late`` set in the artifact,
    or a plan saved with ``--allow-late``): the deploy passes no decision flag. What goes out is
    the rest of the plan, and the apply names the missed send."""
    when = minutes_from_now(-5)
    late_key = f"late@{when}"
    commit_files(hub.origin, "pr1", {"campaigns/late.yaml": at("late", "Flash sale ends at noon", when),
                                     "campaigns/ontime.yaml": campaign("ontime", "On time")}, "two sends")
    pr1 = hub.pull_request(1, "pr1")
    assert pr1.outputs["plan"]["exitcode"] == "3" and pr1.step("gate").code == 3  # red: needs a human
    assert f"`{late_key}`" in hub.comment(1) and "missed" in hub.comment(1)
    assert list(shown_sends(hub.comment(1))) == ["ontime@now"]

    merged = hub.merge(1, "pr1")  # merged anyway
    plan, artifacts = hub.deploy_plan(merged)
    assert shown_keys(plan.summary) == {"ontime@now": "reviewed in #1"}
    assert f"`{late_key}`" in plan.summary and "missed" in plan.summary
    plan_document = json.loads((artifacts / "orchestrator-plan").read_text())
    assert plan_document["allow_late"] is False

    flagged = approve(hub, merged, forged(artifacts, hub.folder("forged"), allow_late=True))
    assert flagged.step("apply").code == 1 and "--allow-late" in flagged.step("apply").output, failure(flagged)
    assert hub.sent() == {}

    deployed = approve(hub, merged, artifacts)
    output = deployed.step("apply").output
    assert applied_checksum(output) == plan.job_outputs["checksum"]
    assert late_key in output, output  # named, not dropped
    assert what_went_out(hub) == shown_sends(plan.summary) == {"ontime@now": {"subject": "On time", "lists": [2001]}}


# --- (j) credentials to the pull request's host -------------------------------------------------------


class Collector(BaseHTTPRequestHandler):
    """A host a pull request names: it records every request, and answers none usefully."""

    seen: ClassVar[list[str]] = []

    def _record(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace")
        type(self).seen.append(f"{self.command} {self.path}\n{self.headers}\n{body}")
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"error": "invalid_grant"}')

    do_GET = do_POST = _record

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[tuple[str, list[str]]]:
    seen: list[str] = []
    handler = type("ThisCollector", (Collector,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


TOKEN_AUTH = "auth: {method: token, token_env: SF_REFRESH_TOKEN}"


def test_j_a_pull_request_that_moves_the_credentials_gets_only_the_read_only_ones(
    hub: Hub, collector: tuple[str, list[str]], state_roles: StateRoles  # noqa: F811
) -> None:
    """(j) A pull request changes only the auth block of ``orchestrator.yaml``: first to hand
    the state DSN over as a client secret (refused before any connection), then to log in at a
    host of its own (loopback here, which the tool allows). That host gets the plan job's
    read-only credentials and nothing else; the deploy of another pull request, meanwhile, uses
    main's settings and sends no credential there. Nothing the pull request showed was sent."""
    url, seen = collector
    config = (hub.origin / "orchestrator.yaml").read_text()
    assert TOKEN_AUTH in config
    moved = ("auth: {method: refresh_token, client_id_env: SF_CLIENT_ID, client_secret_env: %s,\n"
             f"                 refresh_token_env: SF_REFRESH_TOKEN, login_url: '{url}'}}")
    commit_files(hub.origin, "pr1", {
        "orchestrator.yaml": config.replace(TOKEN_AUTH, moved % "ORCHESTRATOR_STATE_DSN"),
        # A cap on recipients: the plan counts the audience, so it talks to Pardot.
        "campaigns/offer.yaml": campaign("offer", "An offer") + "policy: {max_recipients: 100000}\n",
    }, "the DSN as a client secret")
    pr1 = hub.pull_request(1, "pr1")
    assert pr1.step("validate").code != 0 and "ORCHESTRATOR_STATE_DSN" in pr1.step("validate").output, failure(pr1)
    assert seen == [] and "No plan for" in hub.comment(1)

    commit_files(hub.origin, "pr1", {"orchestrator.yaml": config.replace(TOKEN_AUTH, moved % "SF_CLIENT_SECRET")},
                 "log in elsewhere", base="pr1")
    again = hub.pull_request(1, "pr1")
    assert again.step("plan").code != 0 and seen, failure(again)
    got = "\n".join(seen)
    assert all(value in got for value in PLAN_SECRET_VALUES.values())  # the read-only ones: they cannot send
    assert not any(value in got for value in SEND_SECRET_VALUES.values())
    assert state_roles.reader not in got and state_roles.writer not in got
    assert "No plan for" in hub.comment(1) and shown_sends(hub.comment(1)) == {}

    # Meanwhile pull request #2 is merged and deployed: main's settings, main's hosts.
    seen.clear()
    commit_files(hub.origin, "pr2", {"campaigns/news.yaml": campaign("news", "News")}, "news")
    assert not hub.pull_request(2, "pr2").failed
    merged = hub.merge(2, "pr2")
    plan, artifacts = hub.deploy_plan(merged)
    assert_applied(approve(hub, merged, artifacts))
    assert seen == [] and what_went_out(hub) == shown_sends(plan.summary) == {
        "news@now": {"subject": "News", "lists": [2001]}}


# --- (g) merges in quick succession --------------------------------------------------------------------


def test_g_three_quick_merges_each_deploy_sends_only_what_its_own_summary_showed(hub: Hub) -> None:
    """(g) Three pull requests merged within a second. GitHub runs one deploy run at a time and
    keeps one pending: run 1 (the first merge) plans and waits at the gate, run 2 is replaced by
    run 3 before it starts. Run 1's deploy sends pull request #1's change only, although main
    already holds all three; run 3 shows and sends #2's and #3's, each labelled with its own
    pull request. No send goes out under another pull request's approval."""
    for number in (1, 2, 3):
        news = {f"campaigns/news-{number}.yaml": campaign(f"news-{number}", f"News {number}")}
        commit_files(hub.origin, f"pr{number}", news, f"news {number}")
        assert not hub.pull_request(number, f"pr{number}").failed
    m1, _m2, m3 = (hub.merge(number, f"pr{number}") for number in (1, 2, 3))

    run1_plan, run1 = hub.deploy_plan(m1)  # started on the first push, before the others landed
    assert shown_keys(run1_plan.summary) == {"news-1@now": "reviewed in #1"}
    deployed = approve(hub, m1, run1)
    assert deployed.step("apply").code == 0, failure(deployed)
    assert what_went_out(hub) == shown_sends(run1_plan.summary)

    run3_plan, run3 = hub.deploy_plan(m3)  # run 2 was replaced by run 3 while run 1 ran
    assert shown_keys(run3_plan.summary) == {"news-2@now": "reviewed in #2", "news-3@now": "reviewed in #3"}
    assert_applied(approve(hub, m3, run3, approver="bob"))
    assert what_went_out(hub) == shown_sends(run1_plan.summary) | shown_sends(run3_plan.summary)
    assert sorted(hub.sent()) == ["news-1@now", "news-2@now", "news-3@now"]  # sent in parallel: any order


# --- (a) a layout changed by another pull request --------------------------------------------------------


def test_a_a_send_whose_layout_another_merge_changed_is_shown_unreviewed_and_goes_out_as_shown(hub: Hub) -> None:
    """(a) Pull request #1 (``offer``, with the shared footer) was reviewed; #2 changed the
    footer and merged first. #2's deploy plan holds no send of #1's (nothing is held back for a
    later merge to release). When #1 merges, its send carries #2's footer: the deploy summary and
    a comment on #1 label it "not reviewed in any pull request" and show the new footer, and
    what goes out is that text."""
    commit_files(hub.origin, "main", {"campaigns/_footer.txt": "Footer reviewed with the offer"}, "a footer")
    offer = campaign("offer", "Our offer").replace(
        'text: "Hi {{Recipient.FirstName}}.', "text: \"Hi {{Recipient.FirstName}}. {% include '_footer.txt' %}.")
    assert "include" in offer
    commit_files(hub.origin, "pr1", {"campaigns/offer.yaml": offer}, "the offer")
    commit_files(hub.origin, "pr2", {"campaigns/_footer.txt": "Footer of pull request 2"}, "a new footer")
    assert not hub.pull_request(1, "pr1").failed
    assert "+Hi {{Recipient.FirstName}}. Footer reviewed with the offer." in hub.comment(1)
    assert not hub.pull_request(2, "pr2").failed

    m2 = hub.merge(2, "pr2")
    run1_plan, _ = hub.deploy_plan(m2)
    assert run1_plan.job_outputs["changes"] == "false" and shown_keys(run1_plan.summary) == {}

    m1 = hub.merge(1, "pr1")
    run2_plan, run2 = hub.deploy_plan(m1)
    assert shown_keys(run2_plan.summary) == {"offer@now": "not reviewed in any pull request"}
    assert "Footer of pull request 2" in run2_plan.summary and "Footer reviewed" not in run2_plan.summary
    (on_pr,) = [c for c in run2_plan.calls if c[0] == "create"]
    assert on_pr[1] == 1 and "`offer@now` (send): not reviewed in any pull request" in on_pr[2]
    assert_applied(approve(hub, m1, run2))
    assert what_went_out(hub) == shown_sends(run2_plan.summary)
    assert "Footer of pull request 2" in hub.text_of("offer@now")


# --- (c) one send inside the lead time ----------------------------------------------------------------


def test_c_a_send_that_fell_inside_the_lead_time_is_held_alone_and_named(hub: Hub) -> None:
    """(c) Pull request #1 was reviewed with ``soon`` (in 30 minutes) and ``rest`` (on apply).
    Before it merged, #2 raised ``policy.min_lead_time`` to an hour: ``soon`` now falls inside
    it. The deploy plan holds that send alone, with its reason, in the summary; the deploy sends
    the rest, which is what the summary listed, and the apply names the held send by key."""
    when = minutes_from_now(30)
    soon = f"soon@{when}"
    commit_files(hub.origin, "pr1", {"campaigns/soon.yaml": at("soon", "Starts soon", when),
                                     "campaigns/rest.yaml": campaign("rest", "The rest")}, "two sends")
    config = (hub.origin / "orchestrator.yaml").read_text()
    assert "min_lead_time: 10m" in config
    commit_files(hub.origin, "pr2", {"orchestrator.yaml": config.replace("min_lead_time: 10m", "min_lead_time: 1h")},
                 "a longer lead time")
    pr1 = hub.pull_request(1, "pr1")
    assert pr1.outputs["plan"]["exitcode"] == "2", failure(pr1)
    assert sorted(shown_sends(hub.comment(1))) == ["rest@now", soon]

    hub.merge(2, "pr2")
    merged = hub.merge(1, "pr1")
    plan, artifacts = hub.deploy_plan(merged)
    assert plan.outputs["plan"]["exitcode"] == "3"  # needs a human: the held send
    assert shown_keys(plan.summary) == {"rest@now": "reviewed in #1"}
    assert f"`{soon}`" in plan.summary and "min_lead_time" in plan.summary
    deployed = approve(hub, merged, artifacts)
    output = deployed.step("apply").output
    assert soon in output, output
    assert what_went_out(hub) == shown_sends(plan.summary) == {"rest@now": {"subject": "The rest", "lists": [2001]}}


# --- (f2) a send cancelled in Pardot ----------------------------------------------------------------------


def operator(hub: Hub, *args: str) -> subprocess.CompletedProcess[str]:
    """An operator's command in a clone of main, with the deployer's credentials (the runbook)."""
    where = clone(hub.origin, hub.folder("operator") / "checkout", "main")
    env = {"PATH": str(BIN), "HOME": str(where.parent), "NO_COLOR": "1", **hub.secrets_send}
    return subprocess.run([str(BIN / "orchestrator"), "--env", "production", *args], cwd=where, env=env,
                          capture_output=True, text=True, timeout=120)


def test_f2_a_send_cancelled_in_pardot_stays_cancelled_through_an_unrelated_deploy(hub: Hub) -> None:
    """(f2) ``promo`` was scheduled by a deploy, then cancelled: deleted in Pardot, and marked
    with ``state skip`` as the runbook says, while its file is still on main. The next, unrelated
    pull request's comment and deploy summary show it as skipped and never re-schedule it; the
    deploy sends only the unrelated change, as its summary showed. A later change of the file
    ends the skip."""
    when = minutes_from_now(180)
    promo = f"promo@{when}"
    commit_files(hub.origin, "pr1", {"campaigns/promo.yaml": at("promo", "Promo", when)}, "promo")
    assert not hub.pull_request(1, "pr1").failed
    m1 = hub.merge(1, "pr1")
    plan1, run1 = hub.deploy_plan(m1)
    assert shown_keys(plan1.summary) == {promo: "reviewed in #1"}
    assert_applied(approve(hub, m1, run1))
    assert hub.sent()[promo]["scheduled_time"]

    cancel = f"{hub.url}/_sandbox/emails/{hub.sent()[promo]['id']}"  # deleted in Pardot's UI
    httpx.delete(cancel, headers={"Authorization": f"Bearer {SANDBOX_TOKEN}"}, timeout=10).raise_for_status()
    skipped = operator(hub, "state", "skip", promo, "--reason", "cancelled: wrong discount")
    assert skipped.returncode == 0, skipped.stdout + skipped.stderr
    assert hub.sent() == {}

    commit_files(hub.origin, "pr2", {"campaigns/news.yaml": campaign("news", "News")}, "unrelated")
    pr2 = hub.pull_request(2, "pr2")
    assert not pr2.failed, failure(pr2)
    assert list(shown_sends(hub.comment(2))) == ["news@now"] and "wrong discount" in hub.comment(2)
    m2 = hub.merge(2, "pr2")
    plan2, run2 = hub.deploy_plan(m2)
    assert shown_keys(plan2.summary) == {"news@now": "reviewed in #2"} and "wrong discount" in plan2.summary
    assert_applied(approve(hub, m2, run2))
    assert what_went_out(hub) == shown_sends(plan2.summary) == {"news@now": {"subject": "News", "lists": [2001]}}

    # The skip lasts until the file's content changes: a pull request that changes it shows it again.
    commit_files(hub.origin, "pr3", {"campaigns/promo.yaml": at("promo", "Promo, the right discount", when)},
                 "promo again")
    assert not hub.pull_request(3, "pr3").failed
    assert shown_sends(hub.comment(3)) == {promo: {"subject": "Promo, the right discount", "lists": [2001]}}
