"""What rendering one send may cost, and what each template operation would cost before it runs.

Campaign files are untrusted (``validate`` and ``plan`` run on pull requests), and one Python
call can allocate gigabytes before any check after it could object: ``'%*d' % (3000000000, 1)``
reached 3 GB, ``'{0:{1}}'.format('a', 3e8)`` 300 MB, ``lipsum(n=300000)`` ran 15 s. So the
sandbox (``orchestrator.render``) asks this module, BEFORE each operation that can build more
than its inputs, how large the result would be, and refuses with :class:`BudgetExceeded` when
that is over :data:`MAX_OUTPUT_CHARS`:

* ``%``-formatting and the ``format`` filter: every field's width and precision, ``*`` widths
  included (:func:`check_printf`); ``str.format``/``format_map`` through
  :class:`BudgetFormatter`, which sees each field with its nested spec already resolved;
* string methods (:func:`check_str_call`) and filters (:func:`check_filter`) whose result
  grows with an argument (``center``, ``indent``, ``wordwrap``, ``replace``, ``join``, ...);
* ``lipsum`` (:func:`check_lipsum`), ``*`` repetition, ``**``, ``range``;
* anything printed or joined: :func:`printed_size` walks lists and dicts (``[s] * 1000`` holds
  1000 references to one string, and prints it 1000 times).

Sizes are estimated, not exact: an estimate may be low by a small constant factor (escaping,
``repr`` of strings), never by a factor that grows with the input. What many small operations
add up to is caught by :class:`RenderBudget`: the time limit, and the resident memory, read
from ``/proc/self/statm`` at most once per millisecond (Linux; elsewhere only the time limit).
"""

from __future__ import annotations

import inspect
import math
import os
import re
import time
from collections.abc import Callable, ItemsView, Iterable, KeysView, Mapping, ValuesView
from contextvars import ContextVar
from typing import Any

from jinja2.environment import TemplateModule
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEscapeFormatter, SandboxedFormatter
from jinja2.utils import Namespace

#: Rendering budget of one send (subject, text and HTML together); see docs/campaigns.md.
MAX_RENDER_SECONDS = 5.0
#: Most characters one send may render to, and the largest string or list any single
#: operation inside a template may build.
MAX_OUTPUT_CHARS = 1024 * 1024
#: Most characters all ``~`` concatenations (and list sums) of one send may copy together.
MAX_CONCAT_CHARS = 16 * MAX_OUTPUT_CHARS
#: Deepest nesting of calls (macros calling macros) in one render.
MAX_CALL_DEPTH = 100
#: Largest integer arithmetic may produce (about 1,230 decimal digits).
MAX_INT_BITS = 4096
#: Most items ``range()`` may produce (Jinja's own sandbox limit), and most items ``pprint``
#: may lay out.
MAX_RANGE = 100_000
#: Most memory one send's rendering may add to the process (resident set, Linux).
MAX_RENDER_MEMORY = 64 * 1024 * 1024
#: How often, at most, the resident memory is read during a render.
MEMORY_CHECK_SECONDS = 0.001
#: Most pieces ``wordwrap`` may cut a text into (Python's textwrap takes about 2 s per million).
MAX_WRAP_PIECES = 500_000
#: Most characters ``wordwrap`` may copy breaking long words (quadratic in a word's length; about 0.5 s).
MAX_WRAP_COPY = 4_000_000_000


class BudgetExceeded(SecurityError):
    """A template went over its rendering budget (time, size, depth, memory)."""


