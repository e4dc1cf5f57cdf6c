"""The visual report: one self-contained HTML file of a project's email statistics.

:func:`build_report` takes the rows :func:`orchestrator.stats.gather_stats` produced and
returns the document; writing it to disk is the caller's business. The face is lazy (PEP 562):
matplotlib, which costs half a second and 50 MB, loads only when a report is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orchestrator.report.document import build_report

__all__ = ["build_report"]


def __getattr__(name: str) -> object:
    """:func:`build_report` on first use (PEP 562)."""
    if name == "build_report":
        from orchestrator.report.document import build_report

        return build_report
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
