"""``orchestrator preview``: the email as a recipient sees it, on a desktop and on a phone."""

from __future__ import annotations

import re
from datetime import UTC
from pathlib import Path

import click

from orchestrator.cli.common import App, now_option, pass_app
from orchestrator.cli.validate_render import _select
from orchestrator.desired import DesiredSend
from orchestrator.errors import ConfigError, ProjectInvalid
from orchestrator.outdir import OutputFolder, claim, claim_new, trusted_roots
from orchestrator.plan import Plan
from orchestrator.preview import Recipient, sample_recipient, sandbox_prospect
from orchestrator.preview.write import PreviewItem, Templates, preview_items, write_previews
from orchestrator.redact import mask_emails
from orchestrator.templates_owned import TEMPLATES_DIR, owned_templates

#: Where previews go without ``--out`` (inside the project's own ignored work folder): each run
#: writes a new folder ``NAME-N`` there, so a run never mixes its files with an earlier one's.
DEFAULT_DIR = Path(".orchestrator") / "previews"


@click.command()
@click.argument("name")
@click.option("--occurrence", type=click.IntRange(min=0), help="Preview only the N-th occurrence (0 = the next one).")
@click.option(
    "--at", "at", metavar="TIME", help="Preview the occurrence at TIME (ISO-8601; local times use the campaign zone)."
)
@click.option(
    "--prospect", metavar="ID|EMAIL", help="Fill merge tags from this sandbox prospect (id or email address)."
)
@click.option(
    "--sample", metavar="NAME", help="Fill merge tags from the sample NAME under `samples:` in orchestrator.yaml."
)
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write preview.html, text.txt, desktop.png and mobile.png per send into DIR/<send>/ "
    "(DIR new or empty; manifest.json lists the files).",
)
@click.option("--no-screenshots", is_flag=True, help="Write only preview.html and text.txt (no browser needed).")
@click.option(
    "--template", "template", is_flag=True, help="NAME is an owned template (templates/NAME.yaml), not a campaign."
)
@now_option
@pass_app
def preview(
    app: App,
    name: str,
    occurrence: int | None,
    at: str | None,
    prospect: str | None,
    sample: str | None,
    out: Path | None,
    no_screenshots: bool,
    template: bool,
) -> None:
    """Preview campaign NAME as a recipient sees it: merge tags filled, screenshots from Chromium.

    Merge tags are filled from a sample recipient (--sample, --prospect, or the built-in sample);
    what is sent to Pardot is not changed. Without --out the files go to a new folder
    .orchestrator/previews/NAME-N/ in the project and the text part is printed. Needs Chromium
    (/usr/bin/chromium, or $ORCHESTRATOR_CHROMIUM) for the screenshots.
    """
    if occurrence is not None and at is not None:
        raise click.UsageError("use --occurrence or --at, not both")
    if prospect is not None and sample is not None:
        raise click.UsageError("use --prospect or --sample, not both")
    if template:
        if occurrence is not None or at is not None:
            raise click.UsageError("--occurrence and --at choose a campaign's send; a template has none")
        _preview_template(app, name, prospect, sample, out, no_screenshots)
        return
    sends = _select(app, name, occurrence, at)
    if not sends:
        app.console.print(f"{name}: no send inside the schedule's horizon.", markup=False)
        return
    config = app.config()
    recipient = (
        sandbox_prospect(app.environment(), config.root, prospect)
        if prospect is not None
        else sample_recipient(config, sample)
    )
    own = _own_recipients(app, sends) if sample is None else {}
    if prospect is not None and own:  # a one-to-one campaign: the send addressed to that prospect
        sends = [s for s in sends if _same_person(own.get(s.key), recipient)]
        if not sends:
            raise ConfigError(
                f"{prospect!r} is not a recipient of {name}",
                hint="omit --prospect: each one-to-one send is previewed with its own recipient's data",
            )
    needs_api = any(s.payload.get("email_template_id") is not None for s in sends)
    now = app.now()
    items = [
        PreviewItem(s.key, s.payload, (s.scheduled_time or now).astimezone(UTC).year, own.get(s.key)) for s in sends
    ]
    templates = Templates(app.client() if needs_api else None)
    with _preview_folder(app, out, name) as target:
        run = preview_items(items, target, recipient=recipient, templates=templates, screenshots=not no_screenshots)
        target.finish()
    show = (lambda s: s) if app.reveal_emails else mask_emails
    for send in run.sends:
        if out is None:
            click.echo(f"=== {show(send.key)}")
            click.echo(f"Subject: {send.content.subject}")
            click.echo(send.content.text, nl=not send.content.text.endswith("\n"))
        files = ["preview.html", "text.txt", *(p.name for p in send.screenshots)]
        click.echo(f"wrote {', '.join(files)} to {send.folder}")
    labels = sorted({(own.get(s.key) or recipient).label for s in sends})
    click.echo(f"Merge tags filled from {', '.join(labels)}.")
    if run.browser_error is not None:
        click.echo(f"Error: no screenshots: {run.browser_error}", err=True)
        raise SystemExit(1)


