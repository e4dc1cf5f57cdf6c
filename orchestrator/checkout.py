"""Is a file of the project committed to git, and is the project a checkout CI just made?

A SQLite state file that git tracks has a fixed lineage: every fresh clone starts from the same
committed record of what was sent, so two clones each send what the other already sent. And a
checkout CI made is fresh, so a state file inside it is either committed or empty on every run.
Both questions are asked without following the checkout's symbolic links to decide anything
about where the project is, and without running anything the checkout could have configured.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

__all__ = ["GIT_TIMEOUT_S", "git_tracks", "in_git_work_tree", "inside_ci_checkout", "running_in_ci"]

#: Longest wait for ``git ls-files``; a git that does not answer counts as "not tracked".
GIT_TIMEOUT_S = 10.0

#: Variables CI services set to "true" (GitHub Actions sets both; GitLab CI and others set CI).
_CI_FLAGS = ("CI", "GITHUB_ACTIONS")


def running_in_ci(environ: Mapping[str, str]) -> bool:
    """True when ``CI`` or ``GITHUB_ACTIONS`` is ``true`` (or ``1``) in ``environ``."""
    return any(environ.get(name, "").strip().lower() in ("true", "1") for name in _CI_FLAGS)


def in_git_work_tree(root: Path) -> bool:
    """True when ``root`` or a folder above it holds a ``.git`` entry (a folder, or a worktree's file).

    ``lexists`` looks at the entry itself: a ``.git`` symbolic link counts without being followed.
    """
    folder = Path(os.path.abspath(root))
    return any(os.path.lexists(candidate / ".git") for candidate in (folder, *folder.parents))


def inside_ci_checkout(root: Path, environ: Mapping[str, str]) -> bool:
    """True when CI is running and ``root`` is inside a git work tree or the CI's workspace.

    GitHub's checkout action can fetch a repository without git (no ``.git`` then), so the
    folder ``GITHUB_WORKSPACE`` names counts as a checkout too.
    """
    if not running_in_ci(environ):
        return False
    if in_git_work_tree(root):
        return True
    workspace = environ.get("GITHUB_WORKSPACE", "").strip()
    if not workspace:
        return False
    return Path(os.path.abspath(root)).is_relative_to(os.path.abspath(workspace))


def git_tracks(root: Path, relative: str) -> bool:
    """True when git, asked in ``root``, says it tracks the file at ``relative``.

    ``relative`` comes from orchestrator.yaml (hostile text), so it is passed as one argument
    after ``--`` with ``--literal-pathspecs`` (no ``:(glob)`` magic), and git is told not to run
    an fsmonitor hook. No git, a folder that is not a repository, a git that refuses the folder
    (``safe.directory``) or does not answer in time: not tracked.
    """
    if not in_git_work_tree(root):
        return False
    argv = ["git", "-c", "core.fsmonitor=false", "--literal-pathspecs", "ls-files", "--error-unmatch", "--", relative]
    environ = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "GIT_TERMINAL_PROMPT": "0"}
    try:
        done = subprocess.run(
            argv,
            cwd=root,
            env=environ,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0
