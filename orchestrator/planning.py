"""The plan stage as a front end calls it: files -> desired sends -> planner -> checks -> Plan.

:func:`compute_plan` is what ``plan`` runs: it reads a consistent view of the state without
taking the lock (two pull-request plans, or a plan while main applies, never wait for each
other; the lineage/serial check at apply catches any race). The view holds only the records the
plan's rules can look at, read by index (``StateStore.planning_view``), so a plan costs the same
after years of sends. :func:`plan_project` wires the pure planner
(:func:`orchestrator.planner.make_plan`) to the desired sends of the files
(:mod:`orchestrator.desired_sends`) and to the API checks of :mod:`orchestrator.remote_checks`;
``plan --refresh`` adds what Pardot holds of the recorded sends (:mod:`orchestrator.refresh`).
The apply sequences that use these plans are :mod:`orchestrator.applying`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from orchestrator.config import Environment
from orchestrator.desired import DesiredSend
from orchestrator.desired_sends import desired_sends_of
from orchestrator.errors import ApiError, Diagnostic
from orchestrator.plan import Action, Change, Plan, PlanSource
from orchestrator.planfile import held_for_time
from orchestrator.planner import PlanOptions, make_plan, planning_query
from orchestrator.project import Project
from orchestrator.provenance import git_source
from orchestrator.remote_checks import (
    ReadsProspects,
    ReadsTemplates,
    id_problems,
    prefetch,
    prospect_problems,
    template_problems,
    with_template_previews,
)
from orchestrator.state.base import StateStore
from orchestrator.state.models import SendStatus, StateSnapshot
from orchestrator.template_plan import awaits_template, hold_unmade

if TYPE_CHECKING:
    from orchestrator.pardot.client import PardotClient
    from orchestrator.pardot.models import ListEmailSummary
    from orchestrator.template_plan import TemplateChange

#: What the files ask for at a time: the desired sends, and the problems found building them.
Desired = tuple[list[DesiredSend], list[Diagnostic]]


def options_for(env: Environment, *, allow_late: bool = False) -> PlanOptions:
    """Planner options from the environment's policy."""
    policy = env.policy
    return PlanOptions(
        plan_expiry=policy.plan_expiry,
        late_grace=policy.late_grace,
        lookback=policy.missed_lookback,
        allow_late=allow_late,
    )


def desired_for(project: Project, env: Environment, now: datetime, options: PlanOptions) -> Desired:
    """The desired sends of ``project`` in ``env`` at ``now``, which need nothing of the state.

    A list send inside policy.min_lead_time is held alone by :func:`plan_project`, not an error
    of the whole plan.
    """
    return desired_sends_of(project, env, now, lookback=options.lookback, lead_time="off")


def plan_project(
    project: Project,
    env: Environment,
    snapshot: StateSnapshot,
    now: datetime,
    *,
    client: ReadsTemplates | None = None,
    options: PlanOptions | None = None,
    kept: Collection[str] = (),
    skipped: Mapping[str, str] | None = None,
    repeats_ok: Collection[str] = (),
    source: PlanSource | None = None,
    desired: Desired | None = None,
    templates_created: Collection[str] = (),
) -> Plan:
    """The plan for ``project`` in ``env`` at ``now`` against ``snapshot`` (the whole state, or
    a planning view read for ``desired``, which :func:`desired_for` gives).

    ``templates_created`` names the owned templates the same apply creates before any send: a
    send using one is planned (its id is bound once created), not held.

    ``kept``, ``skipped``, ``repeats_ok`` and ``source`` pass through to :func:`make_plan`
    (scheduled orphans let go with ``state keep``; keys skipped with ``state skip``; repeats
    confirmed with ``state accept``; the git commit the files came from).
    """
    options = options or options_for(env)
    sends, problems = desired if desired is not None else desired_for(project, env, now, options)
    plan = make_plan(
        sends,
        snapshot,
        now,
        environment=env.name,
        business_unit_id=env.business_unit_id,
        problems=problems,
        options=options,
        kept=kept,
        skipped=skipped,
        repeats_ok=repeats_ok,
        source=source,
    )
    template_of = {c.name: c.data["template"] for c in project.campaigns if isinstance(c.data.get("template"), str)}
    plan = hold_unmade(held_for_time(plan, now), template_of, templates_created)
    if client is None or plan.errored:
        return plan

    def locate(change: Change, message: str) -> Diagnostic:
        for campaign in project.campaigns:
            if campaign.name == change.campaign:
                return campaign.diagnostic(("template",), message)
        return Diagnostic(change.source, 0, 0, message)

    readable = _without_unmade_templates(plan.changes)
    answers = prefetch(client, readable)
    remote = template_problems(
        client, readable, locate, allow_hml=env.policy.allow_hml_unsubscribe, cache=answers.templates
    ) + id_problems(client, readable, project, cache=answers.ids)
    if isinstance(client, ReadsProspects):
        remote += prospect_problems(client, plan.changes, project)
    plan = dataclasses.replace(plan, changes=tuple(with_template_previews(plan.changes, answers.templates)))
    if not remote:
        return plan
    return dataclasses.replace(plan, problems=tuple(sorted({*plan.problems, *remote})))


