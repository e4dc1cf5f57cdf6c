"""Credentials from the environment are trimmed and checked when read, and never shown.

Reproduction (issue 10): ``PARDOT_TOKEN=$'SECRET\\n' orchestrator emails show 5`` printed
``Illegal header value b'Bearer SECRET\\n'`` (httpx's repr escapes dodged redaction), and a
non-ASCII token gave a UnicodeEncodeError traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import tenacity

from orchestrator.errors import ApiAuthError, ApiProtocolError, ApiTransientError, ConfigError
from orchestrator.pardot import settings as settings_module
from orchestrator.pardot.client import PardotClient
from orchestrator.pardot.settings import (
    ApiSettings,
    ClientCredentialsAuth,
    RefreshTokenAuth,
    StaticTokenAuth,
    TokenAuth,
)
from orchestrator.sandbox import SANDBOX_BUSINESS_UNIT, SANDBOX_TOKEN, SandboxApp, serve
from tests.helpers import run

from .fakes import Answer, ClientFactory, FakePardot, make_settings

SECRET = "tok-Very-Secret-42"

BAD_VALUES = [
    (f"{SECRET}\nX-Injected: 1", "line break"),
    (f"{SECRET}\r{SECRET}", "line break"),
    (f"{SECRET}\x1b[2J", "control character (U+001B)"),
    (f"{SECRET}\x00", "control character (U+0000)"),
    (f"{SECRET}\x7f", "control character (U+007F)"),
    (f"{SECRET}é", "non-ASCII"),
    (f"{SECRET}\u200b", "non-ASCII"),
]


@pytest.mark.parametrize(("value", "problem"), BAD_VALUES)
def test_a_bad_credential_is_refused_naming_the_variable_not_the_value(value: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_module.secret_from_env({"PARDOT_TOKEN": value}, "PARDOT_TOKEN", "api.auth.token_env")
    shown = str(caught.value)
    assert "PARDOT_TOKEN" in shown
    assert problem in shown
    assert SECRET not in shown


@pytest.mark.parametrize("value", [f"{SECRET}\n", f"  {SECRET}\t\r\n", f"\n{SECRET}"])
def test_surrounding_whitespace_is_trimmed(value: str) -> None:
    assert settings_module.secret_from_env({"T": value}, "T", "api.auth.token_env") == SECRET


@pytest.mark.parametrize("value", ["", "  \n"])
def test_an_empty_or_blank_variable_is_not_set(value: str) -> None:
    with pytest.raises(ConfigError, match="T is not set"):
        settings_module.secret_from_env({"T": value}, "T", "api.auth.token_env")


def _sandbox_settings(url: str, auth: Any) -> ApiSettings:
    return ApiSettings(url, SANDBOX_BUSINESS_UNIT, auth)


def test_token_with_a_trailing_newline_works_over_a_real_socket() -> None:
    """Before: ApiProtocolError "request refused locally (LocalProtocolError: Illegal header
    value b'Bearer sandbox-token\\n')"; the token stripped, the call now succeeds."""
    app = SandboxApp()
    server = serve(app)
    try:
        settings = _sandbox_settings(server.url, TokenAuth("PARDOT_TOKEN"))
        env = {"PARDOT_TOKEN": SANDBOX_TOKEN + "\n"}
        with PardotClient(settings, env=env, retry_wait=tenacity.wait_none()) as client:
            assert client.read_template(4001).id == 4001
    finally:
        server.shutdown()
        app.close()


def test_non_ascii_token_is_a_config_error_not_a_traceback(make_client: ClientFactory) -> None:
    """Before: UnicodeEncodeError from httpx while building the request."""
    fake = FakePardot()
    client = make_client(fake, make_settings(TokenAuth("PARDOT_TOKEN")), env={"PARDOT_TOKEN": SECRET + "é"})
    with pytest.raises(ConfigError, match="PARDOT_TOKEN contains a non-ASCII character") as caught:
        client.read_email(5)
    assert SECRET not in str(caught.value)
    assert fake.requests == []


@pytest.mark.parametrize(
    ("auth", "env", "variable"),
    [
        (RefreshTokenAuth("I", "S", "R", login_url="https://login.test"), {"I": "i", "S": "s\x07", "R": "r"}, "S"),
        (RefreshTokenAuth("I", "S", "R", login_url="https://login.test"), {"I": "i", "S": "s", "R": "ré"}, "R"),
        (ClientCredentialsAuth("I", "S", login_url="https://login.test"), {"I": "i\nj", "S": "s"}, "I"),
    ],
)
def test_oauth_credentials_are_checked_before_anything_is_sent(
    make_client: ClientFactory, auth: Any, env: dict[str, str], variable: str
) -> None:
    fake = FakePardot()
    client = make_client(fake, make_settings(auth), env=env)
    with pytest.raises(ConfigError, match=f"environment variable {variable} contains"):
        client.read_email(5)
    assert fake.requests == []


