"""Jinja rendering of subject, text and HTML, with Pardot merge tags passed through untouched.

Jinja and Pardot's Handlebars Merge Language (HML) both use ``{{ }}``.  The rule that lets
them share a file without hand-escaping (documented in docs/campaigns.md):

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
each send renders under a budget (:class:`~orchestrator.render_budget.RenderBudget`): a time
limit, an output limit, a call depth limit, a memory limit, and size checks BEFORE the
operations that can allocate without bound (``orchestrator.render_budget`` says which and how).
The checks run in the sandbox's hooks (``call``, ``call_binop``, ``getattr``, ``getitem``, the
``str.format`` formatter, ``finalize`` for every ``{{ value }}``, ``concat`` for every macro and
block), in wrappers around the filters, ``range`` and ``lipsum``, and in code the compiler adds
around every ``{% for %}`` and ``~``; whatever still goes wrong (recursion, a non-UTF-8 file, an
arithmetic error) becomes a located :class:`RenderError`.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import os
import re
import stat
import sys
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
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
from jinja2.utils import generate_lorem_ipsum
from markupsafe import Markup

from orchestrator import __version__
from orchestrator.errors import RenderError
from orchestrator.render_budget import (
    BUDGET,
    FILTER_COLLECT,
    MAX_CALL_DEPTH,
    MAX_RANGE,
    BudgetEscapeFormatter,
    BudgetExceeded,
    BudgetFormatter,
    check_int,
    check_power,
    check_printed,
    check_printf,
    check_repeat,
    check_str_call,
    collect,
    filter_estimator,
    joined_size,
    lipsum_size,
    size_of,
    text_size,
    too_big,
)
from orchestrator.render_budget import (
    RenderBudget as RenderBudget,  # re-exported: callers share one budget across a send's parts
)
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


#: Largest template file read.
MAX_TEMPLATE_BYTES = 1024 * 1024


class TemplateRefused(jinja2.TemplateError):
    """A template file the loader will not read (outside the campaigns folder, not a UTF-8 file, ...)."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name
        self.reason = message


def _guard_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """Filter ``name``, refusing before it runs a huge numeric argument (``center(10**9)``) or a
    result its arguments make too large (:data:`~orchestrator.render_budget.FILTER_ESTIMATES`),
    and refusing a too large result after it ran."""
    first = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0
    estimate = filter_estimator(name, func)
    measure = FILTER_COLLECT.get(getattr(func, "__name__", ""))

    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        budget = BUDGET.get()
        if budget is not None:
            budget.tick()
            for value in (*args[first + 1 :], *kwargs.values()):
                if isinstance(value, int) and not isinstance(value, bool):
                    too_big(abs(value), f"the filter {name}'s argument")
            if measure is not None and len(args) > first and isinstance(args[first], Iterator):
                items = collect(args[first], measure, f"the result of the filter {name}")
                args = (*args[:first], items, *args[first + 1 :])
            if estimate is not None:
                too_big(estimate(args, kwargs), f"the result of the filter {name}")
        result = func(*args, **kwargs)
        if budget is not None and not isinstance(result, Iterator):
            too_big(size_of(result), f"the result of the filter {name}")
        return result

    return guarded


_LIPSUM = inspect.signature(generate_lorem_ipsum)


def _budget_lipsum(*args: Any, **kwargs: Any) -> str:
    """``lipsum()``, refused before it runs when it would write more than the output limit."""
    if BUDGET.get() is not None:
        try:
            arguments = _LIPSUM.bind(*args, **kwargs).arguments
        except TypeError:
            arguments = {}
        too_big(lipsum_size(arguments), "lipsum()")
    return generate_lorem_ipsum(*args, **kwargs)


def _budget_range(*args: int) -> Iterable[int]:
    rng = range(*args)
    if len(rng) > MAX_RANGE:
        raise BudgetExceeded(f"range() of {len(rng):,} items is larger than the limit of {MAX_RANGE:,}")
    return rng


