"""Argument checks every backend runs before it opens a transaction.

These guard against programming errors (a caller passing the wrong thing), so they raise
``TypeError``/``ValueError`` rather than a user-facing :class:`~orchestrator.errors.StateError`.
"""

from __future__ import annotations

__all__ = ["check_action", "check_key"]


def check_key(key: object) -> None:
    """A journal key is None (a state-wide action) or a non-empty string."""
    if key is not None and (not isinstance(key, str) or not key):
        raise ValueError(f"a journal key must be a non-empty str or None, not {key!r}")


def check_action(action: object) -> None:
    """Every journal entry names its action."""
    if not isinstance(action, str) or not action:
        raise ValueError(f"a journal action must be a non-empty str, not {action!r}")
