"""Recipient-eye previews of sends: merge tags filled from a sample, screenshots from Chromium.

``merge`` (pure) fills merge tags; ``samples`` picks the sample recipient; ``browser`` is the
Chromium edge; ``write`` turns sends or a plan into preview files (import it from
``orchestrator.preview.write``: it sits above the project pipeline, which the lints, and so
this package's pure half, sit inside).
"""

from orchestrator.mergetags import DEFAULT_SAMPLE, PLACEHOLDER_BASE, Recipient, fill
from orchestrator.preview.samples import sample_recipient, sandbox_prospect

__all__ = ["DEFAULT_SAMPLE", "PLACEHOLDER_BASE", "Recipient", "fill", "sample_recipient", "sandbox_prospect"]
