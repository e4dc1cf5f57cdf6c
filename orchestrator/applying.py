"""``apply`` as a library user calls it: the sequences that make sending safe.

The CLI (or any other front end) only parses options, shows plans and maps the results to exit
codes; every rule about *when* something may be sent lives here:

* the plan comes from :mod:`orchestrator.planning` (files, state and Pardot; no lock taken);
  what an apply decides and runs is here, and the sends themselves are made by
  :class:`orchestrator.apply.Executor`.
* every **apply** takes the lock, then refuses a checkout that does not descend from the last
  applied commit (:mod:`orchestrator.provenance`); flags that change what is sent
  (``--allow-late``, ``--approve-large``) come from its own command line, never from a file; a
  send that can no longer go out at the time of sending (inside the lead time, past its time)
  is held alone and reported, and the rest goes ahead.
* **apply a saved plan** (``apply FILE``): the plan must still match the state, environment
  and business unit; then the sends are derived again from the checkout at the plan's own time,
  and every pending change must be identical (key, action, payload) to what the files give now.
  Anything else is refused before the first API call, naming each key and why.
* **apply afresh** (``apply``): plan under the lock, show, confirm, check the times again (the
  prompt may have waited), execute.
* **apply what was reviewed** (``apply --reviewed FILE``): plan afresh under the lock and send
  only the changes identical to one in the reviewed plan; the rest are held for the next review,
  and a reviewed send the fresh plan no longer has is reported, not dropped.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from orchestrator.apply import ApplyHooks, ApplyResult, Executor, StopRequest
from orchestrator.diff import changed_fields
from orchestrator.errors import OrchestratorError, PlanRefused
from orchestrator.plan import Action, Change, Plan, PlanSource
from orchestrator.planfile import CLOCK_SKEW, check_applicable, held_for_time
from orchestrator.planning import (
    Target,
    compute_plan,
    created_names,
    needs_audience,
    plan_templates_for,
    with_audiences,
)
from orchestrator.provenance import APPLY_COMMIT, Audit, check_descends
from orchestrator.schedule import utc_iso
from orchestrator.state.models import PlanningQuery, SendStatus, StateSnapshot

if TYPE_CHECKING:
    from orchestrator.template_plan import TemplateChange


#: The reason given to a change that is held because no reviewer saw it.
NOT_REVIEWED = (
    "held: not in the reviewed plan (new, or different from what was reviewed); it goes out only "
    "after a plan that shows it is reviewed"
)


def reviewed_template_changes(target: Target, reviewed: Sequence[TemplateChange], what: str) -> list[TemplateChange]:
    """The owned templates' changes planned now from the files, when each is exactly one that
    ``what`` (a saved or reviewed plan) showed: same action, template and content.

    Refuses, before any call that changes anything, when one is not: a send must not go out with
    template content nobody reviewed, and a plan file's content is never applied, only compared.
    """
    from orchestrator.template_plan import unreviewed_templates

    fresh = plan_templates_for(target)
    unreviewed = unreviewed_templates(fresh, reviewed)
    if unreviewed:
        raise PlanRefused(
            f"{what} does not show template change(s) the files now give ({', '.join(unreviewed)}): "
            "they were changed after it was made, or it was made before they were; nothing was sent",
            hint="plan again with `orchestrator plan --out FILE`, review the template diff, and apply the new file",
        )
    return [change for change in fresh if change.is_change]


def apply_templates_first(
    target: Target, changing: Sequence[TemplateChange], plan: Plan, now: Callable[[], datetime]
) -> Plan:
    """Create or update ``changing`` (owned templates) before any send, and return ``plan`` with
    each send that awaited a created template bound to its new id.

    A failure raises before any send: no send goes out with a template that did not become what
    the plan showed."""
    if not changing:
        return plan
    from orchestrator.template_plan import bind_created
    from orchestrator.templates_apply import apply_template_changes

    records = apply_template_changes(changing, target.client, target.store, now, target.notes)
    return bind_created(plan, {record.name: record.template_id for record in records})


# -- checking a saved plan against the files ----------------------------------------------------


def duplicate_keys(plan: Plan) -> list[str]:
    """Keys that appear in more than one change: a plan must never act twice on one send."""
    seen: set[str] = set()
    twice: list[str] = []
    for change in plan.changes:
        if change.key in seen and change.key not in twice:
            twice.append(change.key)
        seen.add(change.key)
    return twice


def binding_problems(saved: Plan, fresh: Plan, snapshot: StateSnapshot) -> list[str]:
    """Why the pending changes of ``saved`` are not exactly what the files ask for now (empty: they are).

    ``fresh`` is the plan the checkout gives at the saved plan's own time against the same state.
    Pure: every refusal is a line ``KEY: why``.
    """
    problems = [f"{key}: appears more than once in the plan" for key in duplicate_keys(saved)]
    by_key = {change.key: change for change in fresh.changes}
    for change in saved.pending:
        record = snapshot.records.get(change.key)
        if record is not None and record.status not in (SendStatus.FAILED, SendStatus.NOT_SENT):
            problems.append(f"{change.key}: the state already holds it as {record.status.value}")
            continue
        now = by_key.get(change.key)
        if now is None or now.payload is None:
            problems.append(f"{change.key}: no longer in the files")
        elif now.action is not change.action:
            problems.append(f"{change.key}: the files now give {now.action.label}, not {change.action.label}")
        elif now.payload != change.payload or now.fingerprint != change.fingerprint:
            fields = changed_fields(change.payload or {}, now.payload) or ["payload"]
            problems.append(f"{change.key}: content differs from the files: {', '.join(fields)}")
        elif now.max_recipients is not None and (
            change.audience is None or change.over_cap != (change.audience.recipients > now.max_recipients)
        ):
            problems.append(f"{change.key}: its audience check does not match policy.max_recipients")
    return problems


def bound_to_files(saved: Plan, fresh: Plan) -> Plan:
    """``saved`` with each pending change shown as the files give it (labels, operational reason),
    keeping what only the saved plan knows (audience counts). Payloads are identical by now."""
    by_key = {change.key: change for change in fresh.changes}

    def rebind(change: Change) -> Change:
        if not change.action.is_change:
            return change
        return dataclasses.replace(by_key[change.key], audience=change.audience, over_cap=change.over_cap)

    return dataclasses.replace(saved, changes=tuple(rebind(c) for c in saved.changes))


def held_on_either_count(saved: Plan, counted: Plan) -> Plan:
    """``counted`` (the saved plan with audiences counted now), where a send is held above its
    cap if either count says so.

    A saved plan's count is only the file's word (its checksum is no signature), so an edited
    count must not release a send; and a send the reviewer saw held stays held.
    """
    was_held = {change.key: change for change in saved.changes if change.over_cap}

    def hold(change: Change) -> Change:
        held = was_held.get(change.key)
        if held is not None and not change.over_cap:
            return dataclasses.replace(change, over_cap=True, audience=held.audience)
        return change

    return dataclasses.replace(counted, changes=tuple(hold(c) for c in counted.changes))


# -- applying ----------------------------------------------------------------------------------


@contextlib.contextmanager
def hold_lock(target: Target, operation: str, timeout: float) -> Iterator[None]:
    """The exclusive state lock for ``operation``; when it may wait, says for whom it waits."""
    if timeout > 0:
        holder = target.store.current_lock()
        if holder is not None:
            target.notes(
                f"Waiting up to {timeout:g} s for the state lock held by {holder.actor.describe()} "
                f"(pid {holder.pid}, {holder.operation!r}, lock {holder.lock_id})..."
            )
    with target.store.lock(operation, timeout=timeout):
        yield


@dataclass
class ApplyOptions:
    """How an apply runs: what it shows and asks, how it reports progress, what may stop it."""

    now: Callable[[], datetime]
    show: Callable[[Plan], None] = lambda _plan: None
    confirm: Callable[[Plan], bool] = lambda _plan: True
    hooks: ApplyHooks | None = None
    stop: StopRequest | None = None
    approved_large: Collection[str] = ()
    lock_timeout: float = 0.0
    plan_checksum: str | None = None  # of the saved (or reviewed) plan applied, for the journal
    approved_by: str | None = None  # who approved this apply (see provenance.approver)
    #: apply --pre-approved-only: send only if every change is pre-approved, with no person.
    pre_approved_only: bool = False
    show_templates: Callable[[list[TemplateChange]], None] = lambda _changes: None


@contextlib.contextmanager
def locked_apply(target: Target, options: ApplyOptions) -> Iterator[PlanSource]:
    """The state lock for an apply, then the refusal of a checkout older than the last one applied
    (see :mod:`orchestrator.provenance`); yields the checkout's commit."""
    with hold_lock(target, "apply", options.lock_timeout):
        yield check_descends(target.project.config.root, target.store)


