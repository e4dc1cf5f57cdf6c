"""Package faces that load their modules on first use (PEP 562).

``import orchestrator.state`` must not load sqlite3 and psycopg, nor ``import orchestrator.pardot``
httpx: the pure core and a bare ``orchestrator --version`` need neither. Each package lists where
its public names live, and this one function serves them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_getattr(package: str, where: Mapping[str, str], namespace: dict[str, Any]) -> Callable[[str], object]:
    """A module ``__getattr__`` that imports ``where[name]`` on first use and caches the value."""

    def __getattr__(name: str) -> object:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    return __getattr__
