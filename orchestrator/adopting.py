"""Adopting what Pardot already holds: the sequences of ``orchestrator import email`` and
``orchestrator import templates``.

Each reads Pardot through the client, writes the project's new files, checks them as ``plan``
(an email) or ``validate`` (a template) would, and records them in the state, under its lock:

* a file is created, never replaced (``open(..., "x")``): a file or link already there is
  refused, even one that appears between the check and the write;
* the files are removed again when anything after them fails (the check, the record), so an
  import either completes or leaves nothing behind (for ``import templates``: per template);
* a refusal is an :mod:`orchestrator.errors` exception that names the email, template or file
  and what to do next; what only the command line can say (the sender, the lists Pardot does not
  return) is returned as :class:`OptionNeeded`, which a front end shows as a usage error.

What the files say (names, references, the protected content, the YAML) is decided by the pure
:mod:`orchestrator.importing`. The current time is the caller's clock, called once per import.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from orchestrator import importing
from orchestrator.errors import ApiError, ApiNotFound, ConfigError, OrchestratorError, StateError

if TYPE_CHECKING:
    from orchestrator.config import Config, Environment
    from orchestrator.importing import ImportedTemplate
    from orchestrator.pardot.client import PardotClient
    from orchestrator.pardot.models import Email
    from orchestrator.pardot.templates_v5 import RemoteTemplate
    from orchestrator.plan import Change
    from orchestrator.state.base import StateStore
    from orchestrator.state.models import SendRecord, TemplateRecord

__all__ = [
    "MAX_TEMPLATE_PAGES",
    "TEMPLATES_FOLDER",
    "EmailImported",
    "EmailRequest",
    "ImportTarget",
    "OptionNeeded",
    "TemplatesImported",
    "import_email",
    "import_templates",
]

#: Pages of the v5 template query ``import templates --all`` reads (200 templates a page).
MAX_TEMPLATE_PAGES = 50

#: The templates folder as messages name it (relative to the project root).
TEMPLATES_FOLDER = "templates"


@dataclass(frozen=True)
class ImportTarget:
    """Where an import runs: the project's configuration, the environment, and its API client
    and state store, each opened by the first step that needs it (an import refused before then
    builds no client and creates no state)."""

    config: Config
    env: Environment
    client: Callable[[], PardotClient]
    store: Callable[[], StateStore]


@dataclass(frozen=True)
class OptionNeeded:
    """The import needs an option the command line did not give (a usage error, not a refusal)."""

    message: str


@dataclass(frozen=True)
class EmailRequest:
    """``import email ID`` as given: references as typed (a name, or an id in digits)."""

    email_id: int
    lists: Sequence[str] = ()
    suppression: Sequence[str] = ()
    sender_user: str | None = None
    sender_email: str | None = None
    sender_name: str | None = None
    #: The campaign name (a valid one: see :func:`orchestrator.importing.is_campaign_name`);
    #: ``None``: from the email's name.
    name: str | None = None


@dataclass(frozen=True)
class EmailImported:
    """What ``import email`` did: the campaign file written (as shown), the send recorded, and
    the ``ids:`` lines to paste (empty when the file names everything by name already)."""

    shown: str
    key: str
    scheduled: bool
    email_id: int
    ids_block: str


@dataclass
class TemplatesImported:
    """What one ``import templates`` did: how many templates it was asked for (all of Pardot's
    with ``--all``), lines to show, the templates imported, and one refusal per template not
    imported."""

    asked: int
    lines: list[str] = field(default_factory=list)
    imported: list[str] = field(default_factory=list)
    refused: list[OrchestratorError] = field(default_factory=list)


class _HasName(Protocol):
    """A Pardot campaign or list as read: the ids: block needs only its name."""

    @property
    def name(self) -> str: ...


# --- import email ------------------------------------------------------------------------------


def import_email(
    target: ImportTarget, request: EmailRequest, *, clock: Callable[[], datetime]
) -> EmailImported | OptionNeeded:
    """Write a campaign file from the sent or scheduled list email ``request.email_id`` and
    record its send as applied: sent, or scheduled when its time is still ahead, with the
    fingerprint the planner gives the file, so the next plan shows it unchanged."""
    env, now = target.env, clock()
    sender = importing.sender_of(request.sender_user, request.sender_email, request.sender_name)
    if sender is None:
        return OptionNeeded(
            "give the sender: --sender-user REF, or --sender-email EMAIL with --sender-name NAME "
            "(Pardot's email read does not return it)"
        )
    client = target.client()
    email = _read(client, request.email_id)
    store = target.store()
    if store.get(email.name) is not None:
        raise StateError(
            f"email {request.email_id} is named {email.name!r}, which is already a send in the state of {env.name!r}",
            hint=f"`orchestrator state show {email.name}` shows it: it is managed already, nothing to import",
        )
    at = importing.send_time(email.name, email.scheduled_time, target.config.timezone)
    lists = _lists(client, env, request)
    if isinstance(lists, OptionNeeded):
        return lists
    recipients, suppressions = lists
    adopted = importing.Adopted(
        name=request.name or importing.campaign_name(email.name, email.id),
        campaign=importing.named_ref(env.ids.get("campaigns", {}), email.campaign_id, "campaign", request.email_id),
        lists=recipients,
        suppression_lists=suppressions,
        sender=sender,
        subject=email.subject,
        text=email.text or "",
        html=email.html,
        schedule=importing.schedule_of(email.name, email.scheduled_time, None),
        email_id=email.id,
    )
    path = target.config.campaigns_dir / f"{adopted.name}.yaml"
    scheduled = at is not None and at > now
    change = _adopt(target, store, path, importing.campaign_files(adopted), email, now=now, at=at, scheduled=scheduled)
    return EmailImported(
        shown=_shown(path, target.config.root),
        key=change.key,
        scheduled=scheduled,
        email_id=email.id,
        ids_block=_ids_block(client, env, email.campaign_id, adopted.lists, adopted.suppression_lists),
    )


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


def _lists(
    client: PardotClient, env: Environment, request: EmailRequest
) -> tuple[list[str | int], list[str | int]] | OptionNeeded:
    """The recipient and suppression lists for the file: ``--list`` (and ``--suppression-list``)
    when given; else, on v5, what the email's read-only ``recipientLists`` / ``suppressionLists``
    give (``--suppression-list`` still wins for the suppression lists)."""
    from orchestrator.templates_apply import api_version_of

    named = env.ids.get("lists", {})
    given_suppression = [importing.list_ref(named, ref) for ref in request.suppression]
    if request.lists:
        return [importing.list_ref(named, ref) for ref in request.lists], given_suppression
    version = api_version_of(env)
    if version < 5:
        return OptionNeeded(
            f"give the lists: --list REF, repeated (Pardot's v{version} email read does not return them)"
        )
    try:
        read = client.read_list_email_lists_v5(request.email_id)
        recipients, suppressions, why = read.recipients, read.suppressions, "did not give"
    except ApiError as exc:
        recipients, suppressions, why = None, None, f"was refused ({exc.message}) for"
    if not recipients:
        return OptionNeeded(
            f"give the lists: --list REF, repeated (Pardot's v5 read of email {request.email_id} {why} "
            "its recipientLists)"
        )
    if suppressions is None and not request.suppression:
        return OptionNeeded(
            f"Pardot's v5 read of email {request.email_id} gave its recipientLists but not its suppressionLists: "
            "give --list REF and --suppression-list REF (repeated), as the email went out"
        )
    return (
        [importing.list_ref(named, str(list_id)) for list_id in recipients],
        given_suppression or [importing.list_ref(named, str(list_id)) for list_id in suppressions or ()],
    )


def _adopt(
    target: ImportTarget,
    store: StateStore,
    path: Path,
    files: Mapping[str, str],
    email: Email,
    *,
    now: datetime,
    at: datetime | None,
    scheduled: bool,
) -> Change:
    """Write the files and record the send, under the state lock; the files are removed again
    when the send cannot be recorded, so an import either completes or leaves nothing behind.

    ``path`` is the campaign file, one of ``files`` (names in its folder -> text)."""
    from orchestrator.planning import plan_project
    from orchestrator.project import load_project

    root = target.config.root
    with store.lock("import email"):
        snapshot = store.snapshot()  # read again under the lock
        _not_recorded(snapshot.records.values(), email)
        _name_free(root, path.name.removesuffix(".yaml"))
        for name in files:
            _refuse_existing(path.parent / name, root)
        written: list[Path] = []
        try:
            for name, text in files.items():
                _write_new(path.parent / name, text, root)
                written.append(path.parent / name)
            project = load_project(root, [path])
            # planned ahead of its time, so a send already out is still a desired send with a payload
            plan_at = now if at is None or scheduled else at - timedelta(days=1)
            plan = plan_project(project, target.env, snapshot, plan_at)
            if plan.errored:
                problems = "; ".join(str(problem) for problem in plan.problems)
                raise ConfigError(
                    f"{_shown(path, root)} does not plan as a send: {problems}",
                    hint="fix what the import was given (lists, sender, --name), then run it again",
                )
            change = _change_for(plan.changes, project.campaigns[0].name if project.campaigns else "", path)
            if store.get(change.key) is not None:
                raise StateError(f"{change.key} is already a send in the state", hint="nothing to import")
            _record(store, change, target.env, email, now=now, scheduled=scheduled)
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


def _name_free(root: Path, name: str) -> None:
    """Refuse a campaign name another file of the project uses already (validate would refuse both)."""
    from orchestrator.project import load_project

    taken = next((c for c in load_project(root).campaigns if c.name == name), None)
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


_CAMPAIGN_HINT = "move it away, or pass --name NAME to write the campaign under another name"
_TEMPLATE_HINT = "move it away, or rename the template in Pardot, then import again"


def _write_new(path: Path, text: str, root: Path, hint: str = _CAMPAIGN_HINT) -> None:
    """Create ``path``; refuse an existing file (or a link) rather than overwrite it."""
    try:
        with path.open("x", encoding="utf-8", newline="") as handle:
            handle.write(text)
    except FileExistsError:
        raise ConfigError(
            f"{_shown(path, root)} exists already: import never overwrites a file",
            hint=hint,
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


# --- import templates --------------------------------------------------------------------------


def import_templates(
    target: ImportTarget,
    ids: Sequence[int] | None,
    *,
    sender: Mapping[str, str] | None,
    clock: Callable[[], datetime],
) -> TemplatesImported:
    """Write template files from the email templates ``ids`` (``None``: every template Pardot
    holds, the owned ones skipped) and record each as owned; a template refused is named in the
    outcome and the others are imported all the same. Needs ``version: 5``."""
    from orchestrator.templates_apply import api_version_of

    env = target.env
    version = api_version_of(env)
    if version < 5:
        raise ConfigError(
            f"importing templates needs `version: 5` (environment {env.name!r} uses version {version}): "
            "the project owns templates through v5 only, and v3/v4 cannot list every template",
            hint=f"set `version: 5` under environments.{env.name}.api in orchestrator.yaml (docs/templates.md)",
        )
    now = clock()
    client = target.client()
    wanted = list(dict.fromkeys(ids)) if ids is not None else _all_template_ids(client)
    return _import_each(target, client, wanted, sender, now=now, skip_owned=ids is None)


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


def _import_each(
    target: ImportTarget,
    client: PardotClient,
    ids: Sequence[int],
    sender: Mapping[str, str] | None,
    *,
    now: datetime,
    skip_owned: bool,
) -> TemplatesImported:
    """Import each template under the state lock; a refusal for one leaves the others going."""
    from orchestrator.templates_owned import load_template_files, templates_dir

    config, store = target.config, target.store()
    folder = templates_dir(config)
    outcome = TemplatesImported(asked=len(ids))
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
                imported = importing.template_of(remote, target.env.ids.get("templates", {}), records, taken, sender)
                record, notes = _write_and_record(target, store, imported, remote, now=now)
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


def _write_and_record(
    target: ImportTarget, store: StateStore, imported: ImportedTemplate, remote: RemoteTemplate, *, now: datetime
) -> tuple[TemplateRecord, list[str]]:
    """Write the files, check them as ``validate`` does, record the template; the files are
    removed again when anything fails, so a template is either imported whole or not at all.

    The record holds the fingerprint of the file as rendered (so the next plan shows it
    unchanged) and of what Pardot answered (so a later change in Pardot is drift)."""
    from orchestrator.state.models import TemplateRecord
    from orchestrator.templates_owned import content_fingerprint, templates_dir

    config = target.config
    folder = templates_dir(config)
    files = importing.template_files(imported)
    for name in files:
        _refuse_existing_template(folder / name, config.root, imported)
    written: list[Path] = []
    made_folder = not folder.exists()
    try:
        folder.mkdir(exist_ok=True)
        for name, text in files.items():
            _write_new(folder / name, text, config.root, _TEMPLATE_HINT)
            written.append(folder / name)
        owned, problems = _checked(config, target.env, folder / f"{imported.name}.yaml", remote)
        record = TemplateRecord(
            name=imported.name,
            template_id=remote.id,
            fingerprint=owned,
            remote_fingerprint=content_fingerprint(remote.content()),
            applied_at=now,
        )
        store.put_template(record)
    except BaseException:
        for created in written:
            created.unlink(missing_ok=True)
        if made_folder:
            folder.rmdir()
        raise
    return record, importing.template_notes(imported, remote, problems)


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


def _refuse_existing_template(path: Path, root: Path, imported: ImportedTemplate) -> None:
    if path.exists() or path.is_symlink():
        raise ConfigError(
            f"{_shown(path, root)} exists already: import never overwrites a file "
            f"(template {imported.template_id} not imported)",
            hint=_TEMPLATE_HINT,
        )
