"""Hostile pull requests, one folder an attack (tests/hostile_prs/): the pull-request workflow's own
commands run on the attacker's checkout with canary secrets in the environment.

See tests/hostile_prs/README.md for what each case may hold. Every command runs as CI runs it: the
installed console script (never ``python -m`` from inside the checkout, which would import a
committed package), the project given with ``--project``, outputs under the runner's temporary
folder, and every proxy variable pointing at a loopback counting server, so any request the tool
should not make is counted there instead of leaving the machine.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.preview.counting_server import CountingServer, counting_servers

CASES_DIR = Path(__file__).parent / "hostile_prs"
CASES = sorted(p.name for p in CASES_DIR.iterdir() if p.is_dir() and p.name != "base")
ORCHESTRATOR = str(Path(sys.executable).with_name("orchestrator"))

#: The secrets CI holds, as canaries: none may show up anywhere.
CANARIES = {
    "SF_CLIENT_ID": "canary-client-id-5c1f7e",
    "SF_CLIENT_SECRET": "canary-client-secret-9a8b7c",
    "SF_REFRESH_TOKEN": "canary-refresh-token-3d2e1f",
    "ORCHESTRATOR_STATE_DSN": "postgresql://reader:canary-db-password-77aa@127.0.0.1:1/orchestrator",
}
CANARY_FRAGMENTS = ("canary-client-id", "canary-client-secret", "canary-refresh-token", "canary-db-password")
#: Workflow commands only the tool's own annotations may print (`::error file=...` from
#: `--format github`); anything else at a line start, or `##[` anywhere, is forged.
FORGED = re.compile(r"^\s*::(?!(error|warning|notice) file=[^:]*::)|##\[", re.MULTILINE)
HIDDEN = re.compile("[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff\u061c]")


@dataclass
class Run:
    command: tuple[str, ...]
    code: int
    output: str


def _lay_out(case: str, root: Path, outside: Path, counter: CountingServer) -> Path:
    checkout = root / "checkout"
    shutil.copytree(CASES_DIR / "base", checkout)

    def fill(text: str) -> str:
        return (
            text.replace("{counter}", f"127.0.0.1:{counter.port}")
            .replace("{port}", str(counter.port))
            .replace("{outside}", str(outside))
        )

    files = CASES_DIR / case / "files"
    if files.is_dir():
        for source in sorted(files.rglob("*")):
            if source.is_file():
                copy = checkout / source.relative_to(files)
                copy.parent.mkdir(parents=True, exist_ok=True)
                copy.write_text(fill(source.read_text(encoding="utf-8")), encoding="utf-8")
    links = CASES_DIR / case / "links.txt"
    if links.is_file():
        for line in links.read_text(encoding="utf-8").splitlines():
            if "->" not in line:
                continue
            name, target = (part.strip() for part in fill(line).split("->", 1))
            link = checkout / name
            link.parent.mkdir(parents=True, exist_ok=True)
            if link.is_dir() and not link.is_symlink():
                shutil.rmtree(link)
            link.symlink_to(target)
    return checkout


def _outside(root: Path) -> Path:
    outside = root / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("must survive\n", encoding="utf-8")
    (outside / "secret.yaml").write_text(f"name: x\nsubject: {CANARIES['SF_CLIENT_SECRET']}\n", encoding="utf-8")
    return outside


def _snapshot(folder: Path) -> dict[str, bytes]:
    """Every regular file under ``folder``, links neither followed nor read (they are the attack)."""
    found = {}
    for top, _dirs, names in os.walk(folder, followlinks=False):
        for name in names:
            path = Path(top) / name
            if not path.is_symlink():
                found[str(path.relative_to(folder))] = path.read_bytes()
    return found


def _workflow(checkout: Path, runner_temp: Path, counter: CountingServer) -> list[Run]:
    """The pull-request workflow's steps (orchestrator-plan.yml), as CI runs them."""
    proxy = f"http://127.0.0.1:{counter.port}"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(runner_temp / "home"),
        "ORCHESTRATOR_CACHE_DIR": str(runner_temp / "cache"),
        "ORCHESTRATOR_CHROMIUM": str(runner_temp / "no-browser"),  # HTML previews only: fast
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "RUNNER_TEMP": str(runner_temp),
        **{name: proxy for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy")},
        **CANARIES,
    }
    plan = str(runner_temp / "plan.json")
    steps = [
        ("validate", "--all-envs", "--format", "github"),
        ("--env", "production", "validate", "--format", "github"),
        ("--env", "production", "plan", "--detailed-exitcode"),
        ("plan", "--out", plan, "--format", "markdown", "--out-dir", str(runner_temp / "plan-comment"),
         "--detailed-exitcode"),
        ("show", plan, "--format", "github"),
        ("show", plan),
        ("show", plan, "--previews", str(runner_temp / "previews")),
        ("validate", "--check-links", "--format", "github"),
        ("render", "promo"),
        ("preview", "promo", "--no-screenshots", "--out", str(runner_temp / "preview")),
    ]
    runs = []
    for step in steps:
        done = subprocess.run(
            [ORCHESTRATOR, "--project", str(checkout), *step],
            cwd=runner_temp,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        runs.append(Run(step, done.returncode, done.stdout + done.stderr))
    return runs


@pytest.mark.parametrize("case", CASES)
def test_a_hostile_pull_request_gets_nothing(case: str, tmp_path: Path) -> None:
    with counting_servers(1) as (counter,):
        outside = _outside(tmp_path)
        before_outside = _snapshot(outside)
        checkout = _lay_out(case, tmp_path, outside, counter)
        runner_temp = tmp_path / "runner"
        runner_temp.mkdir()
        runs = _workflow(checkout, runner_temp, counter)
        hits = counter.hits()
    transcript = "\n".join(f"$ orchestrator {' '.join(r.command)}  (exit {r.code})\n{r.output}" for r in runs)
    for run in runs:
        assert run.code in (0, 1, 2, 3), transcript
        assert "Traceback" not in run.output, transcript
        forged = FORGED.search(run.output)
        assert forged is None, f"forged workflow command {forged.group(0)!r}:\n{transcript}"
        if run.command[0] not in ("render", "preview"):  # these two show the content exactly, by design
            assert HIDDEN.search(run.output) is None, transcript
    assert hits == 0, f"the counting server was contacted {hits} time(s): {counter.paths}\n{transcript}"
    assert _snapshot(outside) == before_outside, "something outside the checkout was written or deleted"
    written = {**_snapshot(runner_temp), **{f"checkout/{k}": v for k, v in _snapshot(checkout).items()}}
    for fragment in CANARY_FRAGMENTS:
        assert fragment not in transcript, f"{fragment} in the output:\n{transcript}"
        leaked = [name for name, data in written.items() if fragment.encode() in data]
        assert leaked == [], f"{fragment} written to {leaked}"
    expect = CASES_DIR / case / "expect.txt"
    if expect.is_file():
        for fragment in expect.read_text(encoding="utf-8").splitlines():
            assert fragment in transcript, f"expected {fragment!r}:\n{transcript}"
