"""Files that appear whole or not at all: plans, exports, reports, rendered output.

One helper for every file the orchestrator writes for the user.  The bytes go to a temporary
file in the target's own folder (so the final rename never crosses a file system), are flushed
and ``fsync``-ed, and only then replace the target with ``os.replace``.  A crash, a full disk or
Ctrl-C therefore never leaves a half-written plan that looks complete, and a reader (a browser
reloading the report, ``apply`` reading a plan) never sees a partial file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

#: Files that may hold prospect addresses or exact payloads (plans, exports): owner only.
PRIVATE = 0o600


def _umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current


@contextlib.contextmanager
def atomic_writer(path: Path, *, mode: int | None = None, newline: str | None = None) -> Iterator[TextIO]:
    """A UTF-8 text handle whose content replaces ``path`` only when the block ends without error.

    ``mode`` sets the file's permissions; ``None`` gives the usual ``0666 & ~umask`` (a shared
    report), :data:`PRIVATE` keeps it to the owner.  ``OSError`` propagates: callers translate it
    into their own error with the path, since only they know what the file was for.
    """
    folder = path.parent if str(path.parent) else Path(".")
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline=newline) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, (0o666 & ~_umask()) if mode is None else mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def write_text(path: Path, text: str, *, mode: int | None = None) -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_writer`)."""
    with atomic_writer(path, mode=mode) as handle:
        handle.write(text)
