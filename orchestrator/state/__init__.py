"""The state store: the orchestrator's memory of what it sent, like Terraform's state.

Pick a backend with :func:`open_store`; code against :class:`StateStore`. The contract every
backend keeps is written in :mod:`orchestrator.state.base`.

The package face is lazy (PEP 562): ``from orchestrator.state import SendRecord`` loads the
value types only, so the pure core (planner, plans) never pulls in sqlite3, psycopg or tenacity.
A backend module loads when it is first named or opened.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.errors import ConfigError, display_path
from orchestrator.lazy import lazy_getattr

if TYPE_CHECKING:
    from orchestrator.state.base import StateStore
    from orchestrator.state.empty import NoStateYet
    from orchestrator.state.memory import InMemoryStateStore
    from orchestrator.state.models import (
        Actor,
        JournalEntry,
        LockInfo,
        SendRecord,
        SendStatus,
        StateSnapshot,
    )
    from orchestrator.state.postgres import PostgresStateStore
    from orchestrator.state.sqlite import SqliteStateStore

__all__ = [
    "BACKENDS",
    "LOADERS",
    "Actor",
    "InMemoryStateStore",
    "JournalEntry",
    "LockInfo",
    "NoStateYet",
    "PostgresStateStore",
    "SendRecord",
    "SendStatus",
    "SqliteStateStore",
    "StateSnapshot",
    "StateStore",
    "open_store",
]

#: Where each lazily loaded name lives.
_LAZY = {
    "StateStore": "orchestrator.state.base",
    "InMemoryStateStore": "orchestrator.state.memory",
    "NoStateYet": "orchestrator.state.empty",
    "SqliteStateStore": "orchestrator.state.sqlite",
    "PostgresStateStore": "orchestrator.state.postgres",  # psycopg costs a quarter second
    "Actor": "orchestrator.state.models",
    "JournalEntry": "orchestrator.state.models",
    "LockInfo": "orchestrator.state.models",
    "SendRecord": "orchestrator.state.models",
    "SendStatus": "orchestrator.state.models",
    "StateSnapshot": "orchestrator.state.models",
}


@dataclass(frozen=True)
class StoreOptions:
    """What :func:`open_store` passes to a backend's loader (each reads the fields it needs)."""

    path: Path | None
    dsn: str | None
    create: bool
    read_only: bool


def _open_sqlite(options: StoreOptions) -> StateStore:
    if options.path is None:
        raise ConfigError("the sqlite state backend needs a path (state.path)")
    if options.read_only and not Path(options.path).exists():
        from orchestrator.state.empty import NoStateYet

        return NoStateYet(display_path(Path(options.path)))
    from orchestrator.state.sqlite import SqliteStateStore

    return SqliteStateStore(Path(options.path), create=options.create, read_only=options.read_only)


def _open_postgres(options: StoreOptions) -> StateStore:
    if not options.dsn:
        raise ConfigError(
            "the postgres state backend needs a DSN; set the environment variable that state.dsn_env names"
        )
    from orchestrator.state.postgres import PostgresStateStore

    store = PostgresStateStore(options.dsn, create=options.create, read_only=options.read_only)
    if not store.exists:
        from orchestrator.state.empty import NoStateYet

        store.close()
        return NoStateYet(store.location)
    return store


def _open_memory(options: StoreOptions) -> StateStore:
    from orchestrator.state.memory import InMemoryStateStore

    return InMemoryStateStore()


#: Every state backend, by the name ``state.backend`` takes: the one table that :func:`open_store`,
#: ``connect.build_store`` and the tests' ``BACKENDS`` read. A new backend is one loader here
#: (``memory`` is for tests: the config schema offers sqlite and postgres).
LOADERS: dict[str, Callable[[StoreOptions], StateStore]] = {
    "sqlite": _open_sqlite,
    "postgres": _open_postgres,
    "memory": _open_memory,
}
BACKENDS = tuple(LOADERS)


def open_store(
    backend: str,
    *,
    path: Path | None = None,
    dsn: str | None = None,
    create: bool = False,
    read_only: bool = False,
) -> StateStore:
    """Open the state store ``backend`` names.

    ``sqlite`` needs ``path`` (parent folders are created); ``postgres`` needs ``dsn``, the
    connection string itself (read from the environment variable the config names), which is
    never shown; ``memory`` needs neither and forgets everything when the process ends.

    A state that was never created is created (and the store's ``created`` attribute says
    so, for the caller to announce), except where that could hide a lost one: an existing SQLite file
    or a PostgreSQL database whose state tables exist but hold no lineage is refused with
    :class:`~orchestrator.errors.StateError` unless ``create`` asks for a new state explicitly
    (``orchestrator state init``).

    ``read_only`` (plan, validate, show, preview) never creates, changes or locks anything: a
    state that was never created is :class:`~orchestrator.state.empty.NoStateYet` (an empty
    snapshot without a lineage), and every write is refused.
    """
    if create and read_only:
        raise ValueError("a state cannot be created read-only")
    loader = LOADERS.get(backend)
    if loader is None:
        raise ConfigError(f"unknown state backend {backend!r}; choose one of: {', '.join(BACKENDS)}")
    return loader(StoreOptions(path, dsn, create, read_only))


__getattr__ = lazy_getattr(__name__, _LAZY, globals())
