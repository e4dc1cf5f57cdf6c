"""One object per API version: the client asks it for paths, encoding, decoding and error rules.

The v3/v4 objects must build exactly the calls the endpoint builders always built (the seam is
a refactor for them), and the object is chosen once, from ``api.version``, in ``connect``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from orchestrator.errors import ApiOutcomeUnknown, ApiTransientError
from orchestrator.pardot import endpoints
from orchestrator.pardot.models import ListEmailSend, OneToOneSend
from orchestrator.pardot.settings import SUPPORTED_VERSIONS
from orchestrator.pardot.versions import V3, V4, VERSIONS, ClassicApi, api_version

LIST_SEND = ListEmailSend(
    campaign_id=1001,
    list_ids=(2001, 2002),
    suppression_list_ids=(2003,),
    name="n",
    subject="s",
    text_content="t %%unsubscribe%%",
    from_user_id=7,
    scheduled_time=datetime(2030, 1, 1, tzinfo=UTC),
)
ONE_SEND = OneToOneSend(campaign_id=1001, prospect_id=42, email_template_id=5)


@pytest.mark.parametrize("api", [V3, V4], ids=["v3", "v4"])
def test_classic_versions_build_the_calls_the_endpoint_builders_build(api: ClassicApi) -> None:
    """Behaviour unchanged: every v3/v4 call is the one ``endpoints`` builds with its number."""
    n = api.number
    pairs = [
        (api.template_read(3, archived=True), endpoints.template_read(n, 3, archived=True)),
        (api.template_list_one_to_one(archived=False), endpoints.template_list_one_to_one(n, archived=False)),
        (api.list_send(LIST_SEND), endpoints.list_send(n, LIST_SEND)),
        (api.one_to_one_send(ONE_SEND), endpoints.one_to_one_send(n, ONE_SEND)),
        (api.email_read(9, include_message=False), endpoints.email_read(n, 9, include_message=False)),
        (api.email_stats(9), endpoints.email_stats(n, 9)),
        (api.object_read("list", 2001), endpoints.object_read(n, "list", 2001)),
        (api.object_query("user", id_greater_than=5), endpoints.object_query(n, "user", id_greater_than=5)),
        (api.export_read(8), endpoints.export_read(n, 8)),
        (api.export_cancel(8), endpoints.export_cancel(n, 8)),
    ]
    for built, expected in pairs:
        assert built == expected
        assert f"/version/{n}/" in built.path


def test_every_version_the_settings_accept_has_an_object() -> None:
    assert set(SUPPORTED_VERSIONS) == set(VERSIONS)
    for number in SUPPORTED_VERSIONS:
        assert api_version(number).number == number


def test_the_exactly_once_rule_belongs_to_the_version() -> None:
    """A connect failure proves a send was not made; a read timeout does not (v3/v4 rule)."""
    refused = ApiTransientError("could not connect")
    refused.__cause__ = httpx.ConnectError("refused")
    timed_out = ApiOutcomeUnknown("read timeout")
    timed_out.__cause__ = httpx.ReadTimeout("slow")
    for api in (V3, V4):
        assert api.proves_not_sent(refused)
        assert not api.proves_not_sent(timed_out)


def test_connect_chooses_the_version_once(tmp_path: Path) -> None:
    """The sandbox environment's client speaks v4 unless ``api.version`` says otherwise."""
    from orchestrator.config import load_config
    from orchestrator.connect import build_client

    (tmp_path / "orchestrator.yaml").write_text(
        "version: 1\nenvironments:\n  sandbox:\n    api: {kind: sandbox}\n    state: {backend: sqlite}\n"
    )
    config = load_config(tmp_path)
    with build_client(config.environments["sandbox"], tmp_path) as client:
        assert client.api is V4
