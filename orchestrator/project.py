"""A project: its configuration plus its campaign files, loaded and checked in one call.

This is the front of the pipeline (files -> load and validate); the next stage,
:func:`orchestrator.desired_sends.desired_sends_of`, turns it into the sends the files ask for.
The CLI's ``validate``, ``render`` and ``plan`` all start here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.campaigns import Campaign, Rejected, discover, load_campaigns
from orchestrator.config import Config, load_config
from orchestrator.errors import Diagnostic, ProjectInvalid


@dataclass(frozen=True)
class Project:
    """A loaded project: config, the campaigns that passed the schema, and the files it refused."""

    config: Config
    campaigns: list[Campaign]
    problems: list[Diagnostic]
    rejected: list[Rejected] = field(default_factory=list)

    def campaign(self, name: str) -> Campaign:
        """The campaign called ``name``; a clear error listing the known names otherwise."""
        for campaign in self.campaigns:
            if campaign.name == name:
                return campaign
        known = ", ".join(sorted(c.name for c in self.campaigns)) or "none"
        raise ProjectInvalid(
            [Diagnostic(str(self.config.campaigns_dir.name), 0, 0, f"no campaign named {name!r} (known: {known})")]
        )


def load_project(root: Path, paths: list[Path] | None = None) -> Project:
    """Load ``root``'s config and campaigns (or only ``paths``), collecting every problem."""
    config = load_config(root)
    if not config.campaigns_dir.is_dir():
        raise ProjectInvalid(
            [
                Diagnostic(
                    config.path.name,
                    0,
                    0,
                    f"campaigns_dir {config.campaigns_dir} is not a folder; create it or "
                    "fix campaigns_dir in orchestrator.yaml",
                )
            ]
        )
    if not config.campaigns_dir.is_relative_to(config.root):
        raise ProjectInvalid(
            [
                Diagnostic(
                    config.path.name,
                    0,
                    0,
                    f"campaigns_dir resolves to {config.campaigns_dir}, outside the project folder; "
                    "keep the campaigns (and any symbolic link they go through) inside the project",
                )
            ]
        )
    files = discover(config.campaigns_dir) if not paths else _expand(paths)
    campaigns, problems, rejected = load_campaigns(files, config.root, confine=config.campaigns_dir)
    return Project(config, campaigns, problems, rejected)


def _expand(paths: list[Path]) -> list[Path]:
    out: list[Path] = []
    for path in paths:
        out.extend(discover(path) if path.is_dir() else [path])
    return out

