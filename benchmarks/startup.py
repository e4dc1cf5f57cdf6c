"""Benchmark: what one whole ``orchestrator`` process costs (run: python benchmarks/startup.py).

Every figure is a median over ``--runs`` separate processes, each measured from outside:
wall time around the process, its CPU time (user + system) and its peak resident memory
from GNU time (see :func:`measure` for why not straight from this process).

1. ``orchestrator --version``: the price every command, hook and CI step pays to start.
2. ``orchestrator validate`` of the example project (this repository's ``orchestrator.yaml``
   and ``campaigns/``, copied to a temporary folder; one warm-up run fills the Jinja cache).
3. ``orchestrator apply --auto-approve`` of 200 list sends against ``orchestrator sandbox serve
   --latency-ms 100`` (a separate process on loopback), as one whole process: start, load,
   plan, send, record. The ideal is 200 sends / 5 in flight x 100 ms = 4.0 s. Each run uses a
   fresh state and a fresh sandbox, so every run sends all 200.
4. The floor under (3): :data:`FLOOR_CLIENT`, a bare httpx client in the same interpreter that
   only POSTs the same 200 list sends, 5 in flight, to the same kind of sandbox: no files, no
   plan, no state. No httpx-based ``apply`` can beat it, so it shows how much of (3)'s distance
   from the ideal is the tool's and how much is Python, httpx and the sandbox's own handling.

``--orchestrator PATH`` measures another installation's command (for before/after figures,
e.g. ``PYTHONPATH=/tmp/old python benchmarks/startup.py``: the child inherits the environment).
Figures go to stdout as a Markdown table (copied into docs/performance.md).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TIME = "/usr/bin/time"  # GNU time (Debian package `time`)
TOKEN_VAR = "BENCH_SANDBOX_TOKEN"
#: Nothing from orchestrator is imported here, so the measured command is the only one loaded.
SANDBOX_TOKEN = "bench-token"


#: The floor client of figure 4 (argv: base URL, business unit, sends, start time).
FLOOR_CLIENT = """
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import httpx

url, unit, sends, start = sys.argv[1], sys.argv[2], int(sys.argv[3]), datetime.fromisoformat(sys.argv[4])
headers = {"Authorization": "Bearer " + sys.argv[5], "Pardot-Business-Unit-Id": unit}
with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
    def send(i):
        form = {
            "campaign_id": "1001", "list_ids[]": ["2001", "2002"], "suppression_list_ids[]": ["2003"],
            "name": f"c{i:04d}", "subject": f"Offer {i}", "text_content": "Hello. Unsubscribe: %%unsubscribe%%",
            "html_content": '<p>Hello</p><a href="%%unsubscribe%%">Unsubscribe</a>',
            "from_name": "Acme", "from_email": "news@example.com",
            "scheduled_time": (start + timedelta(minutes=i)).isoformat(), "format": "json",
        }
        answer = client.post("/api/email/version/4/do/send", data=form)
        if '"email"' not in answer.text:
            raise SystemExit(f"send {i} was refused: {answer.text[:300]}")

    with ThreadPoolExecutor(max_workers=5) as pool:
        list(pool.map(send, range(sends)))
