"""``orchestrator import``: adopt what a team already has in Pardot (list emails, email templates)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import click

from orchestrator.cli.common import App, now_option, pass_app
from orchestrator.errors import ApiError, ApiNotFound, ConfigError, OrchestratorError, StateError
from orchestrator.textsafe import escape_control

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from orchestrator.config import Config, Environment
    from orchestrator.importing import ImportedTemplate
    from orchestrator.pardot.client import PardotClient
    from orchestrator.pardot.models import Email
    from orchestrator.pardot.templates_v5 import RemoteTemplate
    from orchestrator.plan import Change
    from orchestrator.state.base import StateStore
    from orchestrator.state.models import SendRecord, TemplateRecord


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
    from orchestrator import importing

    env, now = app.environment(), app.send_now()
    sender = _sender(sender_user, sender_email, sender_name)
    client = app.client()
    email = _read(client, email_id)
    store = app.store()
    if store.get(email.name) is not None:
        raise StateError(
            f"email {email_id} is named {email.name!r}, which is already a send in the state of {env.name!r}",
            hint=f"`orchestrator state show {email.name}` shows it: it is managed already, nothing to import",
        )
    at = _time_of(email, app.timezone())
    recipients, suppressions = _lists(client, env, email_id, lists, suppression)
    adopted = importing.Adopted(
        name=file_name or importing.campaign_name(email.name, email.id),
        campaign=_ref(env.ids.get("campaigns", {}), email.campaign_id, "campaign", email_id),
        lists=recipients,
        suppression_lists=suppressions,
        sender=sender,
        subject=email.subject,
        text=email.text or "",
        html=email.html,
        schedule=importing.schedule_of(email.name, email.scheduled_time, None),
        email_id=email.id,
    )
    path = app.config().campaigns_dir / f"{adopted.name}.yaml"
    scheduled = at is not None and at > now
    change = _adopt(app, path, importing.campaign_files(adopted), email, now=now, scheduled=scheduled, at=at)
    app.console.print(
        f"{_shown(path, app.root())}: written; {change.key} recorded as "
        f"{'scheduled' if scheduled else 'sent'} (email {email.id}). The next plan shows it unchanged.",
        markup=False,
    )
    block = _ids_block(client, env, email.campaign_id, adopted.lists, adopted.suppression_lists)
    if block:
        app.console.print(
            f"Paste under environments.{env.name} in orchestrator.yaml (then use the names):", markup=False
        )
        app.console.print(block, markup=False, end="")


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
    from orchestrator.templates_apply import api_version_of

    env = app.environment()
    version = api_version_of(env)
    if version < 5:
        raise ConfigError(
            f"importing templates needs `version: 5` (environment {env.name!r} uses version {version}): "
            "the project owns templates through v5 only, and v3/v4 cannot list every template",
            hint=f"set `version: 5` under environments.{env.name}.api in orchestrator.yaml (docs/templates.md)",
        )
    now = app.send_now()
    client = app.client()
    ids = list(dict.fromkeys(template_ids)) if template_ids else _all_template_ids(client)
    sender = {"name": sender_name, "email": sender_email} if sender_name and sender_email else None
    outcome = _import_templates(app, client, ids, sender, now=now, skip_owned=everything)
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
        nothing = "every template is owned already" if ids else "Pardot holds no email templates"
        app.console.print(f"Nothing to import: {nothing}.", markup=False)
    if outcome.refused:
        for problem in outcome.refused:
            app.err_console.print(f"Error: {escape_control(problem.message, keep_newlines=True)}", markup=False)
            if problem.hint:
                app.err_console.print(f"  {escape_control(problem.hint)}", markup=False)
        raise ConfigError(
            f"{len(outcome.refused)} of {len(ids)} template(s) not imported (see above)",
            hint="nothing was written or recorded for them"
            + ("; the others are imported" if outcome.imported or outcome.lines else ""),
        )


class _HasName(Protocol):
    """A Pardot campaign or list as read: the ids: block needs only its name."""

    @property
    def name(self) -> str: ...


def _campaign_name(value: str | None) -> str | None:
    """``--name`` as the campaign schema takes it (it also names the file: no path can slip in)."""
    import re

    if value is not None and (re.fullmatch(r"[a-z0-9][a-z0-9-]*", value) is None or len(value) > 80):
        raise click.BadParameter("lower-case letters, digits and dashes, starting with a letter or digit")
    return value


def _sender(user: str | None, email: str | None, name: str | None) -> dict[str, Any]:
    if user is not None and (email is None and name is None):
        return {"user": _as_ref(user)}
    if user is None and email is not None and name is not None:
        return {"name": name, "email": email}
    raise click.UsageError(
        "give the sender: --sender-user REF, or --sender-email EMAIL with --sender-name NAME "
        "(Pardot's email read does not return it)"
    )


def _lists(
    client: PardotClient, env: Environment, email_id: int, lists: Sequence[str], suppression: Sequence[str]
) -> tuple[list[str | int], list[str | int]]:
    """The recipient and suppression lists for the file: ``--list`` (and ``--suppression-list``)
    when given; else, on v5, what the email's read-only ``recipientLists`` / ``suppressionLists``
    give (``--suppression-list`` still wins for the suppression lists)."""
    from orchestrator.templates_apply import api_version_of

    given_suppression = [_list_ref(env, ref) for ref in suppression]
    if lists:
        return [_list_ref(env, ref) for ref in lists], given_suppression
    version = api_version_of(env)
    if version < 5:
        raise click.UsageError(
            f"give the lists: --list REF, repeated (Pardot's v{version} email read does not return them)"
        )
    try:
        read = client.read_list_email_lists_v5(email_id)
        recipients, suppressions, why = read.recipients, read.suppressions, "did not give"
    except ApiError as exc:
        recipients, suppressions, why = None, None, f"was refused ({exc.message}) for"
    if not recipients:
        raise click.UsageError(
            f"give the lists: --list REF, repeated (Pardot's v5 read of email {email_id} {why} its recipientLists)"
        )
    if suppressions is None and not suppression:
        raise click.UsageError(
            f"Pardot's v5 read of email {email_id} gave its recipientLists but not its suppressionLists: "
            "give --list REF and --suppression-list REF (repeated), as the email went out"
        )
    return (
        [_list_ref(env, str(list_id)) for list_id in recipients],
        given_suppression or [_list_ref(env, str(list_id)) for list_id in suppressions or ()],
    )


def _as_ref(value: str) -> str | int:
    """A reference as a campaign file writes it: an id stays a number, a name text."""
    return int(value) if value.isdigit() else value


def _list_ref(env: Environment, value: str) -> str | int:
    """A list as the file names it: an id this environment's ids.lists names is written by name."""
    ref = _as_ref(value)
    if isinstance(ref, int):
        return next((name for name, list_id in env.ids.get("lists", {}).items() if list_id == ref), ref)
    return ref


