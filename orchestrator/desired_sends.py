"""From valid campaigns to *desired sends*: ids resolved, schedule expanded, content rendered,
policy checked.  Pure apart from reading template files through the renderer; ``now`` is a
parameter, so the same files and the same ``now`` always give the same sends.

A desired send is the unit the planner reconciles with state: one email that Pardot should
have sent (or scheduled) exactly once.  Its ``key`` is stable across runs:

* ``<name>@<UTC time>`` for list sends with ``at:`` or ``cron:`` (one per occurrence),
* ``<name>@now`` for list sends with ``now: true`` (or no schedule),
* ``<name>/<prospect>`` for one-to-one sends (one per prospect).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.campaigns import Campaign, Rejected
from orchestrator.config import Config, Environment, Policy
from orchestrator.desired import DesiredSend, ScheduleKind, SendKind
from orchestrator.errors import Diagnostic, RenderError
from orchestrator.lints import lint_problems
from orchestrator.policy import address_problems, content_problems, lead_time_problem
from orchestrator.render import RenderBudget, Renderer, Source, template_cache_root
from orchestrator.schedule import Occurrence, ScheduleError, expand, utc_iso

if TYPE_CHECKING:
    from orchestrator.project import Project

_ID_KINDS = {
    "campaign": "campaigns",
    "lists": "lists",
    "suppression_lists": "lists",
    "template": "templates",
    "user": "users",
}


@dataclass
class _Context:
    config: Config
    env: Environment
    renderer: Renderer
    now: datetime
    lookback: timedelta
    applied: Collection[str] = ()
    lead_time: str = "error"
    problems: list[Diagnostic] = field(default_factory=list)

    def report(self, campaign: Campaign, json_path: tuple[str | int, ...], message: str) -> None:
        diag = campaign.diagnostic(json_path, message)
        if diag not in self.problems:
            self.problems.append(diag)


def build_sends(
    campaigns: list[Campaign],
    config: Config,
    env: Environment,
    now: datetime,
    *,
    lookback: timedelta = timedelta(0),
    renderer: Renderer | None = None,
    applied: Collection[str] = (),
    lead_time: str = "error",
    rejected: Sequence[Rejected] = (),
) -> tuple[list[DesiredSend], list[Diagnostic]]:
    """Every desired send of ``campaigns`` in ``env`` at ``now``, and every problem found.

    ``rejected`` files (refused by the schema) give no sends, but their sound parts are still
    checked (schedule, rendering, content policy), so one run shows every stage's errors.

    ``lead_time`` says how a future send inside ``policy.min_lead_time`` is reported: ``error``
    (plan: it will not be scheduled), ``warning`` (validate, which cannot see the state and so
    cannot tell a send already scheduled) or ``off`` (render, which shows any occurrence).

    ``lookback`` widens cron expansion into the past so the planner can see missed occurrences;
    ``applied`` names keys already sent or scheduled, to which timing rules no longer apply.
    """
    ctx = _Context(config, env, renderer or Renderer(config.campaigns_dir), now, lookback, applied, lead_time)
    sends: list[DesiredSend] = []
    for campaign in campaigns:
        sends.extend(_campaign_sends(campaign, ctx))
    for refused in rejected:
        _check_rejected(refused, ctx)
    return sends, ctx.problems



def desired_sends_of(
    project: Project,
    env: Environment,
    now: datetime,
    *,
    lookback: timedelta = timedelta(0),
    campaigns: list[Campaign] | None = None,
    applied: Collection[str] = (),
    lead_time: str = "error",
    lints: bool = True,
) -> tuple[list[DesiredSend], list[Diagnostic]]:
    """Every desired send in ``env`` at ``now``, with loading problems and send problems together.

    ``lints`` adds the email lints (``orchestrator.lints``) of the sends built, at their policy level.
    The whole project (no ``campaigns``) also checks the sound parts of the files the schema refused.
    """
    renderer = Renderer(project.config.campaigns_dir, cache_dir=template_cache_root(project.config.root))
    sends, problems = build_sends(
        campaigns if campaigns is not None else project.campaigns,
        project.config,
        env,
        now,
        lookback=lookback,
        renderer=renderer,
        applied=applied,
        lead_time=lead_time,
        rejected=project.rejected if campaigns is None else (),
    )
    if lints:
        problems += lint_problems(sends, campaigns if campaigns is not None else project.campaigns, env.policy)
    return sends, [*project.problems, *problems]


#: The keys a send's content is rendered from: checked in a refused file only if all are sound.
_CONTENT_KEYS = ("name", "subject", "text", "html", "subject_file", "text_file", "html_file", "vars", "issues")


def _check_rejected(refused: Rejected, ctx: _Context) -> None:
    """The schedule and content problems of a file the schema refused, from its sound keys only."""
    view = Campaign(refused.doc)  # read below only through keys the schema did not object to
    occurrences: list[Occurrence] = []
    if "schedule" in view.data and refused.sound("schedule"):
        occurrences = _occurrences(view, ctx) or []
    if refused.sound(*_CONTENT_KEYS):
        _check_content(view, ctx, occurrences[0] if occurrences else None)


def _occurrences(campaign: Campaign, ctx: _Context) -> list[Occurrence] | None:
    """The campaign's occurrences, or ``None`` after reporting why its schedule is invalid."""
    try:
        return expand(campaign.data.get("schedule"), ctx.config.timezone, ctx.now, lookback=ctx.lookback)
    except ScheduleError as exc:
        ctx.report(campaign, ("schedule", exc.field), exc.message)
        return None


