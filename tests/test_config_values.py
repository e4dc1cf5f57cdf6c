"""An environment's ``api:`` and ``state:`` load into typed values, parsed once (issue 21).

``SandboxApi`` or ``PardotApi``, ``SqliteState`` or ``PostgresState``: each caller reads
attributes, and the defaults are written once, in the dataclasses. The values hold the names of
the variables that hold secrets, never a secret, so they can be printed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.config import (
    PardotApi,
    PostgresState,
    SandboxApi,
    SqliteState,
    load_config,
    parse_api,
)
from orchestrator.connect import build_store, sandbox_app
from orchestrator.errors import ConfigError
from orchestrator.pardot.settings import REQUEST_DEADLINE_S, ClientCredentialsAuth, RefreshTokenAuth, TokenAuth
from orchestrator.sandbox_defaults import DEFAULT_SANDBOX_DB, SANDBOX_BUSINESS_UNIT

PARDOT_BU = "0Uv000000000001AAA"

CONFIG = f"""\
version: 1
default_environment: sandbox
environments:
  sandbox:
    api: {{kind: sandbox, version: 5, faults: {{http500: 0.25, error66: 0.5}}, account_timezone: Europe/Paris}}
    state: {{backend: sqlite}}
  prod:
    api:
      kind: pardot
      base_url: https://pi.pardot.com
      business_unit_id: {PARDOT_BU}
      version: 3
      timeout: 10
      auth: {{method: refresh_token, client_id_env: SF_ID, client_secret_env: SF_SECRET, refresh_token_env: SF_REFRESH}}
    state: {{backend: postgres, dsn_env: PROD_STATE_DSN}}
  demo:
    api:
      kind: pardot
      base_url: https://pi.demo.pardot.com
      business_unit_id: {PARDOT_BU}
      auth: {{method: token, token_env: DEMO_TOKEN}}
    state: {{backend: sqlite, path: .orchestrator/demo.db}}
"""


def _config(tmp_path: Path) -> Any:
    (tmp_path / "orchestrator.yaml").write_text(CONFIG, encoding="utf-8")
    return load_config(tmp_path, environ={})


def test_a_sandbox_environment_loads_a_sandbox_api(tmp_path: Path) -> None:
    env = _config(tmp_path).environment("sandbox")
    assert env.api == SandboxApi(
        version=5, faults=(("error66", 0.5), ("http500", 0.25)), account_timezone="Europe/Paris"
    )
    assert (env.is_sandbox, env.business_unit_id, env.api.db) == (True, SANDBOX_BUSINESS_UNIT, DEFAULT_SANDBOX_DB)
    assert env.state == SqliteState(path=".orchestrator/state.db")


def test_a_pardot_environment_loads_a_pardot_api(tmp_path: Path) -> None:
    config = _config(tmp_path)
    prod, demo = config.environment("prod"), config.environment("demo")
    assert prod.api == PardotApi(
        base_url="https://pi.pardot.com",
        business_unit_id=PARDOT_BU,
        auth=RefreshTokenAuth(client_id_env="SF_ID", client_secret_env="SF_SECRET", refresh_token_env="SF_REFRESH"),
        version=3,
        timeout=10.0,
    )
    assert (prod.is_sandbox, prod.business_unit_id, prod.api.deadline) == (False, PARDOT_BU, REQUEST_DEADLINE_S)
    assert prod.state == PostgresState(dsn_env="PROD_STATE_DSN")
    assert demo.api.version == 4 and demo.api.auth == TokenAuth(token_env="DEMO_TOKEN")
    assert demo.state == SqliteState(path=".orchestrator/demo.db")


def test_the_loaded_values_show_variable_names_never_their_secrets(tmp_path: Path, monkeypatch: Any) -> None:
    secrets = {"SF_SECRET": "s3cr3t-client-value", "PROD_STATE_DSN": "postgresql://u:pw-value@db/x"}
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    shown = repr(_config(tmp_path))
    assert "SF_SECRET" in shown and "PROD_STATE_DSN" in shown
    assert not any(value in shown for value in secrets.values())


def test_a_pardot_environment_has_no_in_process_sandbox(tmp_path: Path) -> None:
    env = _config(tmp_path).environment("demo")
    with pytest.raises(ConfigError, match="environment 'demo' does not use the in-process sandbox"):
        sandbox_app(env, tmp_path)
    assert not (tmp_path / ".orchestrator").exists()


def test_the_state_opens_where_the_typed_value_says(tmp_path: Path) -> None:
    store = build_store(_config(tmp_path).environment("demo"), tmp_path, create=True)
    try:
        assert (tmp_path / ".orchestrator" / "demo.db").is_file()
    finally:
        store.close()


_SANDBOX_SETTINGS = st.fixed_dictionaries(
    {},
    optional={
        "version": st.sampled_from([3, 4, 5]),
        "format": st.sampled_from(["json", "xml"]),
        "db": st.text("abc./", min_size=1, max_size=8),
        "seed": st.text("abc./", min_size=1, max_size=8),
        "latency_ms": st.integers(0, 1000),
        "faults": st.dictionaries(st.sampled_from(["error66", "http500", "drop-after"]), st.floats(0, 1)),
        "fault_seed": st.integers(),
        "daily_limit": st.integers(1, 10**6),
        "account_timezone": st.sampled_from(["UTC", "Europe/Paris"]),
    },
)


@given(_SANDBOX_SETTINGS)
def test_every_sandbox_setting_reaches_its_field_and_only_it(settings: dict[str, Any]) -> None:
    api = parse_api({"kind": "sandbox", **settings})
    assert isinstance(api, SandboxApi)
    expected = {**vars(SandboxApi()), **settings, "faults": tuple(sorted(settings.get("faults", {}).items()))}
    assert vars(api) == expected
    assert api.business_unit_id == SANDBOX_BUSINESS_UNIT


@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        ({"method": "token", "token_env": "T"}, TokenAuth("T")),
        (
            {"method": "client_credentials", "client_id_env": "I", "client_secret_env": "S",
             "login_url": "https://acme.my.salesforce.com"},
            ClientCredentialsAuth("I", "S", login_url="https://acme.my.salesforce.com"),
        ),
        (
            {"method": "refresh_token", "client_id_env": "I", "client_secret_env": "S", "refresh_token_env": "R"},
            RefreshTokenAuth("I", "S", "R"),
        ),
    ],
)
def test_each_auth_method_loads_its_settings(auth: dict[str, str], expected: object) -> None:
    raw = {"kind": "pardot", "base_url": "https://pi.pardot.com", "business_unit_id": PARDOT_BU, "auth": auth}
    api = parse_api(raw)
    assert isinstance(api, PardotApi) and api.auth == expected