def _preview_template(
    app: App, name: str, prospect: str | None, sample: str | None, out: Path | None, no_screenshots: bool
) -> None:
    """``preview --template NAME``: the owned template rendered for the environment, merge tags
    filled from the sample (nothing is read from Pardot: the file is the template)."""
    config = app.config()
    owned, problems = owned_templates(config, app.environment())
    chosen = next((t for t in owned if t.name == name), None)
    if chosen is None:
        broken = [d for d in problems if d.severity == "error"]
        if broken:  # it may be one of these: show why, located, rather than "no such template"
            raise ProjectInvalid(broken)
        known = ", ".join(sorted(t.name for t in owned)) or "none"
        raise ConfigError(
            f"no template named {name!r} in {TEMPLATES_DIR}/ (known: {known})",
            hint="check the name: line of the template file, or drop --template to preview a campaign",
        )
    recipient = (
        sandbox_prospect(app.environment(), config.root, prospect)
        if prospect is not None
        else sample_recipient(config, sample)
    )
    payload = {"subject": chosen.subject, "text_content": chosen.text, "html_content": chosen.html}
    item = PreviewItem(f"template-{name}", payload, app.now().astimezone(UTC).year)
    with _preview_folder(app, out, f"template-{name}") as target:
        run = preview_items(
            [item], target, recipient=recipient, templates=Templates(None), screenshots=not no_screenshots
        )
        target.finish()
    for send in run.sends:
        if out is None:
            click.echo(f"=== template {name}")
            click.echo(f"Subject: {send.content.subject}")
            click.echo(send.content.text, nl=not send.content.text.endswith("\n"))
        files = ["preview.html", "text.txt", *(p.name for p in send.screenshots)]
        click.echo(f"wrote {', '.join(files)} to {send.folder}")
    click.echo(f"Merge tags filled from {recipient.label}.")
    if run.browser_error is not None:
        click.echo(f"Error: no screenshots: {run.browser_error}", err=True)
        raise SystemExit(1)


def _own_recipients(app: App, sends: list[DesiredSend]) -> dict[str, Recipient]:
    """Each one-to-one send's own prospect, as the sandbox has it (a real Pardot's prospects are
    never read into preview files: there the run's sample fills every send)."""
    env = app.environment()
    if not env.is_sandbox:
        return {}
    own: dict[str, Recipient] = {}
    for send in sends:
        target = send.payload.get("prospect_id") or send.payload.get("prospect_email")
        if target is None:
            continue
        try:
            own[send.key] = sandbox_prospect(env, app.config().root, str(target))
        except ConfigError:  # not in the sandbox: the sample fills it (plan says why it cannot go)
            continue
    return own


def _same_person(own: Recipient | None, chosen: Recipient) -> bool:
    return own is not None and own.label == chosen.label


def _preview_folder(app: App, out: Path | None, name: str) -> OutputFolder:
    """``--out DIR`` (new or empty), or a new numbered folder for NAME under :data:`DEFAULT_DIR`."""
    root = app.config().root
    if out is not None:
        return claim(out, option="--out", trusted=trusted_roots(root))
    stem = re.sub(r"[^A-Za-z0-9._@-]+", "_", name).strip("._") or "preview"
    return claim_new(root / DEFAULT_DIR, stem, option="preview", trusted=trusted_roots(root))


def plan_previews(app: App, plan: Plan, out: OutputFolder) -> None:
    """``plan --previews DIR``: previews of the sends ``plan`` would make (messages on stderr)."""
    needs_api = any((c.payload or {}).get("email_template_id") is not None for c in plan.pending)
    run = write_previews(plan, app.project(), out, templates=app.client() if needs_api else None)
    out.finish()
    app.err_console.print(
        f"Wrote previews of {len(run.sends)} send(s) to {out.path} (open {run.index}).", markup=False, highlight=False
    )
    if run.browser_error is not None:
        click.echo(f"Error: no screenshots: {run.browser_error}", err=True)
        raise SystemExit(1)