def _check_content(campaign: Campaign, ctx: _Context, occ: Occurrence | None) -> None:
    """Render and policy-check the content of a campaign that gives no send (its ids, addresses
    or schedule are wrong), so those errors and the content's come in one run, not one by one.

    Without a usable occurrence it renders as sent at ``now``; an issue-keyed newsletter whose
    date has no issue is left alone, as a send would be.
    """
    occ = occ or Occurrence(ctx.now, ctx.config.timezone, ScheduleKind.AT)
    issue, waiting = _issue(campaign, occ)
    if waiting is None:
        _render(campaign, ctx, occ, issue)


def _campaign_sends(campaign: Campaign, ctx: _Context) -> list[DesiredSend]:
    data = campaign.data
    base = _base_payload(campaign, ctx)
    occurrences = _occurrences(campaign, ctx)
    if base is None or occurrences is None:
        _check_content(campaign, ctx, occurrences[0] if occurrences else None)
        return []
    policy = ctx.env.policy.merged(data.get("policy"))
    out = []
    for occ in occurrences:
        issue, waiting = _issue(campaign, occ)
        if waiting is not None:
            for key, target in _targets(campaign, ctx, occ):
                payload = {**base, **target, "subject": None, "text_content": None, "html_content": None, "name": key}
                if campaign.kind == "list":
                    payload["scheduled_time"] = None if occ.at is None else occ.at.isoformat()
                out.append(_desired(campaign, ctx, key, occ, payload, policy, waiting=waiting))
            continue
        if not _timing_ok(campaign, ctx, occ, policy):
            continue
        rendered = _render(campaign, ctx, occ, issue)
        if rendered is None:
            continue
        for key, target in _targets(campaign, ctx, occ):
            payload = {**base, **target, **rendered, "name": key}
            if campaign.kind == "list":
                payload["scheduled_time"] = None if occ.at is None else occ.at.isoformat()
            out.append(_desired(campaign, ctx, key, occ, payload, policy))
    return out


def _issue(campaign: Campaign, occ: Occurrence) -> tuple[dict[str, Any], str | None]:
    """The vars of this occurrence's issue (``issues:`` keyed by local date), or why it waits.

    Without ``issues:`` every occurrence uses the campaign's ``vars``. With it, an occurrence
    whose date has no entry is never sent with last week's content: it waits for its own.
    """
    issues = campaign.data.get("issues")
    if not isinstance(issues, dict) or occ.local is None:
        return {}, None
    day = occ.local.date().isoformat()
    if day in issues:
        return dict(issues[day]), None
    return {}, (
        f"no content for the issue of {day} yet: add `issues: {{\"{day}\": {{...}}}}` to {campaign.display}"
    )


def _desired(
    campaign: Campaign,
    ctx: _Context,
    key: str,
    occ: Occurrence,
    payload: dict[str, Any],
    policy: Policy,
    *,
    waiting: str | None = None,
) -> DesiredSend:
    operational = campaign.data.get("operational")
    return DesiredSend(
        key=key,
        campaign=campaign.name,
        kind=SendKind(campaign.kind),
        source=campaign.display,
        schedule_kind=occ.kind,
        scheduled_time=occ.at,
        timezone=occ.zone.key,
        payload=payload,
        labels=_labels(campaign, ctx),
        operational_reason=operational["reason"] if isinstance(operational, dict) else None,
        max_recipients=policy.max_recipients,
        min_lead_time=policy.min_lead_time,
        waiting=waiting,
    )


