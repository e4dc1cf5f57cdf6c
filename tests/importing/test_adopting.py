"""The import sequences as a library user calls them (:mod:`orchestrator.adopting`), without the CLI.

What the CLI relies on: one call per command, the time read once from the clock given, an
option only the user can give returned as :class:`OptionNeeded` (never a click error), and the
client and the state opened only by the step that needs them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from orchestrator import adopting
from orchestrator.config import load_config
from orchestrator.connect import build_client, build_store, sandbox_app
from orchestrator.errors import ConfigError
from orchestrator.pardot.client import PardotClient
from orchestrator.state.base import StateStore
from tests.helpers import NOW, fixed_clock
from tests.importing.test_import_email_cli import SPRING, _on_version, adopter, applied, email_id
from tests.importing.test_import_templates_cli import _project

__all__ = ["applied"]  # the module-scoped fixture, shared with the CLI tests of import email


class Opened:
    """The target's client and store, built for real, and which of them the import opened."""

    def __init__(self, project: Path, env_name: str = "sandbox") -> None:
        self.config = load_config(project)
        self.env = self.config.environment(env_name)
        self.opened: list[str] = []
        self._client: PardotClient | None = None
        self._store: StateStore | None = None

    def client(self) -> PardotClient:
        if self._client is None:
            self.opened.append("client")
            self._client = build_client(self.env, self.config.root, sandbox_clock=fixed_clock(NOW))
        return self._client

    def store(self) -> StateStore:
        if self._store is None:
            self.opened.append("store")
            self._store = build_store(self.env, self.config.root)
        return self._store

    def target(self) -> adopting.ImportTarget:
        return adopting.ImportTarget(config=self.config, env=self.env, client=self.client, store=self.store)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        if self._store is not None:
            self._store.close()


def counted(clock: Callable[[], datetime]) -> tuple[Callable[[], datetime], list[datetime]]:
    reads: list[datetime] = []

    def read() -> datetime:
        reads.append(clock())
        return reads[-1]

    return read, reads


def test_an_email_is_imported_in_one_call_that_reads_the_clock_once(applied: Path, tmp_path: Path) -> None:
    project = adopter(tmp_path / "adopter", applied)
    opened = Opened(project)
    clock, reads = counted(fixed_clock(NOW))
    request = adopting.EmailRequest(
        email_id=email_id(applied, SPRING),
        lists=("newsletter", "customers"),
        suppression=("competitors",),
        sender_name="Acme News",
        sender_email="news@example.com",
    )
    try:
        result = adopting.import_email(opened.target(), request, clock=clock)
        assert isinstance(result, adopting.EmailImported)
        assert (result.shown, result.key, result.scheduled, result.ids_block) == (
            "campaigns/spring-sale.yaml",
            SPRING,
            True,
            "",
        )
        assert len(reads) == 1 and opened.opened == ["client", "store"]
        assert opened.store().get(SPRING) is not None
    finally:
        opened.close()


def test_an_option_only_the_user_can_give_is_returned_before_anything_is_opened(applied: Path, tmp_path: Path) -> None:
    project = adopter(tmp_path / "adopter", applied)
    opened = Opened(project)
    result = adopting.import_email(
        opened.target(), adopting.EmailRequest(email_id=email_id(applied, SPRING)), clock=fixed_clock(NOW)
    )
    assert isinstance(result, adopting.OptionNeeded) and "--sender-user REF" in result.message
    assert opened.opened == []
    assert not (project / ".orchestrator" / "sandbox.db").exists()  # no state created


def test_lists_a_v4_read_cannot_give_are_returned_as_an_option_needed_and_nothing_is_written(
    applied: Path, tmp_path: Path
) -> None:
    project = adopter(tmp_path / "adopter", applied)
    opened = Opened(project)
    request = adopting.EmailRequest(email_id=email_id(applied, SPRING), sender_user="jane")
    try:
        result = adopting.import_email(opened.target(), request, clock=fixed_clock(NOW))
    finally:
        opened.close()
    assert result == adopting.OptionNeeded(
        "give the lists: --list REF, repeated (Pardot's v4 email read does not return them)"
    )
    assert list((project / "campaigns").rglob("*.yaml")) == []


