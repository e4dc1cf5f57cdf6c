"""Configuration mistakes about Pardot's API get a message that says what to set.

client_credentials needs the org's My Domain URL (Salesforce Help, article 000886201), the
v3/v4 API is the only one spoken, and Pardot's version errors (88/89) name the setting.
Credentials go only to Salesforce's documented hosts (docs/security.md, "Where credentials go").
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.config import Environment, PardotApi, Policy, SqliteState, load_config
from orchestrator.connect import build_client
from orchestrator.errors import ConfigError, ProjectInvalid
from orchestrator.pardot.errormap import error_for_code
from orchestrator.pardot.settings import (
    MY_DOMAIN_SUFFIXES,
    PARDOT_API_HOSTS,
    SALESFORCE_LOGIN_HOSTS,
    TRUSTED_HOSTS_ENV,
    ApiSettings,
    ClientCredentialsAuth,
    CredentialRole,
    RefreshTokenAuth,
    TokenAuth,
    check_credential_hosts,
    credential_url_problem,
    trusted_hosts,
)

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
        (f"{PARDOT}, version: 6, auth: {{method: token, token_env: T}}", "api.version must be 3, 4 or 5"),
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


# --- where credentials may go (issue 17) ---------------------------------------------------

ACCEPTED: list[tuple[CredentialRole, str]] = [
    ("api", "https://pi.pardot.com"),
    ("api", "https://pi.demo.pardot.com/"),
    ("api", "HTTPS://PI.PARDOT.COM:443"),
    ("api", "http://127.0.0.1:8080"),
    ("api", "http://localhost:9000"),
    ("api", "http://[::1]:9000/some/path"),
    ("login", "https://login.salesforce.com"),
    ("login", "https://test.salesforce.com/"),
    ("login", "https://acme.my.salesforce.com"),
    ("login", "https://acme--uat.my.salesforce.com"),  # a sandbox without enhanced domains
    ("login", "https://acme--uat.sandbox.my.salesforce.com"),
    ("login", "https://acme-dev-ed.develop.my.salesforce.com"),
    ("login", "https://acme.scratch.my.salesforce.com"),
    ("login", "https://acme.trailblaze.my.salesforce.com"),
    ("login", "https://acme.demo.my.salesforce.com"),
    ("login", "https://acme.patch.my.salesforce.com"),
    ("login", "https://agency.my.salesforce.mil"),
    ("login", "https://agency--uat.sandbox.my.salesforce.mil"),
    ("login", "http://127.0.0.1:8443"),
]

REFUSED: list[tuple[CredentialRole, str, str]] = [
    ("api", "https://attacker.example", "not a Pardot API host"),
    ("api", "https://pi.pardot.com.attacker.example", "not a Pardot API host"),
    ("api", "https://x.pi.pardot.com", "not a Pardot API host"),
    ("api", "https://pi.pardot.com.", "not a Pardot API host"),
    ("api", "https://www.pardot.com", "not a Pardot API host"),
    ("api", "https://login.salesforce.com", "not a Pardot API host"),
    ("api", "https://attacker.localhost", "not a Pardot API host"),
    ("api", "https://pi.pardot.com:8443", "no port or path"),
    ("api", "https://pi.pardot.com/api", "no port or path"),
    ("api", "http://pi.pardot.com", "plain http"),
    ("api", "http://[::ffff:127.0.0.1]:9", "plain http"),
    ("api", "https://user@pi.pardot.com", "not a plain https://HOST URL"),
    ("api", "https://attacker.example\\@pi.pardot.com", "not a plain https://HOST URL"),
    ("api", "https://pi.pardot.com#@attacker.example", "not a plain https://HOST URL"),
    ("api", "https://pi.pardot.com?x=@attacker.example", "not a plain https://HOST URL"),
    ("api", "https://pi.pardot.com /", "not a plain https://HOST URL"),
    ("api", "ftp://pi.pardot.com", "must be an https URL"),
    ("api", "http://127.0.0.1:99999", "invalid port"),
    ("login", "https://pi.pardot.com", "not a Salesforce login host"),
    ("login", "https://welcome.salesforce.com", "not a Salesforce login host"),
    ("login", "https://na139.salesforce.com", "not a Salesforce login host"),
    ("login", "https://acme.lightning.force.com", "not a Salesforce login host"),
    ("login", "https://acme.my.site.com", "not a Salesforce login host"),
    ("login", "https://my.salesforce.com", "not a Salesforce login host"),
    ("login", "https://acme.evil.my.salesforce.com", "not a Salesforce login host"),
    ("login", "https://a.sandbox.b.my.salesforce.com", "not a Salesforce login host"),
    ("login", "https://acme.my.salesforce.com.attacker.example", "not a Salesforce login host"),
    ("login", "https://acme.my.sfcrmproducts.cn", "not a Salesforce login host"),
    ("login", "https://acme.my.salesforce.com/services/apexrest/x", "no port or path"),
]


@pytest.mark.parametrize(("role", "url"), ACCEPTED)
def test_salesforce_hosts_and_this_machine_may_receive_credentials(role: CredentialRole, url: str) -> None:
    assert credential_url_problem(url, role) == ""


@pytest.mark.parametrize(("role", "url", "fragment"), REFUSED)
def test_every_other_destination_is_refused(role: CredentialRole, url: str, fragment: str) -> None:
    assert fragment in credential_url_problem(url, role)


def test_a_trusted_host_is_that_host_only() -> None:
    trusted = frozenset({"proxy.corp.example"})
    assert credential_url_problem("https://proxy.corp.example:8443/pardot", "api", trusted) == ""
    assert credential_url_problem("https://proxy.corp.example", "login", trusted) == ""
    assert "not a Pardot API host" in credential_url_problem("https://x.proxy.corp.example", "api", trusted)
    assert "plain http" in credential_url_problem("http://proxy.corp.example", "api", trusted)


@pytest.mark.parametrize(
    ("value", "hosts"),
    [("", set()), (" a.example ,B.Example,, ", {"a.example", "b.example"}), ("proxy", {"proxy"})],
)
def test_trusted_hosts_are_read_from_the_variable(value: str, hosts: set[str]) -> None:
    assert trusted_hosts({TRUSTED_HOSTS_ENV: value}) == hosts


@pytest.mark.parametrize("value", ["https://a.example", "a.example:8443", "a.example/x", "*.example", "a b"])
def test_trusted_hosts_take_host_names_only(value: str) -> None:
    with pytest.raises(ConfigError, match=TRUSTED_HOSTS_ENV):
        trusted_hosts({TRUSTED_HOSTS_ENV: value})


def test_settings_built_for_another_host_are_refused_before_a_client_exists() -> None:
    """``build_client`` checks the settings too, whatever made the environment."""
    auth = RefreshTokenAuth("A", "B", "C", login_url="https://attacker.example")
    api = ApiSettings("https://pi.pardot.com", "0Uv000000000000AAA", auth)
    with pytest.raises(ConfigError, match=r"api\.auth\.login_url of environment 'prod'") as caught:
        check_credential_hosts(api, frozenset(), environment="prod")
    assert "nothing was sent" in str(caught.value)
    check_credential_hosts(api, frozenset({"attacker.example"}), environment="prod")


_ALLOWED = PARDOT_API_HOSTS | SALESFORCE_LOGIN_HOSTS


@given(
    prefix=st.sampled_from(["https://", "https://pi.pardot.com", "https://acme.my.salesforce.com", "http://127.0.0.1"]),
    rest=st.text(alphabet=st.characters(codec="utf-8"), max_size=30),
    role=st.sampled_from(["api", "login"]),
)
@settings(max_examples=400, deadline=None)
def test_an_accepted_url_names_the_same_allowed_host_to_every_parser(
    prefix: str, rest: str, role: CredentialRole
) -> None:
    """Whatever text follows, an accepted URL's host, as urllib and httpx both read it, is an allowed one."""
    url = prefix + rest
    if credential_url_problem(url, role):
        return
    host = httpx.URL(url).host
    assert host == urlsplit(url).hostname
    assert host in _ALLOWED or host.endswith(MY_DOMAIN_SUFFIXES) or host == "localhost" or _loopback_address(host)


def _loopback_address(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def test_no_client_is_built_for_another_host(tmp_path: Path) -> None:
    """However an Environment was made, ``build_client`` refuses before a client (or socket) exists."""
    auth = TokenAuth("PARDOT_TOKEN")
    api = PardotApi(base_url="https://attacker.example", business_unit_id="0Uv000000000000AAA", auth=auth)
    env = Environment("prod", api=api, state=SqliteState(), ids={}, vars={}, policy=Policy())
    with pytest.raises(ConfigError, match=r"api\.base_url of environment 'prod' sends credentials to attacker\."):
        build_client(env, tmp_path, environ={"PARDOT_TOKEN": "t"})
    client = build_client(env, tmp_path, environ={"PARDOT_TOKEN": "t", TRUSTED_HOSTS_ENV: "attacker.example"})
    client.close()
