"""Previews of sends as files: ``preview.html``, ``text.txt``, ``desktop.png``, ``mobile.png``.

The content comes from the payloads the render step built (or from the Pardot template of a
template-based send, read once per template); merge tags are filled on a copy, so the payloads
themselves, and so what reaches Pardot, are never touched.
"""

from __future__ import annotations

import hashlib
import html as htmlmod
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.errors import ApiError, BrowserUnavailable, OrchestratorError
from orchestrator.mergetags import Recipient, fill
from orchestrator.outdir import OutputFolder
from orchestrator.pardot.models import EmailTemplate
from orchestrator.plan import Plan
from orchestrator.preview.browser import Screenshotter
from orchestrator.preview.csp import with_csp
from orchestrator.project import Project
from orchestrator.redact import mask_emails, scrub
from orchestrator.remote_checks import ReadsTemplates


@dataclass(frozen=True)
class EmailContent:
    """What a recipient gets: subject, text part and HTML part (``None``: a text-only email)."""

    subject: str
    text: str
    html: str | None


@dataclass(frozen=True)
class PreviewItem:
    """One send to preview: its key, the exact payload and the year its merge tags see;
    ``recipient``, when set, is whom this send's merge tags are filled from (a one-to-one
    send's own prospect) instead of the run's sample."""

    key: str
    payload: Mapping[str, Any]
    year: int
    recipient: Recipient | None = None


@dataclass(frozen=True)
class SendPreview:
    """The files written for one send."""

    key: str
    folder: Path
    content: EmailContent
    screenshots: tuple[Path, ...] = ()


@dataclass
class PreviewRun:
    """Everything one run wrote; ``browser_error`` says why there are no screenshots, if so."""

    sends: list[SendPreview] = field(default_factory=list)
    browser_error: BrowserUnavailable | None = None
    index: Path | None = None


class Templates:
    """Pardot templates, each read at most once per run (as ``plan`` reads them)."""

    def __init__(self, client: ReadsTemplates | None) -> None:
        self.client = client
        self._cache: dict[int, EmailTemplate] = {}

    def get(self, template_id: int) -> EmailTemplate:
        if template_id not in self._cache:
            if self.client is None:
                raise OrchestratorError(f"template {template_id} cannot be read: no API client for this preview")
            try:
                self._cache[template_id] = self.client.read_template(template_id, archived=True)
            except ApiError as exc:
                raise OrchestratorError(
                    f"template {template_id} could not be read for the preview: {exc.message}",
                    hint="check the template id under ids.templates, or preview a send with inline content",
                ) from None
        return self._cache[template_id]


def email_content(payload: Mapping[str, Any], templates: Templates) -> EmailContent:
    """The parts a send delivers: its own, else its Pardot template's (parts given override the template)."""
    subject, text, html = payload.get("subject"), payload.get("text_content"), payload.get("html_content")
    template_id = payload.get("email_template_id")
    if template_id is not None and None in (subject, text, html):
        template = templates.get(int(template_id))
        subject = template.subject if subject is None else subject
        text = template.text if text is None else text
        html = (template.html or None) if html is None else html
    return EmailContent(subject=subject or "", text=text or "", html=html)


def filled(content: EmailContent, recipient: Recipient, year: int) -> EmailContent:
    """``content`` with merge tags filled from ``recipient``: a new value, for previews only."""
    return EmailContent(
        subject=fill(content.subject, recipient, is_html=False, year=year),
        text=fill(content.text, recipient, is_html=False, year=year),
        html=None if content.html is None else fill(content.html, recipient, is_html=True, year=year),
    )


def folder_name(key: str) -> str:
    """A file-system-safe folder for a send key; prospect addresses masked (previews get shared)."""
    shown = mask_emails(key)
    name = re.sub(r"[^A-Za-z0-9._@-]+", "_", shown.replace(":", ""))[:120].strip("._") or "send"
    if shown != key:  # two masked addresses could look alike: keep them apart
        name += "-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:8]
    return name


def page_html(content: EmailContent) -> str:
    """The document shown in the browser: the HTML part, or the text part of a text-only email."""
    if content.html is None:
        return (
            '<!doctype html><meta charset="utf-8"><title>text-only email</title>'
            f'<pre style="white-space: pre-wrap; font: 14px monospace">{htmlmod.escape(content.text)}</pre>'
        )
    if "charset" in content.html[:2048].lower():
        return content.html
    return '<meta charset="utf-8">\n' + content.html


