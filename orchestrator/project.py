"""A project: its configuration plus its campaign files, loaded and checked in one call.

This is the front of the pipeline (files -> load and validate -> render -> policy -> desired
sends); the CLI's ``validate``, ``render`` and ``plan`` all start here.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from orchestrator.campaigns import Campaign, Rejected, discover, load_campaigns
from orchestrator.config import Config, Environment, load_config
from orchestrator.desired import DesiredSend
from orchestrator.desired_sends import build_sends
from orchestrator.errors import Diagnostic, ProjectInvalid
from orchestrator.lints import lint_problems
from orchestrator.render import Renderer, template_cache_root


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


def desired_sends(
    project: Project,
    env: Environment,
    now: datetime,
    *,
    lookback: timedelta = timedelta(0),
    campaigns: list[Campaign] | None = None,
    applied: Collection[str] = (),
    lead_time: str = "error",
    lints: bool = True,
) -> tuple[list[DesiredSend], list[Diagnostic]]:
    """Every desired send in ``env`` at ``now``, with loading problems and send problems together.

    ``lints`` adds the email lints (``orchestrator.lints``) of the sends built, at their policy level.
    The whole project (no ``campaigns``) also checks the sound parts of the files the schema refused.
    """
    renderer = Renderer(project.config.campaigns_dir, cache_dir=template_cache_root(project.config.root))
    sends, problems = build_sends(
        campaigns if campaigns is not None else project.campaigns,
        project.config,
        env,
        now,
        lookback=lookback,
        renderer=renderer,
        applied=applied,
        lead_time=lead_time,
        rejected=project.rejected if campaigns is None else (),
    )
    if lints:
        problems += lint_problems(sends, campaigns if campaigns is not None else project.campaigns, env.policy)
    return sends, [*project.problems, *problems]