def _resident_bytes() -> int | None:
    """The process's resident memory now, or ``None`` where ``/proc`` does not say (not Linux)."""
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class RenderBudget:
    """Time, size and memory left for rendering one send; shared by its subject, text and HTML."""

    def __init__(self, seconds: float = MAX_RENDER_SECONDS, chars: int = MAX_OUTPUT_CHARS) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.chars = chars
        self.output_left = chars
        self.concat_left = MAX_CONCAT_CHARS
        self.depth = 0
        self.memory_start = _resident_bytes()
        self.next_memory_check = time.monotonic() + MEMORY_CHECK_SECONDS

    def tick(self) -> None:
        """Refuse to go on once the time is up or memory grew too much (every sandbox hook and loop step)."""
        now = time.monotonic()
        if now > self.deadline:
            raise BudgetExceeded(
                f"rendering took longer than {self.seconds:g} s (the limit per send); "
                "look for loops over large ranges or nested loops"
            )
        if now >= self.next_memory_check and self.memory_start is not None:
            self.next_memory_check = now + MEMORY_CHECK_SECONDS
            resident = _resident_bytes()
            if resident is not None and resident - self.memory_start > MAX_RENDER_MEMORY:
                raise BudgetExceeded(
                    f"rendering used more than {MAX_RENDER_MEMORY // 2**20} MiB of memory (the limit per send); "
                    "look for loops that keep building strings or lists"
                )

    def output(self, size: int) -> None:
        self.output_left -= size
        if self.output_left < 0:
            raise BudgetExceeded(f"the rendered email is larger than {self.chars:,} characters (the limit per send)")

    def copy(self, size: int, what: str) -> None:
        """Charge ``size`` copied characters (``~``, summing lists) to the send's copy budget."""
        self.concat_left -= size
        if self.concat_left < 0:
            raise BudgetExceeded(f"the template copies more than {MAX_CONCAT_CHARS:,} characters with {what} in total")


#: The budget of the render running in this context (``None`` outside a render: compiling,
#: constant folding).
BUDGET: ContextVar[RenderBudget | None] = ContextVar("orchestrator_render_budget", default=None)


def too_big(size: int, what: str) -> None:
    if size > MAX_OUTPUT_CHARS:
        raise BudgetExceeded(f"{what} would hold {size:,} items; the limit is {MAX_OUTPUT_CHARS:,}")


def size_of(value: Any) -> int:
    """Length of a string or container, else 0 (numbers are bounded separately)."""
    if isinstance(value, str | bytes | list | tuple | dict | set | frozenset | range):
        return len(value)
    return 0


# -- printed sizes -----------------------------------------------------------------------------

_SEQUENCES = (list, tuple, set, frozenset, KeysView, ValuesView, ItemsView)


def _int_digits(value: int) -> int:
    return value.bit_length() * 30103 // 100000 + 2


def _scalar_size(value: Any, quoted: bool) -> int | None:
    """``len(str(value))`` (``repr`` inside a container) for a value without parts, else None."""
    if isinstance(value, str):
        if not quoted:
            return len(value)
        # repr adds quotes and escapes: up to 4 characters per control character
        return len(value) + 2 if value.isprintable() else 4 * len(value) + 2
    if value is None or isinstance(value, bool):
        return 5
    if isinstance(value, int):
        return _int_digits(value)
    if isinstance(value, float):
        return 24
    if isinstance(value, bytes | bytearray):
        return 4 * len(value) + 3
    if isinstance(value, range):
        return 2 * _int_digits(max(abs(value.start), abs(value.stop), abs(value.step))) + 12
    if isinstance(value, TemplateModule):
        return sum(len(part) for part in value._body_stream)
    return None


def printed_size(value: Any, limit: int = MAX_OUTPUT_CHARS, *, quoted: bool = False) -> int:
    """About ``len(str(value))`` (``repr`` when ``quoted``), counted only until it passes ``limit``.

    Lists, tuples, sets and dicts are walked (a list of a thousand references to one megabyte
    string prints a gigabyte), without recursion (a list nested a million deep) and without
    remembering what was seen: a shared or self-containing container counts again at each
    reference, so a cycle counts until the limit (Python prints ``[...]`` for it; refusing to
    print one is fine). The walk stops once the count passes ``limit``, so it costs at most
    about ``limit / 3`` steps. Other objects count 100 (a macro, a loop, a date).
    """
    single = _scalar_size(value, quoted)
    if single is not None:
        return single
    total = 0
    stack: list[Any] = [value]
    while stack and total <= limit:
        item = stack.pop()
        kind = type(item)  # the common types first, by identity: this loop may run 300,000 times
        if kind is list or kind is tuple:
            total += 2 + 2 * len(item)
            stack.extend(item)
        elif kind is str:
            total += len(item) + 2 if item.isprintable() else 4 * len(item) + 2
        elif kind is int:
            total += _int_digits(item)
        elif kind is dict:
            total += 2 + 4 * len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        else:
            total += _part_size(item, stack)
    return total


def _part_size(item: Any, stack: list[Any]) -> int:
    """:func:`printed_size` of one value of a less common type; its parts go onto ``stack``."""
    size = _scalar_size(item, True)
    if size is not None:
        return size
    if isinstance(item, Mapping):
        stack.extend(item.keys())
        stack.extend(item.values())
        return 2 + 4 * len(item)
    if isinstance(item, _SEQUENCES):
        stack.extend(item)
        return 2 + 2 * len(item)
    if isinstance(item, Namespace):
        stack.append(object.__getattribute__(item, "_Namespace__attrs"))
        return 14
    return 100


