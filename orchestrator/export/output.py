"""Where merged CSV goes: a file written atomically, or standard output for ``-``.

A file appears only once the whole merge succeeded: rows go to a temporary file in the same
folder, which replaces the target at the end.  A failed or interrupted download therefore never
leaves a half-written CSV that looks complete.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from orchestrator.atomic import PRIVATE, atomic_writer

STDOUT = "-"


@contextlib.contextmanager
def open_output(target: str) -> Iterator[TextIO]:
    """A text sink for csv (``newline=""``, UTF-8): ``-`` is stdout, else an atomic file."""
    if target == STDOUT:
        yield sys.stdout
        sys.stdout.flush()
        return
    # Owner-only: exports hold prospect data.
    with atomic_writer(Path(target), mode=PRIVATE, newline="") as handle:
        yield handle
