"""A pull request's orchestrator.yaml cannot send credentials, or a state, where they do not belong.

In CI the tool runs the pull request's orchestrator.yaml with Pardot and database credentials in
the environment (issue 17, "A pull request is hostile input"). Each test puts canary values in
those variables, runs the real CLI against a loopback "attacker" that records every byte that
reaches it (as the API, or as the HTTPS proxy every outbound request goes through, so nothing
can leave this machine), and checks that nothing reached it and that the command stopped with a
message located in orchestrator.yaml.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from orchestrator.cli.common import App
from orchestrator.cli.main import cli
from orchestrator.sandbox import SANDBOX_BUSINESS_UNIT
from tests.report.helpers import fixed_clock

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
