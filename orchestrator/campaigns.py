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
from orchestrator.schemas import faulty_keys, validate_document
from orchestrator.textsafe import first_control
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


@dataclass(frozen=True)
class Rejected:
    """A campaign file the schema refused, kept so that later stages still check its sound parts.

    Without it, a file with a typo, a bad cron and no unsubscribe link showed one error per run.
    ``faulty`` names the top-level keys the schema objects to; the others are as the schema says.
    """

    doc: Document
    faulty: frozenset[str]

    def sound(self, *keys: str) -> bool:
        """Whether none of ``keys`` has a schema problem (an absent key is sound)."""
        return self.faulty.isdisjoint(keys)


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


#: Fields a reviewer reads as one line (the plan, the PR comment, the terminal): a line break
#: there forges plan lines or breaks out of a Markdown block, an ANSI escape rewrites the
#: terminal. Checked here rather than as a schema ``pattern``: six more keywords per file cost
#: about 5 % of validating 5,000 campaigns, this costs nothing measurable.
_ONE_LINE_FIELDS: tuple[tuple[str, ...], ...] = (
    ("subject",),
    ("sender", "name"),
    ("sender", "email"),
    ("reply_to",),
    ("operational", "reason"),
)


def _control_problems(doc: Document) -> list[Diagnostic]:
    """Control characters in the one-line fields of a schema-valid campaign, each located."""
    data: dict[str, Any] = doc.data
    found: list[tuple[tuple[str | int, ...], str]] = []
    for field_path in _ONE_LINE_FIELDS:
        value: Any = data
        for key in field_path:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, str):
            found.append((field_path, value))
    found.extend((("tags", i), tag) for i, tag in enumerate(data.get("tags", ())) if isinstance(tag, str))
    out = []
    for path, value in found:
        control = first_control(value)
        if control is not None:
            where = ".".join(str(p) for p in path)
            out.append(
                doc.diagnostic(
                    path,
                    f"{where}: must be one line of plain text, but holds the control character {control} "
                    "(a line break, tab or terminal escape)",
                )
            )
    return out


def _shown(path: Path, root: Path) -> str:
    """``path`` as shown in messages: relative to the project, named by where it sits (a link
    is shown by its own name, not its target); one ``resolve`` less per file than display_path."""
    if path.is_absolute() and path.is_relative_to(root):
        return str(path.relative_to(root))
    return display_path(path, root)


def load_campaigns(
    paths: Iterable[Path], root: Path, *, confine: Path | None = None
) -> tuple[list[Campaign], list[Diagnostic], list[Rejected]]:
    """Load and schema-check ``paths``; return the valid campaigns, every problem found, and the
    files the schema refused (whose sound parts the later stages still check).

    With ``confine`` (the campaigns folder), a file whose resolved path lies outside it (a
    symbolic link to ``/proc/self/environ``, say) is refused before it is read: its content
    could otherwise surface in error messages.
    """
    campaigns: list[Campaign] = []
    problems: list[Diagnostic] = []
    rejected: list[Rejected] = []
    first_seen: dict[str, Campaign] = {}
    inside = confine.resolve() if confine is not None else None
    for path in paths:
        shown = _shown(path, root)
        if inside is not None and not path.resolve().is_relative_to(inside):
            problems.append(
                Diagnostic(
                    shown,
                    0,
                    0,
                    f"resolves to a file outside {inside.name}/ (a symbolic link?); campaign files "
                    f"must be real files inside {inside.name}/",
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
            rejected.append(Rejected(loaded, faulty_keys("campaign", loaded.data)))
            continue
        control_problems = _control_problems(loaded)
        if control_problems:
            problems.extend(control_problems)
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
    return campaigns, problems, rejected
