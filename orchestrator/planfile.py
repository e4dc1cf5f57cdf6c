"""Plans as JSON: the ``--format json`` output and the self-contained ``plan --out FILE``.

The same versioned document serves both (``schemas/plan.schema.json``).  A saved plan adds a
checksum over its canonical JSON, so any edit of the file is detected, and :func:`check_applicable`
refuses a plan that no longer matches the world it was computed for. :func:`held_for_time` decides
per send: one that can no longer go out at the time of sending is held alone, with its reason.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.atomic import PRIVATE, write_text
from orchestrator.desired import fingerprint
from orchestrator.digest import digest
from orchestrator.errors import Diagnostic, OrchestratorError, PlanRefused
from orchestrator.plan import FORMAT_VERSION, Action, Audience, Change, Plan, PlanSource, Refresh
from orchestrator.policy import content_problems
from orchestrator.redact import scrub_data
from orchestrator.schedule import utc_iso

if TYPE_CHECKING:  # template_plan loads Jinja and jsonschema: imported only for a plan with templates
    from orchestrator.template_plan import TemplateChange


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """The versioned JSON form of ``plan`` (without checksum); ``refresh`` only for a refreshed plan."""
    out: dict[str, Any] = {
        "format_version": plan.format_version,
        "environment": plan.environment,
        "business_unit_id": plan.business_unit_id,
        "created_at": plan.created_at.isoformat(),
        "expires_at": plan.expires_at.isoformat(),
        "state": {"lineage": plan.state_lineage, "serial": plan.state_serial},
        "allow_late": plan.allow_late,
        "errored": plan.errored,
        "applyable": plan.applyable,
        "needs_attention": plan.needs_attention,
        "summary": plan.counts(),
        "problems": [
            {"path": p.path, "line": p.line, "col": p.col, "severity": p.severity, "message": p.message}
            for p in plan.problems
        ],
        "changes": [_change_to_dict(c) for c in plan.changes],
        "attention": [c.key for c in plan.attention],
        "source": {
            "desired_digest": plan.source.desired_digest,
            "git_commit": plan.source.git_commit,
            "git_dirty": plan.source.git_dirty,
            "note": plan.source.note,
        },
    }
    if plan.refresh is not None:
        out["refresh"] = {
            "checked": plan.refresh.checked,
            "pages": plan.refresh.pages,
            "since": plan.refresh.since.isoformat() if plan.refresh.since else None,
            "not_checked": plan.refresh.not_checked,
            "notes": list(plan.refresh.notes),
        }
    return out


def _change_to_dict(change: Change) -> dict[str, Any]:
    return {
        "action": change.action.label,
        "symbol": change.action.symbol,
        "key": change.key,
        "campaign": change.campaign,
        "kind": change.kind,
        "scheduled_time": change.scheduled_time.isoformat() if change.scheduled_time else None,
        "timezone": change.timezone,
        "payload": change.payload,
        "fingerprint": change.fingerprint,
        "reason": change.reason,
        "labels": change.labels,
        "operational_reason": change.operational_reason,
        "prior": change.prior,
        "diff": list(change.diff),
        "audience": None
        if change.audience is None
        else {
            "recipients": change.audience.recipients,
            "counted_at": change.audience.counted_at.isoformat(),
        },
        "max_recipients": change.max_recipients,
        "min_lead_seconds": int(change.min_lead_time.total_seconds()),
        "source": change.source,
        "loud": change.loud,
        "late": change.late,
        "over_cap": change.over_cap,
        "send_before": change.send_before.isoformat() if change.send_before else None,
        "pre_approved": change.pre_approved,
    }


def plan_from_dict(data: dict[str, Any]) -> Plan:
    """Inverse of :func:`plan_to_dict`."""
    return Plan(
        environment=data["environment"],
        business_unit_id=data["business_unit_id"],
        created_at=datetime.fromisoformat(data["created_at"]),
        expires_at=datetime.fromisoformat(data["expires_at"]),
        state_lineage=data["state"]["lineage"],
        state_serial=data["state"]["serial"],
        changes=tuple(_change_from_dict(c) for c in data["changes"]),
        problems=tuple(
            Diagnostic(p["path"], p["line"], p["col"], p["message"], p["severity"]) for p in data["problems"]
        ),
        allow_late=data["allow_late"],
        source=PlanSource(
            desired_digest=data["source"]["desired_digest"],
            git_commit=data["source"]["git_commit"],
            git_dirty=data["source"]["git_dirty"],
            note=data["source"]["note"],
        ),
        format_version=data["format_version"],
        refresh=_refresh_from_dict(data.get("refresh")),
    )


def _refresh_from_dict(data: dict[str, Any] | None) -> Refresh | None:
    if data is None:
        return None
    return Refresh(
        checked=data["checked"],
        pages=data["pages"],
        since=datetime.fromisoformat(data["since"]) if data["since"] else None,
        not_checked=data["not_checked"],
        notes=tuple(data["notes"]),
    )


def _change_from_dict(data: dict[str, Any]) -> Change:
    audience = data.get("audience")
    return Change(
        action=Action.from_label(data["action"]),
        key=data["key"],
        campaign=data["campaign"],
        kind=data["kind"],
        scheduled_time=datetime.fromisoformat(data["scheduled_time"]) if data["scheduled_time"] else None,
        timezone=data["timezone"],
        payload=data["payload"],
        fingerprint=data["fingerprint"],
        reason=data["reason"],
        labels=data["labels"],
        operational_reason=data["operational_reason"],
        prior=data["prior"],
        diff=tuple(data["diff"]),
        audience=None
        if audience is None
        else Audience(audience["recipients"], datetime.fromisoformat(audience["counted_at"])),
        max_recipients=data["max_recipients"],
        min_lead_time=timedelta(seconds=data["min_lead_seconds"]),
        source=data["source"],
        loud=data["loud"],
        late=data["late"],
        over_cap=data["over_cap"],
        send_before=datetime.fromisoformat(data["send_before"]) if data["send_before"] else None,
        pre_approved=data.get("pre_approved"),
    )


def _checksum(document: dict[str, Any]) -> str:
    return digest({k: v for k, v in document.items() if k != "checksum"})


def plan_checksum(plan: Plan) -> str:
    """The checksum ``plan`` is saved with: the digest of its canonical JSON (secrets scrubbed)."""
    return _checksum(scrub_data(plan_to_dict(plan)))


def write_plan(plan: Plan, path: Path, templates: Sequence[TemplateChange] = ()) -> str:
    """Save ``plan`` atomically (temp file in the same folder, fsync, rename) with its checksum;
    return the checksum, which ``show`` and ``apply`` print again for the approver to compare.

    Registered secrets (:func:`orchestrator.redact.scrub_data`) are removed first: the file is
    attached to the workflow run. ``templates`` (the owned templates' changes) are saved for
    ``show`` to print, under the checksum; apply never takes them from the file.
    """
    document: dict[str, Any] = plan_to_dict(plan)
    if templates:
        from orchestrator.template_plan import template_json

        document["templates"] = [template_json(change) for change in templates]
    document = scrub_data(document)
    document["checksum"] = _checksum(document)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Owner-only: a plan holds exact payloads, prospect addresses included.
        write_text(path, json.dumps(document, indent=2, ensure_ascii=False) + "\n", mode=PRIVATE)
    except OSError as exc:
        raise OrchestratorError(f"cannot write the plan to {path}: {exc.strerror}") from None
    return str(document["checksum"])


@dataclass(frozen=True)
class SavedPlan:
    """A plan read from a file, with the checksum it was saved with."""

    plan: Plan
    checksum: str
    templates: tuple[TemplateChange, ...] = ()


def read_plan(path: Path) -> Plan:
    """Load a saved plan; refuse a file that is not a plan, of another format, or altered."""
    return load_plan(path).plan


def load_plan(path: Path) -> SavedPlan:
    """Load a saved plan and its checksum; refuse a file that is not a plan, of another format, or altered."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PlanRefused(f"plan file {path} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PlanRefused(f"{path} is not a readable plan file: {exc}") from None
    if not isinstance(document, dict) or "checksum" not in document:
        raise PlanRefused(f"{path} is not a saved plan (no checksum): create one with `orchestrator plan --out FILE`")
    if document.get("format_version") != FORMAT_VERSION:
        raise PlanRefused(
            f"{path} has plan format {document.get('format_version')!r}; this orchestrator reads {FORMAT_VERSION!r}"
        )
    if _checksum(document) != document["checksum"]:
        raise PlanRefused(f"{path} was altered after it was saved (checksum mismatch); it will not be applied")
    try:
        templates: tuple[TemplateChange, ...] = ()
        if document.get("templates"):
            from orchestrator.template_plan import template_from_json

            templates = tuple(template_from_json(item) for item in document["templates"])
        return SavedPlan(plan_from_dict(document), str(document["checksum"]), templates)
    except (KeyError, TypeError, ValueError) as exc:
        raise PlanRefused(f"{path} is not a valid plan: {exc}") from None


#: How far in the future a plan's creation time may lie (clock skew between machines).
CLOCK_SKEW = timedelta(minutes=5)


def check_created(plan: Plan, *, now: datetime) -> None:
    """Refuse a plan made in the future (beyond :data:`CLOCK_SKEW`): its times vouch for nothing."""
    if plan.created_at > now + CLOCK_SKEW:
        raise PlanRefused(f"the plan was made for {utc_iso(plan.created_at)}, which is in the future")


def time_hold(change: Change, now: datetime) -> tuple[Action, str] | None:
    """Why a pending ``change`` can no longer go out at ``now`` (the real time of sending), and as
    what it is reported: ``missed`` once its time has passed, ``blocked`` inside the lead time."""
    when = change.scheduled_time
    if change.action is Action.SCHEDULE and when is not None:
        if when <= now:
            return Action.MISSED, (
                f"its time {utc_iso(when)} passed before it could be scheduled; it is not sent late "
                "(a new plan made with --allow-late shows it to be sent now)"
            )
        if when - now < change.min_lead_time:
            return Action.BLOCKED, (
                f"scheduled for {utc_iso(when)}, now inside the minimum lead time of {change.min_lead_time} "
                "(policy.min_lead_time): it is not scheduled; move the send later, or it is reported missed "
                "once its time has passed"
            )
    if change.send_before is not None and now > change.send_before:
        return Action.MISSED, (
            f"was due at {utc_iso(when) if when else '?'} and is now past policy.late_grace "
            f"(until {utc_iso(change.send_before)}); it is not sent"
        )
    return None


def held_for_time(plan: Plan, now: datetime) -> Plan:
    """``plan`` with each pending change that can no longer go out at ``now`` held, with its reason.

    Decided per send: one occurrence inside the lead time (or past its time) holds that send
    alone, shown as needing attention; the rest of the plan goes ahead.
    """

    def hold(change: Change) -> Change:
        held = time_hold(change, now) if change.action.is_change else None
        if held is None:
            return change
        action, reason = held
        return dataclasses.replace(change, action=action, reason=reason)

    return dataclasses.replace(plan, changes=tuple(hold(c) for c in plan.changes))


def check_integrity(plan: Plan, *, allow_hml: bool = False) -> None:
    """Refuse pending changes whose payload does not match its fingerprint or breaks the content policy.

    The checksum catches accidental edits of a saved plan; this catches a payload edited with
    the checksum recomputed, which would otherwise be sent and recorded as what the files asked for.
    """
    for change in plan.pending:
        payload = change.payload or {}
        if fingerprint(payload) != change.fingerprint:
            raise PlanRefused(f"{change.key}: its payload does not match its fingerprint; the plan file was edited")
        problems = content_problems(
            payload.get("subject"), payload.get("text_content"), payload.get("html_content"), allow_hml=allow_hml
        )
        if problems:
            raise PlanRefused(f"{change.key}: {problems[0][1]}")


def check_applicable(
    plan: Plan,
    *,
    now: datetime,
    environment: str,
    business_unit_id: str,
    lineage: str | None,
    serial: int,
    allow_hml: bool = False,
    plan_expiry: timedelta | None = None,
) -> None:
    """Refuse, saying why, a saved plan that cannot be applied as it is now.

    ``allow_hml`` is the environment's ``policy.allow_hml_unsubscribe``, for the content check;
    ``plan_expiry`` its ``policy.plan_expiry``: a plan expires by the configuration, whatever
    expiry the file states. Times of single sends are not checked here: a send that can no
    longer go is held alone (:func:`held_for_time`).
    A plan made where no state existed yet applies only to a state nobody has written since
    (serial 0): the caller holds the state lock, so of two applies of such a plan one sends and
    the other finds the state written.
    """
    if plan.errored:
        raise PlanRefused("the plan has errors; it can be shown but never applied")
    if plan.environment != environment:
        raise PlanRefused(f"the plan was made for environment {plan.environment!r}, not {environment!r}")
    if plan.business_unit_id != business_unit_id:
        raise PlanRefused(
            f"the plan was made for business unit {plan.business_unit_id}, "
            f"but the environment now uses {business_unit_id}"
        )
    expires_at = plan.expires_at if plan_expiry is None else min(plan.expires_at, plan.created_at + plan_expiry)
    if now > expires_at:
        raise PlanRefused(f"the plan expired at {utc_iso(expires_at)} (it was made at {utc_iso(plan.created_at)})")
    check_state(plan, lineage=lineage, serial=serial)
    check_created(plan, now=now)
    check_integrity(plan, allow_hml=allow_hml)


def check_state(plan: Plan, *, lineage: str | None, serial: int) -> None:
    """Refuse a plan made against another state, or against this one before it last changed."""
    if plan.state_lineage is None:
        if serial != 0:
            raise PlanRefused(
                f"the state changed since the plan was made (no state yet -> serial {serial}, lineage {lineage}): "
                "another apply or state command ran"
            )
        return
    if plan.state_lineage != lineage:
        raise PlanRefused(f"the plan belongs to another state (lineage {plan.state_lineage}, current {lineage})")
    if plan.state_serial != serial:
        raise PlanRefused(
            f"the state changed since the plan was made (serial {plan.state_serial} -> {serial}): another apply or "
            "state command ran"
        )
