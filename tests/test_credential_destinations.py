"""A pull request's orchestrator.yaml cannot send credentials, or a state, where they do not belong.

In CI the tool runs the pull request's orchestrator.yaml with Pardot and database credentials in
the environment (issue 17, "A pull request is hostile input"). Each test puts canary values in
those variables, runs the real CLI against a loopback "attacker" that records every byte that
reaches it (as the API, or as the HTTPS proxy every outbound request goes through, so nothing
can leave this machine), and checks that nothing reached it and that the command stopped with a
message located in orchestrator.yaml.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

from orchestrator.cli.common import App
from orchestrator.cli.main import cli
from orchestrator.sandbox import SANDBOX_BUSINESS_UNIT, SANDBOX_TOKEN, SandboxApp, serve
from orchestrator.state import open_store
from tests.helpers import fixed_clock

NOW = "2027-03-01T12:00:00Z"
CANARY = {
    "SF_TOKEN": "canary-token-7c1d",
    "SF_CLIENT_ID": "canary-client-id-41aa",
    "SF_CLIENT_SECRET": "canary-client-secret-9e03",
    "SF_REFRESH_TOKEN": "canary-refresh-token-b2f6",
    "ORCHESTRATOR_STATE_DSN": "postgresql://orchestrator:canary-db-password-55e1@127.0.0.1:1/state",
}
CAMPAIGN = (
    "name: promo\ncampaign: example\nlists: [newsletter]\nsuppression_lists: [competitors]\n"
    "sender: {name: Example News, email: news@example.com}\n"
    'subject: "Spring news"\n'
    'text: "Hi {{Recipient.FirstName}}. Unsubscribe: %%unsubscribe%%"\n'
    "schedule: {now: true}\n"
)
PROXIES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "all_proxy")
TOKEN_AUTH = "{method: token, token_env: SF_TOKEN}"
REFRESH_AUTH = (
    "{method: refresh_token, client_id_env: SF_CLIENT_ID, client_secret_env: SF_CLIENT_SECRET, "
    "refresh_token_env: SF_REFRESH_TOKEN, login_url: 'LOGIN'}"
)


@dataclass
class Attacker:
    """A loopback HTTP server (and HTTPS proxy) that keeps every request that reaches it."""

    url: str
    seen: list[str] = field(default_factory=list)

    def everything(self) -> str:
        return "\n".join(self.seen)


def _recording_handler(attacker: Attacker) -> type[BaseHTTPRequestHandler]:
    class Record(BaseHTTPRequestHandler):
        def _keep(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("latin-1") if length else ""
            attacker.seen.append(f"{self.requestline}\n{self.headers}{body}")
            self.send_response(401 if self.command != "CONNECT" else 403)
            self.send_header("Content-Length", "0")
            self.send_header("Connection", "close")
            self.end_headers()

        do_GET = do_POST = do_CONNECT = _keep

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the test reads ``seen``."""

    return Record