def text_size(value: Any) -> int:
    """Length of ``str(value)``: exact for a string, :func:`printed_size` for anything else."""
    return len(value) if isinstance(value, str) else printed_size(value)


def check_printed(value: Any, what: str) -> None:
    """Refuse to turn ``value`` into text when the text would be over the limit."""
    if not isinstance(value, str):
        too_big(printed_size(value), what)


# -- %-formatting ------------------------------------------------------------------------------

_PRINTF_FLAGS = "#0- +"
_PRINTF_TYPES = "diouxXeEfFgGcrsa%"


class _Args:
    """The values a ``%``-format consumes, in order (``*`` widths included), or by key."""

    def __init__(self, args: Any) -> None:
        self.mapping = args if isinstance(args, Mapping) else None
        self.items = list(args) if isinstance(args, tuple) else [args]
        self.next = 0

    def take(self) -> Any:
        if self.next >= len(self.items):
            raise _Unreadable
        self.next += 1
        return self.items[self.next - 1]

    def key(self, name: str) -> Any:
        if self.mapping is None or name not in self.mapping:
            raise _Unreadable
        return self.mapping[name]


class _Unreadable(Exception):
    """Python would refuse this format itself (before building anything more): stop estimating."""


def _digits_of(value: Any) -> int:
    if isinstance(value, bool | int):
        return _int_digits(int(value))
    if isinstance(value, float):  # digits before the point, and room for repr's 17 after it and an exponent
        return (int(math.log10(abs(value))) if math.isfinite(value) and abs(value) >= 1 else 0) + 25
    raise _Unreadable  # Python's %d of a non-number raises TypeError


def _printf_field(kind: str, value: Any, width: int, precision: int | None) -> int:
    """Characters one ``%`` conversion produces, at most (up to a small factor for escaping)."""
    if kind in "sra":
        base = printed_size(value, quoted=kind != "s")
        if precision is not None:
            base = min(base, precision)
    elif kind in "diuoxX":
        base = max(_digits_of(value) * 2, precision or 0) + 3
    elif kind in "eEfFgG":
        base = _digits_of(value) + (6 if precision is None else precision) + 8
    else:  # c
        base = 1
    return max(width, base)


def _printf_number(template: str, pos: int, args: _Args) -> tuple[int | None, int]:
    """A width or precision at ``pos``: digits, ``*`` (taken from the arguments) or nothing."""
    if pos < len(template) and template[pos] == "*":
        value = args.take()
        if not isinstance(value, int):
            raise _Unreadable
        return abs(value), pos + 1
    end = pos
    while end < len(template) and template[end].isdigit():
        end += 1
    return (int(template[pos:end]) if end > pos else None), end


def printf_size(template: str, args: Any, limit: int = MAX_OUTPUT_CHARS) -> int:
    """How many characters ``template % args`` would hold, at most (counted until past ``limit``).

    Parses Python's ``%`` conversions (mapping key, flags, width or ``*``, precision or ``.*``,
    length modifier, type) in order, and stops at the first one Python itself would refuse (it
    fails there too, having built only the fields before it).
    """
    state = _Args(args)
    total = 0
    pos = 0
    try:
        while True:
            start = template.find("%", pos)
            if start < 0:
                return total + len(template) - pos
            total += start - pos
            pos = start + 1
            key = None
            if template.startswith("(", pos):
                depth, end = 1, pos + 1
                while end < len(template) and depth:
                    depth += {"(": 1, ")": -1}.get(template[end], 0)
                    end += 1
                key, pos = template[pos + 1 : end - 1], end
            while pos < len(template) and template[pos] in _PRINTF_FLAGS:
                pos += 1
            width, pos = _printf_number(template, pos, state)
            precision = None
            if template.startswith(".", pos):
                precision, pos = _printf_number(template, pos + 1, state)
                precision = precision or 0
            while pos < len(template) and template[pos] in "hlL":
                pos += 1
            if pos >= len(template) or template[pos] not in _PRINTF_TYPES:
                raise _Unreadable
            kind = template[pos]
            pos += 1
            if kind == "%":
                total += max(width or 0, 1)
                continue
            value = state.key(key) if key is not None else state.take()
            total += _printf_field(kind, value, width or 0, precision)
            if total > limit:
                return total
    except _Unreadable:
        return total


