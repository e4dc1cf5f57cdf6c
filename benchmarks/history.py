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
import itertools
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
from collections.abc import Callable, Iterator
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


def write_project(root: Path, state: str) -> None:
    """150 campaigns: 100 weekly newsletters, 30 one-off list emails, 20 one-to-one campaigns."""
    root.mkdir(parents=True)
    (root / "orchestrator.yaml").write_text(
        "version: 1\ndefault_environment: bench\ntimezone: UTC\n"
        f"environments:\n  bench:\n    api: {{kind: sandbox}}\n    state: {state}\n"
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


#: The columns of a send as the generator writes them (``content_digest`` is added where it exists).
COLUMNS = ["key", "campaign", "environment", "fingerprint", "payload", "status", "email_id",
           "scheduled_time", "created_at", "updated_at", "applied_by", "error"]  # fmt: skip
JOURNAL = ["seq", "at", "key", "action", "detail", "actor"]


def history(
    template: dict[str, dict[str, Any]], sends: int, serial: int, *, digest: bool, seed: int = 1
) -> Iterator[tuple[tuple[Any, ...], list[tuple[Any, ...]]]]:
    """``sends`` older sends of the campaigns ``template`` holds a real payload of, each with its
    two journal entries (numbered from ``serial + 1``), as rows of text.

    Half are past newsletter occurrences (hourly, going back from eight days before NOW, so none
    falls inside the plan's lookback), half one-to-one sends to earlier prospects; each payload is
    the campaign's real one with its name (and time, or prospect) changed.
    """
    rng = random.Random(seed)
    listed = [c for c in template if c.startswith("news")]
    direct = [c for c in template if c.startswith("followup")]
    start = NOW_AT - timedelta(days=8)
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
        entries = []
        for action, detail in (("intent", {}), (status, {"status": status, "email_id": 1_000_000 + i})):
            serial += 1
            entries.append((serial, _time(created), key, action, json.dumps(detail), ACTOR))
        yield tuple(row), entries


def add_history(db: Path, sends: int) -> None:
    """Add ``sends`` older sends (and their journal entries) to the SQLite state ``db``."""
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA cache_size = -262144")
        digest = "content_digest" in {row[1] for row in conn.execute("PRAGMA table_info(sends)")}
        template = {c: json.loads(p) for c, p in conn.execute("SELECT campaign, payload FROM sends ORDER BY key")}
        serial = conn.execute("SELECT serial FROM meta").fetchone()[0]
        names = [*COLUMNS, "content_digest"] if digest else COLUMNS
        insert = f"INSERT INTO sends ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
        journal = f"INSERT INTO journal ({', '.join(JOURNAL)}) VALUES ({', '.join('?' * len(JOURNAL))})"
        rows = history(template, sends, serial, digest=digest)
        while chunk := list(itertools.islice(rows, 20_000)):
            conn.executemany(insert, [row for row, _ in chunk])
            conn.executemany(journal, [entry for _, entries in chunk for entry in entries])
        conn.execute("UPDATE meta SET serial = ?", (serial + 2 * sends,))
    conn.close()
    with sqlite3.connect(db) as conn:
        conn.execute("VACUUM")  # as a long-lived state is: its pages in order, its WAL checkpointed
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def add_history_postgres(dsn: str, sends: int) -> None:
    """Add ``sends`` older sends (and their journal entries) to the PostgreSQL state at ``dsn``: one
    COPY for the sends and one, on a second connection, for the journal, fed side by side."""
    import psycopg

    with psycopg.connect(dsn) as conn, psycopg.connect(dsn) as other:
        template = {c: json.loads(p) for c, p in conn.execute("SELECT campaign, payload::text FROM orchestrator_sends")}
        row = conn.execute("SELECT serial FROM orchestrator_meta").fetchone()
        assert row is not None
        serial = row[0]
        names = ", ".join([*COLUMNS, "content_digest"])
        with (
            conn.cursor() as cursor,
            cursor.copy(f"COPY orchestrator_sends ({names}) FROM STDIN") as copy,
            other.cursor() as journal_cursor,
            journal_cursor.copy(f"COPY orchestrator_journal ({', '.join(JOURNAL)}) FROM STDIN") as journal,
        ):
            for record, entries in history(template, sends, serial, digest=True):
                copy.write_row(record)
                for entry in entries:
                    journal.write_row(entry)
        conn.execute("UPDATE orchestrator_meta SET serial = %s", (serial + 2 * sends,))
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


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


def plan(command: str, root: Path, runs: int, env: dict[str, str]) -> Sample:
    argv = [command, "plan", "--now", NOW]
    measure(argv, cwd=root, env=env)  # warm-up: the Jinja cache and the page cache, as on a CI runner's second plan
    return medians([measure(argv, cwd=root, env=env) for _ in range(runs)])


class Sqlite:
    """Each project's state in its own SQLite file, ``state.db``."""

    config = "{backend: sqlite, path: state.db}"

    def env(self, root: Path) -> dict[str, str]:
        return {}

    def exists(self, root: Path) -> bool:
        return (root / "state.db").exists()

    def prepare(self, root: Path) -> None:
        """Nothing: a plan finds no file, "no state yet"."""

    def count(self, root: Path) -> int:
        with sqlite3.connect(root / "state.db") as conn:
            count: int = conn.execute("SELECT count(*) FROM sends").fetchone()[0]
        conn.close()
        return count

    def size(self, root: Path) -> float:
        return sum(p.stat().st_size for p in root.glob("state.db*")) / 2**20

    def copy(self, base: Path, root: Path) -> None:
        shutil.copytree(base, root, dirs_exist_ok=True)

    def add(self, root: Path, sends: int) -> None:
        add_history(root / "state.db", sends)


class Postgres:
    """Each project's state in a database of its own on one throwaway PostgreSQL server (the test
    suite's: loopback, fsync off)."""

    config = "{backend: postgres, dsn_env: BENCH_STATE_DSN}"

    def __init__(self, dsn_for: Callable[[str], str]) -> None:
        self._dsn_for = dsn_for

    def _db(self, root: Path) -> str:
        return "bench_" + root.name.replace("-", "_")

    def env(self, root: Path) -> dict[str, str]:
        return {"BENCH_STATE_DSN": self._dsn_for(self._db(root))}

    def _admin(self, sql: str) -> Any:
        import psycopg

        with psycopg.connect(self._dsn_for("postgres"), autocommit=True) as conn:
            cursor = conn.execute(sql)
            return cursor.fetchall() if sql.startswith("SELECT") else None

    def exists(self, root: Path) -> bool:
        return bool(self._admin(f"SELECT 1 FROM pg_database WHERE datname = '{self._db(root)}'"))

    def prepare(self, root: Path) -> None:
        self._admin(f'CREATE DATABASE "{self._db(root)}"')

    def count(self, root: Path) -> int:
        import psycopg

        with psycopg.connect(self._dsn_for(self._db(root))) as conn:
            row = conn.execute("SELECT count(*) FROM orchestrator_sends").fetchone()
        return int(row[0]) if row else 0

    def size(self, root: Path) -> float:
        rows = self._admin(f"SELECT pg_database_size('{self._db(root)}')")
        return float(rows[0][0]) / 2**20

    def copy(self, base: Path, root: Path) -> None:
        shutil.copytree(base, root, dirs_exist_ok=True)
        self._admin(f'CREATE DATABASE "{self._db(root)}" TEMPLATE "{self._db(base)}"')

    def add(self, root: Path, sends: int) -> None:
        add_history_postgres(self._dsn_for(self._db(root)), sends)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orchestrator", default=default_command(), help="the command to measure")
    parser.add_argument("--sends", default="100000,1000000", help="history sizes, comma-separated")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="keep the projects in this folder (default: a temporary one)")
    parser.add_argument("--plan-only", action="store_true", help="skip the browsing figures (4)")
    parser.add_argument("--postgres", action="store_true", help="a throwaway PostgreSQL server holds the states")
    args = parser.parse_args()
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="orchestrator-history-"))
    try:
        if not args.postgres:
            run(args, workdir, Sqlite())
            return
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from tests.postgres_server import running_postgres

        with running_postgres() as server:
            run(args, workdir, Postgres(server.dsn_for))
    finally:
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)


