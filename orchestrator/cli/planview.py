"""Showing a plan: human text (rich), Markdown for pull-request comments, or JSON.

Views only read the :class:`Plan` value; they never decide anything.
"""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.text import Text

from orchestrator.plan import Action, Change, Plan
from orchestrator.redact import mask_emails
from orchestrator.schedule import utc_iso

#: GitHub refuses comments over 65,536 characters; stay safely below.
MARKDOWN_LIMIT = 65_000

_STYLE = {
    Action.SEND: "green",
    Action.SCHEDULE: "cyan",
    Action.NOOP: "dim",
    Action.DEFER: "dim",
    Action.BLOCKED: "bold red",
    Action.MISSED: "yellow",
    Action.UNKNOWN: "bold magenta",
    Action.ORPHANED: "yellow",
}

_SUMMARY = [
    (Action.SEND, "to send now"),
    (Action.SCHEDULE, "to schedule"),
    (Action.NOOP, "unchanged"),
    (Action.DEFER, "deferred"),
    (Action.BLOCKED, "blocked"),
    (Action.MISSED, "missed"),
    (Action.UNKNOWN, "unknown"),
    (Action.ORPHANED, "orphaned"),
]


def when(change: Change) -> str:
    """The send time in UTC and in the campaign's zone, or "on apply"."""
    if change.scheduled_time is None:
        return "on apply"
    local = change.scheduled_time.astimezone(ZoneInfo(change.timezone))
    return f"{utc_iso(change.scheduled_time)} ({local.strftime('%Y-%m-%d %H:%M %Z')}, {change.timezone})"


def summary_line(plan: Plan) -> str:
    counts = plan.counts()
    parts = [f"{counts[a.label]} {text}" for a, text in _SUMMARY if counts[a.label]]
    return "Plan: " + (", ".join(parts) if parts else "nothing to do") + "."


def detail_lines(change: Change, reveal: bool) -> list[str]:
    """The reviewer-facing facts of one change, one per line."""
    show: Callable[[str], str] = (lambda s: s) if reveal else mask_emails
    payload = change.payload or {}
    labels = change.labels
    lines = [f"when:        {when(change)}"]
    if change.kind == "list":
        lines.append(f"lists:       {', '.join(labels.get('lists', [])) or payload.get('list_ids')}")
        if labels.get("suppression_lists") or payload.get("suppression_list_ids"):
            lines.append(f"suppressed:  {', '.join(labels.get('suppression_lists', []))}")
    else:
        target = payload.get("prospect_id") or payload.get("prospect_email")
        if target is not None:
            lines.append(f"prospect:    {show(str(target))}")
    if change.audience is not None:
        cap = f" (cap {change.max_recipients})" if change.max_recipients is not None else ""
        lines.append(
            f"audience:    {change.audience.recipients} recipients{cap}, counted {utc_iso(change.audience.counted_at)}"
        )
    if payload:
        lines.append(f"campaign:    {labels.get('campaign', payload.get('campaign_id'))}")
        lines.append(f"sender:      {_sender(payload, labels)}")
        if payload.get("replyto_email"):
            lines.append(f"reply-to:    {payload['replyto_email']}")
        if payload.get("tags"):
            lines.append(f"tags:        {', '.join(payload['tags'])}")
        if payload.get("email_template_id") is not None:
            lines.append(f"template:    {labels.get('template', payload['email_template_id'])}")
        if payload.get("subject") is not None:
            lines.append(f"subject:     {payload['subject']}")
    if change.over_cap:
        lines.append(f"HELD:        above max_recipients; sent only with `apply --approve-large {change.campaign}`")
    if change.operational_reason:
        lines.append(f"OPERATIONAL: {change.operational_reason} (sent even to opted-out prospects)")
    if change.prior:
        lines.append(
            f"applied:     {change.prior['status']} as email {change.prior.get('email_id')} "
            f"by {change.prior.get('applied_by')} at {change.prior.get('applied_at')}"
        )
    if change.reason:
        lines.append(f"why:         {show(change.reason)}")
    return lines


def _flags(change: Change) -> str:
    """Short warnings for a table row: operational sends, held sends, loud orphans."""
    flags = []
    if change.operational_reason:
        flags.append("**OPERATIONAL**")
    if change.over_cap:
        flags.append("**HELD: over max_recipients**")
    if change.loud:
        flags.append(
            "**WILL STILL GO OUT**"
            if change.prior and change.prior.get("status") == "scheduled"
            else "**OUTCOME UNKNOWN**"
        )
    return ", ".join(flags)


def _sender(payload: dict[str, object], labels: dict[str, object]) -> str:
    if payload.get("from_user_id") is not None:
        text = f"user {labels.get('user', payload['from_user_id'])}"
    elif payload.get("from_email"):
        text = f"{payload.get('from_name')} <{payload['from_email']}>"
    else:
        text = "from the template"
    extras = [
        name
        for key, name in (("from_assigned_user", "assigned user"), ("from_account_owner", "account owner"))
        if payload.get(key)
    ]
    return text + (f" (prefer {', '.join(extras)})" if extras else "")


