"""Email templates the project owns: ``templates/*.yaml``, loaded, checked and rendered.

A template file says what a Pardot email template should hold (name, subject, HTML and text,
sender, the v5 template-type flags); ``plan`` compares it with what the state recorded for the
environment. This module is the front half: files in, rendered :class:`OwnedTemplate` values and
located problems out, with the same rules as campaign files (JSON Schema, one-line fields, the
Jinja sandbox with HML pass-through, the unsubscribe policy on the *rendered* parts).

Templates live in ``templates/`` beside ``orchestrator.yaml``; like campaigns, a file or folder
whose name starts with ``_`` holds partials, and ``html_file``/``text_file`` are read only from
inside that folder (the renderer is confined to it, symbolic links included).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.campaigns import discover
from orchestrator.config import Config, Environment
from orchestrator.errors import Diagnostic, RenderError
from orchestrator.policy import address_problems, content_problems
from orchestrator.render import RenderBudget, Renderer, Source, template_cache_root
from orchestrator.schemas import validate_document
from orchestrator.textsafe import first_control
from orchestrator.yamlload import Document, load_yaml

#: The folder, relative to the project root, that holds template files.
TEMPLATES_DIR = "templates"

#: The v5 template-type flags, in the order the plan shows them
#: (https://developer.salesforce.com/docs/marketing/pardot/guide/email-template-v5.html).
FLAGS: tuple[str, ...] = ("isListEmail", "isOneToOneEmail", "isAutoResponderEmail", "isDripEmail")

_ONE_LINE: tuple[tuple[str, ...], ...] = (("subject",), ("sender", "name"), ("sender", "email"), ("reply_to",))


@dataclass(frozen=True)
class TemplateFile:
    """A schema-valid template file, not yet rendered."""

    doc: Document

    @property
    def data(self) -> dict[str, Any]:
        data: dict[str, Any] = self.doc.data
        return data

    @property
    def name(self) -> str:
        return str(self.data["name"])

    @property
    def display(self) -> str:
        return self.doc.display


@dataclass(frozen=True)
class OwnedTemplate:
    """A template rendered for one environment: exactly what Pardot should hold.

    ``flags`` lists all four v5 flags (an absent one is ``False``), so two files that differ only
    by spelling out a default have the same :attr:`fingerprint`.
    """

    name: str
    subject: str
    text: str
    html: str | None
    sender_name: str
    sender_email: str
    reply_to: str | None
    flags: tuple[tuple[str, bool], ...]
    source: str

    def content(self) -> dict[str, Any]:
        """The project's own form of the template (what the fingerprint covers)."""
        return {
            "name": self.name,
            "subject": self.subject,
            "text": self.text,
            "html": self.html,
            "sender": {"name": self.sender_name, "email": self.sender_email},
            "reply_to": self.reply_to,
            "flags": dict(self.flags),
        }

    @property
    def fingerprint(self) -> str:
        """SHA-256 of :meth:`content` as canonical JSON: what the state records per environment,
        so a later plan can tell a changed file from an unchanged one without the API."""
        return content_fingerprint(self.content())


def content_fingerprint(content: Mapping[str, Any]) -> str:
    """SHA-256 of a template's content in the project's form, as canonical JSON: the same for a
    file and for what Pardot holds when the two say the same (``RemoteTemplate.content``)."""
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


#: The id ``validate`` gives an owned template that ``ids.templates`` does not name: validate
#: reads neither the state nor Pardot, and the real id (recorded by ``apply``) does not matter
#: to any of its checks. Never sent: ``plan`` and ``apply`` take the id from the state.
CHECK_ONLY_TEMPLATE_ID = 2**31 - 1


def known_for_checks(env: Environment, files: list[TemplateFile]) -> Environment:
    """``env`` with each owned template's name known under ``ids.templates`` (for ``validate``):
    a campaign naming an owned template is valid without its id being pasted."""
    known = dict(env.ids.get("templates", {}))
    added = {file.name: CHECK_ONLY_TEMPLATE_ID for file in files if file.name not in known}
    if not added:
        return env
    return dataclasses.replace(env, ids={**env.ids, "templates": {**known, **added}})


def templates_dir(config: Config) -> Path:
    """Where the project's template files live (it need not exist: then there are none)."""
    return config.root / TEMPLATES_DIR


def load_template_files(config: Config) -> tuple[list[TemplateFile], list[Diagnostic]]:
    """Every template file of the project, schema-checked; problems collected, never raised."""
    folder = templates_dir(config)
    if not folder.is_dir():
        return [], []
    inside = folder.resolve()
    if not inside.is_relative_to(config.root.resolve()):
        return [], [
            Diagnostic(TEMPLATES_DIR, 0, 0, "templates/ resolves outside the project folder; make it a real folder")
        ]
    files: list[TemplateFile] = []
    problems: list[Diagnostic] = []
    seen: dict[str, TemplateFile] = {}
    for path in discover(folder):
        shown = str(path.relative_to(config.root))
        if not path.resolve().is_relative_to(inside):
            problems.append(
                Diagnostic(shown, 0, 0, "resolves to a file outside templates/ (a symbolic link?); use a real file")
            )
            continue
        loaded = _load_one(path, shown)
        if isinstance(loaded, list):
            problems.extend(loaded)
            continue
        earlier = seen.get(loaded.name)
        if earlier is not None:
            problems.append(
                loaded.doc.diagnostic(
                    ("name",),
                    f"template name {loaded.name!r} is already used by {earlier.display}; names must be unique",
                )
            )
            continue
        seen[loaded.name] = loaded
        files.append(loaded)
    return files, problems