def _read(client: PardotClient, email_id: int) -> Email:
    """The email with its content; refused when it is not a list email."""
    try:
        email = client.read_email(email_id, include_message=True)
    except ApiNotFound:
        raise ConfigError(
            f"Pardot has no email {email_id}",
            hint="check the id: `orchestrator emails show ID` reads one email as Pardot holds it",
        ) from None
    except ApiError as exc:
        raise ConfigError(f"could not read email {email_id} from Pardot: {exc.message}", hint="try again") from exc
    if email.is_one_to_one:
        raise ConfigError(
            f"email {email_id} ({email.name!r}) is a one-to-one email: only list emails can be imported",
            hint="write a one-to-one send by hand (kind: one-to-one, see docs/campaigns.md)",
        )
    return email


def _time_of(email: Email, zone: ZoneInfo) -> datetime | None:
    """When the email went, or goes, out: the send key's time in its name, else Pardot's (a
    naive one read in the project's time zone, as the written file's schedule is)."""
    from orchestrator import importing

    schedule = importing.schedule_of(email.name, email.scheduled_time, None)
    if "at" not in schedule:
        return None
    moment = datetime.fromisoformat(str(schedule["at"]).replace("Z", "+00:00"))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def _ref(names: Mapping[str, int], object_id: int | None, what: str, email_id: int) -> str | int:
    """How the file names ``object_id``: its name in this environment's ids, else the id."""
    if object_id is None:
        raise ConfigError(f"email {email_id} has no {what} in Pardot", hint="set one in Pardot, then import again")
    return next((name for name, value in names.items() if value == object_id), object_id)