def execute(target: Target, plan: Plan, options: ApplyOptions, source: PlanSource | None = None) -> ApplyResult:
    """Run the pending changes of ``plan`` (the caller holds the lock and has checked the plan).

    Before the first send the commit it comes from is journaled (``apply-commit``), and every
    journal entry of every send carries the commit, the plan's checksum and the approver.
    """
    source = source or PlanSource()
    # With --pre-approved-only no person approved this run, whoever started it: each send carries
    # on the approval of the content it repeats instead (see Executor._audit).
    approved_by = None if options.pre_approved_only else options.approved_by
    audit = Audit(source.git_commit, source.git_dirty, options.plan_checksum, approved_by)
    if plan.pending and audit.commit is not None:
        target.store.append_journal(key=None, action=APPLY_COMMIT, detail=audit.detail())
    executor = Executor(
        target.client,
        target.store,
        environment=plan.environment,
        hooks=options.hooks,
        approved_large=options.approved_large,
        clock=target.clock,
        stop=options.stop,
        audit=audit.detail(),
    )
    return executor.run(plan)


def _same_state(checked: StateSnapshot, fresh: Plan) -> None:
    """Refuse when the state moved between the two reads an apply makes under the lock (only a
    broken lock lets that happen): what was checked must be what was planned against."""
    if (fresh.state_lineage, fresh.state_serial) != (checked.lineage, checked.serial):
        raise PlanRefused(
            f"the state changed while this apply held the lock (serial {checked.serial}, then "
            f"{fresh.state_serial}): someone broke the lock; nothing was sent",
            hint="check `orchestrator state journal`, then plan and apply again",
        )