def test_templates_on_v4_are_refused_before_the_clock_client_or_state(tmp_path: Path) -> None:
    opened = Opened(_project(tmp_path, version=4))
    clock, reads = counted(fixed_clock(NOW))
    with pytest.raises(ConfigError, match="importing templates needs `version: 5`"):
        adopting.import_templates(opened.target(), [4001], sender=None, clock=clock)
    assert reads == [] and opened.opened == []


def test_templates_outcome_names_each_template_imported_and_refused(tmp_path: Path) -> None:
    project = _project(tmp_path)
    opened = Opened(project)
    sender = {"name": "Acme News", "email": "news@example.com"}
    try:
        outcome = adopting.import_templates(
            opened.target(), [4001, 999999, 4001], sender=sender, clock=fixed_clock(NOW)
        )
    finally:
        opened.close()
    assert outcome.asked == 2 and outcome.imported == ["welcome"]
    assert [problem.message for problem in outcome.refused] == ["Pardot has no email template 999999"]
    assert outcome.lines[0].startswith("templates/welcome.yaml: written from template 4001")
    assert (project / "templates" / "welcome.yaml").exists()


def test_a_reference_is_a_number_only_when_written_in_ascii_digits() -> None:
    """``str.isdigit`` takes "²" and "٣"; ``int()`` refuses the first: such a list stays a name."""
    from orchestrator.importing import as_ref

    assert as_ref("2001") == 2001
    assert as_ref("²") == "²" and as_ref("٣") == "٣" and as_ref("newsletter") == "newsletter"


class _NoListsTransport(httpx.BaseTransport):
    """The sandbox, as an account whose v5 list-email read does not give the lists (the field's
    shape and presence are unconfirmed: docs/wire-format.md): they are dropped from each answer."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if "/api/v5/objects/list-emails/" not in request.url.path:
            return response
        body = json.loads(response.read())
        for field in ("recipientLists", "suppressionLists"):
            body.pop(field, None)
        return httpx.Response(response.status_code, headers={"content-type": "application/json"}, json=body)

    def close(self) -> None:
        self.inner.close()


def test_a_v5_read_that_does_not_give_the_lists_asks_for_them_and_writes_nothing(
    applied: Path, tmp_path: Path
) -> None:
    from orchestrator.pardot.settings import ApiSettings, StaticTokenAuth
    from orchestrator.pardot.versions import api_version
    from orchestrator.sandbox import SANDBOX_BASE_URL, SANDBOX_TOKEN, inprocess_transport

    project = adopter(tmp_path / "adopter", applied)
    _on_version(project, 5)
    opened = Opened(project)
    settings = ApiSettings(
        base_url=SANDBOX_BASE_URL,
        business_unit_id=opened.env.business_unit_id,
        auth=StaticTokenAuth(SANDBOX_TOKEN),
        version=5,
        allow_insecure=True,
    )
    sandbox = inprocess_transport(sandbox_app(opened.env, opened.config.root, clock=fixed_clock(NOW)), owns_app=True)
    client = PardotClient(settings, transport=_NoListsTransport(sandbox), api=api_version(5))
    target = adopting.ImportTarget(config=opened.config, env=opened.env, client=lambda: client, store=opened.store)
    spring = email_id(applied, SPRING)
    try:
        result = adopting.import_email(
            target, adopting.EmailRequest(email_id=spring, sender_user="jane"), clock=fixed_clock(NOW)
        )
    finally:
        client.close()
        opened.close()
    assert isinstance(result, adopting.OptionNeeded)
    assert f"give the lists: --list REF, repeated (Pardot's v5 read of email {spring}" in result.message
    assert "its recipientLists" in result.message
    assert list((project / "campaigns").rglob("*.yaml")) == []
