"""The GitHub Actions workflows of the CI kit (issue 9): valid, and doing what they say.

* Every workflow file validates against GitHub's workflow JSON Schema (the copy vendored in
  check-jsonschema, used offline) and carries the safety settings the docs promise.
* The workflows' own ``run:`` steps are executed, in order, as the two jobs would run them, each
  job in its own checkout (a copy of the repository), against ``orchestrator sandbox serve`` on
  loopback and a real PostgreSQL state: two pull requests are planned, then the first merge's
  apply runs while the second merge's apply starts. The sandbox must receive every email once.

Steps that need GitHub itself (checkout, setup-python, installing, the comment and artifact
look-ups of ``actions/github-script``) are played by the test: a checkout is a copy, an artifact
upload/download is a file copy, the installed ``orchestrator`` is this environment's.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import yaml
from click.testing import CliRunner

from orchestrator.cli.main import cli
from orchestrator.sandbox import SANDBOX_BUSINESS_UNIT, SANDBOX_TOKEN
from orchestrator.state import open_store
from tests.postgres_server import PostgresServer

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples" / "github-actions"
SCAFFOLD = REPO / "orchestrator" / "scaffold" / "github"
WORKFLOW_FILES = sorted(EXAMPLES.glob("*.yml")) + sorted(SCAFFOLD.glob("*.yml"))
BIN = Path(sys.executable).parent


def load(path: Path) -> dict[Any, Any]:
    document: dict[Any, Any] = yaml.safe_load(path.read_text())
    # YAML 1.1 (PyYAML) reads the key `on` as True; GitHub reads YAML 1.2.
    document["on"] = document.pop(True, document.get("on"))
    return document


def check_jsonschema(schema: str, *files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", schema, *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
    )


# --- the files ---------------------------------------------------------------------------------


def test_examples_and_init_write_the_same_workflows() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.yml")) == ["orchestrator-apply.yml", "orchestrator-plan.yml"]
    for path in EXAMPLES.glob("*.yml"):
        assert (SCAFFOLD / path.name).read_bytes() == path.read_bytes(), path.name


def test_every_workflow_validates_against_githubs_workflow_schema() -> None:
    for schema in ("vendor.github-workflows", "custom.github-workflows-require-timeout"):
        result = check_jsonschema(schema, *WORKFLOW_FILES)
        assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_catches_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    text = (EXAMPLES / "orchestrator-apply.yml").read_text()
    broken.write_text(text.replace("runs-on: ubuntu-latest", "runs-on: [ubuntu-latest]\n    cancel-in-progress: 3"))
    assert check_jsonschema("vendor.github-workflows", broken).returncode == 1
    no_timeout = tmp_path / "no-timeout.yml"
    no_timeout.write_text(text.replace("    timeout-minutes: 30\n", ""))
    assert check_jsonschema("custom.github-workflows-require-timeout", no_timeout).returncode == 1


def test_the_workflows_promised_safety_settings() -> None:
    plan = load(EXAMPLES / "orchestrator-plan.yml")
    apply = load(EXAMPLES / "orchestrator-apply.yml")
    assert list(plan["on"]) == ["pull_request"] and apply["on"] == {"push": {"branches": ["main"]}}
    assert apply["concurrency"]["cancel-in-progress"] is False and apply["concurrency"]["group"]
    for workflow in (plan, apply):
        (job,) = workflow["jobs"].values()
        assert 0 < job["timeout-minutes"] <= 30
        assert job["env"]["ORCHESTRATOR_STATE_DSN"] == "${{ secrets.ORCHESTRATOR_STATE_DSN }}"
        assert job["env"]["SF_REFRESH_TOKEN"] == "${{ secrets.SF_REFRESH_TOKEN }}"
        for step in job["steps"]:
            assert "${{" not in step.get("run", ""), step  # values come in through env:, never spliced
    runs = [s.get("run", "") for s in apply["jobs"]["apply"]["steps"]]
    assert any("orchestrator apply --auto-approve --reviewed reviewed-plan/plan.json" in r for r in runs)
    comment = next(s for s in plan["jobs"]["plan"]["steps"] if s.get("uses", "").startswith("actions/github-script"))
    assert "<!-- orchestrator-plan -->" in comment["with"]["script"]
    # Nothing is written into the pull request's checkout: every output is under $RUNNER_TEMP,
    # and the comment posts only what orchestrator's manifest lists, hash-checked.
    steps = plan["jobs"]["plan"]["steps"]
    plan_runs = "\n".join(s.get("run", "") for s in steps)
    for option in ("--out", "--out-dir", "--previews"):
        for found in re.findall(rf"{option} (\S+)", plan_runs):
            assert found.startswith('"$RUNNER_TEMP/'), (option, found)
    assert ">" not in plan_runs.replace('>> "$GITHUB_OUTPUT"', "")  # the shell writes no file of its own
    for step in steps:
        if step.get("uses", "").startswith("actions/upload-artifact"):
            assert step["with"]["path"].startswith("${{ runner.temp }}/"), step
        assert "hashFiles" not in step.get("if", ""), step  # hashFiles reads the checkout
    assert comment["env"]["PLAN_COMMENT"] == "${{ runner.temp }}/plan-comment"
    assert "manifest.json" in comment["with"]["script"] and "sha256" in comment["with"]["script"]


# --- a simulated run -----------------------------------------------------------------------------


@dataclass
class StepResult:
    name: str
    code: int
    output: str


@dataclass
class JobRun:
    """The result of running one job's steps in one checkout (and its own ``$RUNNER_TEMP``)."""

    checkout: Path
    temp: Path
    steps: list[StepResult] = field(default_factory=list)
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    #: What the comment step posted through the fake GitHub API (create and update bodies).
    posted: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(s.code != 0 for s in self.steps)

    def step(self, name: str) -> StepResult:
        return next(s for s in self.steps if s.name == name)