def check_printf(template: Any, args: Any) -> None:
    """``template % args`` (the ``%`` operator and the ``format`` filter), sized before it runs."""
    if isinstance(template, str):
        too_big(printf_size(template, args), "a formatted string")


# -- str.format --------------------------------------------------------------------------------

def _spec_numbers(spec: str) -> tuple[int, int | None] | None:
    """Width and precision of a standard format spec (``[[fill]align][sign][z][#][0][width][,][.prec][type]``).

    ``None`` for anything else (a date's ``%Y-%m-%d``).
    """
    pos = 0
    if len(spec) >= 2 and spec[1] in "<>=^":
        pos = 2
    elif spec[:1] in ("<", ">", "=", "^"):
        pos = 1
    if spec[pos : pos + 1] in ("+", "-", " "):
        pos += 1
    for flag in ("z", "#", "0"):
        if spec[pos : pos + 1] == flag:
            pos += 1
    end = pos
    while end < len(spec) and spec[end].isdigit():
        end += 1
    width = int(spec[pos:end]) if end > pos else 0
    pos = end
    if spec[pos : pos + 1] in (",", "_"):
        pos += 1
    precision = None
    if spec[pos : pos + 1] == ".":
        end = pos + 1
        while end < len(spec) and spec[end].isdigit():
            end += 1
        precision = int(spec[pos + 1 : end]) if end > pos + 1 else 0
        pos = end
    if len(spec) - pos > 1 or (pos < len(spec) and not spec[pos].isalpha() and spec[pos] != "%"):
        return None
    return width, precision


def format_field_size(value: Any, spec: str) -> int:
    """Characters ``format(value, spec)`` would produce, at most (up to a small factor)."""
    numbers = _spec_numbers(spec)
    if numbers is None:  # a type's own mini-language, e.g. strftime: each directive a few dozen characters
        return printed_size(value) + 16 * len(spec)
    width, precision = numbers
    if isinstance(value, bool | int | float):
        base = _digits_of(value) * 2 + (precision or 0) + 8
    else:
        base = printed_size(value)
        if precision is not None:
            base = min(base, precision)
    return max(width, base)


class BudgetFormatter(SandboxedFormatter):
    """Jinja's sandboxed ``str.format``, refusing each field before it is formatted when the
    string would grow over the limit. Python's formatter resolves nested specs (``{0:{1}}``)
    before it calls :meth:`format_field`, so the width checked is the one that will be used.
    """

    built = 0

    def vformat(self, format_string: str, args: Any, kwargs: Mapping[str, Any]) -> str:
        self.built = len(format_string)
        return super().vformat(format_string, args, kwargs)

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        if conversion in ("r", "a"):
            too_big(printed_size(value, quoted=True), "a formatted field")
        return super().convert_field(value, conversion)

    def format_field(self, value: Any, format_spec: str) -> Any:
        field = format_field_size(value, format_spec)
        too_big(field, "a formatted field")
        self.built += field
        too_big(self.built, "a formatted string")
        budget = BUDGET.get()
        if budget is not None:
            budget.tick()
        return super().format_field(value, format_spec)


class BudgetEscapeFormatter(BudgetFormatter, SandboxedEscapeFormatter):
    """:class:`BudgetFormatter` for ``Markup.format`` (escapes each field)."""


# -- string methods ----------------------------------------------------------------------------


def _replace_size(text: str, old: Any, new: Any, count: Any) -> int:
    """``text.replace(old, new, count)``; the ``replace`` filter turns ``old`` and ``new`` into text first."""
    hits = text.count(old) if isinstance(old, str) and old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    return len(text) + hits * text_size(new)


def _translate_size(text: str, table: Any) -> int:
    if not isinstance(table, Mapping):
        return len(text)
    longest = max((len(v) for v in table.values() if isinstance(v, str)), default=1)
    return len(text) * max(longest, 1)


_LINE_BREAKS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"