def test_oauth_credentials_are_trimmed(make_client: ClientFactory) -> None:
    auth = ClientCredentialsAuth("I", "S", login_url="https://login.test")
    fake = FakePardot([Answer({"access_token": "t1"}), Answer({"@attributes": {"stat": "ok"}, "email": {"id": 5}})])
    client = make_client(fake, make_settings(auth), env={"I": " id\n", "S": "secret\n"})
    client.read_email(5)
    assert b"client_id=id&client_secret=secret" in fake.requests[0].content


@pytest.mark.parametrize("token", ["t1\nX-Evil: 1", "tökén", "t1\x00"])
def test_an_oauth_issued_token_that_cannot_be_a_header_is_refused(make_client: ClientFactory, token: str) -> None:
    auth = ClientCredentialsAuth("I", "S", login_url="https://login.test")
    fake = FakePardot([Answer({"access_token": token})])
    client = make_client(fake, make_settings(auth), env={"I": "client-id-1", "S": "client-secret-1"})
    with pytest.raises(ApiAuthError, match="access token that contains") as caught:
        client.read_email(5)
    assert token not in str(caught.value)
    assert len(fake.requests) == 1  # only the token request


@pytest.mark.parametrize("value", ["0Uv000000TESTBUAA\n", "0Uv000000TESTBUAé"])
def test_business_unit_id_must_be_header_safe(value: str) -> None:
    with pytest.raises(ConfigError, match=r"api\.business_unit_id contains"):
        make_settings(business_unit_id=value)


def test_static_token_must_be_header_safe(make_client: ClientFactory) -> None:
    with pytest.raises(ConfigError, match=r"api\.auth\.token contains"):
        make_client(FakePardot(), make_settings(StaticTokenAuth(SECRET + "\n")))


@pytest.mark.parametrize(
    "error",
    [
        httpx.LocalProtocolError(f"Illegal header value b'Bearer {SECRET}\\n'"),
        httpx.RemoteProtocolError(f"illegal header line: bytearray(b'X: {SECRET}\\x00')"),
        httpx.InvalidURL(f"Invalid non-printable ASCII character in URL, '\\n' at position 3: {SECRET}"),
    ],
)
def test_transport_protocol_error_text_is_never_passed_through(make_client: ClientFactory, error: Exception) -> None:
    client = make_client(FakePardot([Answer(raises=error)] * 10))
    with pytest.raises((ApiProtocolError, ApiTransientError)) as caught:
        client.read_email(5)
    assert SECRET not in str(caught.value)
    assert type(error).__name__ in str(caught.value)


def _live_project(root: Path, url: str) -> Path:
    root.mkdir()
    (root / "campaigns").mkdir()
    (root / "orchestrator.yaml").write_text(
        "version: 1\n"
        "default_environment: live\n"
        "timezone: UTC\n"
        "campaigns_dir: campaigns\n"
        "environments:\n"
        "  live:\n"
        "    api:\n"
        "      kind: pardot\n"
        f"      base_url: {url}\n"
        f"      business_unit_id: {SANDBOX_BUSINESS_UNIT}\n"
        "      auth: {method: token, token_env: PARDOT_TOKEN}\n"
        "    state: {backend: sqlite, path: .orchestrator/state.db}\n"
    )
    return root


@pytest.mark.parametrize(
    ("token", "code", "expected"),
    [
        (SANDBOX_TOKEN + "\n", 1, "Pardot error 109"),  # reached Pardot: email 5 does not exist
        (SANDBOX_TOKEN + "é", 1, "PARDOT_TOKEN contains a non-ASCII character"),
        (SANDBOX_TOKEN + "\x1b]0;pwned\x07", 1, "PARDOT_TOKEN contains a control character"),
    ],
)
def test_cli_reproduction_emails_show(tmp_path: Path, token: str, code: int, expected: str) -> None:
    """``PARDOT_TOKEN=$'...\\n' orchestrator emails show 5`` against a loopback Pardot."""
    app = SandboxApp()
    server = serve(app)
    try:
        project = _live_project(tmp_path / "p", server.url)
        exit_code, out, err = run(project, "emails", "show", "5", env={"PARDOT_TOKEN": token})
    finally:
        server.shutdown()
        app.close()
    assert exit_code == code, out + err
    assert expected in out + err
    assert SANDBOX_TOKEN not in out + err
    assert "Illegal header" not in out + err
    assert "Traceback" not in out + err