_EXPR = re.compile(r"\$\{\{\s*secrets\.([A-Z_]+)\s*\}\}")
_STEP_OUTPUT = re.compile(r"\$\{\{\s*steps\.([\w-]+)\.outputs\.([\w-]+)\s*\}\}")
_RUNNER_TEMP = re.compile(r"\$\{\{\s*runner\.temp\s*\}\}")


def _condition(expression: str | None, failed: bool, outcomes: dict[str, str], job: JobRun) -> bool:
    """The few ``if:`` forms the kit's workflows use, evaluated like GitHub would."""
    if expression is None:
        return not failed
    text = re.sub(r"hashFiles\('([^']+)'\) != ''", lambda m: str((job.checkout / m.group(1)).exists()), expression)
    text = re.sub(
        r"steps\.(\w+)\.outcome == '(\w+)'", lambda m: str(outcomes.get(m.group(1)) == m.group(2)), text
    )
    text = re.sub(
        r"steps\.([\w-]+)\.outputs\.([\w-]+) == '([^']*)'",
        lambda m: str(job.outputs.get(m.group(1), {}).get(m.group(2), "") == m.group(3)),
        text,
    )
    text = text.replace("always()", "True").replace("failure()", str(failed)).replace("success()", str(not failed))
    text = text.replace("&&", " and ").replace("||", " or ")
    assert re.fullmatch(r"[\sA-Za-z()]*", text) and set(text.split()) <= {"True", "False", "and", "or"}, expression
    return bool(eval(text))  # only True/False/and/or remain (checked above)


def _expand(value: object, job: JobRun) -> str:
    """``${{ runner.temp }}`` and ``${{ steps.ID.outputs.NAME }}`` as the runner fills them in."""
    text = _RUNNER_TEMP.sub(str(job.temp), str(value))
    return _STEP_OUTPUT.sub(lambda m: job.outputs.get(m.group(1), {}).get(m.group(2), ""), text)


