"""Benchmark: merge a 1,000,000-row export spread over 10 files, from the sandbox.

Run from the repository root::

    .venv/bin/python benchmarks/export_merge.py                 # 1,000,000 rows, 10 files
    .venv/bin/python benchmarks/export_merge.py --rows 200000   # a quicker look

What it does:

1. seeds an on-disk sandbox with ``--rows`` generated prospects (not timed: setup);
2. in a fresh subprocess, creates a prospect export through the real ``PardotClient`` on the
   in-process sandbox transport, lets the sandbox clock complete it, then downloads the
   ``--files`` CSV files and merges them into one CSV on disk with ``ExportRunner.download``;
   the subprocess's peak RSS (measured by GNU time, ``/usr/bin/time``) and wall time are the
   figures, so nothing from the seeding step inflates them;
3. runs the same merge again under ``tracemalloc`` to report the peak of Python allocations
   during the download-and-merge alone (slower, so its time is not reported);
4. repeats step 2 with deduplication on ``id`` (the ``--split`` path) for comparison;
5. runs the same export as a user does, ``orchestrator export create prospect ...`` against the
   in-process sandbox on the same database, as one whole process under GNU time: what the
   CLI itself costs on top of the merge shows here (its start-up imports).

The peak memory should stay flat as ``--rows`` grows (streaming); try ``--rows 200000`` and
compare.  The sandbox generates the CSV in the same process, so RSS includes its share.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from orchestrator.export.output import open_output
from orchestrator.export.request import build_request
from orchestrator.export.runner import ExportRunner
from orchestrator.pardot.client import PardotClient
from orchestrator.pardot.models import ExportJob
from orchestrator.pardot.settings import ApiSettings, StaticTokenAuth
from orchestrator.sandbox import (
    SANDBOX_BASE_URL,
    SANDBOX_BUSINESS_UNIT,
    SANDBOX_TOKEN,
    ExportConfig,
    SandboxApp,
    inprocess_transport,
)

START = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


class _Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def _seed(db: Path, rows: int) -> float:
    started = time.perf_counter()
    app = SandboxApp(
        db_path=db,
        seed={"reference_time": START.isoformat(), "generate_prospects": {"count": rows}},
        clock=lambda: START,
    )
    app.close()
    return time.perf_counter() - started


def _merge_once(db: Path, out: Path, rows: int, files: int, dedupe: bool, trace: bool) -> dict[str, object]:
    clock = _Clock()
    app = SandboxApp(db_path=db, clock=clock,
                     exports=ExportConfig(1, 2, rows_per_file=-(-rows // files)))
    settings = ApiSettings(base_url=SANDBOX_BASE_URL, business_unit_id=SANDBOX_BUSINESS_UNIT,
                           auth=StaticTokenAuth(SANDBOX_TOKEN), allow_insecure=True)
    with PardotClient(settings, transport=inprocess_transport(app)) as client:
        request = build_request("prospect", "filter_by_created_at",
                                [("created_after", "11 months ago")], None,
                                now=clock.now, tz=ZoneInfo("UTC"))
        runner = ExportRunner(client, sleep=clock.sleep, clock=clock)
        jobs: list[ExportJob] = runner.run([request])
        if dedupe:  # the --split path: two exports, merged without duplicate ids
            jobs = jobs + runner.run([request])
        if trace:
            tracemalloc.start()
        started = time.perf_counter()
        with open_output(str(out)) as sink:
            outcome = runner.download(jobs, sink)
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] if trace else None
    app.close()
    return {"rows": outcome.merge.rows, "files": outcome.merge.files,
            "duplicates": outcome.merge.duplicates, "seconds": seconds,
            "tracemalloc_peak_bytes": peak, "output_bytes": out.stat().st_size}


def _child(args: list[str]) -> tuple[dict[str, object], int]:
    """Run one merge in a fresh interpreter; return its figures and its peak RSS in KiB.

    The child runs under GNU time (``/usr/bin/time``), which reports the child's own peak: Linux
    charges a forked child the memory of the process it was forked from, so reading
    ``RUSAGE_CHILDREN`` here would count this process (and the 1M-row seeding it did) too.
    """
    with tempfile.NamedTemporaryFile("r", suffix=".time") as timing:
        done = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", timing.name,
                               sys.executable, __file__, "--child", *args],
                              check=True, capture_output=True, text=True)
        max_kib = int(timing.read().split()[-1])
    return json.loads(done.stdout), max_kib


def _cli_export(db: Path, workdir: Path, rows: int) -> tuple[float, int]:
    """The same export as a user runs it: one whole ``orchestrator export create`` process
    against the in-process sandbox on ``db``; its wall time and peak RSS (KiB, GNU time)."""
    project = workdir / "cli-project"
    project.mkdir()
    (project / "orchestrator.yaml").write_text(
        "version: 1\ndefault_environment: sandbox\ntimezone: UTC\nenvironments:\n  sandbox:\n"
        f"    api: {{kind: sandbox, db: '{db}'}}\n    state: {{backend: sqlite, path: state.db}}\n",
        encoding="utf-8",
    )
    command = Path(sys.executable).with_name("orchestrator")
    with tempfile.NamedTemporaryFile("r", suffix=".time") as timing:
        started = time.perf_counter()
        subprocess.run(["/usr/bin/time", "-f", "%M", "-o", timing.name, str(command), "export", "create",
                        "prospect", "--procedure", "filter_by_created_at", "--arg", "created_after=11 months ago",
                        "--now", START.isoformat(), "--poll-interval", "0.5", "-o", str(workdir / "cli.csv")],
                       cwd=project, check=True, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        max_kib = int(timing.read().split()[-1])
    merged = sum(1 for _ in (workdir / "cli.csv").open(encoding="utf-8")) - 1
    if merged != rows:
        raise SystemExit(f"the CLI export merged {merged} rows, not {rows}")
    return seconds, max_kib


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=10)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--child", nargs=5, metavar=("DB", "OUT", "ROWS", "FILES", "MODE"),
                        help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        db, out, rows, files, mode = options.child
        figures = _merge_once(Path(db), Path(out), int(rows), int(files),
                              dedupe=mode == "dedupe", trace=mode == "trace")
        print(json.dumps(figures))
        return
    with tempfile.TemporaryDirectory(dir=options.workdir) as tmp:
        db, out = Path(tmp) / "sandbox.db", Path(tmp) / "merged.csv"
        print(f"seeding {options.rows:,} prospects ...", file=sys.stderr)
        seed_s = _seed(db, options.rows)
        common = [str(db), str(out), str(options.rows), str(options.files)]
        plain, rss_kib = _child([*common, "plain"])
        traced, _ = _child([*common, "trace"])
        deduped, rss_dedupe_kib = _child([*common, "dedupe"])
        cli_s, cli_kib = _cli_export(db, Path(tmp), int(plain["rows"]))  # type: ignore[call-overload]
    buffer = io.StringIO()
    buffer.write(f"export merge benchmark ({options.rows:,} rows requested, "
                 f"{options.files} files; seeding took {seed_s:.1f} s)\n")
    buffer.write(f"  merged rows:            {plain['rows']:,} from {plain['files']} files, "
                 f"{int(plain['output_bytes']) / 2**20:.1f} MiB of CSV\n")  # type: ignore[call-overload]
    buffer.write(f"  download + merge time:  {plain['seconds']:.2f} s "
                 f"({int(plain['rows']) / float(plain['seconds']):,.0f} rows/s)\n")  # type: ignore[call-overload, arg-type]
    buffer.write(f"  peak RSS (subprocess):  {rss_kib / 1024:.1f} MiB\n")
    buffer.write(f"  tracemalloc peak:       {int(traced['tracemalloc_peak_bytes']) / 2**20:.2f} MiB "  # type: ignore[call-overload]
                 "(Python allocations during download + merge)\n")
    buffer.write(f"  with dedupe on id:      {deduped['rows']:,} rows kept, "
                 f"{deduped['duplicates']:,} duplicates dropped, {deduped['seconds']:.2f} s, "
                 f"peak RSS {rss_dedupe_kib / 1024:.1f} MiB\n")
    buffer.write(f"  `orchestrator export create` (whole CLI process, polling every 0.5 s): "
                 f"{cli_s:.2f} s, peak RSS {cli_kib / 1024:.1f} MiB\n")
    print(buffer.getvalue(), end="")


if __name__ == "__main__":
    main()
