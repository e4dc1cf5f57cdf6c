"""The sandbox's v5 collections terminate for any client: every page walk yields each row once.

Whatever the page size, order and id filter, following ``nextPageUrl`` (as a client that ignores
the token would) and following ``nextPageToken`` both read exactly the rows of one big page, in
the same order, and stop.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sandbox_helpers import AUTH

from orchestrator.sandbox import SANDBOX_BASE_URL, SandboxApp, inprocess_transport

FIELDS = {"campaigns": "id,name", "lists": "id,name,isDynamic", "users": "id,email", "email-templates": "id,name"}


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    """One in-memory sandbox for every example (the tests only read)."""
    app = SandboxApp()
    with httpx.Client(transport=inprocess_transport(app), base_url=SANDBOX_BASE_URL, headers=AUTH) as client:
        yield client
    app.close()


def _walk(http: httpx.Client, first: dict[str, str], collection: str, *, by_url: bool) -> list[int]:
    path = f"/api/v5/objects/{collection}"
    body: dict[str, Any] = http.get(path, params=first).json()
    ids = [v["id"] for v in body["values"]]
    for _ in range(100):
        if "nextPageUrl" not in body:
            assert "nextPageToken" not in body
            return ids
        if by_url:
            body = http.get(body["nextPageUrl"]).json()
        else:
            body = http.get(path, params={"fields": first["fields"], "nextPageToken": body["nextPageToken"]}).json()
        ids += [v["id"] for v in body["values"]]
    raise AssertionError("the page walk did not end")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    collection=st.sampled_from(sorted(FIELDS)),
    limit=st.integers(min_value=1, max_value=4),
    order=st.sampled_from(["id asc", "id desc"]),
    after=st.sampled_from([None, "0", "2001", "4001"]),
)
def test_every_page_walk_reads_each_row_once(
    http: httpx.Client, collection: str, limit: int, order: str, after: str | None
) -> None:
    first = {"fields": FIELDS[collection], "orderBy": order}
    if after is not None:
        first["idGreaterThan"] = after
    whole = [v["id"] for v in http.get(f"/api/v5/objects/{collection}", params=first).json()["values"]]
    assert whole == sorted(whole, reverse=order == "id desc")
    assert all(after is None or i > int(after) for i in whole)
    paged = {**first, "limit": str(limit)}
    assert _walk(http, paged, collection, by_url=True) == whole
    assert _walk(http, paged, collection, by_url=False) == whole
