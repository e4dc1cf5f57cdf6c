"""The ``actions/github-script`` steps of the workflows, run by Node.js against a fake GitHub API.

``actions/github-script`` runs a step's script as the body of an async function with ``github``
(an Octokit), ``context``, ``core`` and ``require`` in scope; the harness below does the same with
in-memory fakes, so the sticky-comment logic and the reviewed-plan look-up are tested for real,
offline.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator.outdir import claim
from tests.report.helpers import NOW, copy_example, run

REPO = Path(__file__).resolve().parent.parent
WORKFLOWS = REPO / "examples" / "github-actions"
MARKER = "<!-- orchestrator-plan -->"

HARNESS = r"""
const fs = require('fs');
const state = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const script = fs.readFileSync(process.argv[3], 'utf8');
const calls = [];
const github = {
  // Octokit's paginate returns the items of every page (for workflow runs: the runs).
  paginate: async (method, params) => (await method(params)).data,
  rest: {
    issues: {
      listComments: async (p) => { calls.push(['list', p.issue_number]); return { data: state.comments }; },
      updateComment: async (p) => { calls.push(['update', p.comment_id, p.body]); },
      createComment: async (p) => { calls.push(['create', p.issue_number, p.body]); },
      deleteComment: async (p) => { calls.push(['delete', p.comment_id]); },
    },
    repos: {
      listPullRequestsAssociatedWithCommit: async (p) => {
        calls.push(['prs', p.commit_sha]);
        return { data: state.prs };
      },
    },
    actions: {
      listWorkflowRuns: async (p) => { calls.push(['runs', p]); return { data: state.runs }; },
    },
  },
};
const context = { repo: { owner: 'o', repo: 'r' }, issue: { number: 7 }, ...state.context };
const outputs = {};
let failed = null;
const core = { setOutput: (k, v) => { outputs[k] = v; }, setFailed: (m) => { failed = m; }, info: () => {} };
const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;
new AsyncFunction('require', 'github', 'context', 'core', script)(require, github, context, core)
  .then(() => console.log(JSON.stringify({ calls, outputs, failed })))
  .catch((e) => { console.error(e); process.exit(1); });
"""


def script_of(workflow: str, step_name: str) -> str:
    document = yaml.safe_load((WORKFLOWS / workflow).read_text())
    (job,) = document["jobs"].values()
    (step,) = [s for s in job["steps"] if s.get("name") == step_name]
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
    env = {"PLAN_COMMENT": str(comment_folder(tmp_path))}
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


FIND = "Find the reviewed plan of the merged pull request"
PUSH_CONTEXT = {"sha": "merge999", "ref": "refs/heads/main"}


def test_the_apply_finds_the_latest_finished_plan_run_of_the_merged_pull_request(tmp_path: Path) -> None:
    prs = [
        {"number": 3, "merged_at": None, "base": {"ref": "main"}, "head": {"sha": "open3"}},
        {"number": 5, "merged_at": "2026-12-01T09:00:00Z", "base": {"ref": "main"}, "head": {"sha": "head5"}},
    ]
    runs = [
        {"id": 100, "run_number": 8, "status": "completed", "html_url": "u100"},
        {"id": 101, "run_number": 9, "status": "completed", "html_url": "u101"},
        {"id": 102, "run_number": 10, "status": "in_progress", "html_url": "u102"},
    ]
    state = {"prs": prs, "runs": runs, "context": PUSH_CONTEXT}
    result = run_script(tmp_path, script_of("orchestrator-apply.yml", FIND), state)
    assert result["failed"] is None and result["outputs"] == {"run-id": "101"}
    (query,) = [c[1] for c in result["calls"] if c[0] == "runs"]
    assert query["workflow_id"] == "orchestrator-plan.yml" and query["head_sha"] == "head5"
    assert query["event"] == "pull_request"


@pytest.mark.parametrize(
    ("prs", "runs", "why"),
    [
        ([], [], "is not the merge of a pull request"),
        ([{"number": 5, "merged_at": "x", "base": {"ref": "release"}, "head": {"sha": "h"}}], [], "not the merge"),
        ([{"number": 5, "merged_at": "x", "base": {"ref": "main"}, "head": {"sha": "h"}}], [], "no finished"),
    ],
)
def test_a_push_without_a_reviewed_plan_sends_nothing(
    tmp_path: Path, prs: list[dict[str, Any]], runs: list[dict[str, Any]], why: str
) -> None:
    state = {"prs": prs, "runs": runs, "context": PUSH_CONTEXT}
    result = run_script(tmp_path, script_of("orchestrator-apply.yml", FIND), state)
    assert result["failed"] and why in result["failed"] and "nothing" in result["failed"]
    assert result["outputs"] == {}