@pytest.fixture
def attacker(monkeypatch: pytest.MonkeyPatch) -> Iterator[Attacker]:
    """The recorder, also set as every proxy: an escaped request lands here, not on the network."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    found = Attacker(f"http://127.0.0.1:{server.server_address[1]}")
    server.RequestHandlerClass = _recording_handler(found)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    for name in PROXIES:
        monkeypatch.setenv(name, found.url)
    for name in ("NO_PROXY", "no_proxy", "ORCHESTRATOR_TRUSTED_HOSTS", "CI", "GITHUB_ACTIONS", "GITHUB_WORKSPACE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in CANARY.items():
        monkeypatch.setenv(name, value)
    try:
        yield found
    finally:
        server.shutdown()
        server.server_close()


def _project(root: Path, environments: str) -> Path:
    (root / "campaigns").mkdir(parents=True)
    (root / "campaigns" / "promo.yaml").write_text(CAMPAIGN)
    (root / "orchestrator.yaml").write_text(
        "version: 1\ntimezone: UTC\ncampaigns_dir: campaigns\nenvironments:\n" + environments
    )
    return root


def _environment(name: str, api: str, state: str = "{backend: sqlite, path: .orchestrator/state.db}") -> str:
    return (
        f"  {name}:\n"
        f"    api: {api}\n"
        f"    state: {state}\n"
        "    ids: {campaigns: {example: 1001}, lists: {newsletter: 2001, competitors: 2003}}\n"
    )


def _pardot(base_url: str, auth: str = TOKEN_AUTH) -> str:
    return f"{{kind: pardot, base_url: '{base_url}', business_unit_id: {SANDBOX_BUSINESS_UNIT}, auth: {auth}}}"


def _run(root: Path, *args: str) -> Result:
    """The real CLI in this process (a Pardot environment refuses --now: the clock seam pins today)."""
    return CliRunner().invoke(cli, ["--project", str(root), *args], obj=App(clock=fixed_clock(NOW)))


def _assert_refused(result: Result, attacker: Attacker, line: int, *fragments: str) -> None:
    """Exit 1, a message located at ``orchestrator.yaml:line``, and nothing at the attacker."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    where = f"orchestrator.yaml:{line}:"
    located = [text for text in result.output.splitlines() if text.removeprefix("Error: ").startswith(where)]
    assert located, result.output
    for fragment in fragments:
        assert any(fragment in text for text in located), (fragment, result.output)
    assert attacker.seen == [], attacker.everything()
    for value in CANARY.values():
        assert value not in result.output


# --- 1. credentials go to Salesforce and nowhere else -------------------------------------


def test_a_base_url_off_pardot_is_refused_before_any_connection(tmp_path: Path, attacker: Attacker) -> None:
    """Today's main sent the bearer token to the pull request's own host (here: through the proxy)."""
    root = _project(tmp_path / "p", _environment("production", _pardot("https://attacker.example")))
    for command in (["plan"], ["validate"]):
        result = _run(root, "--env", "production", *command)
        setting = "api.base_url of environment 'production'"
        _assert_refused(result, attacker, 6, setting, "attacker.example", "ORCHESTRATOR_TRUSTED_HOSTS")


def test_a_login_url_off_salesforce_is_refused_before_any_connection(tmp_path: Path, attacker: Attacker) -> None:
    """Today's main POSTed the client id, client secret and refresh token to the pull request's host."""
    auth = REFRESH_AUTH.replace("LOGIN", "https://attacker.example/")
    root = _project(tmp_path / "p", _environment("production", _pardot("https://pi.pardot.com", auth)))
    result = _run(root, "--env", "production", "plan")
    _assert_refused(result, attacker, 6, "api.auth.login_url of environment 'production'", "Salesforce login host")


