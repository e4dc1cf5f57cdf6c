"""Where an apply comes from: the git commit it sends from, who approved it, and whether that
commit is newer than the last one applied.

The state journals the commit of every apply that sends (``apply-commit``), and each send's
journal entries carry the commit, the saved plan's checksum and the approver, so "who sent
this, from what, approved by whom" is answered from the state alone. An apply from a checkout
that does not descend from the last applied commit (a re-run of an old workflow run, a
force-pushed revert) would send an older version of the files: it is refused.

Outside git, or before any commit was recorded, there is nothing to compare and no check.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.errors import PlanRefused
from orchestrator.plan import PlanSource
from orchestrator.state.base import StateStore

__all__ = [
    "APPLY_COMMIT",
    "APPROVER_VARIABLES",
    "GIT_TIMEOUT_S",
    "Audit",
    "approver",
    "check_descends",
    "git_source",
]

#: How long ``git`` may take to say which commit a project is at.
GIT_TIMEOUT_S = 10.0

#: The journal action (state-wide, no key) recording the commit an apply sent from.
APPLY_COMMIT = "apply-commit"

#: Where the approver's name comes from, first set wins. ``ORCHESTRATOR_APPROVED_BY`` is for the
#: workflow to set (for instance from GitHub's review history of the run); GitHub sets
#: ``GITHUB_TRIGGERING_ACTOR`` (who started this run, or re-ran it) and ``GITHUB_ACTOR``.
APPROVER_VARIABLES = ("ORCHESTRATOR_APPROVED_BY", "GITHUB_TRIGGERING_ACTOR", "GITHUB_ACTOR")

_COMMIT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")  # SHA-1 or SHA-256 object names, nothing else
_MAX_NAME = 200


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, timeout=GIT_TIMEOUT_S, check=False
    )


def git_source(root: Path) -> PlanSource:
    """The git commit ``root`` is checked out at, and whether tracked files differ from it."""
    try:
        head = _git(root, "rev-parse", "--verify", "HEAD")
        if head.returncode != 0:
            return PlanSource(note="not a git checkout")
        status = _git(root, "status", "--porcelain", "--untracked-files=no", "--", ".")
    except (OSError, subprocess.TimeoutExpired):
        return PlanSource(note="not a git checkout (git did not answer)")
    dirty = bool(status.stdout.strip()) if status.returncode == 0 else None
    return PlanSource(git_commit=head.stdout.strip(), git_dirty=dirty, note="uncommitted changes" if dirty else None)


def approver(environ: Mapping[str, str]) -> str | None:
    """Who approved this apply, as ``name (VARIABLE)``: the first of :data:`APPROVER_VARIABLES` set."""
    for name in APPROVER_VARIABLES:
        value = " ".join(environ.get(name, "").split())[:_MAX_NAME]
        if value:
            return f"{value} ({name})"
    return None


@dataclass(frozen=True)
class Audit:
    """What every journal entry of one apply's sends carries (and its ``apply-commit`` entry)."""

    commit: str | None = None
    dirty: bool | None = None
    plan_checksum: str | None = None
    approved_by: str | None = None

    def detail(self) -> dict[str, Any]:
        return {
            "commit": self.commit,
            "dirty": self.dirty,
            "plan_checksum": self.plan_checksum,
            "approved_by": self.approved_by,
        }


def _is_ancestor(root: Path, older: str, newer: str) -> bool | None:
    """Whether ``older`` is ``newer`` or one of its ancestors; None when git cannot tell (a commit
    this clone does not have, as in a shallow clone)."""
    try:
        answer = _git(root, "merge-base", "--is-ancestor", older, newer)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return {0: True, 1: False}.get(answer.returncode)


def check_descends(root: Path, store: StateStore) -> PlanSource:
    """The checkout's commit, refused unless it descends from the last commit applied to ``store``.

    The caller holds the state lock, so no other apply records a newer commit meanwhile.
    """
    source = git_source(root)
    last = store.last_entry(APPLY_COMMIT)
    recorded = last.detail.get("commit") if last is not None else None
    if source.git_commit is None or last is None or not isinstance(recorded, str) or not _COMMIT.fullmatch(recorded):
        return source
    head = source.git_commit
    verdict = _is_ancestor(root, recorded, head)
    if verdict:
        return source
    applied = (
        f"{recorded[:12]}, the last commit applied to this state "
        f"(at {last.at:%Y-%m-%d %H:%M} UTC by {last.actor.describe()})"
    )
    if verdict is None:
        raise PlanRefused(
            f"cannot tell whether this checkout (commit {head[:12]}) descends from {applied}: git does not have "
            "that commit here; nothing was sent",
            hint="check out the full history (actions/checkout with `fetch-depth: 0`) and apply again",
        )
    raise PlanRefused(
        f"this checkout (commit {head[:12]}) does not descend from {applied}: applying it would apply an older "
        "version of the files (a re-run of an old workflow run, or history rewritten by a force-push); "
        "nothing was sent",
        hint=f"to undo a change, push a new commit on top of {recorded[:12]} that reverts it (`git revert`), "
        "then plan that commit and approve its plan",
    )
