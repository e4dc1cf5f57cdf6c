"""Recipient-eye previews of sends: merge tags filled from a sample, screenshots from Chromium.

``merge`` (pure) fills merge tags; ``samples`` picks the sample recipient; ``browser`` is the
Chromium edge; ``write`` turns sends or a plan into preview files.
"""

from orchestrator.preview.merge import PLACEHOLDER_BASE, Recipient, fill
from orchestrator.preview.samples import DEFAULT_SAMPLE, sample_recipient, sandbox_prospect
from orchestrator.preview.write import (
    EmailContent,
    PreviewItem,
    PreviewRun,
    SendPreview,
    Templates,
    preview_items,
    write_previews,
)

__all__ = [
    "DEFAULT_SAMPLE",
    "PLACEHOLDER_BASE",
    "EmailContent",
    "PreviewItem",
    "PreviewRun",
    "Recipient",
    "SendPreview",
    "Templates",
    "fill",
    "preview_items",
    "sample_recipient",
    "sandbox_prospect",
    "write_previews",
]
