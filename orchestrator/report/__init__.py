"""The visual report: one self-contained HTML file of a project's email statistics.

:func:`build_report` takes the rows :func:`orchestrator.stats.gather_stats` produced and
returns the document; writing it to disk is the caller's business.
"""

from orchestrator.report.document import build_report

__all__ = ["build_report"]
