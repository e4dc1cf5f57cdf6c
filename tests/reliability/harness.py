"""A project of N list sends pointed at a real loopback sandbox server, and ways to drive it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from click.testing import CliRunner

from orchestrator.cli.main import cli
from orchestrator.sandbox import SANDBOX_BUSINESS_UNIT, SANDBOX_TOKEN

TOKEN_VAR = "RELIABILITY_SANDBOX_TOKEN"


@dataclass
class Project:
    root: Path
    url: str
    keys: list[str]

    def env(self) -> dict[str, str]:
        return {**os.environ, TOKEN_VAR: SANDBOX_TOKEN}

    def cli(self, *args: str) -> tuple[int, str]:
        """Run the CLI in this process (fast); returns exit code and all output."""
        result = CliRunner(env={TOKEN_VAR: SANDBOX_TOKEN}).invoke(cli, ["--project", str(self.root), *args])
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code, result.output

    def spawn_apply(self, *extra: str) -> subprocess.Popen[bytes]:
        """``orchestrator apply --auto-approve`` in its own process (so it can be killed).

        Output goes to ``apply.log`` in the project, not a pipe: a full pipe would stall the child.
        """
        log = (self.root / "apply.log").open("ab")
        try:
            return subprocess.Popen(
                [sys.executable, "-m", "orchestrator", "--project", str(self.root), "apply", "--auto-approve", *extra],
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        finally:
            log.close()

    def log(self) -> str:
        path = self.root / "apply.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def emails(self) -> list[dict[str, object]]:
        response = httpx.get(f"{self.url}/_sandbox/emails", timeout=10)
        response.raise_for_status()
        emails: list[dict[str, object]] = response.json()["emails"]
        return emails

    def state(self) -> list[dict[str, object]]:
        code, out = self.cli("state", "list", "--json")
        assert code == 0, out
        document = out[out.index("{") :]  # after any note on stderr (CliRunner mixes them)
        sends: list[dict[str, object]] = __import__("json").loads(document)["sends"]
        return sends


def make_project(
    root: Path,
    url: str,
    count: int,
    *,
    state: str = "sqlite",
    dsn_env: str = "",
    deadline: float = 2,
    version: int = 4,
) -> Project:
    """``count`` list sends ``s000@now``...; each request is given up after ``deadline`` seconds.

    ``state resolve --not-sent`` waits twice the deadline after an intent (the in-flight window),
    so a short deadline keeps the harness's waits short.
    """
    root.mkdir(parents=True, exist_ok=True)
    state_cfg = (
        "{backend: sqlite, path: state.db}" if state == "sqlite" else f"{{backend: postgres, dsn_env: {dsn_env}}}"
    )
    (root / "orchestrator.yaml").write_text(
        "version: 1\ndefault_environment: live\ntimezone: UTC\n"
        "environments:\n  live:\n"
        f"    api: {{kind: pardot, base_url: '{url}', business_unit_id: {SANDBOX_BUSINESS_UNIT}, timeout: {deadline},\n"
        f"          deadline: {deadline}, version: {version},\n"
        f"          auth: {{method: token, token_env: {TOKEN_VAR}}}}}\n"
        f"    state: {state_cfg}\n"
        "    ids: {campaigns: {spring: 1001}, lists: {newsletter: 2001, customers: 2002, competitors: 2003}}\n",
        encoding="utf-8",
    )
    campaigns = root / "campaigns"
    campaigns.mkdir(exist_ok=True)
    keys = []
    for i in range(count):
        name = f"s{i:03d}"
        (campaigns / f"{name}.yaml").write_text(
            f"name: {name}\ncampaign: spring\nlists: [newsletter, customers]\nsuppression_lists: [competitors]\n"
            "sender: {name: Acme, email: news@example.com}\n"
            f"subject: 'Send {i}'\ntext: 'Hello %%first_name%%, unsubscribe: %%unsubscribe%%'\n"
            "schedule: {now: true}\n",
            encoding="utf-8",
        )
        keys.append(f"{name}@now")
    return Project(root, url, keys)


def assert_no_duplicates(project: Project) -> dict[str, int]:
    """Every email name appears at most once in the sandbox; returns name -> email id."""
    names: dict[str, int] = {}
    for email in project.emails():
        name = str(email["name"])
        assert name not in names, f"email {name} was created twice"
        names[name] = int(str(email["id"]))
    return names


def resolve_unknowns(project: Project, *, patience_s: float = 60) -> int:
    """Answer every unknown/intent record from the sandbox's truth, as an operator would from Pardot's UI.

    As the product asks of an operator: "not sent" is only said once the product agrees that no
    request can still land, and the sandbox is read again after every refusal, since the request
    that was in flight may have created the email meanwhile.
    """
    resolved = 0
    for record in project.state():
        if record["status"] not in ("unknown", "intent"):
            continue
        key = str(record["key"])
        give_up = time.monotonic() + patience_s
        while True:
            created = assert_no_duplicates(project)
            args = ["--sent", str(created[key]), "--no-verify"] if key in created else ["--not-sent"]
            code, out = project.cli("state", "resolve", key, *args)
            if code == 0:
                break
            # Not yet settled, or the read of Pardot met an injected fault: try again, as the hint says.
            transient = "may still land" in out or "could not ask Pardot" in out
            assert transient and time.monotonic() < give_up, out
            time.sleep(0.1)
        resolved += 1
    return resolved


LOCK_ID = re.compile(r"orchestrator state unlock ([0-9a-f-]{36})")


def break_dead_lock(project: Project, output: str) -> bool:
    """If ``output`` reports a lock whose holder died, break it as the message says."""
    match = LOCK_ID.search(output)
    if not match or "no longer running" not in output:
        return False
    code, out = project.cli("state", "unlock", match.group(1))
    assert code == 0, out
    return True