def _printable(value: Any) -> Any:
    """Jinja's ``finalize``: every ``{{ value }}`` that is not already text is sized before it is printed."""
    if not isinstance(value, str) and BUDGET.get() is not None:
        check_printed(value, "a printed value")
    return value


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
    """Jinja's sandbox with a per-send time, size and depth budget (see ``orchestrator.render_budget``)."""

    code_generator_class = _BudgetCodeGenerator
    # `**` and `*` are intercepted, which also stops Jinja from folding `10**5000` while compiling.
    intercepted_binops = frozenset({"*", "**", "+", "%", "//", "/"})

    def __init__(self, **options: Any) -> None:
        super().__init__(finalize=_printable, **options)
        self.globals["range"] = _budget_range
        self.globals["lipsum"] = _budget_lipsum
        self.filters = {name: _guard_filter(name, func) for name, func in self.filters.items()}

    def concat(self, parts: Iterable[Any]) -> str:
        """Joins what a macro, ``{% set %}`` block, ``{% filter %}`` block or ``super()`` wrote:
        sized as the parts come, refused before the join when over the limit."""
        budget = BUDGET.get()
        if budget is None:
            return "".join(parts)
        chunks = []
        size = 0
        for part in parts:
            size += text_size(part)
            too_big(size, "the text of a macro or block")
            chunks.append(part)
        return "".join(chunks)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        budget = BUDGET.get()
        if budget is not None:
            budget.tick()
            if operator == "**":
                check_power(left, right)
            elif operator == "*":
                check_repeat(left, right)
            elif operator == "+":
                too_big(size_of(left) + size_of(right), "a concatenated string or list")
            elif operator == "%":
                check_printf(left, right)
        result = super().call_binop(context, operator, left, right)
        check_int(result)
        return result

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        budget = BUDGET.get()
        if budget is None:
            return super().call(__context, __obj, *args, **kwargs)
        budget.tick()
        method = getattr(__obj, "__wrapped__", __obj)
        if args and isinstance(args[0], Iterator) and isinstance(getattr(method, "__self__", None), str):
            # ''.join(generator): the items sized as they come, then joined like a list
            args = (collect(args[0], text_size, "str.join()"), *args[1:])
        check_str_call(method, args, kwargs)
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
        too_big(max(size_of(result), size_of(owner) if isinstance(owner, list | dict | set) else 0), "a value")
        return result

    def getattr(self, obj: Any, attribute: str) -> Any:
        budget = BUDGET.get()
        if budget is not None:
            budget.tick()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        budget = BUDGET.get()
        if budget is not None:
            budget.tick()
        return super().getitem(obj, argument)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """Jinja's sandboxed ``str.format``/``format_map``, with each field sized before it is
        formatted (:class:`~orchestrator.render_budget.BudgetFormatter`)."""
        if not isinstance(value, types.MethodType | types.BuiltinMethodType) or value.__name__ not in (
            "format",
            "format_map",
        ):
            return None
        owner = value.__self__
        if not isinstance(owner, str):
            return None
        formatter: BudgetFormatter
        if isinstance(owner, Markup):
            formatter = BudgetEscapeFormatter(self, escape=owner.escape)
        else:
            formatter = BudgetFormatter(self)
        is_format_map = value.__name__ == "format_map"
        kind = type(owner)

        def wrapper(*args: Any, **kwargs: Any) -> str:
            if is_format_map:
                if kwargs:
                    raise TypeError("format_map() takes no keyword arguments")
                if len(args) != 1:
                    raise TypeError(f"format_map() takes exactly one argument ({len(args)} given)")
                kwargs, args = args[0], ()
            return kind(formatter.vformat(owner, args, kwargs))

        return functools.update_wrapper(wrapper, value)

    def budget_iter(self, iterable: Iterable[Any]) -> Iterator[Any]:
        """Every ``{% for %}`` iterates through this, so even a loop without output or calls stops in time."""
        budget = BUDGET.get()
        if budget is None:
            yield from iterable
            return
        for item in iterable:
            budget.tick()
            yield item

    def budget_concat(self, join: Callable[[Iterable[Any]], str], parts: tuple[Any, ...]) -> str:
        """``a ~ b``: refused before joining when it would exceed the size budget."""
        budget = BUDGET.get()
        if budget is not None:
            budget.tick()
            size = joined_size(parts)
            too_big(size, "a string built with ~")
            budget.copy(size, "~")
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
        token = BUDGET.set(budget)
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
            BUDGET.reset(token)

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
