"""The state store: the orchestrator's memory of what it sent, like Terraform's state.

Pick a backend with :func:`open_store`; code against :class:`StateStore`. The contract every
backend keeps is written in :mod:`orchestrator.state.base`.

The package face is lazy (PEP 562): ``from orchestrator.state import SendRecord`` loads the
value types only, so the pure core (planner, plans) never pulls in sqlite3, psycopg or tenacity.
A backend module loads when it is first named or opened.
"""

from __future__ import annotations

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

#: The names ``state.backend`` may take in orchestrator.yaml.
BACKENDS = ("sqlite", "postgres", "memory")

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
    if backend == "sqlite":
        if path is None:
            raise ConfigError("the sqlite state backend needs a path (state.path)")
        if read_only and not Path(path).exists():
            from orchestrator.state.empty import NoStateYet

            return NoStateYet(display_path(Path(path)))
        from orchestrator.state.sqlite import SqliteStateStore

        return SqliteStateStore(Path(path), create=create, read_only=read_only)
    if backend == "postgres":
        if not dsn:
            raise ConfigError(
                "the postgres state backend needs a DSN; set the environment variable that "
                "state.dsn_env names"
            )
        from orchestrator.state.postgres import PostgresStateStore

        store = PostgresStateStore(dsn, create=create, read_only=read_only)
        if not store.exists:
            from orchestrator.state.empty import NoStateYet

            store.close()
            return NoStateYet(store.location)
        return store
    if backend == "memory":
        from orchestrator.state.memory import InMemoryStateStore

        return InMemoryStateStore()
    raise ConfigError(
        f"unknown state backend {backend!r}; choose one of: {', '.join(BACKENDS)}"
    )


__getattr__ = lazy_getattr(__name__, _LAZY, globals())
