"""The ``actions/github-script`` steps of the workflows, run by Node.js against a fake GitHub API.

``actions/github-script`` runs a step's script as the body of an async function with ``github``
(an Octokit), ``context``, ``core`` and ``require`` in scope; the harness below does the same with
in-memory fakes, so the sticky-comment logic and the reviewed-plan look-up are tested for real,
offline.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator.outdir import claim
from orchestrator.redact import mask_emails
from tests.helpers import NOW, copy_example, run

REPO = Path(__file__).resolve().parent.parent
WORKFLOWS = REPO / "examples" / "github-actions"
MARKER = "<!-- orchestrator-plan -->"

HARNESS = r"""
const fs = require('fs');
const state = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const script = fs.readFileSync(process.argv[3], 'utf8');
const calls = [];
// Comments: one list for every issue, or a map from issue number to its list.
const commentsOf = (n) => (Array.isArray(state.comments) ? state.comments : (state.comments || {})[String(n)] || []);
const github = {
  // Octokit's paginate returns the items of every page (for workflow runs: the runs).
  paginate: async (method, params) => (await method(params)).data,
  rest: {
    issues: {
      listComments: async (p) => { calls.push(['list', p.issue_number]); return { data: commentsOf(p.issue_number) }; },
      updateComment: async (p) => { calls.push(['update', p.comment_id, p.body]); },
      createComment: async (p) => { calls.push(['create', p.issue_number, p.body]); },
      deleteComment: async (p) => { calls.push(['delete', p.comment_id]); },
    },
    pulls: {
      list: async (p) => { calls.push(['pulls', p]); return { data: state.pulls || [] }; },
    },
    repos: {
      listPullRequestsAssociatedWithCommit: async (p) => {
        calls.push(['prs', p.commit_sha]);
        return { data: (state.prs_by_commit || {})[p.commit_sha] || state.prs || [] };
      },
    },
    actions: {
      listWorkflowRuns: async (p) => { calls.push(['runs', p]); return { data: state.runs }; },
      getReviewsForRun: async (p) => { calls.push(['reviews', p.run_id]); return { data: state.reviews || [] }; },
    },
  },
};
const context = {
  repo: { owner: 'o', repo: 'r' }, issue: { number: 7 }, sha: 'sha0', runId: 4242, serverUrl: 'https://github.com',
  ...state.context,
};
const outputs = {};
let failed = null;
const core = {
  setOutput: (k, v) => { outputs[k] = String(v); },
  setFailed: (m) => { failed = m; },
  info: () => {},
  warning: () => {},
};
// actions/github-script v9 passes getOctokit too: a script redeclaring it fails, as it would there.
const getOctokit = () => github;
const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;
const run = new AsyncFunction('require', 'github', 'context', 'core', 'getOctokit', script);
run(require, github, context, core, getOctokit)
  .then(() => console.log(JSON.stringify({ calls, outputs, failed })))
  .catch((e) => { console.error(e); process.exit(1); });