def run(args: argparse.Namespace, workdir: Path, state: Sqlite | Postgres) -> None:
    """Steps 1 to 4 of the module docstring; the tables on stdout."""
    command = args.orchestrator
    base = workdir / "project"
    if not base.exists():
        write_project(base, state.config)
    rows: list[tuple[str, int, float, Sample]] = []
    if not state.exists(base):
        state.prepare(base)
        rows.append(("no state yet (empty)", 0, 0.0, plan(command, base, args.runs, state.env(base))))
        subprocess.run([command, "apply", "--auto-approve", "--now", NOW], cwd=base, check=True,
                       env={**os.environ, **state.env(base)}, stdout=subprocess.DEVNULL)  # fmt: skip
    applied = state.count(base)
    rows.append(("applied once", applied, state.size(base), plan(command, base, args.runs, state.env(base))))
    browse: list[tuple[str, int, Sample]] = []
    for size in (int(s) for s in args.sends.split(",")):
        root = workdir / f"history-{size}"
        if not state.exists(root):
            state.copy(base, root)
            started = time.perf_counter()
            state.add(root, size)
            print(f"(history of {size:,} sends generated in {time.perf_counter() - started:.0f} s)", flush=True)
        env = state.env(root)
        rows.append((f"applied once + {size:,} older sends", applied + size, state.size(root),
                     plan(command, root, args.runs, env)))  # fmt: skip
        if args.plan_only:
            continue
        page = [command, "state", "list"]
        terminal = {**env, "TTY_COMPATIBLE": "1"}  # rich's switch: stdout is taken for a terminal
        measure(page, cwd=root, env=terminal)
        pages = [measure(page, cwd=root, env=terminal) for _ in range(args.runs)]
        browse.append(("`state list`, first page (terminal)", size, medians(pages)))
        dump = [command, "state", "list", "--json"]
        browse.append(("`state list --json`, every record", size,
                       medians([measure(dump, cwd=root, env=env) for _ in range(args.runs)])))  # fmt: skip
    reference = rows[0][3]
    print("| state | records | state size | plan: wall | CPU | peak RSS | wall vs first row | RSS vs first row |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, records, mib, (wall, cpu, rss) in rows:
        print(f"| {name} | {records:,} | {mib:,.0f} MiB | {wall:.2f} s | {cpu:.2f} s | {rss:.1f} MiB "
              f"| {wall / reference[0]:.2f} x | {rss - reference[2]:+.1f} MiB |")  # fmt: skip
    if browse:
        print()
        print("| command | records | wall | CPU | peak RSS |")
        print("|---|---:|---:|---:|---:|")
        for name, records, (wall, cpu, rss) in browse:
            print(f"| {name} | {records:,} | {wall:.2f} s | {cpu:.2f} s | {rss:.1f} MiB |")


if __name__ == "__main__":
    main()