def _timing_ok(campaign: Campaign, ctx: _Context, occ: Occurrence, policy: Policy) -> bool:
    """Lead-time policy for future list sends; a past ``at`` is only a warning (the planner calls it missed).

    Sends already applied (``ctx.applied``) are exempt: they are no longer being scheduled.
    """
    if ctx.lead_time == "off" or occ.at is None or campaign.kind != "list":
        return True
    if f"{campaign.name}@{utc_iso(occ.at)}" in ctx.applied:
        return True
    if occ.kind is ScheduleKind.AT and occ.at <= ctx.now:
        diag = campaign.diagnostic(
            ("schedule", "at"), f"{utc_iso(occ.at)} is in the past; `plan` will report this send as missed", "warning"
        )
        if diag not in ctx.problems:
            ctx.problems.append(diag)
        return True
    problem = lead_time_problem(occ.at, ctx.now, policy.min_lead_time)
    if problem is None:
        return True
    where = ("schedule", occ.kind.value)
    if ctx.lead_time == "warning":
        diag = campaign.diagnostic(where, f"{utc_iso(occ.at)}: {problem} (unless it is already scheduled)", "warning")
        if diag not in ctx.problems:
            ctx.problems.append(diag)
        return True
    ctx.report(campaign, where, f"{utc_iso(occ.at)}: {problem}")
    return False


def _targets(campaign: Campaign, ctx: _Context, occ: Occurrence) -> list[tuple[str, dict[str, Any]]]:
    """One ``(key, target fields)`` per email: the list send, or each prospect once.

    Email addresses compare case-insensitively (as Pardot matches them), so a prospect written
    twice in different case would be one key for two sends: that is refused, located.
    """
    if campaign.kind == "list":
        suffix = "now" if occ.at is None else utc_iso(occ.at)
        return [(f"{campaign.name}@{suffix}", {})]
    targets: dict[str, dict[str, Any]] = {}
    for i, prospect in enumerate(campaign.data["prospects"]):
        field_name = "prospect_id" if isinstance(prospect, int) else "prospect_email"
        value = prospect if isinstance(prospect, int) else str(prospect).lower()
        key = f"{campaign.name}/{value}"
        if key in targets:
            ctx.report(campaign, ("prospects", i), f"prospect {prospect!r} is listed twice (addresses ignore case)")
            continue
        targets[key] = {field_name: value}
    return list(targets.items())


def resolve_ref(ctx: _Context, campaign: Campaign, json_path: tuple[str | int, ...], kind: str) -> int | None:
    """An id for the reference at ``json_path``: an integer as is, a name via ``ids``."""
    value: Any = campaign.data
    for part in json_path:
        value = value[part]
    if isinstance(value, int):
        return value
    known = ctx.env.ids.get(kind, {})
    if value in known:
        return known[value]
    names = ", ".join(sorted(known)) or "none defined"
    ctx.report(
        campaign,
        json_path,
        f"unknown {kind[:-1]} name {value!r} in environment {ctx.env.name!r} "
        f"(known: {names}); add it under environments.{ctx.env.name}.ids.{kind} or use the id",
    )
    return None


def _base_payload(campaign: Campaign, ctx: _Context) -> dict[str, Any] | None:
    data = campaign.data
    before = len(ctx.problems)
    payload: dict[str, Any] = {"campaign_id": resolve_ref(ctx, campaign, ("campaign",), "campaigns")}
    if campaign.kind == "list":
        payload["list_ids"] = [resolve_ref(ctx, campaign, ("lists", i), "lists") for i in range(len(data["lists"]))]
        payload["suppression_list_ids"] = [
            resolve_ref(ctx, campaign, ("suppression_lists", i), "lists")
            for i in range(len(data.get("suppression_lists", [])))
        ]
    payload["tags"] = list(data.get("tags", []))
    payload["email_template_id"] = (
        resolve_ref(ctx, campaign, ("template",), "templates") if "template" in data else None
    )
    payload.update(_sender(campaign, ctx))
    payload["replyto_email"] = data.get("reply_to")
    payload["operational_email"] = isinstance(data.get("operational"), dict)
    for field_name, message in address_problems(
        {"sender.email": payload.get("from_email"), "reply_to": payload["replyto_email"]}
    ):
        ctx.report(campaign, tuple(field_name.split(".")), message)
    return payload if len(ctx.problems) == before else None


