"""``orchestrator export ...`` through click's CliRunner, on a real project folder."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from rich.console import Console

from orchestrator.cli.common import App, OrchestratorGroup
from orchestrator.cli.export import export_group
from orchestrator.pardot.client import PardotClient
from orchestrator.sandbox import ExportConfig, SandboxApp
from tests.export.conftest import make_client

CONFIG = """\
version: 1
timezone: Europe/Paris
environments:
  sandbox:
    api: {kind: sandbox}
    state: {backend: sqlite, path: .orchestrator/sandbox.db}
"""
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "orchestrator.yaml").write_text(CONFIG, encoding="utf-8")
    return tmp_path


@pytest.fixture
def instant_client() -> Iterator[PardotClient]:
    """A sandbox whose exports are Complete as soon as they are created (no waiting)."""
    app = SandboxApp(exports=ExportConfig(0, 0, rows_per_file=20))
    with make_client(app) as client:
        yield client
    app.close()


def make_app(project: Path, client: PardotClient | None = None) -> App:
    # Consoles without a fixed file follow sys.stdout/sys.stderr, which CliRunner captures.
    return App(project_dir=project, _client=client, console=Console(highlight=False),
               err_console=Console(stderr=True, highlight=False))


def run(project: Path, client: PardotClient | None, *args: str) -> Result:
    return CliRunner().invoke(export_group, list(args), obj=make_app(project, client),
                              catch_exceptions=False)


@pytest.mark.parametrize(
    ("command", "words"),
    [([], ["create", "status", "list", "download", "cancel", "docs/export-dates.md"]),
     (["create"], ["--procedure", "--arg", "--fields", "--wait / --no-wait", "--split", "--json",
                   "Ctrl-C"]),
     (["status"], ["EXPORT_ID", "--json"]),
     (["list"], ["--status", "--object", "--created-after", "--created-before", "--updated-after",
                 "--updated-before", "--sort-by", "--sort-order", "--json"]),
     (["download"], ["EXPORT_IDS", "-o, --output", "--json"]),
     (["cancel"], ["EXPORT_ID", "--json"])],
)
def test_every_command_has_help(project: Path, command: list[str], words: list[str]) -> None:
    result = run(project, None, *command, "--help")
    assert result.exit_code == 0
    for word in words:
        assert word in result.output


def test_bad_request_fails_before_any_api_call(project: Path, instant_client: PardotClient) -> None:
    result = run(project, instant_client, "create", "visitor-activity", "--procedure",
                 "filter_by_created_at", "--arg", "created_after=today", "--arg", "deleted=true")
    assert result.exit_code == 1
    assert "unknown argument 'deleted' for filter_by_created_at" in result.output
    assert instant_client.calls == 0


def test_create_waits_downloads_and_merges(project: Path, instant_client: PardotClient) -> None:
    out = project / "prospects.csv"
    result = run(project, instant_client, "create", "prospect", "--procedure",
                 "filter-by-created-at", "--arg", "created_after=11 months ago",
                 "--fields", "id,email", "-o", str(out))
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert rows[0] == ["id", "email"]
    assert f"{len(rows) - 1} rows from 3 file(s) -> {out}" in result.output
    assert not list(project.glob(".prospects.csv.*.part"))


def test_create_to_stdout(project: Path, instant_client: PardotClient) -> None:
    result = run(project, instant_client, "create", "prospect", "--procedure",
                 "filter_by_created_at", "--arg", "created_after=11 months ago", "--fields", "id")
    assert result.exit_code == 0
    assert result.stdout.startswith("id\n")
    assert "rows from" in result.stderr and "-> stdout" in result.stderr


def test_no_data_writes_nothing_and_says_zero_rows(project: Path, instant_client: PardotClient) -> None:
    out = project / "empty.csv"
    result = run(project, instant_client, "create", "prospect", "--procedure",
                 "filter_by_created_at", "--arg", "created_after=2020-01-01",
                 "--arg", "created_before=2020-02-01", "-o", str(out), "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["rows"] == 0
    assert out.read_text(encoding="utf-8") == ""


def test_no_wait_status_cancel_list_and_download(project: Path) -> None:
    app = SandboxApp(exports=ExportConfig(3600, 7200, rows_per_file=20))
    with make_client(app) as client:
        created = run(project, client, "create", "listMembership", "--procedure",
                      "filter_by_updated_at", "--arg", "updated_after=last_month", "--no-wait",
                      "--json")
        assert created.exit_code == 0, created.output
        (job,) = json.loads(created.stdout)["exports"]
        assert job["state"] == "Waiting"
        status = run(project, client, "status", str(job["id"]), "--json")
        assert json.loads(status.stdout)["state"] == "Waiting"
        listed = run(project, client, "list", "--status", "waiting", "--object", "list-membership",
                     "--created-after", "yesterday", "--sort-by", "id", "--json")
        assert [e["id"] for e in json.loads(listed.stdout)["exports"]] == [job["id"]]
        canceled = run(project, client, "cancel", str(job["id"]), "--json")
        assert json.loads(canceled.stdout)["state"] == "Canceled"
        refused = run(project, client, "download", str(job["id"]), "-o", str(project / "x.csv"))
        assert refused.exit_code == 1
        assert f"export {job['id']} was canceled; it cannot be restarted" in refused.output
        assert not (project / "x.csv").exists()
        table = run(project, client, "list")
        assert "Canceled" in table.stdout and "1 export(s)" in table.stderr
    app.close()


def test_download_several_ids_merges_without_duplicates(project: Path, instant_client: PardotClient) -> None:
    ids = []
    for _ in range(2):  # the same export twice: every row is a duplicate the second time
        created = run(project, instant_client, "create", "prospect", "--procedure",
                      "filter_by_created_at", "--arg", "created_after=11 months ago", "--fields", "id",
                      "--no-wait", "--json")
        ids.append(str(json.loads(created.stdout)["exports"][0]["id"]))
    result = run(project, instant_client, "download", *ids, "-o", str(project / "m.csv"), "--json")
    summary = json.loads(result.stdout)
    assert summary["duplicates"] == summary["rows"] > 0
    assert summary["exports"] == [int(i) for i in ids]


def test_json_summary_needs_a_data_file(project: Path, instant_client: PardotClient) -> None:
    result = CliRunner().invoke(export_group, ["download", "1", "-o", "-", "--json"],
                                obj=make_app(project, instant_client))
    assert result.exit_code == 64
    assert "--json prints a summary on stdout" in result.output


def test_list_refuses_a_bad_date(project: Path, instant_client: PardotClient) -> None:
    result = CliRunner().invoke(export_group, ["list", "--created-after", "soon"],
                                obj=make_app(project, instant_client))
    assert result.exit_code == 64
    assert "cannot read 'soon' as a date" in result.output


def test_end_to_end_through_orchestrator_yaml(project: Path) -> None:
    """The environment's own sandbox (built from orchestrator.yaml), real waiting included."""

    @click.group(cls=OrchestratorGroup)
    def root() -> None:
        """A stand-in for the main CLI."""

    root.add_command(export_group)
    result = CliRunner().invoke(
        root,
        ["export", "create", "visitor", "--procedure", "filter_by_updated_at",
         "--arg", "updated_after=11 months ago", "--poll-interval", "0.5", "-o",
         str(project / "v.csv")],
        obj=make_app(project),
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "export 1: Waiting" in result.stderr  # the status line, one per poll off a terminal
    assert (project / "v.csv").read_text(encoding="utf-8").startswith("id,")


def test_list_never_shows_zero_files_for_a_complete_export(project: Path, instant_client: PardotClient) -> None:
    """The export query leaves resultRefs out: the table says "—" (see `export status`), not 0."""
    created = run(project, instant_client, "create", "listMembership", "--procedure", "filter_by_updated_at",
                  "--arg", "updated_after=last_month", "--no-wait", "--json")
    assert created.exit_code == 0, created.output
    job_id = json.loads(created.stdout)["exports"][0]["id"]
    assert run(project, instant_client, "download", str(job_id), "-o", str(project / "m.csv")).exit_code == 0
    status = run(project, instant_client, "status", str(job_id))
    listed = run(project, instant_client, "list")
    row = next(line for line in listed.stdout.splitlines() if line.split()[:1] == [str(job_id)])
    files = row.split()[3]
    status_row = next(line for line in status.stdout.splitlines() if line.split()[:1] == [str(job_id)])
    assert files in ("—", status_row.split()[3]) and files != "0"
