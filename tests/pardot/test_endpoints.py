"""Level 1: every resource's method, path (v3 and v4), parameters and retry class."""

from __future__ import annotations

import pytest

from orchestrator.errors import ApiValidationError
from orchestrator.pardot import endpoints
from orchestrator.pardot.endpoints import Call
from orchestrator.pardot.models import ListEmailSend, OneToOneSend

LIST_SEND = ListEmailSend(campaign_id=1, list_ids=(2,), email_template_id=3)


def _cases(v: int) -> list[tuple[Call, str, str, bool]]:
    return [
        (
            endpoints.template_read(v, 6789, archived=True),
            "GET",
            f"/api/emailTemplate/version/{v}/do/read/id/6789",
            False,
        ),
        (
            endpoints.template_list_one_to_one(v, archived=False),
            "GET",
            f"/api/emailTemplate/version/{v}/do/listOneToOne",
            False,
        ),
        (endpoints.list_send(v, LIST_SEND), "POST", f"/api/email/version/{v}/do/send", True),
        (
            endpoints.one_to_one_send(v, OneToOneSend(campaign_id=1, prospect_id=42, email_template_id=3)),
            "POST",
            f"/api/email/version/{v}/do/send/prospect_id/42",
            True,
        ),
        (
            endpoints.one_to_one_send(
                v, OneToOneSend(campaign_id=1, prospect_email="j.d+x@example.com", email_template_id=3)
            ),
            "POST",
            f"/api/email/version/{v}/do/send/prospect_email/j.d%2Bx%40example.com",
            True,
        ),
        (endpoints.email_read(v, 5, include_message=False), "GET", f"/api/email/version/{v}/do/read/id/5", False),
        (endpoints.email_stats(v, 5), "GET", f"/api/email/version/{v}/do/stats/id/5", False),
        (
            endpoints.export_create(v, "prospect", "filter_by_updated_at", {"updated_after": "today"}, None),
            "POST",
            f"/api/export/version/{v}/do/create",
            False,
        ),
        (endpoints.export_read(v, 7), "GET", f"/api/export/version/{v}/do/read/id/7", False),
        (endpoints.export_query(v, {}), "GET", f"/api/export/version/{v}/do/query", False),
        (endpoints.export_cancel(v, 7), "POST", f"/api/export/version/{v}/do/cancel/id/7", False),
    ]


CASES = _cases(3) + _cases(4)


@pytest.mark.parametrize(("call", "method", "path", "is_send"), CASES, ids=[c[2] for c in CASES])
def test_endpoint_shape(call: Call, method: str, path: str, is_send: bool) -> None:
    assert (call.method, call.path, call.is_send) == (method, path, is_send)


def test_only_the_by_email_send_masks_addresses() -> None:
    assert [c[0].masks_emails for c in _cases(4)].count(True) == 1
    by_email = endpoints.one_to_one_send(4, OneToOneSend(campaign_id=1, prospect_email="a@b.io", email_template_id=3))
    assert by_email.masks_emails


@pytest.mark.parametrize(("archived", "value"), [(True, "true"), (False, "false")])
def test_archived_flag(archived: bool, value: str) -> None:
    assert endpoints.template_read(4, 1, archived=archived).params == (("archived", value),)
    assert endpoints.template_list_one_to_one(4, archived=archived).params == (("archived", value),)


@pytest.mark.parametrize(("include", "value"), [(True, "true"), (False, "false")])
def test_include_message_flag(include: bool, value: str) -> None:
    assert endpoints.email_read(4, 1, include_message=include).params == (("include_message", value),)


def test_export_create_body() -> None:
    call = endpoints.export_create(
        4,
        "visitorActivity",
        "filter_by_created_at",
        {"created_after": "2026-01-01", "created_before": "2026-02-01"},
        ["id", "type"],
    )
    assert call.json == {
        "object": "visitorActivity",
        "procedure": {
            "name": "filter_by_created_at",
            "arguments": {"created_after": "2026-01-01", "created_before": "2026-02-01"},
        },
        "fields": ["id", "type"],
    }


def test_export_create_without_fields_asks_for_all() -> None:
    call = endpoints.export_create(4, "prospect", "filter_by_updated_at", {}, None)
    assert call.json is not None and "fields" not in call.json


def test_export_create_refuses_more_than_150_fields() -> None:
    endpoints.export_create(4, "prospect", "p", {}, [f"f{i}" for i in range(150)])
    with pytest.raises(ApiValidationError, match="at most 150"):
        endpoints.export_create(4, "prospect", "p", {}, [f"f{i}" for i in range(151)])


def test_export_query_sends_every_given_filter_in_order() -> None:
    filters = {
        "created_after": "2026-01-01",
        "created_before": "2026-02-01",
        "updated_after": "a",
        "updated_before": "b",
        "status": "Complete",
        "object": "prospect",
        "sort_by": "created_at",
        "sort_order": "ascending",
    }
    assert endpoints.export_query(4, filters).params == tuple(filters.items())
    assert endpoints.export_query(4, {"status": None, "object": "visitor"}).params == (("object", "visitor"),)


@pytest.mark.parametrize("filters", [{"status": "Done"}, {"sort_by": "name"}, {"sort_order": "up"}])
def test_export_query_refuses_unknown_choices(filters: dict[str, str]) -> None:
    with pytest.raises(ApiValidationError):
        endpoints.export_query(4, filters)
