"""New SQLite files that appear whole or not at all, however many processes create them at once.

``sqlite3.connect`` creates a missing file empty (0 bytes), in rollback-journal mode, without
tables; whoever creates the tables and switches to WAL does so a moment later. Another process
opening the file in between sees a database that looks emptied (the state store rightly refuses
one) or hits "database is locked" while the first converts it to WAL. Three ``apply``s started
together on a fresh project did both (issue 17).

So a new database is built completely in a temporary file in the same folder, then hard-linked
under its name: ``link(2)`` fails when the name exists, so exactly one creator wins, and every
other process finds a finished database (WAL, tables, first rows) or none.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["create_whole"]

#: ``link(2)`` errors meaning "this file system has no hard links", not "the name is taken".
_NO_HARD_LINKS = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS})


def create_whole(path: Path, prepare: Callable[[sqlite3.Connection], object]) -> bool | None:
    """Create the WAL database ``path``, filled by ``prepare``, unless it exists.

    True when this call created it, False when ``path`` existed (or another process created it
    first). None when the file system has no hard links: nothing was created, and the caller
    falls back to creating the file in place. The file is private to its owner (``mkstemp``),
    like any file holding prospect data. ``OSError`` and ``sqlite3.Error`` propagate for the
    caller to report with its own words.
    """
    folder = path.parent if str(path.parent) else Path(".")
    fd, name = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".new")
    os.close(fd)
    temporary = Path(name)
    try:
        conn = sqlite3.connect(temporary, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            prepare(conn)  # no transaction needed: nobody else can see this file yet
        finally:
            conn.close()  # the last connection checkpoints and removes the WAL companions
        try:
            os.link(temporary, path)
        except FileExistsError:
            return False
        except OSError as exc:
            if exc.errno in _NO_HARD_LINKS:
                return None
            raise
        return True
    finally:
        for leftover in (temporary, Path(f"{temporary}-wal"), Path(f"{temporary}-shm")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
