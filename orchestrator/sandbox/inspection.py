"""What the sandbox has received, for people and tests: emails, recipients, request log.

Read-only views over the store (deleted emails included, with their deletion time); used by
``GET /_sandbox/...`` and by ``orchestrator sandbox emails --db``. Secrets never reach the
request log: :func:`redact_headers` and :func:`redact_params` blank them before an entry is
stored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from orchestrator.sandbox.store import Store

_SECRET_NAME = re.compile(r"authorization|cookie|token|secret|password|api[_-]?key|user[_-]?key", re.I)
REDACTED = "***"


def list_emails(store: Store) -> list[dict[str, Any]]:
    """Every recorded email, oldest first, with its recipient count."""
    with store.reading() as conn:
        rows = conn.execute(
            "SELECT e.*, (SELECT count(*) FROM email_recipients r WHERE r.email_id = e.id)"
            " AS recipients FROM emails e ORDER BY e.id"
        ).fetchall()
    return [
        {
            "id": row["id"],
            "name": row["name"],
            "kind": row["kind"],
            "campaign_id": row["campaign_id"],
            "list_ids": json.loads(row["list_ids"]),
            "suppression_list_ids": json.loads(row["suppression_list_ids"]),
            "recipients": row["recipients"],
            "tags": json.loads(row["tags"]),
            "email_template_id": row["template_id"],
            "subject": row["subject"],
            "operational": bool(row["operational"]),
            "scheduled_time": row["scheduled_time"],
            "created_at": row["created_at"],
            "deleted_at": row["deleted_at"],  # in the recycle bin since (sandbox emails delete)
        }
        for row in rows
    ]


def recipient_ids(store: Store, email_id: int) -> list[int]:
    """The prospect ids an email was recorded for, ascending."""
    with store.reading() as conn:
        rows = conn.execute(
            "SELECT prospect_id FROM email_recipients WHERE email_id = ? ORDER BY prospect_id",
            (email_id,),
        ).fetchall()
    return [int(r[0]) for r in rows]


def redact_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Headers with credentials blanked (Authorization keeps its scheme: ``Bearer ***``)."""
    result: dict[str, str] = {}
    for name, value in headers:
        if _SECRET_NAME.search(name):
            scheme = value.split(" ", 1)[0] if " " in value else ""
            value = f"{scheme} {REDACTED}".strip()
        result[name] = value
    return result


def redact_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters with anything named like a credential blanked."""
    return {k: (REDACTED if _SECRET_NAME.search(k) else v) for k, v in params.items()}