def _without_unmade_templates(changes: tuple[Change, ...]) -> list[Change]:
    """``changes`` as the remote checks read them: a send whose owned template this apply creates
    first names no template id yet (its file was validated instead); its other ids are checked."""

    def readable(change: Change) -> Change:
        if not awaits_template(change) or change.payload is None:
            return change
        return dataclasses.replace(change, payload={**change.payload, "email_template_id": None})

    return [readable(change) for change in changes]


@dataclass
class Target:
    """Where an operation runs: the project and environment, their state store and API client.

    ``clock`` is the real time (tests inject a fixed one); ``notes`` receives progress lines meant
    for a human (counting audiences, waiting for the lock).
    """

    project: Project
    env: Environment
    store: StateStore
    client: PardotClient
    clock: Callable[[], datetime]
    notes: Callable[[str], None] = lambda _line: None


def kept_orphans(store: StateStore, plan: Plan) -> frozenset[str]:
    """The plan's scheduled orphans the operator let go out with ``state keep`` (their last journal
    action). Only the orphans' journals are read: usually none, never one per scheduled send."""
    kept = set()
    for change in plan.changes:
        if change.action is Action.ORPHANED and change.loud:
            journal = store.journal(change.key)
            if journal and journal[-1].action == "keep":
                kept.add(change.key)
    return frozenset(kept)


@dataclass(frozen=True)
class JournalMarks:
    """What the journal says of ``not-sent`` records that the records alone cannot: keys skipped
    with ``state skip`` (with who, when and why) and repeats confirmed with ``state accept``."""

    skipped: dict[str, str]
    repeats_ok: frozenset[str]


def journal_marks(store: StateStore, snapshot: StateSnapshot, keys: Collection[str] | None = None) -> JournalMarks:
    """Read the last journal entry of each ``not-sent`` record (a later write ends a mark), of
    those under ``keys`` when given (the desired keys: no other key's mark changes a plan).

    Only the journals of ``not-sent`` records are read: never one per sent or scheduled send.
    """
    skipped: dict[str, str] = {}
    repeats: set[str] = set()
    for key, record in snapshot.records.items():
        if record.status is not SendStatus.NOT_SENT or (keys is not None and key not in keys):
            continue
        journal = store.journal(key)
        entry = journal[-1] if journal else None
        if entry is not None and entry.action == "skip":
            skipped[key] = (
                f"skipped on purpose by {entry.actor.describe()} at {entry.at:%Y-%m-%d %H:%M} UTC: "
                f"{entry.detail.get('reason', '')}; it is not sent while its content stays as it is"
            )
        elif entry is not None and entry.action == "accept-repeat":
            repeats.add(key)
    return JournalMarks(skipped, frozenset(repeats))


def compute_plan(
    target: Target,
    now: datetime,
    *,
    allow_late: bool = False,
    audience: bool = False,
    snapshot: StateSnapshot | None = None,
    count_audiences: bool = True,
    refresh: bool = False,
    templates_created: Collection[str] = (),
) -> Plan:
    """The plan at ``now``: files against the state (read without the lock: the records the
    plan's rules can look at, or ``snapshot`` when given) and Pardot's templates, with audiences
    counted when asked or when a ``max_recipients`` cap needs it (never with
    ``count_audiences=False``: re-checking a saved plan keeps its own counts), and with ``refresh``,
    against what Pardot holds of the recorded sends (:func:`refresh_plan`).

    ``templates_created`` names the owned templates the apply creates before its sends
    (:func:`created_names`): their sends are planned, not held until the next plan."""
    target = with_owned_template_ids(target)
    source = git_source(target.project.config.root)
    options = options_for(target.env, allow_late=allow_late)
    desired = desired_for(target.project, target.env, now, options)
    if snapshot is None:
        snapshot = target.store.planning_view(planning_query(desired[0], now, options))
    marks = journal_marks(target.store, snapshot, {send.key for send in desired[0]})

    def plan_with(kept: frozenset[str]) -> Plan:
        return plan_project(
            target.project,
            target.env,
            snapshot,
            now,
            client=target.client,
            options=options,
            kept=kept,
            skipped=marks.skipped,
            repeats_ok=marks.repeats_ok,
            source=source,
            desired=desired,
            templates_created=templates_created,
        )

    # A loud orphan holds every new send, so this first plan calls the API for no template
    # until the orphans are settled; a kept one is planned again without its hold.
    result = plan_with(frozenset())
    kept = kept_orphans(target.store, result)
    if kept:
        result = plan_with(kept)
    if refresh and not result.errored:
        result = refresh_plan(target, result, snapshot, now)  # the view holds every send it checks
    if result.errored or not count_audiences or not (audience or needs_audience(result)):
        return result
    return with_audiences(target, result, now)


