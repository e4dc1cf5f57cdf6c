"""One canonical JSON form and its digest, for everything that is compared by hash.

A send's fingerprint, a saved plan's checksum and the digest of the desired sends must agree
byte for byte between the machine that planned and the one that applies, so they share this
single definition: keys sorted, no whitespace, UTF-8 without ASCII escaping.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(value: Any) -> bytes:
    """The canonical UTF-8 JSON bytes of ``value`` (sorted keys, compact separators)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def digest(value: Any) -> str:
    """``sha256:<hex>`` of :func:`canonical_json`; equal digests mean equal JSON values."""
    return "sha256:" + hashlib.sha256(canonical_json(value)).hexdigest()
