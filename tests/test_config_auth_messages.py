"""Configuration mistakes about Pardot's API get a message that says what to set.

client_credentials needs the org's My Domain URL (Salesforce Help, article 000886201), the
v3/v4 API is the only one spoken, and Pardot's version errors (88/89) name the setting.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.config import load_config
from orchestrator.errors import ConfigError, ProjectInvalid
from orchestrator.pardot.errormap import error_for_code
from orchestrator.pardot.settings import ApiSettings, ClientCredentialsAuth

PARDOT = 'kind: pardot, base_url: "https://pi.pardot.com", business_unit_id: 0Uv000000000000AAA'


def _problems(tmp_path: Path, api: str) -> list[str]:
    (tmp_path / "orchestrator.yaml").write_text(
        f"version: 1\nenvironments:\n  prod:\n    api: {{{api}}}\n    state: {{backend: sqlite}}\n"
    )
    try:
        load_config(tmp_path)
    except ProjectInvalid as exc:
        return [str(d) for d in exc.diagnostics]
    return []


@pytest.mark.parametrize(
    ("api", "fragment"),
    [
        (f"{PARDOT}, version: 5, auth: {{method: token, token_env: T}}", "version 5 is not supported"),
        (
            f"{PARDOT}, auth: {{method: client_credentials, client_id_env: A, client_secret_env: B}}",
            "client_credentials needs login_url: your org's My Domain login URL",
        ),
        (
            f'{PARDOT}, auth: {{method: client_credentials, client_id_env: A, client_secret_env: B, login_url: "https://login.salesforce.com"}}',
            "does not work on login.salesforce.com or test.salesforce.com",
        ),
        (
            f'{PARDOT}, auth: {{method: client_credentials, client_id_env: A, client_secret_env: B, login_url: "https://test.salesforce.com/"}}',
            "set login_url to your org's My Domain login URL",
        ),
        ("kind: pardoot", "api is `{kind: sandbox}` or `{kind: pardot"),
    ],
)
def test_api_mistake_is_located_and_says_what_to_set(tmp_path: Path, api: str, fragment: str) -> None:
    problems = _problems(tmp_path, api)
    assert len(problems) == 1, problems
    assert problems[0].startswith("orchestrator.yaml:4:")
    assert fragment in problems[0]


def test_client_credentials_on_my_domain_is_accepted(tmp_path: Path) -> None:
    api = (
        f"{PARDOT}, auth: {{method: client_credentials, client_id_env: A, client_secret_env: B,"
        ' login_url: "https://acme.my.salesforce.com"}'
    )
    assert _problems(tmp_path, api) == []


def test_settings_refuse_client_credentials_on_login_salesforce_com() -> None:
    """The client itself refuses the default login URL for this flow, naming the setting."""
    with pytest.raises(ConfigError, match=r"api\.auth\.login_url") as caught:
        ApiSettings("https://pi.pardot.com", "0Uv000000000000AAA", ClientCredentialsAuth("A", "B"))
    assert "My Domain" in str(caught.value)


@pytest.mark.parametrize(("code", "setting"), [(89, "version: 3"), (88, "version: 4")])
def test_version_errors_say_which_version_to_set(code: int, setting: str) -> None:
    error = error_for_code(code, "Unable to use version 4 of the API")
    assert error.code == code
    assert setting in str(error)