def _adopt(
    app: App,
    path: Path,
    files: Mapping[str, str],
    email: Email,
    *,
    now: datetime,
    scheduled: bool,
    at: datetime | None,
) -> Change:
    """Write the files and record the send, under the state lock; the files are removed again
    when the send cannot be recorded, so an import either completes or leaves nothing behind.

    ``path`` is the campaign file, one of ``files`` (names in its folder -> text)."""
    from orchestrator.planning import plan_project

    store = app.store()
    with store.lock("import email"):
        snapshot = store.snapshot()  # read again under the lock
        _not_recorded(snapshot.records.values(), email)
        _name_free(app, path.name.removesuffix(".yaml"))
        for name in files:
            _refuse_existing(path.parent / name, app.root())
        written: list[Path] = []
        try:
            for name, text in files.items():
                _write_new(path.parent / name, text, app.root())
                written.append(path.parent / name)
            project = app.project([path])
            # planned ahead of its time, so a send already out is still a desired send with a payload
            plan_at = now if at is None or scheduled else at - timedelta(days=1)
            plan = plan_project(project, app.environment(), snapshot, plan_at)
            if plan.errored:
                problems = "; ".join(str(problem) for problem in plan.problems)
                raise ConfigError(
                    f"{_shown(path, app.root())} does not plan as a send: {problems}",
                    hint="fix what the import was given (lists, sender, --name), then run it again",
                )
            change = _change_for(plan.changes, project.campaigns[0].name if project.campaigns else "", path)
            if store.get(change.key) is not None:
                raise StateError(f"{change.key} is already a send in the state", hint="nothing to import")
            _record(store, change, app.environment(), email, now=now, scheduled=scheduled)
        except BaseException:
            for created in written:
                created.unlink(missing_ok=True)
            raise
    return change


def _not_recorded(records: Iterable[SendRecord], email: Email) -> None:
    """Refuse an email the state knows already: by its name (a send key), or by its id (an email
    imported before under another name), so one email never stands for two sends."""
    for record in records:
        if record.key == email.name or record.email_id == email.id:
            raise StateError(
                f"email {email.id} ({email.name!r}) is already a send in the state: {record.key} "
                f"({record.status.value})",
                hint=f"`orchestrator state show {record.key}` shows it: it is managed already, nothing to import",
            )


def _name_free(app: App, name: str) -> None:
    """Refuse a campaign name another file of the project uses already (validate would refuse both)."""
    from orchestrator.project import load_project

    taken = next((c for c in load_project(app.root()).campaigns if c.name == name), None)
    if taken is not None:
        raise ConfigError(
            f"campaign name {name!r} is already used by {taken.display}",
            hint="pass --name NAME to write the imported campaign under another name",
        )


def _refuse_existing(path: Path, root: Path) -> None:
    if path.exists() or path.is_symlink():
        raise ConfigError(
            f"{_shown(path, root)} exists already: import never overwrites a file",
            hint="move it away, or pass --name NAME to write the campaign under another name",
        )


