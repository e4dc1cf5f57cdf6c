"""What ``api: {kind: sandbox}`` means to the product when the file says no more.

A leaf that imports nothing of ours: :mod:`orchestrator.config` reads it to fill a
:class:`~orchestrator.config.SandboxApi`, and the sandbox's own command reads it without loading
the config. The sandbox stands apart and keeps its own copy of the business unit and the time
zone (``orchestrator/sandbox/config.py``); ``tests/test_layers.py`` checks that the two agree.
"""

from __future__ import annotations

__all__ = ["DEFAULT_SANDBOX_ACCOUNT_TIMEZONE", "DEFAULT_SANDBOX_DB", "SANDBOX_BUSINESS_UNIT"]

#: The built-in sandbox's business unit: an environment on the sandbox sends through this one.
SANDBOX_BUSINESS_UNIT = "0Uv000000SANDBOXAA"

#: Where the in-process sandbox keeps its data unless ``api.db`` says otherwise (project-relative).
DEFAULT_SANDBOX_DB = ".orchestrator/sandbox-api.db"

#: The sandbox account's time zone unless ``api.account_timezone`` says otherwise: its daily
#: limit resets at midnight there.
DEFAULT_SANDBOX_ACCOUNT_TIMEZONE = "UTC"
