"""Output that lands in a CI log: no forged workflow commands, no secrets.

In GitHub Actions every line a step prints is read by the runner, and a line that looks like a
*workflow command* is obeyed: ``::error title=Security review::LGTM`` adds an annotation,
``::add-mask::`` hides text, ``::stop-commands::TOKEN`` switches off every later annotation. The
runner's parser (``src/Runner.Common/ActionCommand.cs`` in https://github.com/actions/runner):

* ``TryParseV2`` trims leading whitespace and obeys a line that then starts with ``::``;
* ``TryParse`` (the older form) looks for ``##[`` *anywhere* in the line (``IndexOf``);
* lines end at LF, CR or CRLF (the runner reads the step's output line by line).

Campaign bodies, error messages quoting them and saved plans are written by whoever opens the
pull request, so every byte the tool writes to stdout or stderr goes through :class:`SafeStream`:

* a line whose first non-blank characters are ``::`` gets a backslash in front of them
  (``\\::error ...``), which no parser reads as a command and a human still reads;
* ``##[`` becomes ``##\\u005b`` (``[`` as a JSON escape, so JSON output stays valid and decodes
  to the same value);
* every registered secret (:mod:`orchestrator.redact`) is replaced with ``[REDACTED]``.

The tool's own annotations are written with :meth:`SafeStream.write_command`, the one way past
the first rule.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from typing import Any, TextIO

from orchestrator.redact import redact, secret_variants

__all__ = ["SafeStream", "neutralise_commands"]

#: ``::`` after optional blanks at the start of a line (a line starts after LF or CR).
_COMMAND_AT_START = re.compile(r"(?:\A|(?<=[\r\n]))([^\S\r\n]*)::")
_COMMAND_AFTER_BREAK = re.compile(r"(?<=[\r\n])([^\S\r\n]*)::")
#: The old command form, obeyed anywhere in a line.
OLD_PREFIX = "##["
OLD_PREFIX_ESCAPED = "##\\u005b"
#: What may still become a command once more text arrives: blanks and at most one ``:``.
_UNDECIDED_START = re.compile(r"[^\S\r\n]*:?")


def neutralise_commands(text: str, *, line_start: bool = True) -> str:
    """``text`` with nothing in it a GitHub runner would read as a workflow command.

    ``line_start`` says whether ``text`` begins a line (it does not when it continues a line
    written earlier).
    """
    if "::" in text:  # without one there is no command to neutralise (and the lookbehind scan is slow)
        pattern = _COMMAND_AT_START if line_start else _COMMAND_AFTER_BREAK
        text = pattern.sub(r"\1\\::", text)
    return text.replace(OLD_PREFIX, OLD_PREFIX_ESCAPED)


class SafeStream:
    """A text stream that makes everything written through it safe for a CI log.

    Complete lines are written at once; the rest of a line waits for its end or for
    :meth:`flush` (prompts and progress output must appear), except for a tail that could still
    turn into ``::`` at the start of a line, into ``##[`` or into a secret, which waits for
    the next write. Every other attribute (``isatty``, ``encoding``, ``fileno``) is the wrapped
    stream's, so rich and click treat it as the stream it wraps; ``buffer`` is not offered, so
    nothing can write bytes around the filter. Writes from several threads (``sandbox serve``
    logs from its request threads) are serialised.
    """

    def __init__(self, inner: TextIO, secrets: Callable[[], Iterable[str]]) -> None:
        self.inner = inner
        self._secrets = secrets
        self._pending = ""
        self._line_start = True
        self._lock = threading.RLock()

    # -- the stream interface ----------------------------------------------------------------

    def write(self, text: str) -> int:
        with self._lock:
            self._pending += text
            cut = max(self._pending.rfind("\n"), self._pending.rfind("\r")) + 1
            if cut:
                # A CR at the very end may be the first half of a CRLF: it ends the line either way.
                self._emit(self._pending[:cut])
                self._pending = self._pending[cut:]
                self._line_start = True
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        """Write what can be decided of the unfinished line, then flush the wrapped stream."""
        with self._lock:
            ready = self._decided_length(self._pending)
            head = self._pending[:ready]
            if head and not (self._line_start and _UNDECIDED_START.fullmatch(head)):
                self._emit(head)
                self._pending = self._pending[ready:]
                self._line_start = False
            self.inner.flush()

    def close_filter(self) -> None:
        """Write everything still held back (the end of the output decides it) and flush."""
        with self._lock:
            if self._pending:
                self._emit(self._pending)
                self._line_start = self._pending.endswith(("\n", "\r"))
                self._pending = ""
            self.inner.flush()

    def write_command(self, line: str) -> None:
        """Write one workflow command of the tool's own, on a line of its own.

        ``line`` must already be escaped (:mod:`orchestrator.cli.annotations`): it is refused
        if it holds a line break. Secrets and the old ``##[`` form are still removed from it.
        """
        if "\n" in line or "\r" in line:
            raise ValueError("a workflow command is one line")
        with self._lock:
            if self._pending or not self._line_start:
                self.write("\n")
                self.close_filter()
            text = redact(line, self._secrets()).replace(OLD_PREFIX, OLD_PREFIX_ESCAPED)
            self.inner.write(text + "\n")
            self.inner.flush()
            self._line_start = True

    def __getattr__(self, name: str) -> Any:
        if name == "buffer":
            raise AttributeError("a SafeStream takes text only")
        return getattr(self.inner, name)

    # -- internals ---------------------------------------------------------------------------

    def _emit(self, text: str) -> None:
        self.inner.write(neutralise_commands(redact(text, self._secrets()), line_start=self._line_start))

    def _decided_length(self, text: str) -> int:
        """How much of ``text`` can be written now: all but a tail that could still become
        ``##[`` or a secret, or that a whole secret reaches into (with any ``#`` before it: a
        secret becomes ``[REDACTED]``)."""
        variants = secret_variants(self._secrets())
        longest = 0
        for prefix in (OLD_PREFIX, *variants):
            for size in range(min(len(prefix) - 1, len(text)), longest, -1):
                if text.endswith(prefix[:size]):
                    longest = size
                    break
        ready = len(text) - longest
        moved = True
        while moved:  # never cut a secret in two: its first half would be written unredacted
            moved = False
            for variant in variants:
                start = text.rfind(variant, 0, ready + len(variant) - 1)
                if start != -1 and start < ready < start + len(variant):
                    ready, moved = start, True
        while ready and text[ready - 1] == "#" and ready < len(text):
            ready -= 1
        return ready
