"""``--format github`` annotations: repository-relative paths, GitHub's escaping, plan
annotations for what needs a human, and ``validate --all-envs`` (issue 9)."""

from __future__ import annotations

import subprocess
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from orchestrator.cli.annotations import command, escape_data, escape_property
from orchestrator.linkcheck import _allow_loopback_for_tests
from tests.helpers import NOW, applied_example, copy_example, run


def git_repo(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True, timeout=30)
    return root


def commands(out: str) -> list[str]:
    """The workflow commands in ``out``: every line GitHub would act on."""
    return [line for line in out.splitlines() if line.startswith("::")]


def test_escaping_follows_githubs_toolkit() -> None:
    # actions/toolkit packages/core/src/command.ts: escapeData and escapeProperty
    assert escape_data("100% done\r\nnext") == "100%25 done%0D%0Anext"
    assert escape_property("a:b,c%\nd") == "a%3Ab%2Cc%25%0Ad"
    line = command("error", "bad\n::warning::forged", file="x\n::warning file=y::forged.yaml", line=3, col=1)
    assert "\n" not in line
    assert line == (
        "::error file=x%0A%3A%3Awarning file=y%3A%3Aforged.yaml,line=3,col=1::bad%0A::warning::forged"
    )


def test_paths_are_relative_to_the_repository_root_not_the_project(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo")
    project = copy_example(repo / "email")
    broken = "name: broken\ncampaign: spring-2027\nlists: [newsletter]\nbogus: 1\n"
    (project / "campaigns" / "broken.yaml").write_text(broken)
    code, out, _ = run(project, "validate", "--format", "github", "--now", NOW)
    assert code == 1
    found = commands(out)
    assert found and all(line.startswith("::error file=email/campaigns/broken.yaml,line=") for line in found)
    assert "::error file=email/campaigns/broken.yaml,line=4,col=8::unknown key" in out


def test_a_file_name_with_a_line_break_cannot_forge_a_command(tmp_path: Path) -> None:
    project = copy_example(tmp_path / "example")
    evil = project / "campaigns" / "evil\n::warning file=README.md::all good.yaml"
    evil.write_text("name: evil\nbogus: 1\n")
    code, out, _ = run(project, "validate", "--format", "github", "--now", NOW)
    assert code == 1
    found = commands(out)
    forged = "::error file=campaigns/evil%0A%3A%3Awarning file=README.md"
    assert found and all(line.startswith(forged) for line in found)
    assert not any(line.startswith("::warning") for line in out.splitlines())


def test_all_envs_validates_every_environment_in_one_run(tmp_path: Path) -> None:
    project = copy_example(tmp_path / "example")
    config = project / "orchestrator.yaml"
    # `partners` exists only in the sandbox's ids: the default run cannot see the production gap
    config.write_text(
        config.read_text().replace(
            "lists: {newsletter: 2001, customers: 2002, competitors: 2003}",
            "lists: {newsletter: 2001, customers: 2002, competitors: 2003, partners: 2004}",
        )
    )
    sale = project / "campaigns" / "spring-sale.yaml"
    sale.write_text(sale.read_text().replace("lists: [newsletter, customers]", "lists: [newsletter, partners]"))
    assert "partners" in sale.read_text()
    code, out, _ = run(project, "validate", "--now", NOW)
    assert code == 0, out
    code, out, _ = run(project, "validate", "--all-envs", "--format", "github", "--now", NOW)
    assert code == 1
    found = commands(out)
    assert len(found) == 1 and "partners" in found[0] and "(in environment production)" in found[0]
    assert found[0].startswith("::error file=campaigns/spring-sale.yaml,line=")
    code, out, _ = run(project, "validate", "--all-envs", "--format", "json", "--now", NOW)
    assert code == 1 and '"environments": [\n    "sandbox",\n    "production"\n  ]' in out
    code, _, err = run(project, "--env", "sandbox", "validate", "--all-envs")
    assert code not in (0, 1) and "not both" in err
    code, out, _ = run(project, "validate", "--all-envs", "--now", NOW, env={"ORCHESTRATOR_ENV": "production"})
    assert code == 1 and "(in environment production)" in out  # a CI job's ORCHESTRATOR_ENV is no conflict


def test_plan_github_annotates_blocked_and_orphaned_sends_at_their_campaign_file(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo")
    project = applied_example(repo / "email")
    sale = project / "campaigns" / "spring-sale.yaml"
    sale.write_text(sale.read_text().replace("{discount: 20,", "{discount: 25,"))
    weekly = project / "campaigns" / "newsletter" / "weekly.yaml"
    weekly.write_text(weekly.read_text().replace('cron: "0 9 * * MON"', 'cron: "0 10 * * MON"'))
    code, out, _ = run(project, "plan", "--format", "github", "--now", NOW)
    assert code == 0, out
    found = commands(out)
    blocked = [line for line in found if "spring-sale@" in line]
    assert len(blocked) == 1, found
    assert blocked[0].startswith(
        "::error file=email/campaigns/spring-sale.yaml,title=orchestrator plan (sandbox)%3A blocked::"
        "spring-sale@2027-03-01T14:00:00Z: blocked: "
    )
    orphan = [line for line in found if "weekly-newsletter@2026-12-07T08:00:00Z: orphaned" in line]
    assert len(orphan) == 1 and orphan[0].startswith("::warning file=email/campaigns/newsletter/weekly.yaml,")
    held = [line for line in found if "weekly-newsletter@2026-12-07T09:00:00Z: blocked" in line]
    assert len(held) == 1 and held[0].startswith("::error file=email/campaigns/newsletter/weekly.yaml,")
    assert out.rstrip().splitlines()[-1].startswith("Plan: ")


@pytest.mark.parametrize("fmt", ["github", "markdown"])
def test_plan_formats_are_clean_on_an_unchanged_project(tmp_path: Path, fmt: str) -> None:
    project = applied_example(tmp_path / "example")
    code, out, _ = run(project, "plan", "--format", fmt, "--now", NOW)
    assert code == 0
    if fmt == "github":
        assert commands(out) == [] and out.strip() == "Plan: 5 unchanged."
    else:
        assert "5 unchanged send(s) not listed" in out


class _Links(BaseHTTPRequestHandler):
    """/shared 200, /prod-only 404; counts every request."""

    seen: ClassVar[Counter[str]] = Counter()

    def do_HEAD(self) -> None:
        type(self).seen[self.path] += 1
        self.send_response(200 if self.path == "/shared" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


def test_all_envs_with_check_links_requests_each_url_once(tmp_path: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Links)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        project = copy_example(tmp_path / "example")
        for name in list((project / "campaigns").glob("*.yaml")) + list((project / "campaigns").glob("*/*.yaml")):
            name.unlink()
        config = project / "orchestrator.yaml"
        text = config.read_text()
        text = text.replace("vars: {site_url: https://staging.example.com}", f"vars: {{page: {base}/shared}}")
        text = text.replace("vars: {site_url: https://www.example.com}", f"vars: {{page: {base}/prod-only}}")
        config.write_text(text.replace("policy:\n", "policy:\n  lints: {insecure-url: 'off'}\n", 1))
        (project / "campaigns" / "links.yaml").write_text(
            "name: links\ncampaign: spring-2027\nlists: [newsletter]\nsender: {name: A, email: a@example.com}\n"
            f"subject: Hi\ntext: |\n  {{{{ page }}}} {base}/shared\n  %%unsubscribe%%\nschedule: {{now: true}}\n"
        )
        with _allow_loopback_for_tests(("127.0.0.1", server.server_address[1])):  # refused by default
            code, out, err = run(project, "validate", "--all-envs", "--check-links", "--format", "github", "--now", NOW)
    finally:
        server.shutdown()
    assert code == 0, out + err  # broken links are warnings unless policy.lints says error
    broken = [line for line in commands(out) if "broken-link" in line]
    assert len(broken) == 1, out + err
    assert "/prod-only" in broken[0] and "(in environment production)" in broken[0]
    assert _Links.seen == Counter({"/shared": 1, "/prod-only": 1})  # each URL once for both environments


def test_what_blocks_is_printed_before_warnings(tmp_path: Path) -> None:
    """GitHub shows 10 annotations per level and step, in print order: lint warnings go last."""
    from datetime import timedelta

    from orchestrator.cli.annotations import plan_annotations
    from orchestrator.errors import Diagnostic
    from orchestrator.planner import make_plan
    from orchestrator.state.models import SendStatus
    from tests.test_planner import NOW as PLAN_NOW
    from tests.test_planner import record, send, snap

    future = PLAN_NOW + timedelta(days=2)
    old, new = send("a", future, subject="Old"), send("a", future, subject="New")
    lints = [Diagnostic(f"campaigns/c{i}.yaml", 1, 1, "preheader: none", "warning") for i in range(15)]
    p = make_plan(
        [new],
        snap(record(old, SendStatus.SCHEDULED)),
        PLAN_NOW,
        environment="test",
        business_unit_id="0Uv000000000000AAA",
        problems=[*lints, Diagnostic("campaigns/z.yaml", 2, 1, "bad")],
    )
    lines = plan_annotations(p, tmp_path, p.attention)
    assert lines[0].startswith("::error file=campaigns/z.yaml,line=2,col=1,")
    assert lines[1].startswith("::error file=campaigns/a.yaml,title=orchestrator plan (test)%3A blocked::a@")
    assert all(line.startswith("::warning file=campaigns/c") for line in lines[2:]) and len(lines) == 17
