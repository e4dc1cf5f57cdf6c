"""Sample recipients for previews: the documented default, named ``samples:`` from the project,
or a prospect of the sandbox.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from orchestrator.config import Config, Environment
from orchestrator.errors import ApiNotFound, ConfigError
from orchestrator.mergetags import DEFAULT_SAMPLE, Recipient
from orchestrator.pardot.models import Prospect

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

    Read through the sandbox's API (the prospect read a real client makes), and only from the
    sandbox, so a preview never reads real prospects' data into files on a reviewer's disk.
    """
    if not env.is_sandbox:
        raise ConfigError(
            f"--prospect reads the sandbox's prospects, and environment {env.name!r} is not the sandbox",
            hint="use --sample NAME (a sample under `samples:` in orchestrator.yaml) or --env with the sandbox",
        )
    from orchestrator.connect import build_client

    ident = ident.strip()
    found: list[Prospect] = []
    with build_client(env, root) as client:
        try:
            if ident.isdigit():
                found = client.read_prospects(prospect_id=int(ident)) if len(ident) < 19 else []
            else:
                found = client.read_prospects(email=ident[:254])
        except ApiNotFound:
            found = []
    if not found:
        raise ConfigError(
            f"the sandbox has no prospect {ident!r}",
            hint="pass a prospect id or email address the sandbox seed defines",
        )
    prospect = min(found, key=lambda p: p.id)
    return Recipient(
        label=f"sandbox prospect {prospect.id}",
        first_name=_text(prospect.first_name),
        last_name=_text(prospect.last_name),
        email=_text(prospect.email),
        company=_text(prospect.company),
    )