def _read_outputs(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def run_job(
    workflow: Path,
    checkout: Path,
    secrets: dict[str, str],
    artifacts: Path,
    github: dict[str, Any] | None = None,
) -> JobRun:
    """Run the single job of ``workflow`` in ``checkout`` as a runner would, step by step.

    With ``github`` (the fake API's state: existing comments, the event), the comment step's
    ``actions/github-script`` runs too, in Node.js against the fake API of
    ``tests/test_ci_github_scripts.py``; what it posted is in ``JobRun.posted``.
    """
    document = load(workflow)
    (job,) = document["jobs"].values()
    result = JobRun(checkout, checkout.parent / f"{checkout.name}-runner-temp")
    result.temp.mkdir()
    env = {"PATH": f"{BIN}{os.pathsep}/usr/bin:/bin", "HOME": str(checkout), "CI": "true", "LANG": "C.UTF-8"}
    for name, value in {**document.get("env", {}), **job.get("env", {})}.items():
        env[name] = _EXPR.sub(lambda m: secrets[m.group(1)], str(value))
        assert "${{" not in env[name], (name, value)
    env["GITHUB_WORKSPACE"] = str(checkout)
    env["RUNNER_TEMP"] = str(result.temp)
    outcomes: dict[str, str] = {}
    for number, step in enumerate(job["steps"]):
        name = step.get("id") or step.get("name") or f"step-{number}"
        if not _condition(step.get("if"), result.failed, outcomes, result):
            continue
        uses = step.get("uses", "")
        step_env = {**env, **{k: _expand(v, result) for k, v in step.get("env", {}).items()}}
        if uses.startswith("actions/upload-artifact"):
            source = Path(_expand(step["with"]["path"], result))
            source = source if source.is_absolute() else checkout / source
            if source.is_dir():  # the previews folder
                shutil.copytree(source, artifacts / step["with"]["name"], dirs_exist_ok=True)
            else:
                assert source.is_file(), f"{name}: nothing to upload"
                shutil.copy(source, artifacts / step["with"]["name"])
            result.steps.append(StepResult(name, 0, ""))
        elif uses.startswith("actions/download-artifact"):
            folder = checkout / step["with"]["path"]
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copy(artifacts / step["with"]["name"], folder / "plan.json")
            result.steps.append(StepResult(name, 0, ""))
        elif uses.startswith("actions/github-script") and github is not None:
            from tests.test_ci_github_scripts import run_script

            scratch = checkout.parent / f"{checkout.name}-node"
            scratch.mkdir(exist_ok=True)
            done = run_script(scratch, str(step["with"]["script"]), github, env=step_env, cwd=checkout)
            result.posted = [c[2] for c in done["calls"] if c[0] in ("create", "update")]
            result.steps.append(StepResult(name, 1 if done["failed"] else 0, str(done["failed"] or "")))
        elif uses or step.get("id") == "install":
            continue  # checkout, setup-python, other github-script steps, pip install: played by the test
        else:
            output_file = result.temp.parent / f"{checkout.name}-output-{number}"
            proc = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                cwd=checkout,
                env={**step_env, "GITHUB_OUTPUT": str(output_file)},
                capture_output=True,
                text=True,
                timeout=300,
            )
            result.outputs[name] = _read_outputs(output_file)
            outcomes[name] = "success" if proc.returncode == 0 else "failure"
            # continue-on-error: the step's failure does not fail the job (its outcome still shows).
            code = 0 if step.get("continue-on-error") else proc.returncode
            result.steps.append(StepResult(name, code, proc.stdout + proc.stderr))
    return result


