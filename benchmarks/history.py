"""Benchmark: years of recorded sends (run: python benchmarks/history.py [--sends 100000,1000000]).

Issue 22: a plan must cost the same after years of sends, and the state must be browsable.

1. A 150-campaign project (100 weekly list newsletters, 30 one-off list emails, 20 one-to-one
   campaigns), applied once at NOW against its in-process sandbox: the state then holds what
   the files ask for now (270 sends).
2. The history generator (:func:`add_history`) adds N older sends of the same campaigns straight
   into the SQLite state, as apply would have written them (payloads copied from the campaign's
   real send, a journal entry for the intent and one for the outcome): past occurrences of the
   newsletters, one-to-one sends to earlier prospects.
3. ``orchestrator plan`` is measured as a whole process under GNU time (wall, CPU, peak RSS),
   median of ``--runs``, for: no state yet ("empty"), the state of step 1, and step 1 + N.
4. Browsing: ``state list`` as on a terminal (``TTY_COMPATIBLE=1``: the first page), and
   ``state list --json`` writing every record to /dev/null.

``--orchestrator`` measures another installation (for before/after figures). The generator
writes schema 2's ``content_digest`` only where the state has that column, so the same script
fills a state made by the previous orchestrator. Figures go to stdout as Markdown tables.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

NOW = "2026-11-27T12:00:00Z"
NOW_AT = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
TIME = "/usr/bin/time"  # GNU time (Debian package `time`)
ACTOR = json.dumps({"user": "ci", "host": "runner-7", "ci_run_id": "4242"}, separators=(",", ":"))

Sample = tuple[float, float, float]


def default_command() -> str:
    beside = Path(sys.executable).with_name("orchestrator")
    return str(beside) if beside.exists() else shutil.which("orchestrator") or "orchestrator"


def write_project(root: Path) -> None:
    """150 campaigns: 100 weekly newsletters, 30 one-off list emails, 20 one-to-one campaigns."""
    root.mkdir(parents=True)
    (root / "orchestrator.yaml").write_text(
        "version: 1\ndefault_environment: bench\ntimezone: UTC\n"
        "environments:\n  bench:\n    api: {kind: sandbox}\n    state: {backend: sqlite, path: state.db}\n"
        "    ids: {campaigns: {spring: 1001}, lists: {newsletter: 2001, customers: 2002, competitors: 2003},"
        " users: {jane: 3001}}\n"
        "    vars: {site: https://example.com}\n",
        encoding="utf-8",
    )
    campaigns = root / "campaigns"
    (campaigns / "_layouts").mkdir(parents=True)
    (campaigns / "_layouts" / "base.html.j2").write_text(
        '<html><body>{% block body %}{% endblock %}<a href="%%unsubscribe%%">Unsubscribe</a></body></html>\n'
    )
    common = (
        "sender: {name: Acme, email: news@example.com}\nreply_to: support@example.com\n"
        "subject: 'Issue {{ n }}: {{ pct }}% off, {{Recipient.FirstName}}'\n"
        "text: 'Hello %%first_name%%, {{ pct }}% off at {{ site }}. Unsubscribe: %%unsubscribe%%'\n"
        "html: |\n  {% extends '_layouts/base.html.j2' %}{% block body %}<h1>Issue {{ n }}</h1>"
        "<p>{{ pct }}% off everything this week, at <a href=\"{{ site }}/sale\">our shop</a>.</p>{% endblock %}\n"
    )
    days = ("MON", "TUE", "WED", "THU", "FRI")
    for i in range(100):
        (campaigns / f"news{i:03d}.yaml").write_text(
            f"name: news{i:03d}\ncampaign: spring\nlists: [newsletter, customers]\nsuppression_lists: [competitors]\n"
            f"{common}vars: {{n: {i}, pct: {i % 50}}}\n"
            f"schedule: {{cron: '{i % 60} {6 + i % 12} * * {days[i % 5]}'}}\n",
            encoding="utf-8",
        )
    for i in range(30):
        (campaigns / f"once{i:03d}.yaml").write_text(
            f"name: once{i:03d}\ncampaign: spring\nlists: [newsletter]\nsuppression_lists: [competitors]\n"
            f"{common}vars: {{n: {i}, pct: {i}}}\nschedule: {{at: '2027-0{1 + i % 9}-1{i % 10}T09:00:00Z'}}\n",
            encoding="utf-8",
        )
    for i in range(20):
        (campaigns / f"followup{i:03d}.yaml").write_text(
            f"name: followup{i:03d}\nkind: one-to-one\ncampaign: spring\nprospects: [1234, jane.prospect@example.com]\n"
            "sender: {user: jane}\nreply_to: jane@example.com\n"
            f"subject: 'Following up, {i}'\ntext: 'Hi %%first_name%%, thanks. %%email_preference_center%%'\n"
            "html: '<p>Hi %%first_name%%, thanks.</p><a href=\"%%email_preference_center%%\">Preferences</a>'\n"
            "schedule: {now: true}\n",
            encoding="utf-8",
        )


def add_history(db: Path, sends: int, *, seed: int = 1) -> None:
    """Add ``sends`` older sends (and their journal entries) of the project's campaigns to ``db``.

    Half are past newsletter occurrences (hourly, going back from eight days before NOW, so none
    falls inside the plan's lookback), half one-to-one sends to earlier prospects; each payload is
    the campaign's real one with its name (and time, or prospect) changed.
    """
    rng = random.Random(seed)
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA cache_size = -262144")
        columns = {row[1] for row in conn.execute("PRAGMA table_info(sends)")}
        digest = "content_digest" in columns
        rows = conn.execute("SELECT campaign, payload FROM sends ORDER BY key").fetchall()
        template = {campaign: json.loads(payload) for campaign, payload in rows}
        serial = conn.execute("SELECT serial FROM meta").fetchone()[0]
        listed = [c for c in template if c.startswith("news")]
        direct = [c for c in template if c.startswith("followup")]
        start = NOW_AT - timedelta(days=8)
        names = ["key", "campaign", "environment", "fingerprint", "payload", "status", "email_id",
                 "scheduled_time", "created_at", "updated_at", "applied_by", "error"]  # fmt: skip
        if digest:
            names.append("content_digest")
        insert = f"INSERT INTO sends ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
        journal = "INSERT INTO journal (seq, at, key, action, detail, actor) VALUES (?, ?, ?, ?, ?, ?)"
        batch: list[tuple[Any, ...]] = []
        entries: list[tuple[Any, ...]] = []
        for i in range(sends):
            if i % 2 == 0:
                campaign = listed[(i // 2) % len(listed)]
                when = start - timedelta(hours=(i // 2) // len(listed) + 1, minutes=(i // 2) % len(listed))
                key = f"{campaign}@{when:%Y-%m-%dT%H:%M:%SZ}"
                payload = {**template[campaign], "name": key, "scheduled_time": when.isoformat()}
                created, status, scheduled = when - timedelta(days=3), "scheduled", _time(when)
            else:
                campaign = direct[(i // 2) % len(direct)]
                prospect = 100_000 + i
                key = f"{campaign}/{prospect}"
                payload = {k: v for k, v in template[campaign].items() if k != "prospect_email"}
                payload |= {"name": key, "prospect_id": prospect}
                created = start - timedelta(minutes=rng.randrange(3 * 365 * 24 * 60))
                status, scheduled = "sent", None
            text = json.dumps(payload, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
            row = [key, campaign, "bench", f"sha256:{i:064x}", text, status, 1_000_000 + i, scheduled,
                   _time(created), _time(created + timedelta(seconds=1)), ACTOR, None]  # fmt: skip
            if digest:
                row.append(_content_digest(payload))
            batch.append(tuple(row))
            for action, detail in (("intent", {}), (status, {"status": status, "email_id": 1_000_000 + i})):
                serial += 1
                entries.append((serial, _time(created), key, action, json.dumps(detail), ACTOR))
            if len(batch) >= 20_000:
                conn.executemany(insert, batch)
                conn.executemany(journal, entries)
                batch, entries = [], []
        conn.executemany(insert, batch)
        conn.executemany(journal, entries)
        conn.execute("UPDATE meta SET serial = ?", (serial,))
    conn.close()
    with sqlite3.connect(db) as conn:
        conn.execute("VACUUM")  # as a long-lived state is: its pages in order, its WAL checkpointed
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def _time(value: datetime) -> str:
    return value.isoformat(timespec="microseconds")


def _content_digest(payload: dict[str, Any]) -> str:
    """``orchestrator.state.models.content_digest`` (imported late: nothing of ours loads otherwise)."""
    from orchestrator.state.models import content_digest

    return content_digest(payload)


def measure(argv: list[str], *, cwd: Path, env: dict[str, str] | None = None, ok: tuple[int, ...] = (0,)) -> Sample:
    """Run ``argv`` once under GNU time: (wall s, CPU s, peak RSS MiB); stdout goes to /dev/null."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as out:
        started = time.perf_counter()
        done = subprocess.run(
            [TIME, "-f", "%U %S %M", "-o", out.name, *argv],
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - started
        if done.returncode not in ok:
            raise SystemExit(f"{' '.join(argv)} exited {done.returncode}:\n{done.stderr}")
        user, system, max_kib = out.read().split()[-3:]
    return wall, float(user) + float(system), int(max_kib) / 1024


def medians(samples: list[Sample]) -> Sample:
    return (
        statistics.median(s[0] for s in samples),
        statistics.median(s[1] for s in samples),
        statistics.median(s[2] for s in samples),
    )


def plan(command: str, root: Path, runs: int) -> Sample:
    argv = [command, "plan", "--now", NOW]
    measure(argv, cwd=root)  # warm-up: the Jinja cache and the page cache, as on a CI runner's second plan
    return medians([measure(argv, cwd=root) for _ in range(runs)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orchestrator", default=default_command(), help="the command to measure")
    parser.add_argument("--sends", default="100000,1000000", help="history sizes, comma-separated")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="keep the projects in this folder (default: a temporary one)")
    parser.add_argument("--plan-only", action="store_true", help="skip the browsing figures (4)")
    args = parser.parse_args()
    command = args.orchestrator
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="orchestrator-history-"))
    try:
        base = workdir / "project"
        if not base.exists():
            write_project(base)
        rows: list[tuple[str, int, float, Sample]] = []
        empty = plan(command, base, args.runs) if not (base / "state.db").exists() else None
        if empty is not None:
            rows.append(("no state yet (empty)", 0, 0.0, empty))
            subprocess.run([command, "apply", "--auto-approve", "--now", NOW], cwd=base, check=True,
                           stdout=subprocess.DEVNULL)  # fmt: skip
        state = sqlite3.connect(base / "state.db")
        applied = state.execute("SELECT count(*) FROM sends").fetchone()[0]
        state.close()
        rows.append(("applied once", applied, _size(base / "state.db"), plan(command, base, args.runs)))
        browse: list[tuple[str, int, Sample]] = []
        for size in (int(s) for s in args.sends.split(",")):
            root = workdir / f"history-{size}"
            if not root.exists():
                shutil.copytree(base, root)
                started = time.perf_counter()
                add_history(root / "state.db", size)
                print(f"(history of {size:,} sends generated in {time.perf_counter() - started:.0f} s)", flush=True)
            rows.append((f"applied once + {size:,} older sends", applied + size, _size(root / "state.db"),
                         plan(command, root, args.runs)))  # fmt: skip
            if args.plan_only:
                continue
            page = [command, "state", "list"]
            terminal = {"TTY_COMPATIBLE": "1"}  # rich's switch: stdout is taken for a terminal
            measure(page, cwd=root, env=terminal)
            pages = [measure(page, cwd=root, env=terminal) for _ in range(args.runs)]
            browse.append(("`state list`, first page (terminal)", size, medians(pages)))
            dump = [command, "state", "list", "--json"]
            browse.append(("`state list --json`, every record", size,
                           medians([measure(dump, cwd=root) for _ in range(args.runs)])))  # fmt: skip
        reference = rows[0][3]
        print("| state | records | state file | plan: wall | CPU | peak RSS | wall vs first row | RSS vs first row |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for name, records, mib, (wall, cpu, rss) in rows:
            print(f"| {name} | {records:,} | {mib:,.0f} MiB | {wall:.2f} s | {cpu:.2f} s | {rss:.1f} MiB "
                  f"| {wall / reference[0]:.2f} x | {rss - reference[2]:+.1f} MiB |")  # fmt: skip
        print()
        print("| command | records | wall | CPU | peak RSS |")
        print("|---|---:|---:|---:|---:|")
        for name, records, (wall, cpu, rss) in browse:
            print(f"| {name} | {records:,} | {wall:.2f} s | {cpu:.2f} s | {rss:.1f} MiB |")
    finally:
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)


def _size(path: Path) -> float:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 2**20


if __name__ == "__main__":
    main()
