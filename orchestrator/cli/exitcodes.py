"""The exit codes every command uses: Terraform's convention, extended for irreversible sends.

======  =====================================================================================
code    meaning
======  =====================================================================================
0       success: nothing to do, or everything planned was applied
1       error: configuration, validation, API, a refused plan; nothing more was sent
2       ``plan --detailed-exitcode``: changes to apply, and nothing needs a human
3       something needs a human: blocked, missed or unknown sends, an orphan that will still go
        out or whose outcome is unknown, a send held over ``max_recipients`` or not in the
        reviewed plan, a failed send (``plan --detailed-exitcode`` and ``apply``)
64      usage error: an unknown option, a missing or malformed argument
130     ``apply`` stopped by SIGINT (Ctrl-C) after the sends in flight were recorded
143     ``apply`` stopped by SIGTERM (a cancelled CI job) after the sends in flight were recorded
======  =====================================================================================
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    OK = 0
    ERROR = 1
    CHANGES = 2
    ATTENTION = 3
    USAGE = 64
    SIGINT = 130
    SIGTERM = 143


#: The exit code for an apply stopped by each signal (128 + the signal number, as shells report).
SIGNAL_EXIT = {"SIGINT": ExitCode.SIGINT, "SIGTERM": ExitCode.SIGTERM}
