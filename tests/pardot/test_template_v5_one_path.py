"""One builder and one decoder for v5 email templates (issue 20 follow-up).

The plan-time checks and ``templates show/list`` read templates through ``read_template`` /
``list_one_to_one_templates`` (the version object), the owned templates and ``import templates``
through ``read_template_v5`` / ``query_templates_v5``. Under version 5 both are the same Pardot
call, so they must send the same request: a fix to one path that missed the other (a field
added, a paging rule) would show here. The real client talks to the in-process sandbox.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import httpx
import pytest

import orchestrator.pardot
from orchestrator.errors import ApiProtocolError
from orchestrator.pardot.client import PardotClient
from orchestrator.pardot.templates_v5 import template_body
from orchestrator.pardot.versions import V5
from orchestrator.sandbox import SandboxApp, inprocess_transport
from tests.pardot.test_v5_reads import SETTINGS, Seen, app

PARDOT = Path(orchestrator.pardot.__file__).resolve().parent

__all__ = ["app"]  # the sandbox fixture, shared with the other v5 read tests


def test_both_client_reads_of_a_template_send_the_same_request(app: SandboxApp) -> None:
    seen = Seen()
    with PardotClient(SETTINGS, transport=inprocess_transport(app), api=V5, tracer=seen) as client:
        checked = client.read_template(4001, archived=True)
        by_checks = seen.last()
        owned = client.read_template_v5(4001)
        by_owned = seen.last()
    assert by_checks == by_owned
    assert by_checks[:2] == ("GET", "/api/v5/objects/email-templates/4001")
    assert (checked.name, checked.subject, checked.text) == (owned.name, owned.subject, owned.text)


def test_both_client_queries_of_templates_send_the_same_request(app: SandboxApp) -> None:
    seen = Seen()
    with PardotClient(SETTINGS, transport=inprocess_transport(app), api=V5, tracer=seen) as client:
        one_to_one = client.list_one_to_one_templates()
        by_listing = seen.last()
        page, token = client.query_templates_v5()
        by_owned = seen.last()
    assert by_listing == by_owned
    assert token is None
    assert [t.id for t in one_to_one] == [t.id for t in page if dict(t.flags)["isOneToOneEmail"]]


def test_a_v5_template_read_shows_its_reply_to_and_senders(app: SandboxApp) -> None:
    """The read the plan checks and ``templates show`` use asks ``replyToOptions`` too now."""
    content: dict[str, Any] = {
        "name": "reply",
        "subject": "Hello",
        "text": "Hi. %%unsubscribe%%",
        "html": None,
        "sender": {"name": "Jane", "email": "jane@example.com"},
        "reply_to": "replies@example.com",
        "flags": {"isListEmail": True},
    }
    with PardotClient(SETTINGS, transport=inprocess_transport(app), api=V5) as client:
        made = client.create_template_v5(template_body(content))
        template = client.read_template(made.id)
    assert template.reply_to_address == "replies@example.com"
    assert template.send_from == [{"type": "general_user", "name": "Jane", "address": "jane@example.com"}]
    assert (template.html, template.is_list_email, template.is_one_to_one_email, template.is_archived) == (
        "",
        True,
        False,
        False,
    )


def test_the_owned_template_query_follows_next_page_url_alone(app: SandboxApp) -> None:
    """A server that names the next page only by ``nextPageUrl``: the owned-template query pages
    on, as the other v5 queries do (it used to read the token alone and stop after page one)."""
    sandbox = inprocess_transport(app)

    def url_only(request: httpx.Request) -> httpx.Response:
        if "nextPageToken" not in request.url.params:  # one template a page
            request = httpx.Request(request.method, request.url.copy_set_param("limit", "1"), headers=request.headers)
        answer = sandbox.handle_request(request)
        answer.read()
        body = answer.json()
        body.pop("nextPageToken", None)
        return httpx.Response(answer.status_code, json=body)

    with PardotClient(SETTINGS, transport=httpx.MockTransport(url_only), api=V5) as client:
        first, token = client.query_templates_v5()
        assert token is not None
        second, _ = client.query_templates_v5(token)
    assert len(first) == 1 and len(second) == 1 and second[0].id > first[0].id


@pytest.mark.parametrize(
    ("odd", "named"),
    [
        ({"isListEmail": "maybe"}, "emailTemplate.isListEmail is not a flag"),
        ({"senderOptions": "Jane <jane@example.com>"}, "emailTemplate.senderOptions is not a list of objects"),
        ({"replyToOptions": [["replies@example.com"]]}, "emailTemplate.replyToOptions is not a list of objects"),
    ],
)
def test_an_answer_the_decoder_does_not_understand_is_refused_on_both_paths(odd: dict[str, Any], named: str) -> None:
    """One decoder, so the owned-template read refuses what the checks' read refuses, rather
    than reading a garbled flag as false (which would plan an update of a template that is fine)."""
    answer = {"id": 4001, "name": "welcome", "subject": "Hi", "textMessage": "%%unsubscribe%%", **odd}
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=answer))
    with PardotClient(SETTINGS, transport=transport, api=V5) as client:
        with pytest.raises(ApiProtocolError, match=named):
            client.read_template_v5(4001)
        with pytest.raises(ApiProtocolError, match=named):
            client.read_template(4001)


def _path_literals(path: Path) -> list[str]:
    """The string constants of a module that name the v5 template collection, docstrings aside."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and "/email-templates" in node.value
        and id(node) not in docstrings
    ]


def test_one_module_of_the_client_names_the_v5_template_path() -> None:
    """Every v5 email-template call is built in :mod:`orchestrator.pardot.templates_v5`."""
    naming = {path.name for path in sorted(PARDOT.glob("*.py")) if _path_literals(path)}
    assert naming == {"templates_v5.py"}
