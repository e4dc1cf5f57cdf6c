"""The plan pipeline end to end: files -> desired sends -> planner -> remote checks -> Plan.

The pure planner sits in the middle; this module only wires it to the project and the client.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from datetime import datetime

from orchestrator.config import Environment
from orchestrator.desired import DesiredSend
from orchestrator.errors import Diagnostic
from orchestrator.plan import Change, Plan, PlanSource
from orchestrator.planfile import held_for_time
from orchestrator.planner import PlanOptions, make_plan
from orchestrator.project import Project, desired_sends
from orchestrator.remote_checks import (
    ReadsProspects,
    ReadsTemplates,
    id_problems,
    prefetch,
    prospect_problems,
    template_problems,
    with_template_previews,
)
from orchestrator.state.models import StateSnapshot
from orchestrator.template_plan import awaits_template, hold_unmade

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
    return desired_sends(project, env, now, lookback=options.lookback, lead_time="off")


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