def test_only_the_operator_environment_trusts_another_host(
    tmp_path: Path, attacker: Attacker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A proxy named in ORCHESTRATOR_TRUSTED_HOSTS is accepted; no file of the checkout can name one."""
    root = _project(tmp_path / "p", _environment("production", _pardot("https://pardot-proxy.example")))
    (root / ".env").write_text("ORCHESTRATOR_TRUSTED_HOSTS=pardot-proxy.example\n")
    result = _run(root, "--env", "production", "validate")
    _assert_refused(result, attacker, 6, "pardot-proxy.example")

    config = root / "orchestrator.yaml"
    config.write_text(config.read_text().replace("version: 1\n", "version: 1\ntrusted_hosts: [pardot-proxy.example]\n"))
    result = _run(root, "--env", "production", "validate")
    assert result.exit_code == 1 and "trusted_hosts" in result.output, result.output

    config.write_text(config.read_text().replace("trusted_hosts: [pardot-proxy.example]\n", ""))
    monkeypatch.setenv("ORCHESTRATOR_TRUSTED_HOSTS", " login-proxy.example , PARDOT-PROXY.example")
    result = _run(root, "--env", "production", "validate")
    assert result.exit_code == 0, result.output
    assert attacker.seen == []


def test_a_malformed_trusted_hosts_variable_is_refused(
    tmp_path: Path, attacker: Attacker, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _project(tmp_path / "p", _environment("production", _pardot("https://pi.pardot.com")))
    monkeypatch.setenv("ORCHESTRATOR_TRUSTED_HOSTS", "https://pardot-proxy.example:8443/")
    result = _run(root, "--env", "production", "validate")
    assert result.exit_code == 1, result.output
    assert "ORCHESTRATOR_TRUSTED_HOSTS" in result.output and "not a host name" in result.output
    assert attacker.seen == []


# --- 2. one variable, one role ------------------------------------------------------------


def test_a_variable_named_by_two_roles_is_refused(tmp_path: Path, attacker: Attacker) -> None:
    """Today's main sent the database DSN (password included) as the bearer token to base_url."""
    production = _environment(
        "production", _pardot("https://pi.pardot.com"), state="{backend: postgres, dsn_env: ORCHESTRATOR_STATE_DSN}"
    )
    review = _environment("review", _pardot(attacker.url, "{method: token, token_env: ORCHESTRATOR_STATE_DSN}"))
    root = _project(tmp_path / "p", production + review)
    result = _run(root, "--env", "review", "plan")
    _assert_refused(
        result,
        attacker,
        10,
        "api.auth.token_env of environment 'review' names ORCHESTRATOR_STATE_DSN",
        "state.dsn_env of environment 'production'",
    )
    assert "orchestrator.yaml:7:" in result.output
    assert "state.dsn_env of environment 'production' names ORCHESTRATOR_STATE_DSN" in result.output


@pytest.mark.parametrize(
    ("secret", "refresh"),
    [("SF_CLIENT_ID", "SF_REFRESH_TOKEN"), ("SF_CLIENT_SECRET", "sf_client_secret")],
)
def test_two_roles_in_one_environment_are_refused(
    tmp_path: Path, attacker: Attacker, secret: str, refresh: str
) -> None:
    """The client id sent as the secret; the secret sent as the refresh token (names differ only in case)."""
    auth = (
        f"{{method: refresh_token, client_id_env: SF_CLIENT_ID, client_secret_env: {secret}, "
        f"refresh_token_env: {refresh}}}"
    )
    root = _project(tmp_path / "p", _environment("production", _pardot("https://pi.pardot.com", auth)))
    result = _run(root, "--env", "production", "validate")
    _assert_refused(result, attacker, 6, "one variable holds one credential")


def test_one_role_may_share_a_variable_across_environments(tmp_path: Path, attacker: Attacker) -> None:
    environments = _environment("staging", _pardot("https://pi.demo.pardot.com")) + _environment(
        "production", _pardot("https://pi.pardot.com"), state="{backend: postgres, dsn_env: ORCHESTRATOR_STATE_DSN}"
    )
    root = _project(tmp_path / "p", environments)
    result = _run(root, "--env", "staging", "validate")
    assert result.exit_code == 0, result.output


# --- 3. a state file in the repository ----------------------------------------------------


def _git(root: Path, *args: str) -> None:
    environ = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=root, env=environ, check=True, capture_output=True, timeout=60,
    )


def _state_file(path: Path) -> None:
    """A real, initialised SQLite state (what a committed one would be)."""
    store = open_store("sqlite", path=path, create=True)
    close = getattr(store, "close", None)
    if close is not None:
        close()


def _repository(root: Path, attacker: Attacker, state: str = "{backend: sqlite, path: .orchestrator/state.db}") -> Path:
    _project(root, _environment("production", _pardot(attacker.url), state=state))
    _git(root, "init", "-q")
    return root


def test_a_committed_state_file_is_refused_for_pardot(tmp_path: Path, attacker: Attacker) -> None:
    """Today's main planned (and applied) from a committed state: each fresh clone sent again."""
    root = _repository(tmp_path / "p", attacker)
    _state_file(root / ".orchestrator" / "state.db")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "state in git")
    for command in (["plan"], ["validate"]):
        result = _run(root, "--env", "production", *command)
        _assert_refused(result, attacker, 7, "a SQLite file that git tracks", "PostgreSQL")


