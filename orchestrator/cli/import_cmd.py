"""``orchestrator import``: adopt what a team already has in Pardot (list emails, email templates).

Options are parsed here and the outcome shown; the sequences (read Pardot, write the files,
check them, record them in the state) are :mod:`orchestrator.adopting`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from orchestrator.cli.common import App, now_option, pass_app
from orchestrator.errors import ConfigError
from orchestrator.textsafe import escape_control

if TYPE_CHECKING:
    from orchestrator.adopting import ImportTarget


@click.group("import")
def import_group() -> None:
    """Adopt what already exists in Pardot: write its file and record it in the state."""


@import_group.command("email")
@click.argument("email_id", type=click.IntRange(min=1), metavar="ID")
@click.option(
    "--list",
    "lists",
    multiple=True,
    metavar="REF",
    help="A list the email went to (name from ids.lists, or id); repeat for several. Needed on v3/v4, whose "
    "email read does not return them; on v5 the lists Pardot's read gives are taken when this is not given.",
)
@click.option(
    "--suppression-list",
    "suppression",
    multiple=True,
    metavar="REF",
    help="A suppression list; repeatable (on v5 without --list: Pardot's are taken unless this is given).",
)
@click.option("--sender-user", metavar="REF", help="Sender: a Pardot user (name from ids.users, or id).")
@click.option("--sender-email", metavar="EMAIL", help="Sender: an address (with --sender-name).")
@click.option("--sender-name", metavar="NAME", help="Sender: the display name (with --sender-email).")
@click.option(
    "--name",
    "file_name",
    metavar="NAME",
    callback=lambda _ctx, _param, value: _campaign_name(value),
    help="Campaign name for the file (default: from the email's name).",
)
@now_option
@pass_app
def import_email(
    app: App,
    email_id: int,
    lists: tuple[str, ...],
    suppression: tuple[str, ...],
    sender_user: str | None,
    sender_email: str | None,
    sender_name: str | None,
    file_name: str | None,
) -> None:
    """Write a campaign file from the sent or scheduled list email ID and record it as applied.

    The file (campaigns/NAME.yaml, its HTML beside it as NAME.html.j2; neither ever overwritten)
    holds its campaign, lists, sender, subject, text and HTML (Jinja-like text protected, so it
    renders as Pardot holds it) and schedule.
    The state records the email as sent, or scheduled when its time is still ahead, with the
    fingerprint the planner gives the file: the next plan shows it unchanged and apply sends
    nothing. Prints the ids: block to paste into orchestrator.yaml.
    """
    from orchestrator import adopting

    env = app.environment()
    request = adopting.EmailRequest(
        email_id=email_id,
        lists=lists,
        suppression=suppression,
        sender_user=sender_user,
        sender_email=sender_email,
        sender_name=sender_name,
        name=file_name,
    )
    result = adopting.import_email(_target(app), request, clock=app.send_now)
    if isinstance(result, adopting.OptionNeeded):
        raise click.UsageError(result.message)
    app.console.print(
        f"{result.shown}: written; {result.key} recorded as "
        f"{'scheduled' if result.scheduled else 'sent'} (email {result.email_id}). The next plan shows it unchanged.",
        markup=False,
    )
    if result.ids_block:
        app.console.print(
            f"Paste under environments.{env.name} in orchestrator.yaml (then use the names):", markup=False
        )
        app.console.print(result.ids_block, markup=False, end="")


@import_group.command("templates")
@click.argument("template_ids", nargs=-1, type=click.IntRange(min=1), metavar="[ID]...")
@click.option("--all", "everything", is_flag=True, help="Import every email template Pardot holds (v5 query, paged).")
@click.option(
    "--sender-name",
    metavar="NAME",
    help="Sender name for a template whose sender Pardot does not give as a name and an address (with --sender-email).",
)
@click.option("--sender-email", metavar="EMAIL", help="Sender address for such a template (with --sender-name).")
@now_option
@pass_app
def import_templates(
    app: App, template_ids: tuple[int, ...], everything: bool, sender_name: str | None, sender_email: str | None
) -> None:
    """Write template files from the email templates ID... (or --all) and record them as owned.

    Each template becomes templates/NAME.yaml with its text as NAME.txt.j2 and its HTML as
    NAME.html.j2 (none ever overwritten), Jinja-like text protected, so rendering the files gives
    subject, text and HTML byte for byte as Pardot holds them. The state records each as an
    owned template with its id: the next plan shows it unchanged, and campaigns name it as
    `template: NAME` without an ids: entry. Needs `version: 5`. A template not imported is
    named with the reason; the others are imported all the same (exit 1 then).
    """
    if bool(template_ids) == everything:
        raise click.UsageError("give template ids, or --all (not both)")
    if (sender_name is None) != (sender_email is None):
        raise click.UsageError("give --sender-name and --sender-email together")
    from orchestrator import adopting

    sender = {"name": sender_name, "email": sender_email} if sender_name and sender_email else None
    outcome = adopting.import_templates(
        _target(app), list(template_ids) if template_ids else None, sender=sender, clock=app.send_now
    )
    # Lines quote what Pardot holds (names, validate's findings): control characters are shown as escapes.
    for line in outcome.lines:
        app.console.print(escape_control(line), markup=False)
    if outcome.imported:
        app.console.print(
            "No ids: block to paste: the state holds the ids of owned templates, and a campaign names one "
            "as `template: NAME`.",
            markup=False,
        )
    elif not outcome.refused:
        nothing = "every template is owned already" if outcome.asked else "Pardot holds no email templates"
        app.console.print(f"Nothing to import: {nothing}.", markup=False)
    if outcome.refused:
        for problem in outcome.refused:
            app.err_console.print(f"Error: {escape_control(problem.message, keep_newlines=True)}", markup=False)
            if problem.hint:
                app.err_console.print(f"  {escape_control(problem.hint)}", markup=False)
        raise ConfigError(
            f"{len(outcome.refused)} of {outcome.asked} template(s) not imported (see above)",
            hint="nothing was written or recorded for them"
            + ("; the others are imported" if outcome.imported or outcome.lines else ""),
        )


def _target(app: App) -> ImportTarget:
    """The selected project and environment; the client and the state open when the import needs them."""
    from orchestrator.adopting import ImportTarget

    return ImportTarget(config=app.config(), env=app.environment(), client=app.client, store=app.store)


def _campaign_name(value: str | None) -> str | None:
    """``--name`` as the campaign schema takes it (it also names the file: no path can slip in)."""
    from orchestrator.importing import is_campaign_name

    if value is not None and not is_campaign_name(value):
        raise click.BadParameter("lower-case letters, digits and dashes, starting with a letter or digit")
    return value