def preview_items(
    items: Iterable[PreviewItem],
    out: OutputFolder,
    *,
    recipient: Recipient,
    templates: Templates,
    screenshots: bool = True,
    executable: str | None = None,
) -> PreviewRun:
    """Write every item's preview into ``out/<send>/``; screenshots last, through one browser.

    ``out`` is a folder this run owns (:mod:`orchestrator.outdir`): every file is new, no link is
    followed; the caller finishes it (its manifest). ``preview.html`` and ``text.txt`` are
    written first, so a missing Chromium still leaves them (``PreviewRun.browser_error`` then
    says how to install it).
    """
    run = PreviewRun()
    for item in items:
        content = filled(email_content(item.payload, templates), item.recipient or recipient, item.year)
        folder = out.subfolder(folder_name(item.key))
        out.write_text(f"{folder}/preview.html", scrub(with_csp(page_html(content))))
        out.write_text(f"{folder}/text.txt", scrub(content.text))
        run.sends.append(SendPreview(item.key, out.path / folder, content))
    if not screenshots or not run.sends:
        return run
    try:
        with Screenshotter(executable) as shooter:
            run.sends = [SendPreview(s.key, s.folder, s.content, tuple(_shoot(shooter, s, out))) for s in run.sends]
    except BrowserUnavailable as exc:
        run.browser_error = exc
    return run


def _shoot(shooter: Screenshotter, send: SendPreview, out: OutputFolder) -> list[Path]:
    def write(target: Path, data: bytes) -> None:
        out.write_bytes(f"{send.folder.name}/{target.name}", data)

    return shooter.shoot(page_html(send.content), send.folder, write=write)


def write_previews(
    plan: Plan,
    project: Project,
    out: OutputFolder,
    *,
    recipient: Recipient | None = None,
    templates: ReadsTemplates | None = None,
    screenshots: bool = True,
    executable: str | None = None,
) -> PreviewRun:
    """Previews of every send ``plan`` would perform (sends and schedules; no-ops and the rest skipped).

    Writes an ``index.html`` listing them, for a CI artifact, into ``out`` (a folder this run
    owns; the caller finishes it). The plan is only read.
    """
    from orchestrator.preview.samples import sample_recipient

    chosen = recipient or sample_recipient(project.config, None)
    items = [
        PreviewItem(c.key, c.payload or {}, (c.scheduled_time or plan.created_at).year)
        for c in plan.pending
        if c.payload is not None
    ]
    run = preview_items(
        items, out, recipient=chosen, templates=Templates(templates), screenshots=screenshots, executable=executable
    )
    run.index = out.write_text("index.html", index_html(run, chosen, plan.environment))
    return run


def index_html(run: PreviewRun, recipient: Recipient, environment: str) -> str:
    """A page linking every preview with its subject and screenshots."""
    rows = []
    for send in run.sends:
        folder = htmlmod.escape(send.folder.name, quote=True)
        shots = "".join(
            f'<a href="{folder}/{p.name}"><img src="{folder}/{p.name}" alt="{htmlmod.escape(p.stem)} preview" '
            f'style="max-width: {240 if p.stem == "desktop" else 120}px; vertical-align: top; margin-right: 8px"></a>'
            for p in send.screenshots
        )
        rows.append(
            f"<li><h2>{htmlmod.escape(mask_emails(send.key))}</h2>"
            f"<p>Subject: <strong>{htmlmod.escape(send.content.subject)}</strong></p>"
            f'<p><a href="{folder}/preview.html">preview.html</a> · <a href="{folder}/text.txt">text.txt</a></p>'
            f"{shots}</li>"
        )
    body = "".join(rows) or "<li>No send would be made.</li>"
    return (
        '<!doctype html><html><head><meta charset="utf-8"><title>Email previews</title></head>'
        '<body style="font-family: sans-serif">'
        f"<h1>Email previews ({htmlmod.escape(environment)})</h1>"
        f"<p>Merge tags filled from {htmlmod.escape(recipient.label)}.</p>"
        f'<ul style="list-style: none; padding: 0">{body}</ul></body></html>\n'
    )