def _load_one(path: Path, shown: str) -> TemplateFile | list[Diagnostic]:
    loaded = load_yaml(path, shown)
    if isinstance(loaded, Diagnostic):
        return [loaded]
    if not isinstance(loaded.data, dict):
        return [loaded.diagnostic((), "a template file must be a mapping (name: ..., subject: ..., ...)")]
    problems = validate_document("email-template", loaded)
    if problems:
        return problems
    problems = _control_problems(loaded)
    data: dict[str, Any] = loaded.data
    sender = data["sender"]
    fields = {"sender.email": sender.get("email"), "reply_to": data.get("reply_to")}
    for field, message in address_problems(fields):
        problems.append(loaded.diagnostic(tuple(field.split(".")), message))
    return problems or TemplateFile(loaded)


def _control_problems(doc: Document) -> list[Diagnostic]:
    """Control characters in the one-line fields (a line break there forges plan lines)."""
    out = []
    for path in _ONE_LINE:
        value: Any = doc.data
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        control = first_control(value) if isinstance(value, str) else None
        if control is not None:
            where = ".".join(path)
            out.append(
                doc.diagnostic(
                    path, f"{where}: must be one line of plain text, but holds the control character {control}"
                )
            )
    return out


def render_templates(
    config: Config, env: Environment, files: list[TemplateFile]
) -> tuple[list[OwnedTemplate], list[Diagnostic]]:
    """Each file rendered for ``env``, with its located problems (render errors, unsubscribe policy)."""
    if not files:
        return [], []
    renderer = Renderer(templates_dir(config), cache_dir=template_cache_root(config.root))
    owned: list[OwnedTemplate] = []
    problems: list[Diagnostic] = []
    for file in files:
        result = _render_one(file, env, renderer, config.root)
        if isinstance(result, OwnedTemplate):
            owned.append(result)
        else:
            problems.extend(result)
    return owned, problems


def owned_templates(config: Config, env: Environment) -> tuple[list[OwnedTemplate], list[Diagnostic]]:
    """The project's templates rendered for ``env``, and every problem found on the way."""
    files, problems = load_template_files(config)
    owned, more = render_templates(config, env, files)
    return owned, problems + more


def render_unchecked(config: Config, env: Environment, file: TemplateFile) -> OwnedTemplate | list[Diagnostic]:
    """``file`` rendered for ``env`` without the unsubscribe policy: ``import templates``
    records an imported template as Pardot holds it, link or not (``validate`` still reports it)."""
    renderer = Renderer(templates_dir(config), cache_dir=template_cache_root(config.root))
    return _render_one(file, env, renderer, config.root, policy=False)


def _render_one(
    file: TemplateFile, env: Environment, renderer: Renderer, root: Path, *, policy: bool = True
) -> OwnedTemplate | list[Diagnostic]:
    data = file.data
    variables: Mapping[str, Any] = {
        **env.vars,
        **data.get("vars", {}),
        "template": {"name": file.name},
        "env": {"name": env.name},
    }
    budget = RenderBudget()
    parts: dict[str, str | None] = {"subject": None, "text": None, "html": None}
    problems: list[Diagnostic] = []
    for part in parts:
        source = _source(file, part, renderer.root)
        if isinstance(source, Diagnostic):
            problems.append(source)
            continue
        if source is None:
            continue
        try:
            parts[part] = renderer.render(source, variables, budget)
        except RenderError as exc:
            problems.append(_render_problem(file, part, exc, root))
    if problems:
        return problems
    allow_hml = env.policy.allow_hml_unsubscribe
    checked = content_problems(parts["subject"], parts["text"], parts["html"], allow_hml=allow_hml) if policy else []
    for field, message in checked:
        key = field if field in data else f"{field}_file"
        problems.append(file.doc.diagnostic((key if key in data else field,), message))
    if problems:
        return problems
    flags = data["flags"]
    return OwnedTemplate(
        name=file.name,
        subject=parts["subject"] or "",
        text=parts["text"] or "",
        html=parts["html"],
        sender_name=str(data["sender"]["name"]),
        sender_email=str(data["sender"]["email"]),
        reply_to=data.get("reply_to"),
        flags=tuple((flag, bool(flags.get(flag, False))) for flag in FLAGS),
        source=file.display,
    )


def _source(file: TemplateFile, part: str, inside: Path) -> Source | Diagnostic | None:
    """The Jinja source of ``part``: inline, or a file beside the template (confined to templates/)."""
    data = file.data
    if part in data:
        line, _ = file.doc.locate((part,))
        return Source(part, inline=str(data[part]), where=f"{file.display}:{line}")
    key = f"{part}_file"
    if key not in data:
        return None
    path = (file.doc.path.parent / str(data[key])).resolve()
    if not path.is_relative_to(inside):
        return file.doc.diagnostic((key,), f"{data[key]!r} is outside the templates folder")
    if not path.is_file():
        return file.doc.diagnostic((key,), f"{data[key]!r} does not exist (paths are relative to this file)")
    return Source(part, file=path)


def _render_problem(file: TemplateFile, part: str, exc: RenderError, root: Path) -> Diagnostic:
    """A render error located in the file that failed: the template file, or the part's own file."""
    if exc.path and exc.line and Path(exc.path).is_absolute():
        try:
            shown = str(Path(exc.path).resolve().relative_to(root.resolve()))
        except ValueError:
            shown = exc.path
        message = exc.message.split(": ", 1)[1] if exc.message.startswith(exc.path) else exc.message
        return Diagnostic(shown, exc.line, 1, f"{message} (rendering template {file.name})")
    key = part if part in file.data else f"{part}_file"
    return file.doc.diagnostic((key,), exc.message)
