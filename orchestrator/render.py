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
loader rooted at ``campaigns_dir`` (``{% include "../x" %}`` cannot leave it), and HTML
autoescaping for the HTML part.
"""

from __future__ import annotations

import hashlib
import re
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.ext import Extension
from jinja2.sandbox import SandboxedEnvironment

from orchestrator import __version__
from orchestrator.errors import RenderError

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


class _InlineLoader(jinja2.BaseLoader):
    """Serves inline sources (from campaign YAML) under a content-derived name.

    Going through a loader, rather than ``from_string``, lets Jinja's bytecode cache keep the
    compiled form between runs: compiling is most of the cost of rendering a large project.
    """

    PREFIX = "inline:"

    def __init__(self) -> None:
        self._sources: dict[str, str] = {}

    def name_for(self, source: str) -> str:
        name = self.PREFIX + hashlib.sha256(source.encode("utf-8")).hexdigest()
        self._sources[name] = source
        return name

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str | None, Callable[[], bool]]:
        try:
            return self._sources[template], None, lambda: True
        except KeyError:
            raise jinja2.TemplateNotFound(template) from None


def _bytecode_cache(cache_dir: Path | None) -> jinja2.BytecodeCache | None:
    if cache_dir is None:
        return None
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None  # a read-only checkout still renders, only slower
    return jinja2.FileSystemBytecodeCache(str(cache_dir))


class Renderer:
    """Renders campaign parts for one project; environments are built once and reused.

    ``cache_dir`` (optional) keeps compiled templates between runs.
    """

    def __init__(self, campaigns_dir: Path, cache_dir: Path | None = None) -> None:
        self.root = campaigns_dir.resolve()
        self._inline = _InlineLoader()
        loader = jinja2.ChoiceLoader([self._inline, jinja2.FileSystemLoader(str(self.root))])
        common: dict[str, Any] = {
            "loader": loader,
            "undefined": jinja2.StrictUndefined,
            "extensions": [HmlPassthrough],
            "keep_trailing_newline": True,
        }
        # One cache per environment and release: Jinja keys cached code by template name and
        # source only, yet the same source compiles differently with and without autoescape.
        versioned = cache_dir / __version__ if cache_dir is not None else None
        self._html = SandboxedEnvironment(
            autoescape=True, bytecode_cache=_bytecode_cache(versioned and versioned / "html"), **common
        )
        self._text = SandboxedEnvironment(
            autoescape=False, bytecode_cache=_bytecode_cache(versioned and versioned / "text"), **common
        )

    def render(self, source: Source, variables: Mapping[str, Any]) -> str:
        """Render one part; any failure becomes a located :class:`RenderError`."""
        env = self._html if source.part == "html" else self._text
        try:
            template = self._template(env, source)
            return template.render(dict(variables))
        except RenderError:
            raise
        except jinja2.TemplateSyntaxError as exc:
            raise self._error(source, f"template syntax error: {exc.message}", exc.lineno, exc.filename) from None
        except SecurityError as exc:
            raise self._error(source, f"not allowed in templates: {exc}", *_template_line(exc)) from None
        except jinja2.UndefinedError as exc:
            raise self._error(
                source,
                f"undefined variable: {exc.message} (define it under `vars:` in the campaign or the environment)",
                *_template_line(exc),
            ) from None
        except jinja2.TemplateNotFound as exc:
            raise self._error(
                source,
                f"template {exc.name!r} not found inside {self.root.name}/ "
                "(includes and layouts must live in the campaigns folder)",
                *_template_line(exc),
            ) from None
        except jinja2.TemplateError as exc:
            raise self._error(source, f"template error: {exc}", *_template_line(exc)) from None

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
        if source.file is not None:
            return RenderError(
                f"{source.file}:{line or 0}: {source.part}: {message}", path=str(source.file), line=line or 0
            )
        suffix = f" (line {line} of the {source.part} template)" if line and line > 1 else ""
        return RenderError(f"{source.part}: {message}{suffix}", path=source.where, line=0)


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
