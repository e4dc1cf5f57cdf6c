"""Export API workflows: check a request locally, run it, and merge its files into one CSV.

The pipeline, one module per step::

    procedures (tables) -> dates -> request (checks) -> windows (--split)
        -> workflow (create, poll, cancel on Ctrl-C) -> merge (streaming CSV) -> output

Everything before ``workflow`` is pure; ``workflow`` talks to the API through the client it is
given, and ``output`` is the only module that opens files.
"""

from orchestrator.export.dates import API_KEYWORDS, ResolvedDate, resolve_date
from orchestrator.export.merge import CsvSource, MergeResult, SqliteKeySet, merge_csv
from orchestrator.export.output import open_output
from orchestrator.export.procedures import OBJECTS, ExportObject, ProcedureSpec, find_object
from orchestrator.export.request import ExportRequest, build_request
from orchestrator.export.runner import (
    ExportOutcome,
    ExportProgress,
    ExportRunner,
    PollPolicy,
    describe_unusable,
    download_exports,
)
from orchestrator.export.windows import Window, split_request, split_windows

__all__ = [
    "API_KEYWORDS",
    "OBJECTS",
    "CsvSource",
    "ExportObject",
    "ExportOutcome",
    "ExportProgress",
    "ExportRequest",
    "ExportRunner",
    "MergeResult",
    "PollPolicy",
    "ProcedureSpec",
    "ResolvedDate",
    "SqliteKeySet",
    "Window",
    "build_request",
    "describe_unusable",
    "download_exports",
    "find_object",
    "merge_csv",
    "open_output",
    "resolve_date",
    "split_request",
    "split_windows",
]
