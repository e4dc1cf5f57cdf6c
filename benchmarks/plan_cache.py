"""Benchmark: whole ``orchestrator plan`` processes, cold and warm Jinja cache (run: python benchmarks/plan_cache.py).

"Cold" empties every place compiled templates may be kept before each run (the user's cache
folder, and ``.orchestrator/jinja-cache/`` where releases before issue 17 kept them), so the
run compiles every template; "warm" runs after one warm-up run filled the cache. Each figure is
the median of ``--runs`` separate processes under GNU time (see ``startup.measure``), for the
example project (this repository's ``orchestrator.yaml`` and ``campaigns/``) and for a generated
project of ``--campaigns`` sends, each extending a layout with inline subject, text and HTML.

``--orchestrator`` measures another installation (for before/after figures, e.g.
``PYTHONPATH=/tmp/old python benchmarks/plan_cache.py --orchestrator "python -m orchestrator"``).
Nothing from orchestrator is imported here.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.startup import REPO, Sample, default_command, measure, medians

NOW = "2027-01-01T00:00:00Z"


def generated_project(root: Path, count: int) -> Path:
    """``count`` list sends on the built-in sandbox, each extending one layout."""
    campaigns = root / "campaigns"
    (campaigns / "_layouts").mkdir(parents=True)
    (root / "orchestrator.yaml").write_text(
        "version: 1\ndefault_environment: bench\ntimezone: UTC\n"
        "environments:\n  bench:\n    api: {kind: sandbox}\n    state: {backend: sqlite, path: state.db}\n"
        "    ids: {campaigns: {spring: 1001}, lists: {newsletter: 2001, customers: 2002, competitors: 2003}}\n"
        "    vars: {site: https://example.com}\n",
        encoding="utf-8",
    )
    (campaigns / "_layouts" / "base.html.j2").write_text(
        '<html><body>{% block body %}{% endblock %}<a href="%%unsubscribe%%">Unsubscribe</a></body></html>\n'
    )
    for i in range(count):
        (campaigns / f"c{i:05d}.yaml").write_text(
            f"name: c{i:05d}\ncampaign: spring\nlists: [newsletter, customers]\nsuppression_lists: [competitors]\n"
            "sender: {name: Acme, email: news@example.com}\n"
            f"subject: 'Offer {i}: {{{{ pct }}}}% off, {{{{Recipient.FirstName}}}}'\n"
            "text: 'Hello %%first_name%%, {{ pct }}% off at {{ site }}. Unsubscribe: %%unsubscribe%%'\n"
            "html: |\n  {% extends '_layouts/base.html.j2' %}{% block body %}<p>{{ pct }}% off</p>{% endblock %}\n"
            f"vars: {{pct: {i % 50}}}\nschedule: {{at: '2027-0{1 + i % 9}-0{1 + i % 9}T09:00:00Z'}}\n",
            encoding="utf-8",
        )
    return root


def example_project(root: Path) -> Path:
    root.mkdir(parents=True)
    shutil.copy(REPO / "orchestrator.yaml", root / "orchestrator.yaml")
    shutil.copytree(REPO / "campaigns", root / "campaigns")
    return root


def empty_caches(project: Path, cache: Path) -> None:
    shutil.rmtree(cache, ignore_errors=True)
    shutil.rmtree(project / ".orchestrator" / "jinja-cache", ignore_errors=True)


def cold_and_warm(command: list[str], project: Path, cache: Path, runs: int) -> tuple[Sample, Sample]:
    env = {**os.environ, "ORCHESTRATOR_CACHE_DIR": str(cache)}
    argv = [*command, "plan", "--now", NOW]
    cold = []
    for _ in range(runs):
        empty_caches(project, cache)
        cold.append(measure(argv, cwd=project, env=env))
    measure(argv, cwd=project, env=env)  # warm-up
    warm = [measure(argv, cwd=project, env=env) for _ in range(runs)]
    return medians(cold), medians(warm)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orchestrator", default=default_command(), help="the command to measure (split like a shell)")
    parser.add_argument("--runs", type=int, default=5, help="processes per figure (median)")
    parser.add_argument("--campaigns", type=int, default=200)
    args = parser.parse_args()
    command = shlex.split(args.orchestrator)
    workdir = Path(tempfile.mkdtemp(prefix="orchestrator-plan-cache-"))
    try:
        projects = [
            ("example project", example_project(workdir / "example")),
            (f"{args.campaigns} generated campaigns", generated_project(workdir / "generated", args.campaigns)),
        ]
        print("| `plan` of | cold: wall / CPU / peak RSS | warm: wall / CPU / peak RSS |")
        print("|---|---:|---:|")
        for name, project in projects:
            cold, warm = cold_and_warm(command, project, workdir / "cache", args.runs)
            print(
                f"| {name} | {cold[0]:.3f} s / {cold[1]:.3f} s / {cold[2]:.1f} MiB "
                f"| {warm[0]:.3f} s / {warm[1]:.3f} s / {warm[2]:.1f} MiB |"
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
