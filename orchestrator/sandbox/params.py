"""Request parameters the way Pardot reads them: query string and form body, arrays by key.

Arrays arrive as repeated ``name[]`` keys (what the orchestrator sends) or as indexed
``name[0]``, ``name[1]`` keys (what some older clients send); both are accepted (§1.1).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Request

from orchestrator.sandbox.wire import refuse

_INDEXED = re.compile(r"^(?P<name>[A-Za-z_]+)\[(?P<index>\d*)\]$")
_TRUE = frozenset({"true", "1"})
_FALSE = frozenset({"false", "0"})


@dataclass(frozen=True)
class Params:
    """Scalars (last value wins, empty means absent) and arrays of one request."""

    scalars: Mapping[str, str]
    arrays: Mapping[str, tuple[str, ...]]

    def get(self, name: str) -> str | None:
        """The value of ``name``, or None when absent or empty."""
        value = self.scalars.get(name)
        return value if value else None

    def array(self, name: str) -> tuple[str, ...]:
        """The values of ``name[]`` / ``name[N]``, in order, empties dropped."""
        return tuple(v for v in self.arrays.get(name, ()) if v)

    def boolean(self, name: str, default: bool = False) -> bool:
        """``true``/``false`` (or ``1``/``0``); anything else is refused with error 13."""
        value = self.get(name)
        if value is None:
            return default
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        raise refuse(13, f"{name} must be true or false")

    def integer(self, name: str) -> int | None:
        """The integer value of ``name``; None when absent; ValueError when not an integer."""
        value = self.get(name)
        return None if value is None else int(value)


def read_params(request: Request) -> Params:
    """Merge the query string and the form body (the body wins) into :class:`Params`."""
    merged: MultiDict[str, str] = MultiDict()
    for source in (request.args, request.form):
        for key, value in source.items(multi=True):
            merged.add(key, value)
    scalars: dict[str, str] = {}
    repeated: dict[str, list[str]] = {}
    indexed: dict[str, list[tuple[int, str]]] = {}
    for key, value in merged.items(multi=True):
        match = _INDEXED.match(key)
        if match is None:
            scalars[key] = value
        elif match["index"] == "":
            repeated.setdefault(match["name"], []).append(value)
        else:
            indexed.setdefault(match["name"], []).append((int(match["index"]), value))
    arrays = {name: tuple(values) for name, values in repeated.items()}
    for name, pairs in indexed.items():
        arrays[name] = arrays.get(name, ()) + tuple(v for _, v in sorted(pairs))
    return Params(scalars=scalars, arrays=arrays)


def response_format(request: Request) -> str:
    """``json`` or ``xml`` (the default), from the query string or the form body."""
    value = request.values.get("format", "xml").lower()
    return "json" if value == "json" else "xml"
