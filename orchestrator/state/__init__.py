"""The state store: the orchestrator's memory of what it sent, like Terraform's state.

Pick a backend with :func:`open_store`; code against :class:`StateStore`. The contract every
backend keeps is written in :mod:`orchestrator.state.base`.
"""

from __future__ import annotations

from pathlib import Path

from orchestrator.errors import ConfigError
from orchestrator.state.base import StateStore
from orchestrator.state.memory import InMemoryStateStore
from orchestrator.state.models import (
    Actor,
    JournalEntry,
    LockInfo,
    SendRecord,
    SendStatus,
    StateSnapshot,
)
from orchestrator.state.sqlite import SqliteStateStore

__all__ = [
    "BACKENDS",
    "Actor",
    "InMemoryStateStore",
    "JournalEntry",
    "LockInfo",
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


def open_store(backend: str, *, path: Path | None = None, dsn: str | None = None) -> StateStore:
    """Open (creating if needed) the state store ``backend`` names.

    ``sqlite`` needs ``path`` (parent folders are created); ``postgres`` needs ``dsn``, the
    connection string itself (read from the environment variable the config names), which is
    never shown; ``memory`` needs neither and forgets everything when the process ends.
    """
    if backend == "sqlite":
        if path is None:
            raise ConfigError("the sqlite state backend needs a path (state.path)")
        return SqliteStateStore(Path(path))
    if backend == "postgres":
        if not dsn:
            raise ConfigError(
                "the postgres state backend needs a DSN; set the environment variable that "
                "state.dsn_env names"
            )
        from orchestrator.state.postgres import PostgresStateStore  # psycopg loads only when used

        return PostgresStateStore(dsn)
    if backend == "memory":
        return InMemoryStateStore()
    raise ConfigError(
        f"unknown state backend {backend!r}; choose one of: {', '.join(BACKENDS)}"
    )


def __getattr__(name: str) -> object:
    """``PostgresStateStore`` on first use: importing psycopg costs a quarter second per command."""
    if name == "PostgresStateStore":
        from orchestrator.state.postgres import PostgresStateStore

        return PostgresStateStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