def _pieces(text: str, name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int:
    """How many strings ``text.split()``/``rsplit()``/``splitlines()`` would make, at most."""
    if name == "splitlines":
        return sum(text.count(c) for c in _LINE_BREAKS) + 1
    sep = args[0] if args else kwargs.get("sep")
    pieces = (text.count(sep) if isinstance(sep, str) and sep else _whitespace(text)) + 1
    most = args[1] if len(args) > 1 else kwargs.get("maxsplit", -1)
    return min(pieces, most + 1) if isinstance(most, int) and most >= 0 else pieces


def check_str_call(method: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """Size checks before a string method that can build far more than its inputs."""
    owner = getattr(method, "__self__", None)
    name = getattr(method, "__name__", "")
    if not isinstance(owner, str):
        if isinstance(owner, list) and name == "extend" and args:
            too_big(len(owner) + size_of(args[0]), "list.extend()")
        return
    values = [*args, *kwargs.values()]
    if name in ("ljust", "rjust", "center", "zfill") and values and isinstance(values[0], int):
        too_big(values[0], f"str.{name}()")
    elif name == "expandtabs":
        size = values[0] if values and isinstance(values[0], int) else 8
        too_big(len(owner) + owner.count("\t") * max(size, 0), "str.expandtabs()")
    elif name == "replace" and len(values) >= 2:
        too_big(_replace_size(owner, values[0], values[1], values[2] if len(values) > 2 else -1), "str.replace()")
    elif name == "join" and values and isinstance(values[0], list | tuple):
        items = values[0]
        too_big(len(owner) * max(len(items) - 1, 0) + sum(text_size(i) for i in items), "str.join()")
    elif name == "translate" and values:
        too_big(_translate_size(owner, values[0]), "str.translate()")
    elif name in ("split", "rsplit", "splitlines"):
        too_big(len(owner) + OBJECT_WEIGHT * _pieces(owner, name, args, kwargs), f"str.{name}()")


# -- filters and globals -----------------------------------------------------------------------

Estimator = Callable[[dict[str, Any]], int]


def _count_lines(value: Any) -> int:
    return value.count("\n") + 1 if isinstance(value, str) else text_size(value) + 1


def _indent(a: dict[str, Any]) -> int:
    width = a.get("width", 4)
    pad = len(width) if isinstance(width, str) else max(width, 0) if isinstance(width, int) else 4
    return text_size(a["s"]) + _count_lines(a["s"]) * pad


def _center(a: dict[str, Any]) -> int:
    width = a.get("width", 80)
    return max(text_size(a["value"]), width if isinstance(width, int) else 0)


def _whitespace(text: str) -> int:
    return sum(text.count(c) for c in " \t\n\r\f\v-")


def _long_word_copy(text: str, width: int) -> int:
    """Bytes textwrap copies breaking words longer than ``width``: each break copies the rest of
    the word, so a word of length L costs about L * L / (2 * width). Only words over 1,000
    characters are looked at (the regular expression scans in C and builds only those)."""
    total = 0
    for word in re.finditer(r"\S{1000,}", text):
        length = word.end() - word.start()
        total += length * length // (2 * max(width, 1))
    return total


def _wordwrap(a: dict[str, Any]) -> int:
    text = a["s"] if isinstance(a["s"], str) else ""
    size = text_size(a["s"])
    width = a.get("width", 79)
    width = width if isinstance(width, int) and width > 0 else 1
    wrap = a.get("wrapstring")
    wrap_len = len(wrap) if isinstance(wrap, str) else 1
    breaks = size // width if a.get("break_long_words", True) else 0
    pieces = 2 * _whitespace(text) + breaks + 2
    if pieces > MAX_WRAP_PIECES:
        raise BudgetExceeded(
            f"wordwrap would cut the text into about {pieces:,} pieces; the limit is {MAX_WRAP_PIECES:,}"
        )
    if breaks and size > width * 1000 and _long_word_copy(text, width) > MAX_WRAP_COPY:
        raise BudgetExceeded(
            f"wordwrap would copy more than {MAX_WRAP_COPY:,} characters breaking long words; use a wider width"
        )
    lines = min(size + 1, 2 * size // width + text.count("\n") + 2)
    return size + lines * wrap_len


def _replace(a: dict[str, Any]) -> int:
    text = a["s"]
    if not isinstance(text, str):
        return text_size(text)
    return _replace_size(text, a["old"], a["new"], a.get("count"))


def _format(a: dict[str, Any]) -> int:
    value = a["value"]
    return printf_size(value, a.get("kwargs") or a.get("args", ())) if isinstance(value, str) else text_size(value)


def _join(a: dict[str, Any]) -> int:
    items = a["value"]
    sep = text_size(a.get("d", ""))
    if isinstance(items, str):  # joins the characters
        return len(items) + sep * max(len(items) - 1, 0)
    seq = items if isinstance(items, list | tuple | dict | set | frozenset) else ()
    total = sep * max(len(seq) - 1, 0)
    for item in seq:
        total += text_size(item)
        if total > MAX_OUTPUT_CHARS:
            break
    return total


def _escape(a: dict[str, Any]) -> int:
    value = next(iter(a.values()))
    if not isinstance(value, str):
        return printed_size(value) * 6
    return len(value) + 4 * (value.count("&") + value.count('"') + value.count("'")) + 3 * (
        value.count("<") + value.count(">")
    )


def _text(a: dict[str, Any]) -> int:
    return text_size(next(iter(a.values())))


def _structure(value: Any) -> tuple[int, int]:
    """(nodes, depth) of nested lists and dicts, counted until MAX_RANGE nodes."""
    nodes, depth = 0, 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack and nodes <= MAX_RANGE:
        item, level = stack.pop()
        nodes += 1
        depth = max(depth, level)
        if isinstance(item, dict):
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, _SEQUENCES):
            stack.extend((v, level + 1) for v in item)
    return nodes, depth


def _pprint(a: dict[str, Any]) -> int:
    nodes, depth = _structure(a["value"])
    if nodes > MAX_RANGE:
        raise BudgetExceeded(f"pprint of more than {MAX_RANGE:,} items is not allowed")
    return 2 * printed_size(a["value"]) + nodes * depth


def _tojson(a: dict[str, Any]) -> int:
    indent = a.get("indent")
    size = 6 * printed_size(a["value"])
    if indent is None or size > MAX_OUTPUT_CHARS:
        return size
    pad = len(indent) if isinstance(indent, str) else indent if isinstance(indent, int) else 0
    nodes, depth = _structure(a["value"])
    return size + nodes * (1 + pad * depth)


_LINK_MARKS = ("://", "www.", "@", "mailto:", ".com", ".net", ".org")


def _urlize(a: dict[str, Any]) -> int:
    """Escaped text, each link written twice (``href`` and text) with its attributes added."""
    text = a["value"]
    if not isinstance(text, str):
        return text_size(text)
    extra = sum(text_size(a[k]) for k in ("target", "rel") if a.get(k) is not None)
    links = sum(text.count(mark) for mark in _LINK_MARKS)
    return 2 * _escape({"s": text}) + links * (extra + 60)


def _sum(a: dict[str, Any]) -> int:
    """Summing lists copies every partial sum: charged to the send's copy budget."""
    items = a["iterable"]
    start = a.get("start", 0)
    if not isinstance(items, list | tuple) or a.get("attribute") is not None:
        return 0
    if not isinstance(start, list | tuple) and not any(isinstance(i, list | tuple) for i in items[:1]):
        return 0
    size = size_of(start)
    copied = 0
    for item in items:
        size += size_of(item)
        copied += size
    budget = BUDGET.get()
    if budget is not None:
        budget.copy(copied, "sum")
    return size


#: What one new object in a result weighs against :data:`MAX_OUTPUT_CHARS`: a list of a
#: string's characters holds a new object per character (unless ASCII, which Python shares),
#: about 80 bytes each, where a string spends 1 to 4 bytes per character.
OBJECT_WEIGHT = 8


def _items(value: Any) -> int:
    """Weight of the items iterating ``value`` yields: characters of a non-ASCII string are new objects."""
    if isinstance(value, str):
        return len(value) if value.isascii() else OBJECT_WEIGHT * len(value)
    return size_of(value)


def _batch(a: dict[str, Any]) -> int:
    items = _items(a["value"])
    per = a.get("linecount")
    groups = -(-size_of(a["value"]) // per) if isinstance(per, int) and per > 0 else 0
    return items + OBJECT_WEIGHT * groups


def _slice(a: dict[str, Any]) -> int:
    slices = a.get("slices")
    return _items(a["value"]) + OBJECT_WEIGHT * (slices if isinstance(slices, int) and slices > 0 else 0)


#: Filters (by function name) whose result can outgrow their input, and how large it would be.
FILTER_ESTIMATES: dict[str, Estimator] = {
    "do_list": lambda a: _items(a["value"]),
    "do_sort": lambda a: _items(a["value"]),
    "do_unique": lambda a: _items(a["value"]),
    "do_batch": _batch,
    "do_slice": _slice,
    "do_center": _center,
    "do_indent": _indent,
    "do_wordwrap": _wordwrap,
    "do_replace": _replace,
    "do_format": _format,
    "do_join": _join,
    "do_pprint": _pprint,
    "do_tojson": _tojson,
    "do_xmlattr": lambda a: 6 * printed_size(a["d"]),
    "do_urlencode": lambda a: 12 * text_size(a["value"]),
    "do_urlize": _urlize,
    "do_sum": _sum,
    "escape": _escape,
    "do_forceescape": _escape,
    "soft_str": _text,
    "do_mark_safe": _text,
    "do_upper": _text,
    "do_lower": _text,
    "do_title": _text,
    "do_capitalize": _text,
    "do_trim": _text,
    "do_striptags": _text,
    "do_wordcount": _text,
    "do_truncate": lambda a: text_size(a["s"]) + text_size(a.get("end", "...")),
}


#: Filters whose input is sized item by item when it is a generator (``map(...) | join``):
#: what one item adds to the result.
FILTER_COLLECT: dict[str, Callable[[Any], int]] = {"do_join": text_size, "do_sum": size_of}


def collect(items: Iterable[Any], measure: Callable[[Any], int], what: str) -> list[Any]:
    """The items of a generator in a list, refused as soon as they add up to more than the limit."""
    out = []
    total = 0
    for item in items:
        total += measure(item)
        too_big(total, what)
        out.append(item)
    return out


def filter_estimator(name: str, func: Callable[..., Any]) -> Callable[[tuple[Any, ...], dict[str, Any]], int] | None:
    """A function sizing a call of filter ``name`` (``func``) from its arguments, or ``None`` when
    it needs none. Arguments that are lists or dicts are sized as text too (``join(d=[...])``
    prints its separator)."""
    estimate = FILTER_ESTIMATES.get(getattr(func, "__name__", ""))
    if estimate is None:
        return None
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return None
    # Jinja's async-capable filters take an evaluation context their (sync) signature lacks.
    inner = getattr(func, "__wrapped__", None)
    skip = int(getattr(func, "jinja_async_variant", False) and getattr(inner, "jinja_pass_arg", None) is None)
    first = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0  # where the filtered value is

    def sized(args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
        try:
            bound = signature.bind(*args[skip:], **kwargs)
        except TypeError:
            return 0  # the call itself will fail with Python's message
        for value in [*args[first + 1 :], *kwargs.values()]:
            if isinstance(value, list | tuple | dict | set | frozenset | Namespace):  # may be turned into text
                too_big(printed_size(value), f"the filter {name}'s argument as text")
        return estimate(dict(bound.arguments))

    return sized


def lipsum_size(a: dict[str, Any]) -> int:
    """``lipsum(n, html, min, max)``: n paragraphs of fewer than ``max`` words of at most 12 characters."""
    count, most = a.get("n", 5), a.get("max", 100)
    if not isinstance(count, int) or not isinstance(most, int):
        return 0
    return max(count, 0) * (12 * max(most, 0) + 40)


def check_int(value: Any) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > MAX_INT_BITS:
        raise BudgetExceeded(f"a number larger than 2**{MAX_INT_BITS} is not allowed in templates")


def check_power(base: Any, exponent: Any) -> None:
    if not isinstance(exponent, int | float) or not isinstance(base, int | float):
        return
    if (
        isinstance(base, int)
        and isinstance(exponent, int)
        and exponent > 0
        and abs(base) > 1
        and exponent * math.log2(abs(base)) > MAX_INT_BITS
    ):
        raise BudgetExceeded(f"{base} ** {exponent} is too large (results are limited to 2**{MAX_INT_BITS})")


def check_repeat(left: Any, right: Any) -> None:
    """``'a' * 3000000000`` and ``[0] * 10**9`` are refused before Python allocates them."""
    for seq, count in ((left, right), (right, left)):
        if isinstance(count, int) and size_of(seq) and not isinstance(seq, dict | set | frozenset | range):
            too_big(size_of(seq) * max(count, 0), "a repeated string or list")
    if isinstance(left, int) and isinstance(right, int) and left.bit_length() + right.bit_length() > MAX_INT_BITS:
        raise BudgetExceeded(f"a number larger than 2**{MAX_INT_BITS} is not allowed in templates")


def joined_size(parts: Iterable[Any]) -> int:
    """Characters ``~`` would build from ``parts`` (containers count as they print)."""
    return sum(text_size(p) for p in parts)

