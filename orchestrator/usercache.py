"""The user's cache folder: what one run keeps to speed up the next, never inside the checkout.

A checkout is hostile input (``validate`` and ``plan`` run on pull requests with secrets in
the environment), so nothing a later run trusts may live where a commit can put a file: a
committed audience count could lift a ``max_recipients`` hold, and a committed compiled
template is code (Jinja unpickles and unmarshals its bytecode cache). Everything cached goes
below :func:`cache_root`, in folders :func:`private_folder` creates owner-only and refuses to
use when someone else could have put files there.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path


def cache_root(environ: Mapping[str, str] | None = None) -> Path | None:
    """``$ORCHESTRATOR_CACHE_DIR``, else ``$XDG_CACHE_HOME/orchestrator``, else ``~/.cache/orchestrator``.

    ``None`` (no cache) when there is no home directory to find it in (a bare container user).
    """
    environ = os.environ if environ is None else environ
    base = environ.get("ORCHESTRATOR_CACHE_DIR")
    if base:
        return Path(base)
    try:
        home_cache = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    except RuntimeError:
        return None
    return Path(home_cache) / "orchestrator"


def private_folder(base: Path, *parts: str, uid: int | None = None) -> Path | None:
    """``base/part/part...``, each level created owner-only (0700); ``None`` when not safe to use.

    Every level, ``base`` included, must be a real directory (not a symbolic link) owned by
    ``uid`` (default: the current user); the levels below ``base`` are also made 0700. Anything
    else (a link, another owner, a file in the way, an unwritable disk) means "run without the
    cache": a cache is an optimisation, never a reason to trust files someone else could write.
    """
    owner = os.getuid() if uid is None else uid
    folder = base
    try:
        if not _own_directory(folder, owner, tighten=False):
            return None
        for part in parts:
            if part in ("", ".", "..") or "/" in part or os.sep in part:
                return None
            folder = folder / part
            if not _own_directory(folder, owner, tighten=True):
                return None
    except OSError:
        return None
    return folder


def _own_directory(folder: Path, owner: int, *, tighten: bool) -> bool:
    """Create ``folder`` (0700) if missing; True when it is a real directory owned by ``owner``."""
    try:
        os.mkdir(folder, 0o700)
    except FileExistsError:
        pass
    except FileNotFoundError:
        folder.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.mkdir(folder, 0o700)
    try:  # opened without following a link, so the checks and the chmod are about the same folder
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return False  # a symbolic link (ELOOP), a file in the way (ENOTDIR), unreadable
    try:
        info = os.fstat(fd)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != owner:
            return False
        if tighten and stat.S_IMODE(info.st_mode) != 0o700:
            os.fchmod(fd, 0o700)
    finally:
        os.close(fd)
    return True
