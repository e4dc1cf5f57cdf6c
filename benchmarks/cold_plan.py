"""Benchmark: a CI runner's cold ``plan`` against bare YAML + Jinja (run: python benchmarks/cold_plan.py).

Issue 22, "a cold plan fit for CI": every pull request plans from a fresh checkout with an empty
cache, so ``plan`` compiles every template. The reference is the least any tool must do with the
same files: a bare Python process (:data:`BARE`) that parses each campaign file with libyaml and
compiles and renders its subject, text and HTML with a plain Jinja environment (no bytecode
cache, so it compiles everything on every run). A second row compiles each distinct source once
per process, as ``plan`` does (the generated files share their text and HTML).

1. ``--campaigns`` generated list sends (``plan_cache.generated_project``: each extends one
   layout), applied once against the in-process sandbox, so the measured plan is all unchanged.
2. Whole processes under GNU time (``startup.measure``), median of ``--runs``: the bare baseline;
   ``plan`` cold (the user's cache folder emptied before each run); ``plan`` warm (after one run
   filled it). The ratios to the baseline are the issue's goals: cold within 1.5x, warm within 0.5x.
3. ``--profile FILE``: one more cold ``plan`` under cProfile, its statistics written to FILE and
   the functions with the largest cumulative time printed (where the time goes).

``--orchestrator`` measures another installation (for before/after figures). Nothing from
orchestrator is imported here.
"""

from __future__ import annotations

import argparse
import os
import pstats
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.plan_cache import NOW, empty_caches, generated_project
from benchmarks.startup import Sample, default_command, measure, medians

#: The baseline (argv: the campaigns folder, and "once" to compile each distinct source once):
#: parse every campaign file, render its three templates.
BARE = """
import functools
import sys
from pathlib import Path

import jinja2
import yaml

folder = Path(sys.argv[1])
env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(folder)), autoescape=False)
html = jinja2.Environment(loader=jinja2.FileSystemLoader(str(folder)), autoescape=True)
compiled = functools.cache(lambda source, jinja: jinja.from_string(source))
compile = compiled if sys.argv[2:] == ["once"] else (lambda source, jinja: jinja.from_string(source))
site = {"site": "https://example.com", "Recipient": {"FirstName": "%%first_name%%"}}
for path in sorted(folder.glob("*.yaml")):
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
    values = {**site, **data.get("vars", {})}
    for source, jinja in ((data["subject"], env), (data["text"], env), (data["html"], html)):
        compile(source, jinja).render(values)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orchestrator", default=default_command(), help="the command to measure (split like a shell)")
    parser.add_argument("--campaigns", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5, help="processes per figure (median)")
    parser.add_argument("--profile", type=Path, help="also profile one cold plan; its pstats go to this file")
    args = parser.parse_args()
    command = shlex.split(args.orchestrator)
    workdir = Path(tempfile.mkdtemp(prefix="orchestrator-cold-plan-"))
    try:
        project = generated_project(workdir / "project", args.campaigns)
        cache = workdir / "cache"
        env = {**os.environ, "ORCHESTRATOR_CACHE_DIR": str(cache)}
        subprocess.run([*command, "apply", "--auto-approve", "--now", NOW], cwd=project, env=env,
                       check=True, stdout=subprocess.DEVNULL)  # fmt: skip
        bare_argv = [sys.executable, "-c", BARE, str(project / "campaigns")]
        measure(bare_argv, cwd=project, env=env)  # warm-up: the page cache
        bare = medians([measure(bare_argv, cwd=project, env=env) for _ in range(args.runs)])
        once = medians([measure([*bare_argv, "once"], cwd=project, env=env) for _ in range(args.runs)])
        plan = [*command, "plan", "--now", NOW]
        cold: list[Sample] = []
        for _ in range(args.runs):
            empty_caches(project, cache)
            cold.append(measure(plan, cwd=project, env=env))
        measure(plan, cwd=project, env=env)  # fills the cache
        warm = medians([measure(plan, cwd=project, env=env) for _ in range(args.runs)])
        print(f"| {args.campaigns:,} unchanged campaigns | wall | CPU | peak RSS | wall / bare | CPU / bare |")
        print("|---|---:|---:|---:|---:|---:|")
        rows = (("bare YAML + Jinja", bare), ("the same, each distinct source compiled once", once),
                ("`plan`, cold", medians(cold)), ("`plan`, warm", warm))
        for name, (wall, cpu, rss) in rows:
            ratios = f"{wall / bare[0]:.2f} x | {cpu / bare[1]:.2f} x"
            print(f"| {name} | {wall:.2f} s | {cpu:.2f} s | {rss:.1f} MiB | {ratios} |")
        if args.profile:
            empty_caches(project, cache)
            profiled = [sys.executable, "-m", "cProfile", "-o", str(args.profile.resolve()), "-m", "orchestrator"]
            argv = [*profiled, "plan", "--now", NOW]
            subprocess.run(argv, cwd=project, env=env, check=True, stdout=subprocess.DEVNULL)
            print()
            pstats.Stats(str(args.profile)).sort_stats("cumulative").print_stats(40)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