def _write_new(path: Path, text: str, root: Path) -> None:
    """Create ``path``; refuse an existing file (or a link) rather than overwrite it."""
    try:
        with path.open("x", encoding="utf-8", newline="") as handle:
            handle.write(text)
    except FileExistsError:
        raise ConfigError(
            f"{_shown(path, root)} exists already: import never overwrites a file",
            hint="move it away, or pass --name NAME to write the campaign under another name",
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot write {_shown(path, root)}: {exc.strerror}") from None


def _change_for(changes: Sequence[Change], campaign: str, path: Path) -> Change:
    mine = [change for change in changes if change.campaign == campaign and change.payload is not None]
    if len(mine) != 1:
        raise ConfigError(f"{path.name} gives {len(mine)} sends, not one", hint="report this: it is a bug")
    return mine[0]


def _record(
    store: StateStore, change: Change, env: Environment, email: Email, *, now: datetime, scheduled: bool
) -> None:
    from orchestrator.state.models import Actor, SendRecord, SendStatus

    assert change.payload is not None
    record = SendRecord(
        key=change.key,
        campaign=change.campaign,
        environment=env.name,
        fingerprint=change.fingerprint or "",
        # the name it was sent with, as `state rename` keeps it: `plan --refresh` finds the email by it
        payload={**change.payload, "name": email.name},
        status=SendStatus.SCHEDULED if scheduled else SendStatus.SENT,
        email_id=email.id,
        scheduled_time=change.scheduled_time,
        created_at=now,
        updated_at=now,
        applied_by=Actor.current(),
    )
    store.put(
        record,
        action="import",
        detail={"email_id": email.id, "email_name": email.name, "status": record.status.value},
        actor=Actor.current(),
    )


def _ids_block(
    client: PardotClient,
    env: Environment,
    campaign_id: int | None,
    lists: Sequence[str | int],
    suppression: Sequence[str | int],
) -> str:
    """The ``ids:`` lines for the campaign and lists the file names by id, named from Pardot."""
    from orchestrator import importing

    campaigns: dict[str, int] = {}
    if campaign_id is not None and campaign_id not in env.ids.get("campaigns", {}).values():
        campaigns[_pardot_name(client.read_campaign, campaign_id, "campaign")] = campaign_id
    named: dict[str, int] = {}
    for ref in (*lists, *suppression):
        if isinstance(ref, int) and ref not in env.ids.get("lists", {}).values():
            named[_pardot_name(client.read_list, ref, "list")] = ref
    if not campaigns and not named:
        return ""
    return importing.ids_block(campaigns, named)


def _pardot_name(read: Callable[[int], _HasName], object_id: int, what: str) -> str:
    """A name for the ids: block: Pardot's name slugged, or ``<what>-<id>`` when it cannot be read."""
    from orchestrator import importing

    try:
        name = read(object_id).name
    except ApiError:
        return f"{what}-{object_id}"
    return importing.campaign_name(name, object_id) if name else f"{what}-{object_id}"


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root.resolve()))
    except ValueError:
        return str(path)


#: Pages of the v5 template query ``import templates --all`` reads (200 templates a page).
MAX_TEMPLATE_PAGES = 50


def _all_template_ids(client: PardotClient) -> list[int]:
    """Every template id Pardot holds, lowest first; refused rather than cut short past the limit."""
    ids: list[int] = []
    token: str | None = None
    for _ in range(MAX_TEMPLATE_PAGES):
        page, token = client.query_templates_v5(token)
        ids.extend(template.id for template in page)
        if token is None:
            return list(dict.fromkeys(ids))
    raise ConfigError(
        f"Pardot holds more than {len(ids)} email templates ({MAX_TEMPLATE_PAGES} pages): --all stops here",
        hint="import them by id: `orchestrator import templates ID...`",
    )


@dataclass
class _Outcome:
    """What one ``import templates`` did: lines to print, templates imported, refusals."""

    lines: list[str] = field(default_factory=list)
    imported: list[str] = field(default_factory=list)
    refused: list[OrchestratorError] = field(default_factory=list)


def _import_templates(
    app: App,
    client: PardotClient,
    ids: Sequence[int],
    sender: Mapping[str, str] | None,
    *,
    now: datetime,
    skip_owned: bool,
) -> _Outcome:
    """Import each template under the state lock; a refusal for one leaves the others going."""
    from orchestrator.templates_owned import load_template_files, templates_dir

    config, env, store = app.config(), app.environment(), app.store()
    folder = templates_dir(config)
    outcome = _Outcome()
    with store.lock("import templates"):
        records = store.templates()
        _templates_folder(folder, config.root)
        taken = {file.name: file.display for file in load_template_files(config)[0]}
        for template_id in ids:
            owned = next((r for r in records.values() if r.template_id == template_id), None)
            if owned is not None and skip_owned:
                outcome.lines.append(f"template {template_id}: owned already as {owned.name}; skipped")
                continue
            try:
                remote = _read_template(client, template_id)
                if owned is not None:
                    raise StateError(
                        f"template {template_id} is owned already: the state records it as {owned.name!r}",
                        hint=f"templates/{owned.name}.yaml (or the file named {owned.name}) is its file; "
                        "nothing to import",
                    )
                imported = _imported(remote, env, records, taken, sender)
                record, notes = _write_and_record(app, config, env, imported, remote, now=now)
            except OrchestratorError as exc:
                outcome.refused.append(exc)
                continue
            records[record.name] = record
            taken[record.name] = f"{TEMPLATES_FOLDER}/{record.name}.yaml"
            outcome.imported.append(record.name)
            outcome.lines.append(
                f"{TEMPLATES_FOLDER}/{record.name}.yaml: written from template {template_id}; recorded as owned "
                "(the next plan shows it unchanged)."
            )
            outcome.lines.extend(f"  {note}" for note in notes)
    return outcome


