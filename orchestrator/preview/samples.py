"""Sample recipients for previews: the documented default, named ``samples:`` from the project,
or a prospect of the sandbox.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from orchestrator.config import Config, Environment
from orchestrator.errors import ConfigError
from orchestrator.preview.merge import Recipient

#: The sample used when neither ``--sample`` nor ``--prospect`` is given and the project defines
#: no sample called ``default`` (documented in the README).
DEFAULT_SAMPLE = Recipient(
    label="built-in sample",
    first_name="Jamie",
    last_name="Rivera",
    email="jamie.rivera@example.com",
    company="Example Corp",
    job_title="Operations Lead",
)

_MAX_VALUE = 500


def sample_recipient(config: Config, name: str | None) -> Recipient:
    """The sample ``name`` from ``samples:``; without a name, ``samples.default`` or :data:`DEFAULT_SAMPLE`."""
    if name is None:
        if "default" not in config.samples:
            return DEFAULT_SAMPLE
        name = "default"
    if name not in config.samples:
        known = ", ".join(sorted(config.samples)) or "none defined"
        raise ConfigError(
            f"no sample recipient named {name!r} (known: {known})",
            hint="add it under `samples:` in orchestrator.yaml, or omit --sample for the built-in sample",
        )
    return recipient_from_mapping(name, config.samples[name])


def recipient_from_mapping(label: str, raw: Mapping[str, Any]) -> Recipient:
    """A recipient from a schema-checked ``samples:`` entry."""
    fields = raw.get("fields") or {}
    return Recipient(
        label=label,
        first_name=_text(raw.get("first_name")),
        last_name=_text(raw.get("last_name")),
        email=_text(raw.get("email")),
        company=_text(raw.get("company")),
        job_title=_text(raw.get("job_title")),
        fields={str(k): _text(v) for k, v in fields.items()},
    )


def _text(value: Any) -> str:
    """A bounded string: booleans as Pardot shows them, control characters dropped."""
    if value is None:
        return ""
    if isinstance(value, bool):
        value = "true" if value else "false"
    return re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", str(value))[:_MAX_VALUE]


def sandbox_prospect(env: Environment, root: Path, ident: str) -> Recipient:
    """The sandbox prospect with id or email ``ident`` as a sample recipient.

    Read from the sandbox's own database: only the sandbox is read this way, so a preview never
    reads real prospects' data into files on a reviewer's disk.
    """
    if env.api.get("kind") != "sandbox":
        raise ConfigError(
            f"--prospect reads the sandbox's prospects, and environment {env.name!r} is not the sandbox",
            hint="use --sample NAME (a sample under `samples:` in orchestrator.yaml) or --env with the sandbox",
        )
    from orchestrator.connect import sandbox_app

    app = sandbox_app(env, root)
    try:
        with app.store.reading() as conn:
            row = _prospect_row(conn, ident)
    finally:
        app.close()
    if row is None:
        raise ConfigError(
            f"the sandbox has no prospect {ident!r}",
            hint="pass a prospect id or email address the sandbox seed defines",
        )
    return Recipient(
        label=f"sandbox prospect {row['id']}",
        first_name=_text(row["first_name"]),
        last_name=_text(row["last_name"]),
        email=_text(row["email"]),
        company=_text(row["company"]),
    )


def _prospect_row(conn: sqlite3.Connection, ident: str) -> Any:
    columns = "id, email, first_name, last_name, company"
    if ident.strip().isdigit():
        query, arg = f"SELECT {columns} FROM prospects WHERE id = ? AND deleted = 0", int(ident.strip())  # noqa: S608
        if arg > 2**62:
            return None
        cur = conn.execute(query, (arg,))
    else:
        cur = conn.execute(
            f"SELECT {columns} FROM prospects WHERE lower(email) = lower(?) AND deleted = 0 ORDER BY id",  # noqa: S608
            (ident.strip()[:254],),
        )
    row = cur.fetchone()
    if row is None:
        return None
    return dict(zip([d[0] for d in cur.description], row, strict=True))
