"""Finding, loading and schema-checking the campaign files of a project.

One campaign per ``*.yaml`` (or ``*.yml``) file under ``campaigns_dir``; a file or folder whose
name starts with ``_`` holds layouts and partials, not campaigns.  Problems in any file are
collected, never raised one at a time, so one run shows all of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.errors import Diagnostic, display_path
from orchestrator.schemas import validate_document
from orchestrator.yamlload import Document, load_yaml


@dataclass(frozen=True)
class Campaign:
    """A schema-valid campaign file."""

    doc: Document

    @property
    def data(self) -> dict[str, Any]:
        data: dict[str, Any] = self.doc.data
        return data

    @property
    def name(self) -> str:
        return str(self.data["name"])

    @property
    def kind(self) -> str:
        return str(self.data.get("kind", "list"))

    @property
    def path(self) -> Path:
        return self.doc.path

    @property
    def display(self) -> str:
        return self.doc.display

    def diagnostic(self, json_path: tuple[str | int, ...], message: str, severity: str = "error") -> Diagnostic:
        """A problem located at ``json_path`` in this campaign's file."""
        return self.doc.diagnostic(json_path, message, severity)


def discover(campaigns_dir: Path) -> list[Path]:
    """Campaign files under ``campaigns_dir``, sorted, skipping ``_``-prefixed files and folders."""
    found = []
    for pattern in ("*.yaml", "*.yml"):
        for path in campaigns_dir.rglob(pattern):
            relative = path.relative_to(campaigns_dir)
            if any(part.startswith("_") for part in relative.parts):
                continue
            if path.is_file():
                found.append(path)
    return sorted(found)


def load_campaigns(
    paths: Iterable[Path], root: Path, *, confine: Path | None = None
) -> tuple[list[Campaign], list[Diagnostic]]:
    """Load and schema-check ``paths``; return the valid campaigns and every problem found.

    With ``confine`` (the campaigns folder), a file whose resolved path lies outside it (a
    symbolic link to ``/proc/self/environ``, say) is refused before it is read: its content
    could otherwise surface in error messages.
    """
    campaigns: list[Campaign] = []
    problems: list[Diagnostic] = []
    first_seen: dict[str, Campaign] = {}
    for path in paths:
        shown = display_path(path, root)
        if confine is not None and not path.resolve().is_relative_to(confine.resolve()):
            # Named by where it sits, not by where the link points.
            shown = display_path(path.parent, root) + "/" + path.name
            problems.append(
                Diagnostic(
                    shown,
                    0,
                    0,
                    f"resolves to a file outside {confine.name}/ (a symbolic link?); campaign files "
                    f"must be real files inside {confine.name}/",
                )
            )
            continue
        loaded = load_yaml(path, shown)
        if isinstance(loaded, Diagnostic):
            problems.append(loaded)
            continue
        if not isinstance(loaded.data, dict):
            problems.append(loaded.diagnostic((), "a campaign file must be a mapping (name: ..., campaign: ...)"))
            continue
        schema_problems = validate_document("campaign", loaded)
        if schema_problems:
            problems.extend(schema_problems)
            continue
        campaign = Campaign(loaded)
        earlier = first_seen.get(campaign.name)
        if earlier is not None:
            problems.append(
                campaign.diagnostic(
                    ("name",),
                    f"campaign name {campaign.name!r} is already used by {earlier.display}; names must be unique",
                )
            )
            continue
        first_seen[campaign.name] = campaign
        campaigns.append(campaign)
    return campaigns, problems
