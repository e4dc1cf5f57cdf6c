"""The lists of a v5 list email (read-only ``recipientLists`` / ``suppressionLists``), read for
``import email``: both plausible shapes are read; anything else is "not given", never an error."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.pardot.list_email_lists_v5 import EmailLists, decode_email_lists
from tests.pardot.fakes import Answer, ClientFactory, FakePardot, make_settings


def test_the_read_asks_only_the_list_fields_and_reads_both_shapes(make_client: ClientFactory) -> None:
    body = {"id": 7, "recipientLists": [{"id": 2001, "name": "News"}, {"id": 2002}], "suppressionLists": [2003]}
    fake = FakePardot(default=Answer(body))
    client = make_client(fake, make_settings(version=5))
    assert client.read_list_email_lists_v5(7) == EmailLists((2001, 2002), (2003,))
    (request,) = fake.requests
    assert request.url.path == "/api/v5/objects/list-emails/7"
    assert request.url.params["fields"] == "id,recipientLists,suppressionLists"


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ({"recipientLists": [1, "2", {"id": 3}, 1], "suppressionLists": []}, EmailLists((1, 2, 3), ())),
        ({"id": 7}, EmailLists(None, None)),
        ({"recipientLists": None, "suppressionLists": "2003"}, EmailLists(None, None)),
        ({"recipientLists": [{"name": "no id"}], "suppressionLists": [True]}, EmailLists(None, None)),
        ({"recipientLists": [0], "suppressionLists": [-1]}, EmailLists(None, None)),
        ({"recipientLists": ["²"], "suppressionLists": [{"id": "٣"}]}, EmailLists(None, None)),
        ([1, 2], EmailLists(None, None)),
    ],
)
def test_anything_unreadable_is_not_given(answer: Any, expected: EmailLists) -> None:
    assert decode_email_lists(answer) == expected