def check_allow_late(plan: Plan, allow_late: bool) -> None:
    """Refuse a plan made with --allow-late unless this apply's own command line says it too.

    No decision comes from a file: a plan file's copy of the flag is only the file's word.
    """
    if plan.allow_late and not allow_late:
        raise PlanRefused(
            "the plan was made with --allow-late, and an apply sends late only when its own command line says "
            "so; nothing was sent",
            hint="to send its late sends, pass --allow-late explicitly to `orchestrator apply`",
        )


def check_pre_approved(plan: Plan) -> None:
    """Refuse (sending nothing) a plan with a change no person approved the content of.

    ``plan`` carries the labels of the plan made afresh from the state (:func:`bound_to_files`),
    never a saved file's own ``pre_approved`` claims: no decision comes from a file.
    """
    needing = [change.key for change in plan.pending if not change.pre_approved]
    if needing:
        shown = ", ".join(needing[:10]) + (f" and {len(needing) - 10} more" if len(needing) > 10 else "")
        raise PlanRefused(
            f"--pre-approved-only: {len(needing)} change(s) in the plan need a person, their content was never "
            f"approved in an earlier occurrence of the same campaign ({shown}); nothing was sent",
            hint="apply the plan through the approved deploy (a person approves it), without --pre-approved-only",
        )