def _sender(campaign: Campaign, ctx: _Context) -> dict[str, Any]:
    sender = campaign.data.get("sender", {})
    out: dict[str, Any] = {
        "from_name": sender.get("name"),
        "from_email": sender.get("email"),
        "from_user_id": resolve_ref(ctx, campaign, ("sender", "user"), "users") if "user" in sender else None,
        "from_assigned_user": bool(sender.get("assigned_user", False)),
        "from_account_owner": bool(sender.get("account_owner", False)),
    }
    return out


def _render(
    campaign: Campaign, ctx: _Context, occ: Occurrence, issue: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    data = campaign.data
    variables = {
        **ctx.env.vars,
        **data.get("vars", {}),
        **(issue or {}),
        "send": {
            "name": data.get("name"),
            "at": occ.at,
            "local": occ.local,
            "timezone": occ.zone.key,
        },
        "env": {"name": ctx.env.name},
    }
    out: dict[str, Any] = {"subject": None, "text_content": None, "html_content": None}
    ok = True
    budget = RenderBudget()  # one time and size budget for the three parts of this send
    for part, key in (("subject", "subject"), ("text", "text_content"), ("html", "html_content")):
        source = _source(campaign, ctx, part)
        if source is None:
            continue
        try:
            out[key] = ctx.renderer.render(source, variables, budget)
        except RenderError as exc:
            ok = False
            _report_render_error(campaign, ctx, part, exc)
    if not ok:
        return None
    allow_hml = ctx.env.policy.allow_hml_unsubscribe
    for field_name, message in content_problems(
        out["subject"], out["text_content"], out["html_content"], allow_hml=allow_hml
    ):
        json_field = field_name if field_name in data else f"{field_name}_file"
        ctx.report(campaign, (json_field if json_field in data else field_name,), message)
        ok = False
    return out if ok else None


def _source(campaign: Campaign, ctx: _Context, part: str) -> Source | None:
    data = campaign.data
    if part in data:
        line, _ = campaign.doc.locate((part,))
        return Source(part, inline=str(data[part]), where=f"{campaign.display}:{line}")
    file_key = f"{part}_file"
    if file_key not in data:
        return None
    # Resolved first (symbolic links included), then confined: a link inside the folder that
    # points outside it is refused like a `../` path, before anything is read.
    path = (campaign.path.parent / str(data[file_key])).resolve()
    if not path.is_relative_to(ctx.config.campaigns_dir):
        ctx.report(campaign, (file_key,), f"{data[file_key]!r} is outside the campaigns folder")
        return None
    if not path.is_file():
        ctx.report(campaign, (file_key,), f"{data[file_key]!r} does not exist (paths are relative to this file)")
        return None
    return Source(part, file=path)


def _report_render_error(campaign: Campaign, ctx: _Context, part: str, exc: RenderError) -> None:
    json_field = part if part in campaign.data else f"{part}_file"
    if exc.path and exc.line and Path(exc.path).is_absolute():
        try:
            shown = str(Path(exc.path).resolve().relative_to(ctx.config.root))
        except ValueError:
            shown = exc.path
        message = exc.message.split(": ", 1)[1] if exc.message.startswith(exc.path) else exc.message
        diag = Diagnostic(shown, exc.line, 1, f"{message} (rendering {campaign.display})")
        if diag not in ctx.problems:
            ctx.problems.append(diag)
        return
    ctx.report(campaign, (json_field,), exc.message)


def _labels(campaign: Campaign, ctx: _Context) -> dict[str, Any]:
    """Human names for the ids in a payload, from the environment's ids map."""
    reverse = {kind: {v: k for k, v in names.items()} for kind, names in ctx.env.ids.items()}

    def label(kind: str, ident: Any) -> str:
        name = reverse.get(kind, {}).get(ident)
        return f"{name} ({ident})" if name else str(ident)

    data = campaign.data
    out: dict[str, Any] = {}
    for key, kind in _ID_KINDS.items():
        value = data.get("sender", {}).get("user") if key == "user" else data.get(key)
        if value is None:
            continue
        items = value if isinstance(value, list) else [value]
        ids = [v if isinstance(v, int) else ctx.env.ids.get(kind, {}).get(v) for v in items]
        labels = [label(kind, i) for i in ids]
        out[key] = labels if isinstance(value, list) else labels[0]
    return out
