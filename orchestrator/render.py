"""Jinja rendering of subject, text and HTML, with Pardot merge tags passed through untouched.

Jinja and Pardot's Handlebars Merge Language (HML) both use ``{{ }}``.  The rule that lets
them share a file without hand-escaping (documented in the README):

* Jinja keeps its standard syntax: ``{{ discount }}``, ``{% if %}``, ``{% extends %}``.
  Jinja variable names are lower-case.
* These are HML and reach Pardot byte-for-byte:
  ``{{{anything}}}`` (triple braces), ``{{#...}}``, ``{{/...}}``, ``{{else}}``,
  ``{{Capitalized.Name}}`` (a name starting with an upper-case letter, e.g.
  ``{{Recipient.FirstName}}``, ``{{Unsubscribe}}``), and the special tags
  ``{{unsubscribe}}``, ``{{emailpreferencecenter}}``, ... in any letter case.
* Pardot's legacy ``%%first_name%%`` tags are not Jinja syntax at all and pass through.
* Anything else can be protected with ``{% raw %}...{% endraw %}``.

The protection is a Jinja extension's ``preprocess`` hook, so it applies equally to inline
strings, files, layouts and partials.  It wraps each HML tag in ``{% raw %}`` before Jinja's
lexer sees it, leaving existing raw blocks alone.

Rendering runs in Jinja's ``SandboxedEnvironment`` (no ``''.__class__`` escapes), with
``StrictUndefined`` (a missing variable is an error, not a blank in a customer's inbox), a
loader confined to ``campaigns_dir`` (``{% include "../x" %}`` cannot leave it, and neither can
a symbolic link: every file is resolved and must stay inside), and HTML autoescaping for the
HTML part.

Campaign files are untrusted (``plan`` runs on a pull request before anyone reviewed it), so
each send renders under a budget (:class:`RenderBudget`): a time limit, an output limit, a call
depth limit, and size checks before the operations that can allocate without bound (``*`` and
``**``, ``+``, ``%``-formatting, ``~``, string padding and joining, filters given huge widths).
The checks run in the sandbox's hooks (``call``, ``call_binop``, ``getattr``, ``getitem``) and
in code the compiler adds around every ``{% for %}`` and ``~``; whatever still goes wrong
(recursion, a non-UTF-8 file, an arithmetic error) becomes a located :class:`RenderError`.
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
import re
import stat
import sys
import time
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.ext import Extension
from jinja2.loaders import split_template_path
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

from orchestrator import __version__
from orchestrator.errors import RenderError
from orchestrator.usercache import cache_root, private_folder

#: Special HML tags recognised in any letter case (Salesforce Engage writes them lower-case).
HML_SPECIAL_TAGS = (
    "unsubscribe",
    "emailpreferencecenter",
    "resubscribe",
    "view_online",
    "current_year",
)

_HML_TAG = re.compile(
    r"""
    \{\{\{[^{}]*\}\}\}                                # {{{Recipient.Street}}}
    | \{\{\s*[#/][^{}]*\}\}                           # {{#if ...}} {{/if}}
    | \{\{\s*else\s*\}\}                              # {{else}}
    | \{\{\s*[A-Z][\w.]*(?:\s[^{}]*)?\}\}             # {{Recipient.FirstName}}
    | \{\{\s*(?i:"""
    + "|".join(HML_SPECIAL_TAGS)
    + r""")\s*\}\}                                    # {{unsubscribe}}
    """,
    re.VERBOSE,
)
_RAW_BLOCK = re.compile(r"\{%-?\s*raw\s*-?%\}.*?\{%-?\s*endraw\s*-?%\}", re.DOTALL)


def protect_hml(source: str) -> str:
    """Wrap every HML tag of ``source`` in a Jinja raw block (existing raw blocks untouched)."""
    out: list[str] = []
    pos = 0
    for raw in _RAW_BLOCK.finditer(source):
        out.append(_wrap(source[pos : raw.start()]))
        out.append(raw.group(0))
        pos = raw.end()
    out.append(_wrap(source[pos:]))
    return "".join(out)


def _wrap(chunk: str) -> str:
    return _HML_TAG.sub(lambda m: "{% raw %}" + m.group(0) + "{% endraw %}", chunk)


#: What makes a source more than literal text to Jinja: its three delimiters, and a carriage
#: return (Jinja rewrites line endings in template data to ``\n``).
_NOT_LITERAL = re.compile(r"\{[{%#]|\r")


def is_literal(source: str) -> bool:
    """True when Jinja would render ``source`` to itself: no delimiter and no carriage return.

    Most subjects and many bodies are plain text with Pardot merge tags; rendering them as they
    are skips compiling a template each (a third of the time ``plan`` spends on 200 sends).
    ``tests/test_render.py`` checks against Jinja that such sources come out unchanged.
    """
    return _NOT_LITERAL.search(source) is None


class HmlPassthrough(Extension):
    """Jinja extension: HML merge tags are literal text (see the module docstring)."""

    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        return protect_hml(source)


@dataclass(frozen=True)
class Rendered:
    """The three rendered parts of one send; ``None`` where the campaign leaves it to the template."""

    subject: str | None
    text: str | None
    html: str | None


@dataclass(frozen=True)
class Source:
    """One Jinja source: inline text from the campaign file, or a template file."""

    part: str  # "subject" | "text" | "html"
    inline: str | None = None
    file: Path | None = None  # absolute path inside campaigns_dir
    where: str = ""  # display location of the inline value, "path:line"


#: Rendering budget of one send (subject, text and HTML together); see the README.
MAX_RENDER_SECONDS = 5.0
#: Most characters one send may render to, and the largest string or list any single
#: operation inside a template may build.
MAX_OUTPUT_CHARS = 1024 * 1024
#: Most characters all ``~`` concatenations of one send may copy together.
MAX_CONCAT_CHARS = 16 * MAX_OUTPUT_CHARS
#: Deepest nesting of calls (macros calling macros) in one render.
MAX_CALL_DEPTH = 100
#: Largest integer arithmetic may produce (about 1,230 decimal digits).
MAX_INT_BITS = 4096
#: Most items ``range()`` may produce (Jinja's own sandbox limit).
MAX_RANGE = 100_000
#: Largest template file read.
MAX_TEMPLATE_BYTES = 1024 * 1024


class BudgetExceeded(SecurityError):
    """A template went over its rendering budget (time, size, depth)."""


class TemplateRefused(jinja2.TemplateError):
    """A template file the loader will not read (outside the campaigns folder, not a UTF-8 file, ...)."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name
        self.reason = message


class RenderBudget:
    """Time and size left for rendering one send; shared by its subject, text and HTML."""

    def __init__(self, seconds: float = MAX_RENDER_SECONDS, chars: int = MAX_OUTPUT_CHARS) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.chars = chars
        self.output_left = chars
        self.concat_left = MAX_CONCAT_CHARS
        self.depth = 0

    def tick(self) -> None:
        """Refuse to go on once the time is up (called from every sandbox hook and loop step)."""
        if time.monotonic() > self.deadline:
            raise BudgetExceeded(
                f"rendering took longer than {self.seconds:g} s (the limit per send); "
                "look for loops over large ranges or nested loops"
            )

    def output(self, size: int) -> None:
        self.output_left -= size
        if self.output_left < 0:
            raise BudgetExceeded(f"the rendered email is larger than {self.chars:,} characters (the limit per send)")


_BUDGET: ContextVar[RenderBudget | None] = ContextVar("orchestrator_render_budget", default=None)


def _too_big(size: int, what: str) -> None:
    if size > MAX_OUTPUT_CHARS:
        raise BudgetExceeded(f"{what} would hold {size:,} items; the limit is {MAX_OUTPUT_CHARS:,}")


def _size(value: Any) -> int:
    """Length of a string or container, else 0 (numbers are bounded separately)."""
    if isinstance(value, str | bytes | list | tuple | dict | set | frozenset | range):
        return len(value)
    return 0


def _check_int(value: Any) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > MAX_INT_BITS:
        raise BudgetExceeded(f"a number larger than 2**{MAX_INT_BITS} is not allowed in templates")


def _check_power(base: Any, exponent: Any) -> None:
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


def _check_repeat(left: Any, right: Any) -> None:
    """``'a' * 3000000000`` and ``[0] * 10**9`` are refused before Python allocates them."""
    for seq, count in ((left, right), (right, left)):
        if isinstance(count, int) and _size(seq) and not isinstance(seq, dict | set | frozenset | range):
            _too_big(_size(seq) * max(count, 0), "a repeated string or list")
    if isinstance(left, int) and isinstance(right, int) and left.bit_length() + right.bit_length() > MAX_INT_BITS:
        raise BudgetExceeded(f"a number larger than 2**{MAX_INT_BITS} is not allowed in templates")


_FORMAT_WIDTH = re.compile(r"%[-#0 +]*(\d+)|\{[^{}]*:[^{}]*?(\d{7,})")


def _check_format(template: Any) -> None:
    """A ``%``- or ``format()``-style format with a huge field width (``"%999999999d"``)."""
    if isinstance(template, str):
        for match in _FORMAT_WIDTH.finditer(template):
            width = int(match.group(1) or match.group(2) or 0)
            _too_big(width, "a formatted field")


def _check_str_call(method: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """Size checks before a string method that can allocate far more than its inputs."""
    owner = getattr(method, "__self__", None)
    name = getattr(method, "__name__", "")
    if not isinstance(owner, str):
        return
    values = [*args, *kwargs.values()]
    if name in ("ljust", "rjust", "center", "zfill") and values and isinstance(values[0], int):
        _too_big(values[0], f"str.{name}()")
    elif name == "expandtabs":
        size = values[0] if values and isinstance(values[0], int) else 8
        _too_big(len(owner) + owner.count("\t") * max(size, 0), "str.expandtabs()")
    elif name == "replace" and len(values) >= 2 and isinstance(values[0], str) and isinstance(values[1], str):
        hits = owner.count(values[0]) if values[0] else len(owner) + 1
        _too_big(len(owner) + hits * len(values[1]), "str.replace()")
    elif name == "join" and values and isinstance(values[0], list | tuple):
        items = values[0]
        _too_big(len(owner) * max(len(items) - 1, 0) + sum(_size(i) for i in items), "str.join()")
    elif name in ("format", "format_map"):
        _check_format(owner)


def _guard_filter(func: Callable[..., Any]) -> Callable[..., Any]:
    """A filter that refuses a huge numeric argument (``center(10**9)``) and a huge result."""
    first = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0

    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        budget = _BUDGET.get()
        if budget is not None:
            budget.tick()
            for value in (*args[first + 1 :], *kwargs.values()):
                if isinstance(value, int) and not isinstance(value, bool):
                    _too_big(abs(value), f"the filter {func.__name__}'s argument")
            if len(args) > first:
                _check_format(args[first]) if func.__name__ == "do_format" else None
        result = func(*args, **kwargs)
        if budget is not None and not isinstance(result, Iterator):
            _too_big(_size(result), f"the result of the filter {func.__name__}")
        return result

    return guarded


def _budget_range(*args: int) -> Iterable[int]:
    rng = range(*args)
    if len(rng) > MAX_RANGE:
        raise BudgetExceeded(f"range() of {len(rng):,} items is larger than the limit of {MAX_RANGE:,}")
    return rng


class _BudgetCodeGenerator(CodeGenerator):
    """Jinja's code generator, plus budget checks in every ``{% for %}`` and every ``~``."""

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        guard = nodes.EnvironmentAttribute("budget_iter", lineno=node.lineno)
        node.iter = nodes.Call(guard, [node.iter], [], None, None, lineno=node.lineno)
        super().visit_For(node, frame)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        if frame.eval_ctx.volatile:
            join = "(markup_join if context.eval_ctx.volatile else str_join)"
        elif frame.eval_ctx.autoescape:
            join = "markup_join"
        else:
            join = "str_join"
        self.write(f"environment.budget_concat({join}, (")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class _BudgetedEnvironment(SandboxedEnvironment):
    """Jinja's sandbox with a per-send time, size and depth budget (see the module docstring)."""

    code_generator_class = _BudgetCodeGenerator
    # `**` and `*` are intercepted, which also stops Jinja from folding `10**5000` while compiling.
    intercepted_binops = frozenset({"*", "**", "+", "%", "//", "/"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.globals["range"] = _budget_range
        self.filters = {name: _guard_filter(func) for name, func in self.filters.items()}

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        budget = _BUDGET.get()
        if budget is not None:
            budget.tick()
            if operator == "**":
                _check_power(left, right)
            elif operator == "*":
                _check_repeat(left, right)
            elif operator == "+":
                _too_big(_size(left) + _size(right), "a concatenated string or list")
            elif operator == "%":
                _check_format(left)
        result = super().call_binop(context, operator, left, right)
        _check_int(result)
        return result

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        budget = _BUDGET.get()
        if budget is None:
            return super().call(__context, __obj, *args, **kwargs)
        budget.tick()
        _check_str_call(getattr(__obj, "__wrapped__", __obj), args, kwargs)
        budget.depth += 1
        try:
            if budget.depth > MAX_CALL_DEPTH:
                raise BudgetExceeded(
                    f"calls nested more than {MAX_CALL_DEPTH} deep (a macro calling itself without end?)"
                )
            result = super().call(__context, __obj, *args, **kwargs)
        finally:
            budget.depth -= 1
        owner = getattr(__obj, "__self__", None)
        _too_big(max(_size(result), _size(owner) if isinstance(owner, list | dict | set) else 0), "a value")
        return result

    def getattr(self, obj: Any, attribute: str) -> Any:
        budget = _BUDGET.get()
        if budget is not None:
            budget.tick()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        budget = _BUDGET.get()
        if budget is not None:
            budget.tick()
        return super().getitem(obj, argument)

    def budget_iter(self, iterable: Iterable[Any]) -> Iterator[Any]:
        """Every ``{% for %}`` iterates through this, so even a loop without output or calls stops in time."""
        budget = _BUDGET.get()
        if budget is None:
            yield from iterable
            return
        for item in iterable:
            budget.tick()
            yield item

    def budget_concat(self, join: Callable[[Iterable[Any]], str], parts: tuple[Any, ...]) -> str:
        """``a ~ b``: refused before joining when it would exceed the size budget."""
        budget = _BUDGET.get()
        if budget is not None:
            budget.tick()
            size = sum(len(p) if isinstance(p, str) else 8 * _size(p) for p in parts)
            _too_big(size, "a string built with ~")
            budget.concat_left -= size
            if budget.concat_left < 0:
                raise BudgetExceeded(f"the template joins more than {MAX_CONCAT_CHARS:,} characters with ~ in total")
        return join(parts)


def _render_within(
    env: jinja2.Environment, template: jinja2.Template, variables: Mapping[str, Any], budget: RenderBudget
) -> str:
    """``template.render(variables)``, stopped as soon as the output exceeds the budget.

    Drives the render function itself (as ``Template.render`` does) rather than going through
    ``Template.generate``: one generator layer less per output chunk, which is most of the cost
    of a small template. Errors still go through Jinja's traceback rewriting, which is what
    points them at a template line.
    """
    context = template.new_context(dict(variables))
    chunks: list[str] = []
    left = budget.output_left
    try:
        for chunk in template.root_render_func(context):
            left -= len(chunk)
            if left < 0:
                budget.output(budget.output_left + 1)  # raises, with the budget's message
            chunks.append(chunk)
            if not len(chunks) & 255:
                budget.tick()
    except Exception:
        env.handle_exception()
    budget.output_left = left
    return "".join(chunks)


class _InlineLoader(jinja2.BaseLoader):
    """Serves inline sources (from campaign YAML) under a content-derived name.

    Going through a loader, rather than ``from_string``, lets Jinja's bytecode cache keep the
    compiled form between runs: compiling is most of the cost of rendering a large project.
    """

    PREFIX = "inline:"

    def __init__(self) -> None:
        self._sources: dict[str, str] = {}

    def name_for(self, source: str) -> str:
        name = self.PREFIX + hashlib.sha256(source.encode("utf-8", errors="surrogatepass")).hexdigest()
        self._sources[name] = source
        return name

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str | None, Callable[[], bool]]:
        try:
            return self._sources[template], None, lambda: True
        except KeyError:
            raise jinja2.TemplateNotFound(template) from None


class ConfinedLoader(jinja2.BaseLoader):
    """Template files under ``root`` only: every path is resolved, symbolic links included.

    ``jinja2.FileSystemLoader`` refuses ``..`` in a name but follows a symbolic link anywhere:
    ``campaigns/_partials/footer.txt -> /proc/self/environ`` put the CI's secrets into a plan.
    Here the resolved file must lie inside ``root``, be a regular file (a FIFO would block
    forever), hold at most :data:`MAX_TEMPLATE_BYTES` and be UTF-8.
    """

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str | None, Callable[[], bool]]:
        pieces = split_template_path(template)
        path = self.root.joinpath(*pieces)
        shown = f"{self.root.name}/{'/'.join(pieces)}"
        try:
            real = path.resolve(strict=True)
        except (OSError, RuntimeError):
            raise jinja2.TemplateNotFound(template) from None
        if not real.is_relative_to(self.root):
            raise TemplateRefused(
                template,
                f"{shown} is a symbolic link to a file outside {self.root.name}/; templates, partials "
                f"and layouts must be real files inside {self.root.name}/",
            )
        try:
            info = real.stat()
            if not stat.S_ISREG(info.st_mode):
                raise TemplateRefused(template, f"{shown} is not a regular file")
            if info.st_size > MAX_TEMPLATE_BYTES:
                raise TemplateRefused(
                    template, f"{shown} is {info.st_size:,} bytes; the limit is {MAX_TEMPLATE_BYTES:,} bytes"
                )
            with real.open("rb") as fh:
                data = fh.read(MAX_TEMPLATE_BYTES + 1)
        except OSError as exc:
            raise TemplateRefused(template, f"cannot read {shown}: {exc.strerror}") from None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            byte = f"byte 0x{data[exc.start]:02x} at offset {exc.start}"
            raise TemplateRefused(template, f"{shown} is not UTF-8 text ({byte}); save it as UTF-8") from None
        mtime = info.st_mtime_ns

        def uptodate() -> bool:
            try:
                return os.stat(real).st_mtime_ns == mtime
            except OSError:
                return False

        return text, str(path), uptodate


#: Part of the bytecode cache key: bump it whenever the code generator changes, since Jinja keys
#: cached code by template source only (old code would run without the budget checks).
_CODEGEN = "budget2"


def template_cache_root(project_root: Path, environ: Mapping[str, str] | None = None) -> Path | None:
    """Where compiled templates of the project at ``project_root`` may be kept: the user's cache
    folder (:func:`orchestrator.usercache.cache_root`), never the checkout.

    Jinja's bytecode cache unpickles and unmarshals its files, so a cache file is code: one a
    pull request could commit (``.orchestrator/jinja-cache/`` before issue 17) ran during
    ``validate``. ``None`` (compile every time) when the cache folder lies inside the project,
    e.g. ``ORCHESTRATOR_CACHE_DIR=.cache`` in a workflow.
    """
    root = cache_root(environ)
    if root is None:
        return None
    try:
        if Path(os.path.abspath(root)).resolve().is_relative_to(project_root.resolve()):
            return None
    except (OSError, RuntimeError):
        return None
    return root


def _cache_key(campaigns_dir: Path) -> str:
    """One cache per project and release: the same name and source compile differently elsewhere."""
    parts = (str(campaigns_dir), __version__, _CODEGEN, jinja2.__version__, sys.version)
    return hashlib.sha256("\0".join(parts).encode("utf-8", errors="surrogatepass")).hexdigest()[:32]


def _bytecode_cache(cache_root: Path | None, key: str, flavour: str) -> jinja2.BytecodeCache | None:
    """A bytecode cache in ``cache_root/jinja/key/flavour``, or ``None`` when that is not private.

    :func:`~orchestrator.usercache.private_folder` creates each level owner-only and refuses a
    symbolic link or a folder someone else owns: whoever can write there can run code here.
    """
    if cache_root is None:
        return None
    folder = private_folder(cache_root, "jinja", key, flavour)
    return None if folder is None else jinja2.FileSystemBytecodeCache(str(folder))


class Renderer:
    """Renders campaign parts for one project; environments are built once and reused.

    ``cache_dir`` (optional; see :func:`template_cache_root`) is the user's cache folder, where
    compiled templates are kept between runs, one private folder per project and release.
    """

    def __init__(self, campaigns_dir: Path, cache_dir: Path | None = None) -> None:
        self.root = campaigns_dir.resolve()
        self._inline = _InlineLoader()
        loader = jinja2.ChoiceLoader([self._inline, ConfinedLoader(self.root)])
        common: dict[str, Any] = {
            "loader": loader,
            "undefined": jinja2.StrictUndefined,
            "extensions": [HmlPassthrough],
            "keep_trailing_newline": True,
        }
        # One cache per environment: Jinja keys cached code by template name and source only,
        # yet the same source compiles differently with and without autoescape.
        key = _cache_key(self.root)
        self._html = _BudgetedEnvironment(
            autoescape=True, bytecode_cache=_bytecode_cache(cache_dir, key, "html"), **common
        )
        self._text = _BudgetedEnvironment(
            autoescape=False, bytecode_cache=_bytecode_cache(cache_dir, key, "text"), **common
        )

    def render(self, source: Source, variables: Mapping[str, Any], budget: RenderBudget | None = None) -> str:
        """Render one part; any failure becomes a located :class:`RenderError`.

        ``budget`` is shared by the parts of one send; without one, the part gets a fresh one.
        """
        env = self._html if source.part == "html" else self._text
        budget = budget or RenderBudget()
        token = _BUDGET.set(budget)
        try:
            if source.file is None and is_literal(source.inline or ""):
                budget.output(len(source.inline or ""))
                return source.inline or ""
            template = self._template(env, source)
            return _render_within(env, template, variables, budget)
        except RenderError:
            raise
        except TemplateRefused as exc:
            raise self._error(source, exc.reason, *_template_line(exc)) from None
        except jinja2.TemplateSyntaxError as exc:
            raise self._error(source, f"template syntax error: {exc.message}", exc.lineno, exc.filename) from None
        except BudgetExceeded as exc:
            raise self._error(source, f"over the rendering budget: {exc}", *_template_line(exc)) from None
        except SecurityError as exc:
            raise self._error(source, f"not allowed in templates: {exc}", *_template_line(exc)) from None
        except jinja2.UndefinedError as exc:
            raise self._error(source, _undefined_message(exc.message or ""), *_template_line(exc)) from None
        except jinja2.TemplateNotFound as exc:
            raise self._error(
                source,
                f"template {exc.name!r} not found inside {self.root.name}/ "
                "(includes and layouts must live in the campaigns folder)",
                *_template_line(exc),
            ) from None
        except jinja2.TemplateError as exc:
            raise self._error(source, f"template error: {_short(exc)}", *_template_line(exc)) from None
        except RecursionError as exc:
            raise self._error(
                source,
                "templates nested too deeply (a macro calling itself, or a partial including itself?)",
                *_template_line(exc),
            ) from None
        except MemoryError as exc:
            raise self._error(source, "rendering ran out of memory", *_template_line(exc)) from None
        except Exception as exc:  # any other failure of untrusted template code is the author's to fix
            raise self._error(
                source, f"template failed: {type(exc).__name__}: {_short(exc)}", *_template_line(exc)
            ) from None
        finally:
            _BUDGET.reset(token)

    def _template(self, env: SandboxedEnvironment, source: Source) -> jinja2.Template:
        if source.file is None:
            return env.get_template(self._inline.name_for(source.inline or ""))
        try:
            relative = source.file.resolve().relative_to(self.root)
        except ValueError:
            raise RenderError(
                f"{source.file} is outside the campaigns folder {self.root}", path=str(source.file)
            ) from None
        return env.get_template(relative.as_posix())

    def _error(self, source: Source, message: str, line: int | None, filename: str | None) -> RenderError:
        if (filename and source.file is not None) or (filename and filename != "<template>"):
            return RenderError(f"{filename}:{line or 0}: {source.part}: {message}", path=filename or "", line=line or 0)
        if source.file is not None and line:
            return RenderError(
                f"{source.file}:{line or 0}: {source.part}: {message}", path=str(source.file), line=line or 0
            )
        suffix = f" (line {line} of the {source.part} template)" if line and line > 1 else ""
        return RenderError(f"{source.part}: {message}{suffix}", path=source.where, line=0)


def _short(exc: BaseException, limit: int = 300) -> str:
    """An exception's text, bounded (a template can raise with a megabyte of text)."""
    text = str(exc)
    return text if len(text) <= limit else text[:limit] + "..."


def _template_line(exc: BaseException) -> tuple[int | None, str | None]:
    """The template file and line a runtime error came from, read off Jinja's rewritten traceback."""
    tb: types.TracebackType | None = exc.__traceback__
    found: tuple[int | None, str | None] = (None, None)
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename == "<template>" or filename.endswith((".j2", ".jinja", ".html", ".txt")):
            found = (tb.tb_lineno, filename)
        tb = tb.tb_next
    return found


#: Pardot's HML merge objects. Written in lower case (``{{recipient.first_name}}``) they are
#: Jinja variables, not merge tags: HML starts with a capital letter (``{{Recipient.FirstName}}``).
_HML_OBJECTS = ("recipient", "sender", "organization", "campaign", "email", "system", "unsubscribe")


def _undefined_message(message: str) -> str:
    """Jinja's "undefined" message with what to do next, and the HML hint where it fits."""
    hint = "define it under `vars:` in the campaign or the environment"
    match = re.match(r"'([A-Za-z_][A-Za-z0-9_]*)' is undefined", message)
    if match and match.group(1).lower() in _HML_OBJECTS:
        name = match.group(1)
        hint = (
            f"Pardot merge tags start with a capital letter ({{{{{name.capitalize()}.FirstName}}}}, "
            "{{Recipient.Company}}); in lower case it is a Jinja variable, or "
            + hint
        )
    return f"undefined variable: {message} ({hint})"