def apply_saved(
    target: Target,
    saved: Plan,
    options: ApplyOptions,
    *,
    allow_late: bool = False,
    templates: Sequence[TemplateChange] = (),
) -> tuple[Plan, ApplyResult]:
    """Apply a saved plan exactly, or refuse before the first API call (see the module docstring).

    ``allow_late`` is this apply's own --allow-late. A send that can no longer go out now (inside
    the lead time, past its time) is held alone and reported; the rest goes ahead. ``templates``
    are the saved plan's owned-template changes: the ones planned now are applied first when
    each is one of them (:func:`reviewed_template_changes`).
    """
    check_allow_late(saved, allow_late)
    with locked_apply(target, options) as source:
        snapshot = target.store.planning_view(PlanningQuery.of_keys(change.key for change in saved.pending))
        check_applicable(
            saved,
            now=options.now(),
            environment=target.env.name,
            business_unit_id=target.env.business_unit_id,
            lineage=snapshot.lineage,
            serial=snapshot.serial,
            allow_hml=target.env.policy.allow_hml_unsubscribe,
            plan_expiry=target.env.policy.plan_expiry,
        )
        changing = reviewed_template_changes(target, templates, "the saved plan")
        if changing and options.pre_approved_only:
            raise PlanRefused(
                f"--pre-approved-only: template change(s) {', '.join(c.name for c in changing)} need a person; "
                "nothing was sent",
                hint="apply the plan through the approved deploy (a person approves it), without --pre-approved-only",
            )
        options.show_templates(changing)
        fresh = compute_plan(
            target,
            saved.created_at,
            allow_late=allow_late,
            count_audiences=False,
            templates_created=created_names(changing),
        )
        _same_state(snapshot, fresh)
        if fresh.errored:
            raise PlanRefused(
                "the files in this checkout have errors now, so the saved plan cannot be checked against them; "
                "nothing was sent:\n  " + "\n  ".join(str(d) for d in fresh.problems if d.severity == "error")
            )
        problems = binding_problems(saved, fresh, snapshot)
        if problems:
            raise PlanRefused(
                "the saved plan is not what the files in this checkout ask for; nothing was sent:\n  "
                + "\n  ".join(problems),
                hint="plan again with `orchestrator plan --out FILE`, review it, and apply the new file",
            )
        chosen = bound_to_files(saved, fresh)
        if options.pre_approved_only:
            check_pre_approved(chosen)
        if needs_audience(chosen):  # counted afresh: a saved plan's counts are only the file's word
            chosen = held_on_either_count(chosen, with_audiences(target, chosen, options.now(), reuse=False))
        chosen = held_for_time(chosen, options.now())
        options.show(chosen)
        chosen = apply_templates_first(target, changing, chosen, options.now)
        return chosen, execute(target, chosen, options, source)


def apply_fresh(
    target: Target, options: ApplyOptions, *, allow_late: bool = False, audience: bool = False
) -> tuple[Plan, ApplyResult | None]:
    """Plan now under the lock, show it, confirm, and apply it (``None``: nothing was run)."""
    with locked_apply(target, options) as source:
        templates = plan_templates_for(target)
        options.show_templates(templates)
        changing = [change for change in templates if change.is_change]
        chosen = compute_plan(
            target, options.now(), allow_late=allow_late, audience=audience, templates_created=created_names(changing)
        )
        options.show(chosen)
        if chosen.errored or not (chosen.has_changes or changing):
            return chosen, None
        if not options.confirm(chosen):
            raise OrchestratorError("apply cancelled; nothing was sent")
        # Before any send: a send using a changed template goes out with its new content, and one
        # using a template created here gets its id.
        chosen = apply_templates_first(target, changing, chosen, options.now)
        if not chosen.has_changes:
            return chosen, None
        chosen = held_for_time(chosen, options.now())  # the prompt may have waited: times are checked again
        return chosen, execute(target, chosen, options, source)