#: The templates folder as messages name it (relative to the project root).
TEMPLATES_FOLDER = "templates"


def _templates_folder(folder: Path, root: Path) -> None:
    """Refuse a ``templates/`` that is a link or leads out of the project. A missing one is made
    by the first template written: an empty folder would make every plan read the state's
    template records, which a read-only role of an older state cannot."""
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise ConfigError(
            f"{TEMPLATES_FOLDER} is not a real folder of the project: import writes only into a real templates/",
            hint="make templates/ a folder inside the project, then import again",
        )
    if folder.exists() and not folder.resolve().is_relative_to(root.resolve()):
        raise ConfigError(f"{TEMPLATES_FOLDER} resolves outside the project folder", hint="make it a real folder")


def _read_template(client: PardotClient, template_id: int) -> RemoteTemplate:
    try:
        return client.read_template_v5(template_id)
    except ApiNotFound:
        raise ConfigError(
            f"Pardot has no email template {template_id}",
            hint="check the id: `orchestrator import templates --all` imports every template Pardot holds",
        ) from None
    except ApiError as exc:
        raise ConfigError(f"could not read template {template_id} from Pardot: {exc.message}", hint="try again") from (
            exc
        )


def _imported(
    remote: RemoteTemplate,
    env: Environment,
    records: Mapping[str, TemplateRecord],
    taken: Mapping[str, str],
    sender: Mapping[str, str] | None,
) -> ImportedTemplate:
    """What the template becomes in ``templates/``; refused when the file could not say it."""
    from orchestrator import importing

    named = env.ids.get("templates", {})
    name = next((n for n, i in named.items() if i == remote.id), None) or importing.template_name(
        remote.name, remote.id
    )
    where = f"template {remote.id} ({remote.name!r})"
    if name in records:
        raise StateError(
            f"{where} would be named {name!r}, which the state records for template {records[name].template_id}",
            hint="rename that template's file and name, or rename the template in Pardot, then import again",
        )
    if name in taken:
        raise ConfigError(
            f"{where} would be named {name!r}, which {taken[name]} uses already",
            hint="rename that file's template, or rename the template in Pardot, then import again",
        )
    flags = dict(remote.flags)
    if not any(flags.values()):
        raise ConfigError(
            f"{where} has none of isListEmail, isOneToOneEmail, isAutoResponderEmail, isDripEmail set in Pardot",
            hint="a template file needs one of them true: set what it is for in Pardot, then import again",
        )
    if remote.sender_name and remote.sender_email:
        chosen: Mapping[str, str] = {"name": remote.sender_name, "email": remote.sender_email}
    elif sender is not None:
        chosen = sender
    else:
        raise ConfigError(
            f"{where}: Pardot does not give its sender as a name and an address (a user, or none), "
            "which a template file needs",
            hint="pass --sender-name NAME --sender-email EMAIL to write that sender into the file "
            "(sent to Pardot by the next apply that updates the template)",
        )
    return importing.ImportedTemplate(
        name=name,
        template_id=remote.id,
        pardot_name=remote.name,
        subject=remote.subject,
        text=remote.text,
        html=remote.html,
        sender=chosen,
        reply_to=remote.reply_to,
        flags=flags,
    )