@pytest.fixture
def sandbox_url(tmp_path: Path) -> Iterator[str]:
    """``orchestrator sandbox serve`` on loopback, slow enough (1.5 s per call) that applies overlap."""
    process = subprocess.Popen(
        [str(BIN / "orchestrator"), "sandbox", "serve", "--port", "0", "--latency-ms", "1500",
         "--db", str(tmp_path / "sandbox-api.db")],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
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


@pytest.fixture
def state_dsn(postgres_server: PostgresServer) -> str:
    name = f"ci_kit_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_server.dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return postgres_server.dsn_for(name)


def campaign(name: str, subject: str) -> str:
    return (
        f"name: {name}\ncampaign: example\nlists: [newsletter]\nsuppression_lists: [competitors]\n"
        "sender: {name: Example News, email: news@example.com}\n"
        f"subject: {json.dumps(subject)}\n"
        'text: "Hi {{Recipient.FirstName}}. Unsubscribe: %%unsubscribe%%"\n'
        "schedule: {now: true}\n"
    )


def origin_repository(root: Path, url: str) -> Path:
    """``orchestrator init --ci github`` plus a production environment on the loopback sandbox."""
    result = CliRunner().invoke(cli, ["init", str(root), "--ci", "github"])
    assert result.exit_code == 0, result.output
    config = root / "orchestrator.yaml"
    # The workflows hand Pardot credentials over as SF_* secrets; the sandbox takes a static
    # token, so this production environment reads it from SF_REFRESH_TOKEN.
    config.write_text(
        config.read_text()
        + "  production:\n"
        + f"    api: {{kind: pardot, base_url: '{url}', business_unit_id: {SANDBOX_BUSINESS_UNIT}, timeout: 10,\n"
        + "          auth: {method: token, token_env: SF_REFRESH_TOKEN}}\n"
        + "    state: {backend: postgres, dsn_env: ORCHESTRATOR_STATE_DSN}\n"
        + "    ids: {campaigns: {example: 1001}, lists: {newsletter: 2001, competitors: 2003}}\n"
        + "    vars: {site_url: https://www.example.com}\n"
    )
    return root


def checkout(origin: Path, dest: Path) -> Path:
    """A fresh checkout of the repository as it is now (a runner never shares a workspace)."""
    shutil.copytree(origin, dest, ignore=shutil.ignore_patterns(".orchestrator"))
    return dest


def emails(url: str) -> list[str]:
    response = httpx.get(f"{url}/_sandbox/emails", timeout=10)
    response.raise_for_status()
    return [str(e["name"]) for e in response.json()["emails"]]


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.timeout(400)
def test_pull_request_then_push_workflows_send_each_email_once(
    tmp_path: Path, sandbox_url: str, state_dsn: str
) -> None:
    secrets = {
        "SF_CLIENT_ID": "unused-by-the-sandbox",
        "SF_CLIENT_SECRET": "unused-by-the-sandbox",
        "SF_REFRESH_TOKEN": SANDBOX_TOKEN,
        "ORCHESTRATOR_STATE_DSN": state_dsn,
    }
    plan_workflow = tmp_path / "origin" / ".github" / "workflows" / "orchestrator-plan.yml"
    apply_workflow = plan_workflow.with_name("orchestrator-apply.yml")
    base = origin_repository(tmp_path / "origin", sandbox_url)
    (base / "campaigns" / "welcome.yaml").unlink()  # the repository starts without campaigns
    main = checkout(base, tmp_path / "main-0")

    # Two pull requests from the same main: #1 adds twenty campaigns, #2 adds one more.
    pr1 = checkout(main, tmp_path / "pr1")
    first_batch = [f"news-{i:02d}" for i in range(20)]
    for name in first_batch:
        (pr1 / "campaigns" / f"{name}.yaml").write_text(campaign(name, f"Issue {name}"))
    pr2 = checkout(main, tmp_path / "pr2")
    (pr2 / "campaigns" / "launch.yaml").write_text(campaign("launch", "We launched"))

    artifacts = {n: tmp_path / f"artifacts-{n}" for n in ("pr1", "pr2", "pr3")}
    for folder in artifacts.values():
        folder.mkdir()
    for pr, name in ((pr1, "pr1"), (pr2, "pr2")):
        job = run_job(
            plan_workflow, checkout(pr, tmp_path / f"runner-{name}"), secrets, artifacts[name], PULL_REQUEST
        )
        assert not job.failed, [(s.name, s.code, s.output) for s in job.steps]
        assert [s.name for s in job.steps] == [
            "validate", "plan", "annotate", "previews", "upload-previews", "Post the plan as a sticky comment",
            "Keep the reviewed plan for the apply workflow", "gate",
        ]
        # Previews of every send the plan makes, uploaded for the comment's link (screenshots
        # need the runner's Chrome; without it the HTML and text previews are still there).
        previews = artifacts[name] / "orchestrator-previews"
        assert (previews / "index.html").is_file() and list(previews.rglob("preview.html"))
        assert job.outputs["plan"]["exitcode"] == "2"  # changes, nothing for a human
        comment = (job.temp / "plan-comment" / "plan-1.md").read_text()
        assert comment.startswith("<!-- orchestrator-plan -->\n") and job.posted == [comment]
        assert (job.temp / "plan.json").stat().st_mode & 0o077 == 0  # owner-only
        assert not (job.checkout / "plan.json").exists() and not (job.checkout / "plan-comment").exists()
    assert emails(sandbox_url) == []  # planning sends nothing

    # Merge #1 and push: its apply runs (slowly: 20 sends, 5 in flight, 1.5 s per API call)...
    merged1 = checkout(pr1, tmp_path / "main-1")
    merged2 = checkout(merged1, tmp_path / "main-2")
    shutil.copy(pr2 / "campaigns" / "launch.yaml", merged2 / "campaigns" / "launch.yaml")
    jobs: dict[str, JobRun] = {}

    def push(label: str, merged: Path, artifact: Path) -> None:
        jobs[label] = run_job(apply_workflow, checkout(merged, tmp_path / f"runner-{label}"), secrets, artifact)

    first = threading.Thread(target=push, args=("push1", merged1, artifacts["pr1"]))
    first.start()
    state = open_store("postgres", dsn=state_dsn)
    try:
        deadline = time.monotonic() + 120
        while state.current_lock() is None and time.monotonic() < deadline and first.is_alive():
            time.sleep(0.05)
        assert state.current_lock() is not None, "the first apply never took the state lock"
    finally:
        state.close()
    # ... and #2 is merged and pushed while it runs.
    second = threading.Thread(target=push, args=("push2", merged2, artifacts["pr2"]))
    second.start()
    first.join(timeout=300)
    second.join(timeout=300)
    assert not first.is_alive() and not second.is_alive()

    apply1, apply2 = jobs["push1"].step("apply"), jobs["push2"].step("apply")
    assert apply1.code == 0, apply1.output
    assert apply2.code == 0, apply2.output
    assert "Waiting up to 900 s for the state lock" in apply2.output  # it really ran during the first
    received = Counter(emails(sandbox_url))
    assert set(received) == {f"{n}@now" for n in [*first_batch, "launch"]}
    assert all(count == 1 for count in received.values()), received
    assert [s.name for s in jobs["push1"].steps] == ["Download the reviewed plan", "apply"]

    # A pull request that needs a human: the plan check fails with exit 3, the comment says why.
    pr3 = checkout(merged2, tmp_path / "pr3")
    changed = pr3 / "campaigns" / "launch.yaml"
    changed.write_text(campaign("launch", "We launched (fixed typo)"))
    job = run_job(plan_workflow, checkout(pr3, tmp_path / "runner-pr3"), secrets, artifacts["pr3"])
    assert job.failed and job.step("gate").code == 3
    assert "::error title=orchestrator plan::the plan needs a human" in job.step("gate").output
    annotate = job.step("annotate").output
    assert "::error file=campaigns/launch.yaml,title=orchestrator plan (production)%3A blocked::launch@now" in annotate
    comment = (job.temp / "plan-comment" / "plan-1.md").read_text()
    assert "#### :warning: Needs a human (1)" in comment and "`launch@now`" in comment

    # A push nobody reviewed (a direct commit on main after #2) sends nothing: held, exit 3.
    direct = checkout(merged2, tmp_path / "main-3")
    (direct / "campaigns" / "sneaky.yaml").write_text(campaign("sneaky", "Not reviewed"))
    job = run_job(apply_workflow, checkout(direct, tmp_path / "runner-push3"), secrets, artifacts["pr2"])
    assert job.step("apply").code == 3, job.step("apply").output
    assert "Explain a failed apply" in [s.name for s in job.steps]
    assert "sneaky@now" not in emails(sandbox_url)
    assert all(count == 1 for count in Counter(emails(sandbox_url)).values())


# --- a hostile pull request (issue 17) ----------------------------------------------------------

PLANTED = "<!-- orchestrator-plan -->\n<!-- orchestrator-plan part 1/1 -->\nPlan: nothing to do. cc @octocat\n"
SECRETS = {name: "unused-by-the-built-in-sandbox" for name in
           ("SF_CLIENT_ID", "SF_CLIENT_SECRET", "SF_REFRESH_TOKEN", "ORCHESTRATOR_STATE_DSN")}
PULL_REQUEST = {"comments": [], "context": {"payload": {"pull_request": {"head": {"sha": "head42"}}}}}


def sandbox_repository(root: Path) -> Path:
    """``orchestrator init --ci github`` with ``production`` on the built-in sandbox (no server, no PostgreSQL)."""
    result = CliRunner().invoke(cli, ["init", str(root), "--ci", "github"])
    assert result.exit_code == 0, result.output
    config = root / "orchestrator.yaml"
    config.write_text(
        config.read_text()
        + "  production:\n"
        + "    api: {kind: sandbox}\n"
        + "    state: {backend: sqlite, path: .orchestrator/production.db}\n"
        + "    ids: {campaigns: {example: 1001}, lists: {newsletter: 2001, competitors: 2003}}\n"
        + "    vars: {site_url: https://www.example.com}\n"
    )
    return root


def hostile(checkout: Path, outside: Path) -> None:
    """What a pull request can commit: a comment part of its own, and links out of the checkout."""
    (checkout / "plan-comment").mkdir()
    (checkout / "plan-comment" / "plan-0.md").write_text(PLANTED)
    (checkout / "previews").symlink_to(outside, target_is_directory=True)
    (checkout / "plan-exitcode").symlink_to(outside / "victim.txt")


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "outside-the-checkout"
    folder.mkdir()
    (folder / "victim.txt").write_text("not the workflow's")
    return folder


def test_a_pull_request_cannot_plant_the_comment_or_make_the_job_write_outside(tmp_path: Path, outside: Path) -> None:
    origin = sandbox_repository(tmp_path / "origin")
    runner = checkout(origin, tmp_path / "runner")
    hostile(runner, outside)
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    job = run_job(origin / ".github" / "workflows" / "orchestrator-plan.yml", runner, SECRETS, artifacts, PULL_REQUEST)
    assert not job.failed, [(s.name, s.code, s.output) for s in job.steps]
    assert job.outputs["plan"]["exitcode"] == "2"
    written = json.loads((job.temp / "plan-comment" / "manifest.json").read_text())["files"]
    assert job.posted == [(job.temp / "plan-comment" / entry["path"]).read_text() for entry in written]
    assert all("octocat" not in body for body in job.posted) and "welcome@now" in job.posted[0]
    assert sorted(p.name for p in outside.iterdir()) == ["victim.txt"]
    assert (outside / "victim.txt").read_text() == "not the workflow's"
    assert (artifacts / "orchestrator-plan").is_file()
    assert (artifacts / "orchestrator-previews" / "index.html").is_file()


def test_when_validation_fails_only_the_note_is_posted_never_a_planted_part(tmp_path: Path, outside: Path) -> None:
    origin = sandbox_repository(tmp_path / "origin")
    runner = checkout(origin, tmp_path / "runner")
    hostile(runner, outside)
    (runner / "campaigns" / "broken.yaml").write_text("name: broken\nsubject: [unclosed\n")
    job = run_job(
        origin / ".github" / "workflows" / "orchestrator-plan.yml", runner, SECRETS, tmp_path, PULL_REQUEST
    )
    assert job.step("validate").code != 0 and "plan" not in job.outputs
    assert len(job.posted) == 1 and "No plan for head42" in job.posted[0] and "octocat" not in job.posted[0]
    assert (outside / "victim.txt").read_text() == "not the workflow's"


def test_docs_name_every_secret_the_workflows_use_and_every_exit_code() -> None:
    from orchestrator.cli.exitcodes import ExitCode

    docs = (REPO / "docs" / "ci.md").read_text()
    used = set()
    for path in EXAMPLES.glob("*.yml"):
        used |= set(_EXPR.findall(path.read_text()))
    assert used == {"SF_CLIENT_ID", "SF_CLIENT_SECRET", "SF_REFRESH_TOKEN", "ORCHESTRATOR_STATE_DSN"}
    for name in used:
        assert f"| `{name}` |" in docs, name
    for code in ExitCode:
        assert f"| {int(code)} |" in docs, code
    assert "0600" in docs and ".gitignore" in docs and "state resolve KEY --sent EMAIL_ID" in docs
