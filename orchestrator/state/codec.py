"""Strict JSON and time encodings shared by every backend.

The payload stored for a send must be *exactly* what was sent, and must read back equal to what
was written. ``json.dumps`` is lenient in ways that break that: it turns tuples into lists,
integer keys into strings, and writes ``NaN`` that no other JSON reader accepts. So values are
checked first and anything that would not round-trip is refused with the path to it.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from orchestrator.errors import StateError
from orchestrator.state.models import Actor, utc

__all__ = ["UNREAD", "LazyJson", "dump_actor", "dump_json", "dump_time", "load_actor", "load_json", "load_time"]


def _plain(value: object, path: str) -> Any:
    """A plain-JSON copy of ``value`` (dicts, lists, str, int, finite float, bool, None).

    Raises :class:`StateError` naming the first part that JSON could not keep exactly.
    """
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise StateError(f"{path}: {value!r} cannot be stored as JSON")
        return value
    if isinstance(value, Mapping):
        copy: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise StateError(f"{path}: key {key!r} is not a string, so JSON cannot keep it")
            copy[key] = _plain(item, f"{path}.{key}")
        return copy
    if isinstance(value, list):
        return [_plain(item, f"{path}[{index}]") for index, item in enumerate(value)]
    raise StateError(f"{path}: a {type(value).__name__} cannot be stored as JSON")


def dump_json(value: Mapping[str, Any], *, what: str) -> str:
    """Encode a JSON object (``what`` names it in errors), refusing anything that won't round-trip."""
    if not isinstance(value, Mapping):
        raise StateError(f"{what} must be a JSON object, not a {type(value).__name__}")
    plain = _plain(value, what)
    return json.dumps(plain, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def load_json(text: str, *, what: str) -> dict[str, Any]:
    """Decode a JSON object written by :func:`dump_json`."""
    try:
        value = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise StateError(f"the stored {what} is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise StateError(f"the stored {what} is not a JSON object")
    return value


class LazyJson(Mapping[str, Any]):
    """A stored JSON object decoded on first use: listing records never decodes their payloads.

    Each instance decodes its own text, so it is as private a copy as :func:`load_json`'s.
    """

    __slots__ = ("_text", "_value", "_what")

    def __init__(self, text: str, *, what: str) -> None:
        self._text = text
        self._what = what
        self._value: dict[str, Any] | None = None

    def _data(self) -> dict[str, Any]:
        if self._value is None:
            self._value = load_json(self._text, what=self._what)
        return self._value

    def __getitem__(self, key: str) -> Any:
        return self._data()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data())

    def __len__(self) -> int:
        return len(self._data())

    def __repr__(self) -> str:
        return repr(self._data())


class _Unread(Mapping[str, Any]):
    """The payload of a record listed without payloads (``browse(payloads=False)``): any use of it
    is a mistake, refused rather than answered as if the payload were empty."""

    __slots__ = ()

    def _refuse(self) -> StateError:
        return StateError("this record was listed without its payload; read it with `get` or browse(payloads=True)")

    def __getitem__(self, key: str) -> Any:
        raise self._refuse()

    def __iter__(self) -> Iterator[str]:
        raise self._refuse()

    def __len__(self) -> int:
        raise self._refuse()

    def __repr__(self) -> str:
        return "<payload not read>"


#: The one unread payload (see :class:`_Unread`).
UNREAD: Mapping[str, Any] = _Unread()


def dump_actor(actor: Actor) -> str:
    """Encode an :class:`Actor` for a text column."""
    return dump_json(actor.to_dict(), what="actor")


@functools.lru_cache(maxsize=256)
def load_actor(text: str) -> Actor:
    """Inverse of :func:`dump_actor` (an Actor is immutable, and a history has few: cached)."""
    return Actor.from_dict(load_json(text, what="actor"))


def dump_time(value: datetime) -> str:
    """Fixed-width UTC ISO text (``2024-05-01T09:00:00.000000+00:00``): sorts as it orders."""
    return utc(value).isoformat(timespec="microseconds")


def load_time(text: str) -> datetime:
    """Inverse of :func:`dump_time`."""
    value = datetime.fromisoformat(text)
    return value if value.tzinfo is UTC else value.astimezone(UTC)
