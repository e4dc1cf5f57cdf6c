"""Differences between the payload last applied and the payload the files ask for now.

Pure data in, lines out: views decide how to colour or fold them.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from typing import Any

#: Payload fields compared as documents (unified diff) rather than as single values.
CONTENT_FIELDS = (("subject", "subject"), ("text_content", "text"), ("html_content", "html"))


def payload_diff(
    before: Mapping[str, Any] | None, after: Mapping[str, Any] | None, *, before_label: str = "applied"
) -> tuple[str, ...]:
    """Unified-diff lines for the content parts, then ``field: old -> new`` for the rest."""
    before = before or {}
    after = after or {}
    lines: list[str] = []
    for key, label in CONTENT_FIELDS:
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        lines.extend(
            difflib.unified_diff(
                _lines(old), _lines(new), fromfile=f"{before_label}/{label}", tofile=f"files/{label}", lineterm=""
            )
        )
    content = {k for k, _ in CONTENT_FIELDS}
    for key in sorted((set(before) | set(after)) - content):
        if before.get(key) != after.get(key):
            lines.append(f"~ {key}: {_show(before.get(key))} -> {_show(after.get(key))}")
    return tuple(lines)


def changed_fields(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> list[str]:
    """Names of the payload fields whose values differ."""
    before = before or {}
    after = after or {}
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))


def _lines(text: Any) -> list[str]:
    return [] if text is None else str(text).splitlines()


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