def content_diff(change: Change) -> list[str]:
    """The diff against the last applied payload; for a new send, its full rendered content."""
    if change.diff:
        return list(change.diff)
    if not change.action.is_change or not change.payload:
        return []
    from orchestrator.diff import payload_diff

    content = {k: change.payload.get(k) for k in ("subject", "text_content", "html_content")}
    return [line for line in payload_diff({}, content, before_label="nothing-sent-yet") if not line.startswith("~")]


def print_text(plan: Plan, console: Console, *, reveal: bool = False, show_noop: bool = False) -> None:
    """The human plan: header, one block per change, problems, totals.

    Built as one styled text and printed once without re-wrapping: printing line by line costs
    milliseconds per line, which adds up to seconds for a plan of a few hundred sends.
    """
    show: Callable[[str], str] = (lambda s: s) if reveal else mask_emails
    out = Text()
    out.append(f"Environment {plan.environment}, business unit {plan.business_unit_id}\n", style="bold")
    out.append(
        f"Planned at {utc_iso(plan.created_at)}; valid until {utc_iso(plan.expires_at)}; "
        f"state serial {plan.state_serial}\n\n"
    )
    for change in plan.changes:
        if change.action in (Action.NOOP, Action.DEFER) and not show_noop:
            continue
        out.append(f"{change.action.symbol} {change.action.label:<9} ", style=_STYLE[change.action])
        out.append(show(change.key), style="bold" if change.loud or change.action.is_change else "")
        if change.operational_reason:
            out.append("  [OPERATIONAL]", style="bold yellow")
        out.append("\n")
        for line in detail_lines(change, reveal):
            out.append(f"    {line}\n", style="bold red" if change.loud else "")
        for line in content_diff(change):
            out.append(f"    {show(line)}\n", style=_diff_style(line))
        out.append("\n")
    for problem in plan.problems:
        out.append(f"{problem}\n", style="red" if problem.severity == "error" else "yellow")
    hidden = sum(1 for c in plan.changes if c.action in (Action.NOOP, Action.DEFER))
    if hidden and not show_noop:
        out.append(f"({hidden} unchanged or deferred send(s) not shown; --show-unchanged lists them)\n")
    out.append(summary_line(plan), style="bold")
    if plan.errored:
        out.append("\nThe plan has errors: it can be shown but not applied.", style="bold red")
    console.print(out, soft_wrap=True, highlight=False, markup=False)


def _diff_style(line: str) -> str:
    if line.startswith(("+++", "---")):
        return "bold"
    if line.startswith("+"):
        return "green"
    if line.startswith("-"):
        return "red"
    if line.startswith("@@"):
        return "cyan"
    return ""


def markdown(plan: Plan, *, reveal: bool = False, limit: int = MARKDOWN_LIMIT) -> str:
    """Markdown for a pull-request comment: a table, collapsible details, kept under ``limit``.

    Table rows come first, then per-send details; whatever does not fit is cut at a block
    boundary and a note says so.
    """
    show: Callable[[str], str] = (lambda s: s) if reveal else mask_emails
    note = "\n\n_Cut to stay under GitHub's comment size limit; run `orchestrator plan` for the full plan._"
    head = "\n".join(
        [
            f"### orchestrator plan: `{plan.environment}` (business unit `{plan.business_unit_id}`)",
            "",
            f"**{summary_line(plan)}**"
            + (" :x: **The plan has errors and cannot be applied.**" if plan.errored else ""),
        ]
    )
    problems = [f"- `{p.path}:{p.line}` {p.severity}: {p.message}" for p in plan.problems]
    blocks = [head]
    if problems:
        blocks.append("**Problems**\n\n" + "\n".join(problems))
    rows = [
        f"| `{c.action.symbol}` | {c.action.label} | `{show(c.key)}` | {when(c)} | "
        f"{c.audience.recipients if c.audience else ''} | {_flags(c)} |"
        for c in plan.changes
    ]
    table = ["| | action | send | when | audience | flags |", "|---|---|---|---|---|---|", *rows]
    details = []
    for change in plan.changes:
        if change.action in (Action.NOOP, Action.DEFER):
            continue
        body = "\n".join(detail_lines(change, reveal))
        diff = "\n".join(show(line) for line in content_diff(change))
        details.append(
            f"<details><summary><code>{change.action.symbol} {change.action.label}</code> "
            f"{show(change.key)}</summary>\n\n"
            f"```\n{body}\n```\n" + (f"\n```diff\n{diff}\n```\n" if diff else "") + "\n</details>"
        )
    out = "\n\n".join(blocks)
    budget = limit - len(note)
    for i, line in enumerate(table):
        if len(out) + len(line) + 2 > budget - 40:  # room for the "N more row(s)" line
            return out + f"\n\n_{len(table) - i} more row(s) not shown._" + note
        out += ("\n\n" if i == 0 else "\n") + line
    for block in details:
        if len(out) + len(block) + 2 > budget:
            return out + note
        out += "\n\n" + block
    return out
