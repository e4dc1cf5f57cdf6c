"""The sandbox's own setup errors: a seed it cannot use, a database it cannot open.

The sandbox stands apart from the product it serves, so it raises none of the product's
:mod:`orchestrator.errors` types. Refusing an API request is :class:`~orchestrator.sandbox.wire.
SandboxRefusal`'s job; these are for starting the sandbox at all. The product translates them in
one place, :func:`orchestrator.connect.sandbox_app`; the sandbox's own command shows them as a
one-line error.

::

    SandboxSetupError
    ├── SandboxSeedError        the seed is unreadable, invalid, or changed under a file database
    │   └── SeedChanged         (orchestrator.sandbox.app)
    └── SandboxStorageError     the sandbox database cannot be opened
"""

from __future__ import annotations


class SandboxSetupError(Exception):
    """The sandbox cannot start as asked; ``message`` says why, ``hint`` what to do next."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  hint: {self.hint}"
        return self.message


class SandboxSeedError(SandboxSetupError):
    """The seed file is unreadable or invalid, or differs from the one the database holds."""


class SandboxStorageError(SandboxSetupError):
    """The sandbox's SQLite database cannot be opened."""