def test_a_committed_state_reached_through_a_committed_link_is_refused(tmp_path: Path, attacker: Attacker) -> None:
    root = _repository(tmp_path / "p", attacker)
    _state_file(root / "kept" / "state.db")
    (root / ".orchestrator").symlink_to("kept")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "state behind a link")
    result = _run(root, "--env", "production", "plan")
    _assert_refused(result, attacker, 7, "a SQLite file that git tracks")


@pytest.mark.parametrize("flag", ["CI", "GITHUB_ACTIONS"])
def test_a_state_file_in_a_ci_checkout_is_refused(
    tmp_path: Path, attacker: Attacker, monkeypatch: pytest.MonkeyPatch, flag: str
) -> None:
    """Not committed, but in a fresh CI checkout: it starts empty on every run."""
    root = _repository(tmp_path / "p", attacker, state="{backend: sqlite}")
    monkeypatch.setenv(flag, "true")
    result = _run(root, "--env", "production", "plan")
    _assert_refused(result, attacker, 7, "inside a CI checkout", "PostgreSQL")


def test_a_github_workspace_without_git_counts_as_a_checkout(
    tmp_path: Path, attacker: Attacker, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _project(tmp_path / "workspace" / "p", _environment("production", _pardot(attacker.url)))
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_WORKSPACE", str(tmp_path / "workspace"))
    result = _run(root, "--env", "production", "validate")
    _assert_refused(result, attacker, 7, "inside a CI checkout")


def test_where_a_sqlite_state_is_still_fine(
    tmp_path: Path, attacker: Attacker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Untracked outside CI; the sandbox's own state even when committed; CI outside a checkout."""
    untracked = _repository(tmp_path / "untracked", attacker)
    _state_file(untracked / ".orchestrator" / "state.db")
    assert _run(untracked, "--env", "production", "validate").exit_code == 0

    sandbox = tmp_path / "sandbox"
    _project(sandbox, _environment("test", "{kind: sandbox}"))
    _git(sandbox, "init", "-q")
    _state_file(sandbox / ".orchestrator" / "state.db")
    _git(sandbox, "add", "-A")
    _git(sandbox, "commit", "-q", "-m", "sandbox state")
    monkeypatch.setenv("CI", "true")
    assert _run(sandbox, "--env", "test", "validate").exit_code == 0

    elsewhere = _project(tmp_path / "elsewhere", _environment("production", _pardot(attacker.url)))
    result = _run(elsewhere, "--env", "production", "validate")
    assert result.exit_code == 0, result.output
    assert attacker.seen == []


def test_two_fresh_clones_with_a_committed_state_do_not_send_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's reproduction: on today's main ``apply --reviewed`` from each clone sent promo@now."""
    for name in (*PROXIES, "CI", "GITHUB_ACTIONS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SF_TOKEN", SANDBOX_TOKEN)
    app = SandboxApp(clock=fixed_clock(NOW))
    with serve(app) as server:
        origin = _project(tmp_path / "origin", _environment("production", _pardot(server.url)))
        _git(origin, "init", "-q")
        _state_file(origin / ".orchestrator" / "state.db")
        _git(origin, "add", "-A")
        _git(origin, "commit", "-q", "-m", "a state in the repository")
        clones = [tmp_path / "clone-a", tmp_path / "clone-b"]
        for clone in clones:
            _git(tmp_path, "clone", "-q", str(origin), str(clone))
        plan_file = tmp_path / "plan.json"
        planned = _run(clones[0], "--env", "production", "plan", "--out", str(plan_file))
        applied = [_run(clone, "--env", "production", "apply", "--reviewed", str(plan_file)) for clone in clones]
        sent = [str(e["name"]) for e in httpx.get(f"{server.url}/_sandbox/emails", timeout=10).json()["emails"]]
    assert sent == []
    for result in (planned, *applied):
        assert result.exit_code == 1, result.output
        assert "a SQLite file that git tracks" in result.output and "PostgreSQL" in result.output
