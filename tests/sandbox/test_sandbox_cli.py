"""``orchestrator sandbox serve`` and ``orchestrator sandbox emails`` through click's runner."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from sandbox_helpers import AUTH, parse, send_form

from orchestrator.cli.main import cli
from orchestrator.cli.sandbox import sandbox_group
from orchestrator.sandbox import SANDBOX_BASE_URL, SandboxApp, inprocess_transport, serve


def test_serve_help_lists_every_option() -> None:
    result = CliRunner().invoke(sandbox_group, ["serve", "--help"])
    assert result.exit_code == 0
    for option in ("--host", "--port", "--db", "--seed", "--token", "--latency-ms", "--fault",
                   "--fault-seed", "--daily-limit"):
        assert option in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fault", "error66"], "is not KIND=RATE"),
        (["--fault", "boom=0.5"], "unknown fault kind 'boom'"),
        (["--fault", "error66=lots"], "is not a number"),
        (["--fault", "http500=1.5"], "must be between 0 and 1"),
        (["--fault", "drop-after=-0.1"], "must be between 0 and 1"),
        (["--port", "70000"], "70000"),
        (["--latency-ms", "-1"], "-1"),
        (["--seed", "/nonexistent/seed.yaml"], "does not exist"),
    ],
)
def test_serve_validates_its_arguments(args: list[str], message: str) -> None:
    result = CliRunner().invoke(sandbox_group, ["serve", *args])
    assert result.exit_code == 2
    assert message in result.output


def _db_with_one_send(tmp_path: Path) -> Path:
    db = tmp_path / "sandbox.db"
    app = SandboxApp(db_path=db)
    with httpx.Client(transport=inprocess_transport(app), base_url=SANDBOX_BASE_URL, headers=AUTH) as c:
        form = send_form(campaign_id=1001, list_ids=[2001], suppression_list_ids=[2003], email_template_id=4001,
                         name="cli-send")
        assert parse(c.post("/api/email/version/4/do/send", data=form)).stat == "ok"
    app.close()
    return db


def test_emails_from_a_database_as_json(tmp_path: Path) -> None:
    result = CliRunner().invoke(sandbox_group, ["emails", "--db", str(_db_with_one_send(tmp_path)), "--json"])
    assert result.exit_code == 0, result.output
    (email,) = json.loads(result.output)["emails"]
    assert (email["name"], email["kind"], email["suppression_list_ids"]) == ("cli-send", "list", [2003])


def test_emails_from_a_database_as_a_table(tmp_path: Path) -> None:
    runner = CliRunner(env={"COLUMNS": "200"})
    result = runner.invoke(sandbox_group, ["emails", "--db", str(_db_with_one_send(tmp_path))])
    assert result.exit_code == 0, result.output
    assert "cli-send" in result.output and "1 email(s)" in result.output


def test_emails_from_a_running_server() -> None:
    app = SandboxApp()
    with serve(app) as server:
        result = CliRunner().invoke(sandbox_group, ["emails", "--url", server.url, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"emails": []}


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        ([], 1, "no orchestrator.yaml found"),
        (["--db", "x.db", "--url", "http://127.0.0.1:1"], 64, "not both"),
        (["--db", "/nonexistent/x.db"], 1, "no sandbox database"),
        (["--url", "http://127.0.0.1:1"], 1, "cannot read emails"),
    ],
)
def test_emails_usage_errors(
    args: list[str], code: int, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # outside any project
    result = CliRunner().invoke(cli, ["sandbox", "emails", *args])
    assert result.exit_code == code
    assert message in result.output


def test_serve_runs_until_interrupted(tmp_path: Path) -> None:
    # Python keeps SIGINT ignored when it starts ignored, as for every command a non-interactive
    # shell starts with `&` (a test run launched that way hung here): Ctrl-C is made Ctrl-C again.
    script = (
        "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "from orchestrator.cli.sandbox import sandbox_group; sandbox_group()"
    )
    db = tmp_path / "served.db"
    proc = subprocess.Popen(
        [sys.executable, "-c", script, "serve", "--port", "0", "--db", str(db), "--fault-seed", "3"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ},
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("Pardot sandbox listening on http://127.0.0.1:")
        url = line.rsplit(" ", 1)[1].strip()
        response = httpx.get(f"{url}/api/emailTemplate/version/4/do/read/id/4001", headers=AUTH, timeout=10)
        assert parse(response).body["emailTemplate"]["name"] == "welcome"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
    assert proc.returncode == 0
    assert db.is_file()


def test_serve_with_an_invalid_seed_says_why_without_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("lists: [{id: 8001}]\n")
    script = "from orchestrator.cli.main import cli; cli()"
    done = subprocess.run(
        [sys.executable, "-c", script, "sandbox", "serve", "--port", "0", "--seed", str(bad)],
        capture_output=True, text=True, timeout=60, env={**os.environ},
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "invalid sandbox seed" in done.stderr
    assert "bad.yaml::$.lists.0: 'name' is a required property" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert "listening" not in done.stdout


def test_emails_from_a_file_that_is_no_database_is_one_clean_line(tmp_path: Path) -> None:
    db = tmp_path / "not-a.db"
    db.write_bytes(b"this is no SQLite database, " * 100)
    result = CliRunner().invoke(cli, ["sandbox", "emails", "--db", str(db)])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)  # a ClickException, not an escaped error
    assert "cannot open the sandbox database" in result.output


def _blocked_signals(native_id: int) -> set[int]:
    """The signals a thread of this process blocks (Linux: ``SigBlk`` in its /proc status)."""
    status = Path(f"/proc/self/task/{native_id}/status").read_text(encoding="ascii")
    mask = int(next(line.split()[1] for line in status.splitlines() if line.startswith("SigBlk:")), 16)
    return {number for number in range(1, 65) if mask & (1 << (number - 1))}


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads a thread's signal mask from /proc (Linux)")
def test_only_the_main_thread_takes_ctrl_c_while_the_sandbox_serves(tmp_path: Path) -> None:
    """The kernel gives a process signal to any thread that does not block it; one given to the
    serving thread would leave the main thread asleep in its wait (CPython runs handlers on the main
    thread only). The serving thread (and the request threads it starts, which inherit its mask)
    block SIGINT and SIGTERM, so they always reach the main thread."""
    app = SandboxApp(db_path=tmp_path / "s.db")
    with serve(app) as server:
        serving = next(t for t in threading.enumerate() if t.name == f"sandbox-{server.port}")
        assert serving.native_id is not None
        assert {signal.SIGINT, signal.SIGTERM} <= _blocked_signals(serving.native_id)
        assert threading.get_native_id() != serving.native_id
        assert signal.SIGINT not in _blocked_signals(threading.get_native_id())  # the caller's mask is restored
    app.close()