def check_reviewed(reviewed: Plan, target: Target, lineage: str | None, now: datetime) -> None:
    """Refuse a reviewed plan that cannot vouch for anything in this environment and state.

    A plan reviewed when there was no state yet vouches for its changes in whatever state the
    first apply created: the plan made afresh under the lock decides what is still to send.
    """
    if reviewed.errored:
        raise PlanRefused("the reviewed plan has errors; it vouches for nothing")
    if reviewed.environment != target.env.name:
        raise PlanRefused(
            f"the reviewed plan was made for environment {reviewed.environment!r}, not {target.env.name!r}"
        )
    if reviewed.business_unit_id != target.env.business_unit_id:
        raise PlanRefused(
            f"the reviewed plan was made for business unit {reviewed.business_unit_id}, "
            f"but the environment now uses {target.env.business_unit_id}"
        )
    if reviewed.state_lineage is not None and reviewed.state_lineage != lineage:
        raise PlanRefused(f"the reviewed plan belongs to another state (lineage {reviewed.state_lineage})")
    if reviewed.created_at > now + CLOCK_SKEW:
        raise PlanRefused("the reviewed plan was made in the future; it vouches for nothing")
    twice = duplicate_keys(reviewed)
    if twice:
        raise PlanRefused(f"the reviewed plan lists {', '.join(twice)} more than once; it was edited")


def only_reviewed(fresh: Plan, reviewed: Plan) -> Plan:
    """``fresh`` with every pending change that is not identical (key, action, payload) to a pending
    change of ``reviewed`` turned into a blocked one: CI never sends a change nobody saw."""
    seen = {change.key: change for change in reviewed.pending}

    def gate(change: Change) -> Change:
        if not change.action.is_change:
            return change
        was = seen.get(change.key)
        if (
            was is not None
            and was.action is change.action
            and was.payload == change.payload
            and was.fingerprint == change.fingerprint
        ):
            return change
        return dataclasses.replace(change, action=Action.BLOCKED, reason=NOT_REVIEWED)

    return dataclasses.replace(fresh, changes=tuple(gate(c) for c in fresh.changes))


def reviewed_but_gone(reviewed: Plan, fresh: Plan, now: datetime) -> tuple[Change, ...]:
    """The reviewed plan's pending changes of which ``fresh`` says nothing, reported as missed.

    A cron occurrence of a campaign never applied before, whose time passed between review and
    apply, is left out of a plan made after it (it predates the campaign's first apply): without
    this it would vanish from the apply without a word.
    """
    known = {change.key for change in fresh.changes}

    def gone(change: Change) -> Change:
        when = change.scheduled_time
        passed = f"; its time {utc_iso(when)} passed before this apply" if when is not None and when <= now else ""
        return dataclasses.replace(
            change,
            action=Action.MISSED,
            reason=f"reviewed as {change.action.label}, but the files no longer give it{passed}; it is not sent",
        )

    return tuple(gone(change) for change in reviewed.pending if change.key not in known)


def apply_reviewed(
    target: Target,
    reviewed: Plan,
    options: ApplyOptions,
    *,
    allow_late: bool = False,
    audience: bool = False,
    templates: Sequence[TemplateChange] = (),
) -> tuple[Plan, ApplyResult | None]:
    """Plan afresh and send only what ``reviewed`` showed, identical; hold the rest, and report each
    reviewed send that can no longer go out. Owned-template changes are applied first when each
    is one the reviewed plan showed (``templates``), and refused otherwise."""
    check_allow_late(reviewed, allow_late)
    with locked_apply(target, options) as source:
        changing = reviewed_template_changes(target, templates, "the reviewed plan")
        options.show_templates(changing)
        head = target.store.planning_view(PlanningQuery.of_keys(()))
        check_reviewed(reviewed, target, head.lineage, options.now())
        fresh = compute_plan(
            target, options.now(), allow_late=allow_late, audience=audience, templates_created=created_names(changing)
        )
        _same_state(head, fresh)
        fresh = dataclasses.replace(fresh, changes=fresh.changes + reviewed_but_gone(reviewed, fresh, fresh.created_at))
        chosen = held_for_time(only_reviewed(fresh, reviewed), options.now())
        options.show(chosen)
        if chosen.errored or not (chosen.has_changes or changing):
            return chosen, None
        chosen = apply_templates_first(target, changing, chosen, options.now)
        if not chosen.has_changes:
            return chosen, None
        return chosen, execute(target, chosen, options, source)