def _write_and_record(
    app: App, config: Config, env: Environment, imported: ImportedTemplate, remote: RemoteTemplate, *, now: datetime
) -> tuple[TemplateRecord, list[str]]:
    """Write the files, check them as ``validate`` does, record the template; the files are
    removed again when anything fails, so a template is either imported whole or not at all.

    The record holds the fingerprint of the file as rendered (so the next plan shows it
    unchanged) and of what Pardot answered (so a later change in Pardot is drift)."""
    from orchestrator import importing
    from orchestrator.state.models import TemplateRecord
    from orchestrator.templates_owned import content_fingerprint, templates_dir

    folder = templates_dir(config)
    files = importing.template_files(imported)
    for name in files:
        _refuse_existing_template(folder / name, config.root, imported)
    written: list[Path] = []
    made_folder = not folder.exists()
    try:
        folder.mkdir(exist_ok=True)
        for name, text in files.items():
            _write_new(folder / name, text, config.root)
            written.append(folder / name)
        owned, problems = _checked(config, env, folder / f"{imported.name}.yaml", remote)
        record = TemplateRecord(
            name=imported.name,
            template_id=remote.id,
            fingerprint=owned,
            remote_fingerprint=content_fingerprint(remote.content()),
            applied_at=now,
        )
        app.store().put_template(record)
    except BaseException:
        for created in written:
            created.unlink(missing_ok=True)
        if made_folder:
            folder.rmdir()
        raise
    return record, _notes(imported, remote, problems)


def _checked(config: Config, env: Environment, path: Path, remote: RemoteTemplate) -> tuple[str, list[str]]:
    """The written file loaded and rendered as ``validate`` does: its fingerprint, and what
    ``validate`` reports about it (the unsubscribe policy). Refused when it does not load, or
    does not render to Pardot's subject, text and HTML exactly."""
    from orchestrator.templates_owned import load_template_files, render_templates, render_unchecked

    shown = str(path.relative_to(config.root))
    files, problems = load_template_files(config)
    file = next((f for f in files if f.doc.path.resolve() == path.resolve()), None)
    mine = [str(p) for p in problems if p.path == shown]
    if file is None or mine:
        raise ConfigError(
            f"{shown} as written does not load: {'; '.join(mine) or 'not found'}",
            hint="what Pardot holds cannot be written as a template file (see above); nothing was kept",
        )
    owned = render_unchecked(config, env, file)
    if isinstance(owned, list):
        raise ConfigError(
            f"{shown} as written does not render: {'; '.join(str(p) for p in owned)}",
            hint="report this: an imported template should always render",
        )
    for part, got, want in (
        ("subject", owned.subject, remote.subject),
        ("text", owned.text, remote.text),
        ("HTML", owned.html, remote.html),
    ):
        if got != want:
            raise ConfigError(
                f"{shown} does not render to the {part} Pardot holds for template {remote.id}",
                hint="report this: it is a bug; nothing was kept",
            )
    return owned.fingerprint, [str(p) for p in render_templates(config, env, [file])[1]]


def _notes(imported: ImportedTemplate, remote: RemoteTemplate, problems: Sequence[str]) -> list[str]:
    """What the user should know about an imported template: where the file says other than
    Pardot (name, sender), and what ``validate`` reports about it."""
    notes: list[str] = []
    if imported.name != remote.name:
        notes.append(
            f"Pardot names it {remote.name!r}: the next apply that updates it renames it to {imported.name!r} "
            "(a template file's name is the template's name)."
        )
    if (remote.sender_name, remote.sender_email) != (imported.sender["name"], imported.sender["email"]):
        notes.append(
            f"its sender in the file is {imported.sender['name']} <{imported.sender['email']}> (from the command "
            "line): the next apply that updates it sends that sender."
        )
    for problem in problems:
        notes.append(f"validate reports: {problem}")
    if problems:
        notes.append(
            "validate and plan refuse the project until the file is fixed: fix it in the file (for a missing "
            "link, add one), and the next apply updates the template in Pardot."
        )
    return notes


def _refuse_existing_template(path: Path, root: Path, imported: ImportedTemplate) -> None:
    if path.exists() or path.is_symlink():
        raise ConfigError(
            f"{_shown(path, root)} exists already: import never overwrites a file "
            f"(template {imported.template_id} not imported)",
            hint="move it away, or rename the template in Pardot, then import again",
        )
