"""Benchmarks for issue "plan and apply" (run: python benchmarks/plan_apply.py [--sizes 100,1000,5000]).

1. ``plan`` over N generated campaigns, everything already applied: wall time and API calls
   (target: no API call for unchanged sends), against the time to merely load and render the
   same files in the same process.
2. ``apply`` of 200 sends against ``sandbox serve`` with 100 ms latency, against the ideal of
   200 / 5 in flight x 100 ms = 4 s.

Figures go to stdout as a Markdown table (copied into docs/performance.md).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from orchestrator.apply import Executor
from orchestrator.config import load_config
from orchestrator.connect import build_client, build_store
from orchestrator.desired_sends import desired_sends_of
from orchestrator.planning import plan_project
from orchestrator.project import load_project
from orchestrator.render import template_cache_root
from orchestrator.sandbox import SANDBOX_BUSINESS_UNIT, SANDBOX_TOKEN, FaultConfig, SandboxApp, serve

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
TOKEN_VAR = "BENCH_SANDBOX_TOKEN"


def write_project(root: Path, count: int, api: str) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "orchestrator.yaml").write_text(
        "version: 1\ndefault_environment: bench\ntimezone: UTC\n"
        f"environments:\n  bench:\n    api: {api}\n    state: {{backend: sqlite, path: state.db}}\n"
        "    ids: {campaigns: {spring: 1001}, lists: {newsletter: 2001, customers: 2002, competitors: 2003}}\n"
        "    vars: {site: https://example.com}\n",
        encoding="utf-8",
    )
    campaigns = root / "campaigns"
    (campaigns / "_layouts").mkdir(parents=True, exist_ok=True)
    (campaigns / "_layouts" / "base.html.j2").write_text(
        '<html><body>{% block body %}{% endblock %}<a href="%%unsubscribe%%">Unsubscribe</a></body></html>\n'
    )
    for i in range(count):
        (campaigns / f"c{i:05d}.yaml").write_text(
            f"name: c{i:05d}\ncampaign: spring\nlists: [newsletter, customers]\nsuppression_lists: [competitors]\n"
            "sender: {name: Acme, email: news@example.com}\nreply_to: support@example.com\ntags: [bench]\n"
            f"subject: 'Offer {i}: {{{{ pct }}}}% off, {{{{Recipient.FirstName}}}}'\n"
            "text: 'Hello %%first_name%%, {{ pct }}% off at {{ site }}. Unsubscribe: %%unsubscribe%%'\n"
            "html: |\n  {% extends '_layouts/base.html.j2' %}{% block body %}<p>{{ pct }}% off</p>{% endblock %}\n"
            f"vars: {{pct: {i % 50}}}\nschedule: {{at: '2027-0{1 + i % 9}-0{1 + i % 9}T09:00:00Z'}}\n",
            encoding="utf-8",
        )


def bench_plan(count: int, workdir: Path) -> dict[str, float | int]:
    root = workdir / f"plan-{count}"
    write_project(root, count, "{kind: sandbox}")
    config = load_config(root)
    env = config.environment()
    client = build_client(env, root)
    store = build_store(env, root)
    # apply everything once so the measured plan is all no-ops
    project = load_project(root)
    first = plan_project(project, env, store.snapshot(), NOW, client=client)
    Executor(client, store, environment=env.name).run(first)

    cache = template_cache_root(root)  # the user's cache folder (ORCHESTRATOR_CACHE_DIR, ...)
    if cache is not None:
        shutil.rmtree(cache / "jinja", ignore_errors=True)
    t0 = time.perf_counter()
    desired_sends_of(load_project(root), env, NOW)
    cold = time.perf_counter() - t0  # compiling every template; later runs reuse the bytecode cache

    load_render = []
    plans = []
    calls = []
    for _ in range(3):
        t0 = time.perf_counter()
        project = load_project(root)
        desired_sends_of(project, env, NOW)
        load_render.append(time.perf_counter() - t0)
        before = client.calls
        t0 = time.perf_counter()
        project = load_project(root)
        result = plan_project(project, env, store.snapshot(), NOW, client=client)
        plans.append(time.perf_counter() - t0)
        calls.append(client.calls - before)
        assert not result.has_changes and result.counts()["no-op"] == count, result.counts()
    client.close()
    store.close()
    return {
        "campaigns": count,
        "cold_s": cold,
        "load_render_s": statistics.median(load_render),
        "plan_s": statistics.median(plans),
        "api_calls": max(calls),
    }


def bench_apply(workdir: Path, sends: int = 200, latency_ms: int = 100) -> dict[str, float]:
    app = SandboxApp(faults=FaultConfig(latency_ms=latency_ms))
    with serve(app, host="127.0.0.1", port=0) as server:
        root = workdir / "apply"
        api = (
            f"{{kind: pardot, base_url: '{server.url}', business_unit_id: {SANDBOX_BUSINESS_UNIT}, "
            f"auth: {{method: token, token_env: {TOKEN_VAR}}}}}"
        )
        write_project(root, sends, api)
        os.environ[TOKEN_VAR] = SANDBOX_TOKEN
        env = load_config(root).environment()
        client = build_client(env, root)
        store = build_store(env, root)
        result = plan_project(load_project(root), env, store.snapshot(), NOW, client=client)
        t0 = time.perf_counter()
        outcome = Executor(client, store, environment=env.name).run(result)
        wall = time.perf_counter() - t0
        assert outcome.ok and len(outcome.outcomes) == sends
        client.close()
        store.close()
    ideal = sends / 5 * latency_ms / 1000
    return {"sends": sends, "latency_ms": latency_ms, "wall_s": wall, "ideal_s": ideal}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="100,1000,5000")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="orchestrator-bench-"))
    try:
        print("| campaigns | load + render, cold (s) | load + render (s) | plan, all unchanged (s) | API calls |")
        print("|---:|---:|---:|---:|---:|")
        for size in (int(s) for s in args.sizes.split(",")):
            row = bench_plan(size, workdir)
            print(
                f"| {row['campaigns']} | {row['cold_s']:.2f} | {row['load_render_s']:.2f} | {row['plan_s']:.2f} "
                f"| {row['api_calls']} |",
                flush=True,
            )
        row2 = bench_apply(workdir)
        print()
        print("| sends | latency | apply wall time (s) | ideal 200/5 x 100 ms (s) |")
        print("|---:|---:|---:|---:|")
        print(f"| {row2['sends']} | {row2['latency_ms']} ms | {row2['wall_s']:.2f} | {row2['ideal_s']:.2f} |")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
