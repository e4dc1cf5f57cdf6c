"""History through the real CLI: ``state archive`` and browsing with ``state list`` / ``state journal``.

The example project is applied against its in-process sandbox; longer histories are loaded in
bulk into the project's own SQLite state.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from orchestrator.cli.exitcodes import ExitCode
from orchestrator.state import open_store
from tests.helpers import EXAMPLE_KEYS, NOW, copy_example, run, sandbox_emails
from tests.state.conftest import Backend
from tests.state.planning_helpers import bulk_load, history
from tests.state.state_helpers import T0, make_record

pytestmark = pytest.mark.timeout(300)

LATER = "2026-11-27T14:00:00Z"
SENT_NOW = ("demo-followup/1234", "demo-followup/jane.prospect@example.com")  # one-to-one, sent on apply


@pytest.fixture
def applied(tmp_path: Path) -> Path:
    project = copy_example(tmp_path / "example")
    code, out, err = run(project, "apply", "--auto-approve", "--now", NOW)
    assert code == 0, out + err
    return project


def key_of(line: str) -> str:
    """The key column of a ``state list`` line (after created, status, email id and scheduled)."""
    return line[len("2026-11-27 12:00  scheduled       70005  2027-03-01 14:00  ") :].split()[0]


def listed(project: Path, *args: str) -> list[dict[str, object]]:
    code, out, err = run(project, "state", "list", "--json", *args)
    assert code == 0, out + err
    sends: list[dict[str, object]] = json.loads(out)["sends"]
    return sends


def test_an_archived_send_is_still_known_as_sent_and_never_sent_twice(applied: Path) -> None:
    code, out, err = run(applied, "state", "archive", "--before", "2026-11-27T13:00:00Z", "--now", LATER)
    assert code == 0, out + err
    assert "Archived 2 sends that went out before 2026-11-27T13:00:00Z" in out
    assert sorted(str(s["key"]) for s in listed(applied, "--archived")) == sorted(SENT_NOW)
    assert sorted(str(s["key"]) for s in listed(applied)) == sorted(set(EXAMPLE_KEYS) - set(SENT_NOW))

    # The files still ask for both one-to-one sends ("on apply"): unknown, they would go out again.
    code, out, err = run(applied, "plan", "--now", LATER, "--detailed-exitcode", "--show-unchanged")
    assert code == 0, out + err
    assert "Plan: 5 unchanged." in out and "demo-followup/1234" in out
    code, out, err = run(applied, "apply", "--auto-approve", "--now", LATER)
    assert code == 0, out + err
    assert len(sandbox_emails(applied)) == 5  # nothing went out twice

    code, out, _ = run(applied, "state", "show", "demo-followup/1234")
    shown = json.loads(out)
    assert code == 0 and shown["archived"] is True and shown["status"] == "sent" and shown["email_id"] > 70000
    entries = json.loads(run(applied, "state", "journal", "--json")[1])["entries"]
    archived = [e for e in entries if e["action"] == "archive"]
    assert [e["detail"] for e in archived] == [{"before": "2026-11-27T13:00:00+00:00", "records": 2}]


def test_an_archived_send_edited_since_is_still_known_by_its_key_and_never_sent_twice(applied: Path) -> None:
    """The same key, new content: no repeat by content to fall back on, only the archived key says it went out."""
    assert run(applied, "state", "archive", "--before", "2026-11-27T13:00:00Z", "--now", LATER)[0] == 0
    followup = applied / "campaigns" / "demo-followup.yaml"
    followup.write_text(followup.read_text().replace("Thanks for joining", "Thanks again for joining"))
    code, out, err = run(applied, "plan", "--now", LATER, "--detailed-exitcode")
    assert code == ExitCode.ATTENTION, out + err
    assert "Plan: 3 unchanged, 2 blocked." in out and "changed after it was sent" in out
    run(applied, "apply", "--auto-approve", "--now", LATER)
    assert len(sandbox_emails(applied)) == 5  # nothing went out twice


def test_a_renamed_copy_of_an_archived_send_is_still_held_as_a_repeat(applied: Path) -> None:
    assert run(applied, "state", "archive", "--before", "2026-11-27T13:00:00Z", "--now", LATER)[0] == 0
    followup = applied / "campaigns" / "demo-followup.yaml"
    followup.write_text(followup.read_text().replace("name: demo-followup", "name: demo-followup-2"))
    code, out, err = run(applied, "plan", "--now", LATER)
    assert code == 0, out + err
    assert "looks like 'demo-followup/1234'" in out and "Plan: 0 to send now" not in out
    code, out, err = run(applied, "apply", "--auto-approve", "--now", LATER)
    assert len(sandbox_emails(applied)) == 5, out + err


def test_archive_refuses_a_date_after_now_and_scheduled_sends_stay_until_their_time(applied: Path) -> None:
    code, out, err = run(applied, "state", "archive", "--before", "2027-01-01", "--now", LATER)
    assert code == 1 and "after now" in err and "--before" in err and "Traceback" not in err
    assert len(listed(applied)) == 5
    # Once their time has passed, scheduled sends went out: archived with the rest.
    code, out, err = run(applied, "state", "archive", "--before", "2027-02-01", "--now", "2027-02-02T00:00:00Z")
    assert code == 0 and "Archived 4 sends" in out, out + err
    assert [s["key"] for s in listed(applied)] == ["spring-sale@2027-03-01T14:00:00Z"]
    code, out, _ = run(applied, "state", "archive", "--before", "2027-02-01", "--now", "2027-02-02T00:00:00Z")
    assert code == 0 and "Nothing to archive" in out


def test_archive_refuses_while_an_older_send_is_unresolved(applied: Path) -> None:
    store = open_store("sqlite", path=applied / ".orchestrator" / "sandbox.db")
    try:  # an apply that crashed between its intent and Pardot's answer, a day earlier
        at = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
        store.put(make_record("lost@now", campaign="lost", created_at=at, updated_at=at), action="intent")
    finally:
        store.close()
    code, _, err = run(applied, "state", "archive", "--before", "2026-11-27T13:00:00Z", "--now", LATER)
    assert code == 1 and "1 of them may or may not have gone out (lost@now)" in err and "state resolve" in err
    assert listed(applied, "--archived") == []


# -- browsing ----------------------------------------------------------------------------


@pytest.fixture
def big(tmp_path: Path) -> tuple[Path, list[dict[str, object]]]:
    """The example project whose state holds 3,000 generated sends; and them, newest first."""
    project = copy_example(tmp_path / "example")
    path = project / ".orchestrator" / "sandbox.db"
    backend = Backend("sqlite", path=path)
    store = open_store("sqlite", path=path)
    try:
        bulk_load(backend, store, history(3_000, campaigns=30, seed=13))
    finally:
        store.close()
    records = sorted(history(3_000, campaigns=30, seed=13), key=lambda r: (r.created_at, r.key), reverse=True)
    return project, [{"key": r.key, "campaign": r.campaign, "status": r.status.value, "created": r.created_at}
                     for r in records]  # fmt: skip


def test_state_list_streams_every_send_newest_first_off_a_terminal(big: tuple[Path, list[dict[str, object]]]) -> None:
    project, expected = big
    code, out, err = run(project, "state", "list")
    assert code == 0, out + err
    lines = out.splitlines()
    assert lines[1].startswith("CREATED (UTC)") and lines[-1] == "3000 send(s)."
    keys = [key_of(line) for line in lines[2:-1]]
    assert keys == [e["key"] for e in expected]
    assert [s["key"] for s in listed(project)] == [e["key"] for e in expected]


def test_state_list_shows_a_page_on_a_terminal_and_counts_the_rest(big: tuple[Path, list[dict[str, object]]]) -> None:
    project, expected = big
    code, out, err = run(project, "state", "list", env={"TTY_COMPATIBLE": "1"})  # rich's "this is a terminal"
    assert code == 0, out + err
    lines = out.splitlines()
    assert len(lines) == 2 + 50 + 1 and [key_of(line) for line in lines[2:-1]] == [e["key"] for e in expected[:50]]
    assert lines[-1].startswith("50 sends, the newest. 2,950 more: `--limit N` or `--all` shows more")
    code, out, _ = run(project, "state", "list", "--limit", "7")
    assert len(out.splitlines()) == 2 + 7 + 1 and "2,993 more" in out
    code, out, _ = run(project, "state", "list", "--all", env={"TTY_COMPATIBLE": "1"})
    assert out.splitlines()[-1] == "3000 send(s)."
    code, _, err = run(project, "state", "list", "--all", "--limit", "3")
    assert code == ExitCode.USAGE and "--limit N or --all" in err


def test_state_list_filters(big: tuple[Path, list[dict[str, object]]]) -> None:
    project, expected = big
    since, until = T0 + timedelta(days=200), T0 + timedelta(days=600)

    def keys(*args: str) -> list[object]:
        return [s["key"] for s in listed(project, *args)]

    two = ("c003", "c007")
    assert keys("--campaign", "c003", "--campaign", "c007") == [e["key"] for e in expected if e["campaign"] in two]
    assert keys("--status", "unknown") == [e["key"] for e in expected if e["status"] == "unknown"]
    window = ("--since", since.isoformat(), "--until", until.date().isoformat())
    midnight = datetime.combine(until.date(), datetime.min.time(), UTC)
    assert keys(*window) == [e["key"] for e in expected if since <= e["created"] < midnight]  # type: ignore[operator]
    assert keys("--prefix", "c01") == [e["key"] for e in expected if str(e["key"]).startswith("c01")]
    assert keys("--prefix", "c01", "--status", "sent", "--limit", "3") == [
        e["key"] for e in expected if str(e["key"]).startswith("c01") and e["status"] == "sent"
    ][:3]
    code, _, err = run(project, "state", "list", "--since", "yesterday")
    assert code == ExitCode.USAGE and "not a date" in err


def test_state_journal_streams_every_entry_and_shows_the_last_page_on_a_terminal(applied: Path) -> None:
    store = open_store("sqlite", path=applied / ".orchestrator" / "sandbox.db")
    try:
        for i in range(55):
            store.append_journal(key=None, action="note", detail={"i": i})
    finally:
        store.close()
    everything = json.loads(run(applied, "state", "journal", "--json")[1])["entries"]
    assert [e["seq"] for e in everything] == list(range(1, 66))
    assert json.loads(run(applied, "state", "journal", "--last", "3", "--json")[1])["entries"] == everything[-3:]

    def seqs(out: str) -> list[int]:
        return [int(line.split()[0]) for line in out.splitlines()[2:-1]]

    out = run(applied, "state", "journal")[1]  # not a terminal: every entry
    assert seqs(out) == list(range(1, 66)) and out.splitlines()[-1] == "65 entries."
    out = run(applied, "state", "journal", env={"TTY_COMPATIBLE": "1"})[1]
    assert seqs(out) == list(range(16, 66))
    assert out.splitlines()[-1] == "50 entries. 15 earlier: `--last N` or `--all` shows more."
    assert seqs(run(applied, "state", "journal", "--last", "4")[1]) == [62, 63, 64, 65]
    out = run(applied, "state", "journal", "demo-followup/1234")[1]
    assert re.findall(r"^\s+\d+\s.*(intent|sent)\s", out, re.M) == ["intent", "sent"]