def with_owned_template_ids(target: Target) -> Target:
    """``target`` whose environment knows the recorded id of each owned template (a campaign
    names an owned template without its id under ``ids.templates``); unchanged without any."""
    from orchestrator.templates_apply import with_owned_ids

    env = with_owned_ids(target.env, target.store, target.project)
    return target if env is target.env else dataclasses.replace(target, env=env)


def plan_templates_for(target: Target) -> list[TemplateChange]:
    """The owned templates' changes (:mod:`orchestrator.template_plan`); none for a project that
    has no ``templates/`` and never recorded one."""
    from orchestrator.templates_apply import owns_templates, plan_owned_templates

    if not owns_templates(target.project, target.store):
        return []
    return plan_owned_templates(target.project, target.env, target.store, target.client)


def created_names(templates: Sequence[TemplateChange]) -> frozenset[str]:
    """The owned templates an apply of ``templates`` creates (before any send)."""
    from orchestrator.template_plan import TemplateAction

    return frozenset(change.name for change in templates if change.action is TemplateAction.CREATE)


def refresh_plan(target: Target, plan: Plan, snapshot: StateSnapshot, now: datetime) -> Plan:
    """``plan`` with what Pardot holds of the recorded list sends (``plan --refresh``).

    One v5 list-email query from the oldest record checked (:mod:`orchestrator.refresh`), read
    page by page up to :func:`orchestrator.refresh.page_budget`; a query that stops there leaves
    the records it did not reach "unseen", never unchanged. A failed query fails the plan: a
    refresh that could not read Pardot must not look like one that found nothing.
    """
    from orchestrator.refresh import compare, page_budget, scope, with_findings

    live = (r for key, r in snapshot.records.items() if key not in snapshot.archived)  # archived: history
    chosen = scope(live, now, target.env.policy.missed_lookback)
    try:
        seen, pages, complete = read_list_emails_since(target.client, chosen.since, page_budget(len(chosen.records)))
    except ApiError as exc:
        raise ApiError(
            f"plan --refresh could not read Pardot's list emails (GET /api/v5/objects/list-emails): {exc.message}",
            code=None,
            http_status=exc.http_status,
            hint=exc.hint or "try again; `orchestrator plan` without --refresh plans from the state alone",
        ) from exc
    drifts = compare(chosen.records, seen, now, complete=complete)
    return with_findings(plan, chosen, drifts, pages=pages)


def read_list_emails_since(
    client: PardotClient, since: datetime | None, budget: int
) -> tuple[list[ListEmailSummary], int, bool]:
    """The list emails created since ``since``, read page by page up to ``budget`` pages: the
    emails, the pages read, and whether the query reached its end (True when the budget is 0)."""
    seen: list[ListEmailSummary] = []
    pages, token = 0, None
    while pages < budget:
        page, token = client.query_list_emails_v5_since(since if token is None else None, page_token=token)
        pages += 1
        seen += page
        if token is None:
            return seen, pages, True
    return seen, pages, budget == 0


def needs_audience(plan: Plan) -> bool:
    """True when a pending list send has a ``max_recipients`` cap, which only a count can enforce
    (checked here, so a plan without caps never loads the export machinery)."""
    return any(c.kind == "list" and c.max_recipients is not None for c in plan.pending)


def with_audiences(target: Target, plan: Plan, now: datetime, *, reuse: bool = True) -> Plan:
    """Count audiences from exports; with ``reuse``, a previous run's within ``audience.REUSE_WINDOW``
    (kept in the user's cache folder for this project, environment and business unit)."""
    from orchestrator.audience import cache_path, fetch_index, load_index, save_index, with_audience
    from orchestrator.export.runner import PollPolicy

    env = target.env
    root = target.project.config.root.resolve()
    key = f"{root}|{env.name}|{env.business_unit_id}|{env.policy.audience_since}"
    cache = cache_path(key)
    index = load_index(cache, key=key, now=now) if reuse and cache is not None else None
    if index is not None:
        target.notes(f"Reusing audience counts from exports made at {index.counted_at.isoformat()}.")
        return with_audience(plan, index)
    target.notes("Counting audiences with list-membership and prospect exports...")
    sandbox = env.is_sandbox
    poll = PollPolicy(first_s=0.5, factor=1.5, max_interval_s=5.0) if sandbox else PollPolicy()
    index = fetch_index(
        target.client,
        since=env.policy.audience_since,
        now=now,
        tz=target.project.config.timezone,
        policy=poll,
        sleep=time.sleep,
        clock=target.clock,
    )
    if cache is not None:
        save_index(cache, index, key=key)
    return with_audience(plan, index)
