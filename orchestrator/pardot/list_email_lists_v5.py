"""The lists a v5 list email went to, on the wire: the read and its decoded answer.

The List Email page, v5 (https://developer.salesforce.com/docs/marketing/pardot/guide/list-email-v5.html)
makes ``recipientListIds`` and ``suppressionListIds`` write-only and names the read-only
``recipientLists`` and ``suppressionLists`` ("Recipient Lists[]", "Suppression Lists[]")
without showing an element: **UNCONFIRMED** shape, so both plausible ones are read, integer ids
or objects with an integer ``id``. ``orchestrator import email`` asks for them so that, on a v5
environment, the lists need not be typed on the command line. Pure: :mod:`.client` executes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orchestrator.pardot.decode import list_ids_of
from orchestrator.pardot.endpoints import Call

#: What the read asks: only the two read-only list fields (and the id).
FIELDS = "id,recipientLists,suppressionLists"


def list_email_lists_read(email_id: int) -> Call:
    """GET the recipient and suppression lists of v5 list email ``email_id``."""
    return Call("listEmail.read(v5)", "GET", f"/api/v5/objects/list-emails/{int(email_id)}", (("fields", FIELDS),))


@dataclass(frozen=True)
class EmailLists:
    """The lists of a list email as Pardot gave them, in its order; None: not given (absent,
    null or a shape this client cannot read), which means "unknown", never "none"."""

    recipients: tuple[int, ...] | None
    suppressions: tuple[int, ...] | None


def decode_email_lists(data: Any) -> EmailLists:
    """The two list fields of a read answer; anything unreadable is "not given", never an error."""
    if not isinstance(data, Mapping):
        return EmailLists(None, None)
    return EmailLists(list_ids_of(data.get("recipientLists")), list_ids_of(data.get("suppressionLists")))