"""


def default_command() -> str:
    """The ``orchestrator`` console script next to this interpreter, else the one on PATH."""
    beside = Path(sys.executable).with_name("orchestrator")
    return str(beside) if beside.exists() else shutil.which("orchestrator") or "orchestrator"


Sample = tuple[float, float, float]


def measure(argv: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> Sample:
    """Run ``argv`` once; return (wall s, CPU s, peak RSS MiB). A failing run is an error.

    The process runs under ``/usr/bin/time``: Linux records in a child's peak RSS the memory of
    the process it was forked from, so measuring straight from this (Python) process would add
    this process's size to every figure; ``time`` is a few hundred KiB. CPU time (user +
    system) is reported next to wall time because it hardly moves when other jobs share the
    machine, while wall time does.
    """
    with tempfile.NamedTemporaryFile("r", suffix=".time") as out:
        started = time.perf_counter()
        done = subprocess.run(
            [TIME, "-f", "%U %S %M", "-o", out.name, *argv],
            cwd=cwd,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} exited {done.returncode}:\n{done.stderr}")
        user, system, max_kib = out.read().split()[-3:]
    return wall, float(user) + float(system), int(max_kib) / 1024


def medians(samples: list[Sample]) -> Sample:
    return (
        statistics.median(s[0] for s in samples),
        statistics.median(s[1] for s in samples),
        statistics.median(s[2] for s in samples),
    )


def example_project(workdir: Path) -> Path:
    root = workdir / "example"
    root.mkdir()
    shutil.copy(REPO / "orchestrator.yaml", root / "orchestrator.yaml")
    shutil.copytree(REPO / "campaigns", root / "campaigns")
    return root


def apply_project(root: Path, url: str, business_unit: str, sends: int, start: datetime) -> None:
    """``sends`` one-off list emails, scheduled a month ahead (real time: ``--now`` is sandbox-only)."""
    root.mkdir(parents=True)
    (root / "orchestrator.yaml").write_text(
        "version: 1\ndefault_environment: bench\ntimezone: UTC\n"
        "environments:\n  bench:\n"
        f"    api: {{kind: pardot, base_url: '{url}', business_unit_id: {business_unit}, "
        f"auth: {{method: token, token_env: {TOKEN_VAR}}}}}\n"
        "    state: {backend: sqlite, path: state.db}\n"
        "    ids: {campaigns: {spring: 1001}, lists: {newsletter: 2001, customers: 2002, competitors: 2003}}\n",
        encoding="utf-8",
    )
    campaigns = root / "campaigns"
    campaigns.mkdir()
    for i in range(sends):
        at = (start + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:00Z")
        (campaigns / f"c{i:04d}.yaml").write_text(
            f"name: c{i:04d}\ncampaign: spring\nlists: [newsletter, customers]\nsuppression_lists: [competitors]\n"
            "sender: {name: Acme, email: news@example.com}\n"
            f"subject: 'Offer {i}'\ntext: 'Hello. Unsubscribe: %%unsubscribe%%'\n"
            "html: '<p>Hello</p><a href=\"%%unsubscribe%%\">Unsubscribe</a>'\n"
            f"schedule: {{at: '{at}'}}\n",
            encoding="utf-8",
        )


@contextlib.contextmanager
def sandbox_server(command: str, latency_ms: int) -> Iterator[tuple[str, str]]:
    """A fresh ``sandbox serve`` on loopback: (base URL, business unit)."""
    server = subprocess.Popen(
        [command, "sandbox", "serve", "--port", "0", "--latency-ms", str(latency_ms), "--token", SANDBOX_TOKEN],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        said = server.stdout.readline() + server.stdout.readline()
        url = re.search(r"(http://\S+)", said)
        unit = re.search(r"business unit: (\S+)", said)
        if not url or not unit:
            raise SystemExit(f"sandbox serve did not say where it listens: {said!r}")
        yield url.group(1), unit.group(1)
    finally:
        server.terminate()
        server.wait(timeout=10)


def first_send_time() -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=30)


def bench_apply(command: str, workdir: Path, runs: int, sends: int, latency_ms: int) -> Sample:
    """Median wall time and peak RSS of whole ``apply --auto-approve`` processes."""
    samples = []
    start = first_send_time()
    for run in range(runs):
        with sandbox_server(command, latency_ms) as (url, unit):
            root = workdir / f"apply-{run}"
            apply_project(root, url, unit, sends, start)
            env = {**os.environ, TOKEN_VAR: SANDBOX_TOKEN}
            samples.append(measure([command, "apply", "--auto-approve"], cwd=root, env=env))
    return medians(samples)


def bench_floor(command: str, workdir: Path, runs: int, sends: int, latency_ms: int) -> Sample:
    """Median figures of :data:`FLOOR_CLIENT` processes (the interpreter next to ``command``)."""
    python = Path(command).with_name("python")
    samples = []
    start = first_send_time().isoformat()
    for _ in range(runs):
        with sandbox_server(command, latency_ms) as (url, unit):
            argv = [str(python), "-c", FLOOR_CLIENT, url, unit, str(sends), start, SANDBOX_TOKEN]
            samples.append(measure(argv, cwd=workdir))
    return medians(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orchestrator", default=default_command(), help="the command to measure")
    parser.add_argument("--runs", type=int, default=7, help="processes per figure (median)")
    parser.add_argument("--apply-runs", type=int, default=3)
    parser.add_argument("--sends", type=int, default=200)
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--skip-apply", action="store_true")
    args = parser.parse_args()
    command = args.orchestrator
    workdir = Path(tempfile.mkdtemp(prefix="orchestrator-startup-"))
    try:
        rows = []
        bare = [measure([sys.executable, "-c", "pass"], cwd=workdir) for _ in range(args.runs)]
        rows.append(("`python -c pass` (the interpreter alone, for scale)", *medians(bare), ""))
        version = [measure([command, "--version"], cwd=workdir) for _ in range(args.runs)]
        rows.append(("`orchestrator --version`", *medians(version), "0.15 s, 40 MB"))
        project = example_project(workdir)
        measure([command, "validate"], cwd=project)  # warm-up: compiles the templates once
        validate = [measure([command, "validate"], cwd=project) for _ in range(args.runs)]
        rows.append(("`orchestrator validate` (example project)", *medians(validate), "0.5 s"))
        if not args.skip_apply:
            wall, cpu, rss = bench_apply(command, workdir, args.apply_runs, args.sends, args.latency_ms)
            ideal = args.sends / 5 * args.latency_ms / 1000
            rows.append(
                (
                    f"`orchestrator apply --auto-approve`, {args.sends} sends, {args.latency_ms} ms latency",
                    wall,
                    cpu,
                    rss,
                    f"{1.15 * ideal:.2f} s (1.15 x ideal {ideal:.1f} s); {wall / ideal:.2f} x ideal",
                )
            )
            wall, cpu, rss = bench_floor(command, workdir, args.apply_runs, args.sends, args.latency_ms)
            rows.append(
                (
                    f"floor: a bare httpx client POSTing the same {args.sends} sends, 5 in flight",
                    wall,
                    cpu,
                    rss,
                    f"(no target) {wall / ideal:.2f} x ideal",
                )
            )
        print("| process | wall time | CPU time | peak RSS | target |")
        print("|---|---:|---:|---:|---|")
        for name, wall, cpu, rss, target in rows:
            print(f"| {name} | {wall:.3f} s | {cpu:.3f} s | {rss:.1f} MiB | {target} |")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
