"""Benchmark: the cost of ``plan --refresh`` (run: python benchmarks/refresh.py [--sends 1000] [--others 500]).

N generated list sends are applied (scheduled in 2027) against the in-process sandbox; then the
plan is made ten minutes later and then refreshed: the plan and the refresh alone are timed
(medians of 3), and the refresh's query pages and requests counted (the client's request
counter). ``--others`` list emails that are not the project's are created in the account within
the same window first: the refresh reads them too (the query has no name filter), which is what
its page budget is for.

A second run against ``sandbox serve`` with ``--latency`` ms per request shows the wall time a
real round trip adds per page. Figures go to stdout as Markdown (copied into docs/performance.md).
Every clock is fixed: the figures do not depend on the calendar.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.plan_apply import TOKEN_VAR, write_project
from orchestrator import planning
from orchestrator.apply import Executor
from orchestrator.config import load_config
from orchestrator.connect import build_client, build_store
from orchestrator.pardot.models import ListEmailSend
from orchestrator.planning import plan_project
from orchestrator.project import load_project
from orchestrator.refresh import page_budget
from orchestrator.sandbox import SANDBOX_BUSINESS_UNIT, SANDBOX_TOKEN, FaultConfig, SandboxApp, serve

APPLIED = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
LATER = APPLIED + timedelta(minutes=10)


def bench(root: Path, sends: int, others: int, api: str) -> dict[str, float | int]:
    write_project(root, sends, api)
    env = load_config(root).environment()
    client = build_client(env, root, sandbox_clock=lambda: APPLIED)
    store = build_store(env, root)
    for i in range(others):  # someone else's list emails, created in the window before ours
        client.send_list_email(
            ListEmailSend(campaign_id=1001, list_ids=(2001,), email_template_id=4001, name=f"other-{i}")
        )
    first = plan_project(load_project(root), env, store.snapshot(), APPLIED, client=client)
    Executor(client, store, environment=env.name, clock=lambda: APPLIED).run(first)
    target = planning.Target(project=load_project(root), env=env, store=store, client=client, clock=lambda: LATER)
    planning.compute_plan(target, LATER)  # warm-up: compiled templates cached
    plain, refreshed, requests, pages = [], [], [], []
    for _ in range(3):
        t0 = time.perf_counter()
        result = planning.compute_plan(target, LATER)
        plain.append(time.perf_counter() - t0)
        snapshot = store.snapshot()
        before = client.calls
        t0 = time.perf_counter()
        result = planning.refresh_plan(target, result, snapshot, LATER)
        refreshed.append(time.perf_counter() - t0)
        requests.append(client.calls - before)
        assert result.refresh is not None and result.refresh.checked == sends, result.refresh
        assert not result.needs_attention, [c.key for c in result.attention]
        pages.append(result.refresh.pages)
    client.close()
    store.close()
    return {
        "sends": sends,
        "others": others,
        "pages": max(pages),
        "requests": max(requests),
        "budget": page_budget(sends),
        "plan_s": statistics.median(plain),
        "refresh_s": statistics.median(refreshed),
    }


def served(root: Path, sends: int, others: int, latency_ms: int) -> dict[str, float | int]:
    app = SandboxApp(faults=FaultConfig(latency_ms=latency_ms), clock=lambda: APPLIED)
    with serve(app, host="127.0.0.1", port=0) as server:
        os.environ[TOKEN_VAR] = SANDBOX_TOKEN
        api = (
            f"{{kind: pardot, base_url: '{server.url}', business_unit_id: {SANDBOX_BUSINESS_UNIT}, "
            f"auth: {{method: token, token_env: {TOKEN_VAR}}}}}"
        )
        return bench(root, sends, others, api)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sends", type=int, default=1000)
    parser.add_argument("--others", type=int, default=500)
    parser.add_argument("--latency", type=int, default=100, help="ms per request of the served sandbox")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="orchestrator-bench-refresh-"))
    try:
        print("| sandbox | recorded sends | other list emails | pages (budget) | requests | plan (s) | refresh (s) |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        rows = [
            ("in-process", bench(workdir / "a", args.sends, 0, "{kind: sandbox}")),
            ("in-process", bench(workdir / "b", args.sends, args.others, "{kind: sandbox}")),
            (f"served, {args.latency} ms", served(workdir / "c", args.sends, 0, args.latency)),
        ]
        for name, row in rows:
            print(
                f"| {name} | {row['sends']:,} | {row['others']:,} | {row['pages']} ({row['budget']}) | "
                f"{row['requests']} | {row['plan_s']:.2f} | {row['refresh_s']:.2f} |",
                flush=True,
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
