"""Where merged CSV goes: a file written atomically, or standard output for ``-``.

A file appears only once the whole merge succeeded: rows go to a temporary file in the same
folder, which replaces the target at the end.  A failed or interrupted download therefore never
leaves a half-written CSV that looks complete.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

STDOUT = "-"


@contextlib.contextmanager
def open_output(target: str) -> Iterator[TextIO]:
    """A text sink for csv (``newline=""``, UTF-8): ``-`` is stdout, else an atomic file."""
    if target == STDOUT:
        yield sys.stdout
        sys.stdout.flush()
        return
    path = Path(target)
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
