"""Level 1: settings refuse insecure or impossible values and never show secrets."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.errors import ConfigError
from orchestrator.pardot.settings import (
    ApiSettings,
    ClientCredentialsAuth,
    RefreshTokenAuth,
    StaticTokenAuth,
    TokenAuth,
    is_loopback_host,
)

AUTH = TokenAuth("PARDOT_TOKEN")


@pytest.mark.parametrize(
    ("url", "allow_insecure"),
    [
        ("https://pi.pardot.com", False),
        ("https://pi.demo.pardot.com/", False),
        ("http://127.0.0.1:8080", False),
        ("http://127.5.6.7", False),
        ("http://localhost:9000", False),
        ("http://[::1]:9000", False),
        ("http://sandbox.local", True),
    ],
)
def test_accepted_base_urls(url: str, allow_insecure: bool) -> None:
    ApiSettings(url, "0Uv000000TESTBUAAA", AUTH, allow_insecure=allow_insecure)


@pytest.mark.parametrize(
    "url",
    [
        "http://pi.pardot.com",
        "http://sandbox.local",
        "http://10.0.0.5",
        "http://128.0.0.1",
        "ftp://pi.pardot.com",
        "pi.pardot.com",
        "https://user:pw@pi.pardot.com",
    ],
)
def test_refused_base_urls(url: str) -> None:
    with pytest.raises(ConfigError):
        ApiSettings(url, "0Uv000000TESTBUAAA", AUTH)


@pytest.mark.parametrize(
    "auth",
    [
        RefreshTokenAuth("ID", "SECRET", "REFRESH", login_url="http://login.salesforce.com"),
        ClientCredentialsAuth("ID", "SECRET", login_url="http://login.salesforce.com"),
    ],
)
def test_oauth_login_url_must_be_https_too(auth: Any) -> None:
    with pytest.raises(ConfigError, match=r"api\.auth\.login_url"):
        ApiSettings("https://pi.pardot.com", "0Uv000000TESTBUAAA", auth)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("version", 6, "version"),
        ("format", "yaml", "format"),
        ("max_in_flight", 0, "max_in_flight"),
        ("timeout_s", 0, "timeout_s"),
        ("max_retries", -1, "max_retries"),
        ("business_unit_id", " ", "business_unit_id"),
    ],
)
def test_impossible_values(field: str, value: Any, message: str) -> None:
    values: dict[str, Any] = {
        "base_url": "https://pi.pardot.com",
        "business_unit_id": "0Uv000000TESTBUAAA",
        "auth": AUTH,
        field: value,
    }
    with pytest.raises(ConfigError, match=message):
        ApiSettings(**values)


def test_defaults() -> None:
    settings = ApiSettings("https://pi.pardot.com", "0Uv000000TESTBUAAA", AUTH)
    assert (settings.version, settings.format, settings.max_in_flight) == (4, "json", 5)
    assert (settings.timeout_s, settings.max_retries, settings.allow_insecure) == (30.0, 5, False)
    assert RefreshTokenAuth("a", "b", "c").login_url == "https://login.salesforce.com"


def test_static_token_is_not_in_repr() -> None:
    settings = ApiSettings(
        "http://sandbox.local",
        "0Uv000000SANDBOXAA",
        StaticTokenAuth("s3cr3t-token"),
        allow_insecure=True,
    )
    assert "s3cr3t-token" not in repr(settings)
    assert "s3cr3t-token" not in str(settings)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("localhost", True),
        ("127.0.0.1", True),
        ("127.255.0.1", True),
        ("::1", True),
        ("[::1]", True),
        ("LOCALHOST", True),
        ("10.0.0.1", False),
        ("pi.pardot.com", False),
        ("localhost.example.com", False),
        ("0.0.0.0", False),
    ],
)
def test_loopback_hosts(host: str, expected: bool) -> None:
    assert is_loopback_host(host) is expected