"""


def script_of(workflow: str, step_name: str) -> str:
    document = yaml.safe_load((WORKFLOWS / workflow).read_text())
    (step,) = [s for job in document["jobs"].values() for s in job["steps"] if s.get("name") == step_name]
    assert step["uses"].startswith("actions/github-script@")
    return str(step["with"]["script"])


def run_script(
    tmp_path: Path, script: str, state: dict[str, Any], env: dict[str, str] | None = None, cwd: Path | None = None
) -> dict[str, Any]:
    """Run ``script`` as github-script would, in ``cwd`` (the workspace; default ``tmp_path``)."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js is needed to test the workflows' github-script steps (apt-get install nodejs)")
    files = [tmp_path / "harness.js", tmp_path / "state.json", tmp_path / "script.js"]
    for path, text in zip(files, (HARNESS, json.dumps(state), script), strict=True):
        path.write_text(text)
    done = subprocess.run(
        [node, *map(str, files)],
        cwd=cwd or tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_example(tmp_path / "checkout")


def bot(comment_id: int, body: str) -> dict[str, Any]:
    return {"id": comment_id, "body": body, "user": {"login": "github-actions[bot]", "type": "Bot"}}


def part(number: int, total: int, text: str) -> str:
    return f"{MARKER}\n<!-- orchestrator-plan part {number}/{total} -->\n{text}\n"


COMMENT = "Post the plan as a sticky comment"
PR_CONTEXT = {"payload": {"pull_request": {"head": {"sha": "abc123"}}}}


def comment_script() -> str:
    return script_of("orchestrator-plan.yml", COMMENT)


def comment_folder(tmp_path: Path) -> Path:
    """Where the workflow's plan step writes the parts: ``$RUNNER_TEMP/plan-comment``."""
    return tmp_path / "runner-temp" / "plan-comment"


def write_parts(folder: Path, bodies: dict[int, str]) -> None:
    """Parts written the way ``plan --out-dir`` writes them: a folder it owns, and a manifest."""
    with claim(folder, option="--out-dir") as out:
        for number, body in bodies.items():
            out.write_text(f"plan-{number}.md", body)
        out.finish()


def post(tmp_path: Path, comments: list[dict[str, Any]], previews_url: str | None = None) -> dict[str, Any]:
    plan_file = tmp_path / "runner-temp" / "plan.json"
    if not plan_file.exists():  # a plan that sends nothing: no review record
        plan_file.parent.mkdir(parents=True, exist_ok=True)
        plan_file.write_text('{"changes": []}')
    env = {"PLAN_COMMENT": str(comment_folder(tmp_path)), "PLAN_FILE": str(plan_file)}
    if previews_url:
        env["PREVIEWS_URL"] = previews_url
    return run_script(tmp_path, comment_script(), {"comments": comments, "context": PR_CONTEXT}, env=env)


def posted(result: dict[str, Any]) -> list[str]:
    return [c[2] for c in result["calls"] if c[0] in ("create", "update")]


def test_the_sticky_comment_is_updated_in_place_and_stale_parts_are_deleted(tmp_path: Path) -> None:
    write_parts(comment_folder(tmp_path), {1: part(1, 2, "new one"), 2: part(2, 2, "new two")})
    comments = [
        bot(11, part(1, 3, "old one")),
        {"id": 12, "body": f"I quote {MARKER} here", "user": {"login": "alice", "type": "User"}},
        bot(13, part(2, 3, "old two")),
        bot(14, part(3, 3, "old three")),
        bot(15, "an unrelated bot comment"),
    ]
    result = post(tmp_path, comments)
    changes = [c for c in result["calls"] if c[0] != "list"]
    assert changes == [
        ["update", 11, part(1, 2, "new one")],
        ["update", 13, part(2, 2, "new two")],
        ["delete", 14],
    ]
    assert result["failed"] is None


def test_the_first_plan_creates_its_comments_in_the_manifests_order(tmp_path: Path) -> None:
    write_parts(comment_folder(tmp_path), {n: part(n, 10, f"text {n}") for n in range(1, 11)})
    result = post(tmp_path, [])
    created = [c for c in result["calls"] if c[0] == "create"]
    assert [c[2] for c in created] == [part(n, 10, f"text {n}") for n in range(1, 11)]
    assert all(c[1] == 7 for c in created)


def test_the_first_part_links_the_previews_artifact(tmp_path: Path) -> None:
    write_parts(comment_folder(tmp_path), {1: part(1, 2, "text 1"), 2: part(2, 2, "text 2")})
    url = "https://github.com/o/r/actions/runs/1/artifacts/2"
    created = posted(post(tmp_path, [], previews_url=url))
    assert f"[Previews of every send in this plan]({url})" in created[0]
    assert created[0].startswith(part(1, 2, "text 1")) and created[1] == part(2, 2, "text 2")


def test_without_a_plan_the_old_plan_comment_is_replaced_not_left_standing(tmp_path: Path) -> None:
    comments = [bot(21, part(1, 2, "an old plan")), bot(22, part(2, 2, "its second part"))]
    result = post(tmp_path, comments)
    changes = [c for c in result["calls"] if c[0] != "list"]
    assert changes[0][:2] == ["update", 21] and "No plan for abc123" in changes[0][2]
    assert changes[0][2].startswith(MARKER) and changes[1:] == [["delete", 22]]


PLANTED = part(1, 1, "Plan: nothing to do. cc @octocat")


def plant(folder: Path, *names: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_text(PLANTED)


def test_a_planted_part_beside_the_tools_parts_is_never_posted(project: Path, tmp_path: Path) -> None:
    """The reproduction: a committed ``plan-comment/plan-0.md`` was posted ahead of the real plan."""
    folder = comment_folder(tmp_path)
    code, stdout, stderr = run(project, "plan", "--format", "markdown", "--out-dir", str(folder), "--now", NOW)
    assert code == 0, stdout + stderr
    written = (folder / "plan-1.md").read_text()
    plant(folder, "plan-0.md", "plan-2.md", "plan-10.md")
    plant(tmp_path / "plan-comment", "plan-0.md")  # the checkout (the script's working folder)
    result = post(tmp_path, [])
    assert posted(result) == [written] and result["failed"] is None


def test_without_a_manifest_planted_parts_are_never_posted(tmp_path: Path) -> None:
    """Validation failed, so no plan was written: only the note is posted, never a planted file."""
    plant(comment_folder(tmp_path), "plan-0.md", "plan-1.md")
    plant(tmp_path / "plan-comment", "plan-0.md")  # the checkout (the script's working folder)
    bodies = posted(post(tmp_path, []))
    assert len(bodies) == 1 and "No plan for abc123" in bodies[0] and "octocat" not in bodies[0]


@pytest.mark.parametrize(
    "tamper",
    ["changed", "unlisted-name", "link"],
)
def test_a_part_that_is_not_what_the_tool_wrote_stops_the_post(tmp_path: Path, tamper: str) -> None:
    folder = comment_folder(tmp_path)
    write_parts(folder, {1: part(1, 2, "one"), 2: part(2, 2, "two")})
    if tamper == "changed":
        (folder / "plan-2.md").write_text(PLANTED)
    elif tamper == "unlisted-name":
        manifest = json.loads((folder / "manifest.json").read_text())
        manifest["files"][1]["path"] = "../../planted.md"
        (folder / "manifest.json").write_text(json.dumps(manifest))
    else:
        (tmp_path / "planted.md").write_text(part(2, 2, "two"))  # the same bytes, through a link
        (folder / "plan-2.md").unlink()
        (folder / "plan-2.md").symlink_to(tmp_path / "planted.md")
    result = post(tmp_path, [])
    bodies = posted(result)
    assert len(bodies) == 1 and "No plan for abc123" in bodies[0]
    assert result["failed"] and "the plan comment is not posted" in result["failed"]


# --- the review record and the deploy's labels (issue 18) ---------------------------------------


def digest(key: str, fingerprint: str) -> str:
    """What a review record holds for one change: its key and payload fingerprint, hashed together."""
    return hashlib.sha256(f"{key}\n{fingerprint}".encode()).hexdigest()


def planned(project: Path, tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """``plan --out`` and the comment parts, written by the real CLI where the workflows write them."""
    temp = tmp_path / "runner-temp"
    temp.mkdir(exist_ok=True)
    code, out, err = run(project, "plan", "--out", str(temp / "plan.json"), "--format", "markdown",
                         "--out-dir", str(temp / "plan-comment"), "--now", NOW)
    assert code == 0, out + err
    return temp, json.loads((temp / "plan.json").read_text())


def sent(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in plan["changes"] if c["action"] in ("send", "schedule")]


RECORD = re.compile(r"<!-- orchestrator-reviewed (\{.*?\}) -->")


def test_the_plan_comment_carries_a_hidden_record_of_every_change_it_shows(project: Path, tmp_path: Path) -> None:
    _, plan = planned(project, tmp_path)
    bodies = posted(post(tmp_path, []))
    (found,) = [m for body in bodies for m in RECORD.findall(body)]
    record = json.loads(found)
    assert record["version"] == 1 and record["head"] == "abc123"
    assert record["changes"] == [digest(c["key"], c["fingerprint"]) for c in sent(plan)]
    assert len(record["changes"]) == 5
    assert "jane.prospect" not in found  # a key can name a prospect: only digests are published


def test_a_long_record_goes_into_parts_of_its_own_each_under_githubs_limit(tmp_path: Path) -> None:
    write_parts(comment_folder(tmp_path), {1: part(1, 1, "x" * 60_000)})
    changes = [{"action": "send", "key": f"k{i}", "fingerprint": f"f{i}"} for i in range(2000)]
    (tmp_path / "runner-temp" / "plan.json").write_text(json.dumps({"changes": changes}))
    bodies = posted(post(tmp_path, []))
    assert len(bodies) == 4 and all(len(b) <= 65536 for b in bodies)
    assert bodies[0].startswith(part(1, 1, "x" * 60_000)) and "orchestrator-reviewed" not in bodies[0]
    digests = [d for body in bodies for found in RECORD.findall(body) for d in json.loads(found)["changes"]]
    assert digests == [digest(c["key"], c["fingerprint"]) for c in changes]


SUMMARY = "Summarize the plan for the approver"


def summarize(tmp_path: Path, temp: Path, state: dict[str, Any]) -> tuple[dict[str, Any], str]:
    summary = tmp_path / "step-summary.md"
    summary.write_text("")
    env = {"PLAN_COMMENT": str(temp / "plan-comment"), "PLAN_FILE": str(temp / "plan.json"),
           "GITHUB_STEP_SUMMARY": str(summary)}
    result = run_script(tmp_path, script_of("orchestrator-deploy.yml", SUMMARY), state, env=env)
    return result, summary.read_text()


def merged_pr(number: int) -> dict[str, Any]:
    return {"number": number, "merged_at": "2026-11-27T10:00:00Z", "base": {"ref": "main"}}


def test_the_deploy_summary_labels_each_change_with_the_pull_request_that_showed_it(
    project: Path, tmp_path: Path
) -> None:
    temp, plan = planned(project, tmp_path)
    changes = sent(plan)

    def record(digests: list[str]) -> str:
        return f"<!-- orchestrator-reviewed {json.dumps({'version': 1, 'changes': digests})} -->"

    comments = {
        "5": [bot(51, part(1, 1, "plan") + record([digest(c["key"], c["fingerprint"]) for c in changes[:3]]))],
        # #6 showed the fourth change with another payload: not the same change.
        "6": [bot(61, record([digest(changes[3]["key"], "another-fingerprint")]))],
        # A person quoting a record proves nothing; neither does an open pull request.
        "7": [{"id": 71, "body": record([digest(changes[3]["key"], changes[3]["fingerprint"])]),
               "user": {"login": "mallory", "type": "User"}}],
        "8": [bot(81, record([digest(changes[4]["key"], changes[4]["fingerprint"])]))],
    }
    pulls = [merged_pr(5), merged_pr(6), merged_pr(7), {**merged_pr(8), "merged_at": None}]
    state = {"pulls": pulls, "comments": comments, "prs": [merged_pr(5)],
             "context": {"sha": "merge5", "runId": 99}}
    result, summary = summarize(tmp_path, temp, state)
    assert result["failed"] is None
    assert result["outputs"] == {"checksum": plan["checksum"], "changes": "true"}
    assert f"**Plan checksum: `{plan['checksum']}`**" in summary
    not_reviewed, reviewed = summary.index("Not reviewed in any pull request (2)"), summary.index("Reviewed in a")
    assert not_reviewed < reviewed  # what needs a human comes first
    for change in changes[:3]:
        shown = mask_emails(change["key"])
        assert f"- `{shown}` ({change['action']}): reviewed in #5\n" in summary
    for change in changes[3:]:
        assert f"- `{change['key']}` ({change['action']}): not reviewed in any pull request\n" in summary
    assert "jane.prospect" not in summary and "j***@example.com#7c86" in summary  # masked as orchestrator masks
    assert summary.count("<!-- orchestrator-plan part 1/1 -->") == 1  # the plan's own Markdown follows
    (comment,) = [c for c in result["calls"] if c[0] == "create"]
    assert comment[1] == 5 and comment[2].startswith("<!-- orchestrator-deploy-plan -->")
    assert "orchestrator-reviewed" not in comment[2] and plan["checksum"] in comment[2]
    assert "https://github.com/o/r/actions/runs/99" in comment[2]


def test_a_deploy_plan_with_nothing_to_send_skips_the_deploy_and_comments_nowhere_without_a_pull_request(
    project: Path, tmp_path: Path
) -> None:
    temp, plan = planned(project, tmp_path)
    plan["changes"] = [c for c in plan["changes"] if c["action"] not in ("send", "schedule")]
    (temp / "plan.json").write_text(json.dumps(plan))
    result, summary = summarize(tmp_path, temp, {"pulls": [], "prs": []})
    assert result["outputs"]["changes"] == "false" and "Nothing to send" in summary
    assert not [c for c in result["calls"] if c[0] == "create"]  # a schedule or a direct push: no pull request


APPROVAL = "Who approved"


@pytest.mark.parametrize(
    ("reviews", "expected"),
    [
        ([], ""),
        ([{"state": "approved", "environments": [{"name": "production"}], "user": {"login": "alice"}},
          {"state": "rejected", "environments": [{"name": "production"}], "user": {"login": "bob"}},
          {"state": "approved", "environments": [{"name": "staging"}], "user": {"login": "carol"}},
          {"state": "approved", "environments": [{"name": "production"}], "user": {"login": "alice"}}], "alice"),
    ],
)
def test_the_approver_comes_from_the_runs_review_history(
    tmp_path: Path, reviews: list[dict[str, Any]], expected: str
) -> None:
    result = run_script(tmp_path, script_of("orchestrator-deploy.yml", APPROVAL), {"reviews": reviews})
    assert result["outputs"] == {"approved-by": expected}
    assert ["reviews", 4242] in result["calls"]  # GET .../actions/runs/{this run}/approvals
