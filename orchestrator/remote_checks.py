"""Checks that need the API: templates, and every campaign, list and user id a send names.

Only the sends a plan would perform are checked (a no-op costs no API call). Each template and
each id is read once per run, so a weekly campaign with 52 occurrences costs one read per id,
not 52; and the reads run side by side (:func:`prefetch`, up to the client's in-flight limit),
so a plan naming a campaign and three lists waits for one round trip, not four. An id Pardot
does not know becomes a located error at the campaign file: found at plan time instead of
half-way through an apply.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from orchestrator.errors import ApiError, ApiNotFound, Diagnostic
from orchestrator.pardot.errormap import INVALID_ID_CODES
from orchestrator.pardot.models import Campaign, EmailTemplate, PardotList, Prospect, User
from orchestrator.plan import Change
from orchestrator.policy import has_opt_out_token, token_help
from orchestrator.redact import mask_email

if TYPE_CHECKING:
    from orchestrator.project import Project

__all__ = [
    "ReadsProspects",
    "ReadsTemplates",
    "RemoteAnswers",
    "id_problems",
    "prefetch",
    "prospect_problems",
    "template_problems",
]


class ReadsTemplates(Protocol):
    """What the plan-time checks read from Pardot (the real client, or the sandbox through it)."""

    def read_template(self, template_id: int, *, archived: bool = False) -> EmailTemplate: ...
    def read_campaign(self, campaign_id: int) -> Campaign: ...
    def read_list(self, list_id: int) -> PardotList: ...
    def read_user(self, user_id: int) -> User: ...


@dataclasses.dataclass
class RemoteAnswers:
    """What Pardot answered for each template and each (kind, id) a plan's sends name: the
    object, or the error reading it (``None`` for an id that was read fine)."""

    templates: dict[int, EmailTemplate | ApiError] = dataclasses.field(default_factory=dict)
    ids: dict[tuple[str, int], ApiError | None] = dataclasses.field(default_factory=dict)


def prefetch(client: ReadsTemplates, changes: Iterable[Change], *, max_workers: int = 5) -> RemoteAnswers:
    """Read every template and id the pending ``changes`` name, at most ``max_workers`` at a time.

    Reads are independent, so waiting for them one after another only adds round trips: at
    100 ms each, a campaign and three lists cost 0.4 s in turn and 0.1 s side by side. The
    client's own in-flight limit still applies (Pardot refuses a sixth concurrent request).
    """
    answers = RemoteAnswers()
    pending = [change for change in changes if change.action.is_change]
    template_ids = sorted({int(t) for c in pending if (t := (c.payload or {}).get("email_template_id")) is not None})
    ids = sorted({(kind, ident) for c in pending for kind, ident in _named_ids(c.payload or {})})
    if not template_ids and not ids:
        return answers
    readers = _readers(client)
    pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="prefetch")
    try:
        templates = {t: pool.submit(_read_template, client, t) for t in template_ids}
        reads = {key: pool.submit(_read, readers[key[0]], key[1]) for key in ids}
        answers.templates.update((t, future.result()) for t, future in templates.items())
        answers.ids.update((key, future.result()) for key, future in reads.items())
    except BaseException:
        # Ctrl-C or a bug: stop at once, as reading one after another did; reads not started
        # are dropped (those in flight end within their deadline).
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return answers


def _read_template(client: ReadsTemplates, template_id: int) -> EmailTemplate | ApiError:
    try:
        return client.read_template(template_id, archived=True)
    except ApiError as exc:
        return exc


def _readers(client: ReadsTemplates) -> dict[str, Callable[[int], object]]:
    return {"campaign": client.read_campaign, "list": client.read_list, "user": client.read_user}


def _reader_kind(what: str) -> str:
    """Which reader answers for ``what``: a suppression list is read as a list."""
    return "list" if what == "suppression list" else what


def _named_ids(payload: dict[str, Any]) -> Iterable[tuple[str, int]]:
    """Each (reader kind, id) a payload names."""
    for key, what, _where, _kind in _ID_FIELDS:
        value = payload.get(key)
        for ident in value if isinstance(value, list) else [value]:
            if isinstance(ident, int) and not isinstance(ident, bool):
                yield _reader_kind(what), ident


def template_problems(
    client: ReadsTemplates,
    changes: Iterable[Change],
    locate: Callable[[Change, str], Diagnostic],
    *,
    allow_hml: bool = False,
    cache: dict[int, EmailTemplate | ApiError] | None = None,
) -> list[Diagnostic]:
    """Problems with the templates that pending ``changes`` use; ``locate`` points at the campaign file.

    ``allow_hml`` is the project's ``policy.allow_hml_unsubscribe``. ``cache`` receives each
    template read (or the error reading it), so the plan can show them without reading again.
    """
    cache = {} if cache is None else cache
    problems: list[Diagnostic] = []
    for change in changes:
        payload = change.payload or {}
        template_id = payload.get("email_template_id")
        if not change.action.is_change or template_id is None:
            continue
        if template_id not in cache:
            try:
                cache[template_id] = client.read_template(int(template_id), archived=True)
            except ApiError as exc:
                cache[template_id] = exc
        found = cache[template_id]
        label = change.labels.get("template", str(template_id))
        for message in _problems(found, change, label, allow_hml):
            problems.append(locate(change, message))
    return problems


def _problems(found: EmailTemplate | ApiError, change: Change, label: str, allow_hml: bool) -> list[str]:
    if isinstance(found, ApiNotFound):
        return [f"template {label} does not exist in Pardot ({found.api_message})"]
    if isinstance(found, ApiError):
        return [f"template {label} could not be read: {found}"]
    out = []
    if found.is_archived:
        out.append(f"template {label} is archived (in Pardot's recycle bin); restore it or pick another")
    if change.kind == "list" and not found.is_list_email:
        out.append(f"template {label} is not enabled for list emails")
    if change.kind == "one-to-one" and not found.is_one_to_one_email:
        out.append(f"template {label} is not enabled for one-to-one emails")
    payload = change.payload or {}
    hint = token_help(allow_hml=allow_hml)
    if payload.get("text_content") is None and not has_opt_out_token(
        found.text or "", is_html=False, allow_hml=allow_hml
    ):
        out.append(f"template {label}'s text part has no unsubscribe or preference-center link; {hint}")
    if (
        payload.get("html_content") is None
        and found.html
        and not has_opt_out_token(found.html, is_html=True, allow_hml=allow_hml)
    ):
        out.append(f"template {label}'s HTML part has no unsubscribe or preference-center link; {hint}")
    return out


#: Each id a payload can carry: its payload key, what it is, where it sits in a campaign file
#: (``{i}`` is the position in a list of ids), and which ``ids`` map lists the known ones.
_ID_FIELDS: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    ("campaign_id", "campaign", ("campaign",), "campaigns"),
    ("list_ids", "list", ("lists", "{i}"), "lists"),
    ("suppression_list_ids", "suppression list", ("suppression_lists", "{i}"), "lists"),
    ("from_user_id", "user", ("sender", "user"), "users"),
)


def id_problems(
    client: ReadsTemplates,
    changes: Iterable[Change],
    project: Project,
    *,
    cache: dict[tuple[str, int], ApiError | None] | None = None,
) -> list[Diagnostic]:
    """Campaign, list, suppression-list and user ids that Pardot does not know, located in the file.

    Each (kind, id) is read once: the answer is kept in ``cache`` (filled ahead by
    :func:`prefetch`, or here one read at a time for what it lacks).
    """
    readers = _readers(client)
    cache = {} if cache is None else cache
    campaigns = {c.name: c for c in project.campaigns}
    problems: set[Diagnostic] = set()
    for change in changes:
        payload = change.payload or {}
        if not change.action.is_change:
            continue
        for key, what, where, id_kind in _ID_FIELDS:
            value = payload.get(key)
            values = value if isinstance(value, list) else [value]
            for index, ident in enumerate(values):
                if not isinstance(ident, int) or isinstance(ident, bool):
                    continue
                reader_kind = _reader_kind(what)
                if (reader_kind, ident) not in cache:
                    cache[(reader_kind, ident)] = _read(readers[reader_kind], ident)
                error = cache[(reader_kind, ident)]
                if error is None:
                    continue
                path = tuple(index if part == "{i}" else part for part in where)
                message, severity = _id_message(what, ident, error, id_kind)
                campaign = campaigns.get(change.campaign)
                if campaign is None:
                    problems.add(Diagnostic(change.source, 0, 0, message, severity))
                else:
                    problems.add(campaign.diagnostic(_present(campaign.data, path), message, severity))
    return sorted(problems)


def _read(reader: Callable[[int], object], ident: int) -> ApiError | None:
    try:
        reader(ident)
    except ApiError as exc:
        return exc
    return None


def _id_message(what: str, ident: int, error: ApiError, id_kind: str) -> tuple[str, str]:
    """The message and severity for an id Pardot would not confirm.

    "Does not exist" is an error: the apply would fail on it. A check that could not be made
    (network, quota, permissions) is a warning: a wrong id still fails at apply as a refusal,
    which proves nothing was sent, so the plan is not held hostage by a flaky read.
    """
    if isinstance(error, ApiNotFound) or error.code in INVALID_ID_CODES:
        message = (
            f"{what} {ident} does not exist in Pardot ({error.api_message}); "
            f"`orchestrator ids {id_kind}` lists the ones that do"
        )
        return message, "error"
    return f"{what} {ident} could not be checked in Pardot ({error.message})", "warning"


def _present(data: object, path: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """The longest prefix of ``path`` that exists in the file (a name resolved via ``ids``)."""
    found: list[str | int] = []
    node: Any = data
    for part in path:
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and part < len(node)
        if not (in_dict or in_list):
            break
        node = node[part]
        found.append(part)
    return tuple(found)


#: How much of a template's text part a plan shows.
PREVIEW_CHARS = 200


def with_template_previews(changes: Iterable[Change], templates: dict[int, EmailTemplate | ApiError]) -> list[Change]:
    """``changes`` with each template-based send labelled with its template's subject and the
    start of its text part, so the reviewer sees what the template will send (labels are shown,
    never sent)."""
    out = []
    for change in changes:
        template_id = (change.payload or {}).get("email_template_id")
        found = templates.get(int(template_id)) if template_id is not None else None
        if isinstance(found, EmailTemplate):
            text = " ".join((found.text or "").split())
            preview = text[:PREVIEW_CHARS] + ("…" if len(text) > PREVIEW_CHARS else "")
            labels = {**change.labels, "template_subject": found.subject, "template_text": preview}
            change = dataclasses.replace(change, labels=labels)
        out.append(change)
    return out


# -- one-to-one recipients ----------------------------------------------------------------------


@runtime_checkable
class ReadsProspects(Protocol):
    """The prospect read the one-to-one checks need (:class:`~orchestrator.pardot.client.PardotClient`)."""

    def read_prospects(self, *, prospect_id: int | None = None, email: str | None = None) -> list[Prospect]: ...


#: A one-to-one recipient as a campaign file names it: ("id", 1234) or ("email", "ada@example.com").
Target = tuple[str, int | str]


def _target(payload: dict[str, Any]) -> Target | None:
    if payload.get("prospect_id") is not None:
        return ("id", int(payload["prospect_id"]))
    if payload.get("prospect_email") is not None:
        return ("email", str(payload["prospect_email"]).lower())
    return None


def _read_prospects(client: ReadsProspects, target: Target) -> list[Prospect] | ApiError:
    kind, value = target
    try:
        if kind == "id":
            return client.read_prospects(prospect_id=int(value))
        return client.read_prospects(email=str(value))
    except ApiError as exc:
        return exc


def prospect_problems(
    client: ReadsProspects, changes: Iterable[Change], project: Project, *, max_workers: int = 5
) -> list[Diagnostic]:
    """Recipients of pending one-to-one sends that Pardot would refuse, located in the file.

    Each recipient is read once per run, side by side within the in-flight limit. A prospect
    that does not exist (error 3/4) or cannot be mailed (opted out, Do Not Email: error 98 at
    send time) is an error at plan time, not a failure half-way through an apply that every
    later plan would offer again. So is one person listed twice, by id and by address: two
    keys, two emails to the same inbox.
    """
    pending = [c for c in changes if c.action.is_change and c.kind == "one-to-one"]
    targets = sorted({t for c in pending if (t := _target(c.payload or {})) is not None}, key=str)
    if not targets:
        return []
    with ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="prospects") as pool:
        answers = dict(zip(targets, pool.map(lambda t: _read_prospects(client, t), targets), strict=True))
    campaigns = {c.name: c for c in project.campaigns}
    problems: set[Diagnostic] = set()
    people: dict[tuple[str, int], set[Target]] = {}  # (campaign, prospect id) -> how the file names them
    for change in pending:
        target = _target(change.payload or {})
        if target is None:
            continue
        answer = answers[target]
        for message in _prospect_messages(target, answer):
            problems.add(_locate_prospect(campaigns.get(change.campaign), change, target, message))
        for prospect in answer if isinstance(answer, list) else []:
            people.setdefault((change.campaign, prospect.id), set()).add(target)
    for (name, prospect_id), listed in people.items():
        if len(listed) > 1:
            ordered = sorted(listed, key=lambda t: (t[0] == "email", str(t[1])))
            both = " and ".join(_show_target(t) for t in ordered)
            message = f"prospect {prospect_id} is listed twice ({both}): it would get two emails; keep one"
            change = next(c for c in pending if c.campaign == name)
            problems.add(_locate_prospect(campaigns.get(name), change, ordered[-1], message))
    return sorted(problems)


def _prospect_messages(target: Target, answer: list[Prospect] | ApiError) -> list[str]:
    shown = _show_target(target)
    if isinstance(answer, ApiNotFound):
        return [f"prospect {shown} does not exist in Pardot ({answer.api_message}): remove it"]
    if isinstance(answer, ApiError):
        return [f"prospect {shown} could not be read from Pardot: {answer.message}"]
    out = []
    for prospect in answer:
        if not prospect.mailable:
            why = "has opted out" if prospect.opted_out else "is marked Do Not Email"
            out.append(f"prospect {shown} {why}: Pardot would refuse the send (error 98); remove it")
    return out


def _locate_prospect(campaign: Any, change: Change, target: Target, message: str) -> Diagnostic:
    if campaign is None:
        return Diagnostic(change.source, 0, 0, message)
    located: Diagnostic = campaign.diagnostic(_prospect_path(campaign.data, target), message)
    return located


def _show_target(target: Target) -> str:
    kind, value = target
    return str(value) if kind == "id" else mask_email(str(value))


def _prospect_path(data: Any, target: Target) -> tuple[str | int, ...]:
    """Where ``target`` sits in the file's ``prospects`` list (addresses ignore case)."""
    listed = data.get("prospects") if isinstance(data, dict) else None
    if isinstance(listed, list):
        for index, item in enumerate(listed):
            same = item == target[1] if target[0] == "id" else str(item).lower() == target[1]
            if same and not (target[0] == "email" and isinstance(item, int)):
                return ("prospects", index)
    return ("prospects",)
