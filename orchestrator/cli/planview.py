"""Showing a plan: human text (rich), Markdown for pull-request comments, or JSON.

Views only read the :class:`Plan` value; they never decide anything.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click
from rich.console import Console
from rich.text import Text

from orchestrator.atomic import PRIVATE
from orchestrator.errors import Diagnostic
from orchestrator.outdir import MANIFEST, OutputFolder
from orchestrator.plan import Action, Change, Plan, pre_approval_text
from orchestrator.redact import mask_emails, scrub
from orchestrator.schedule import utc_iso
from orchestrator.template_plan import TemplateAction, TemplateChange
from orchestrator.textsafe import FORMAT_CHARS, escape_char, escape_control

_STYLE = {
    Action.SEND: "green",
    Action.SCHEDULE: "cyan",
    Action.NOOP: "dim",
    Action.DEFER: "dim",
    Action.BLOCKED: "bold red",
    Action.MISSED: "yellow",
    Action.UNKNOWN: "bold magenta",
    Action.ORPHANED: "yellow",
    Action.SKIPPED: "dim",
    Action.DRIFTED: "bold red",
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
    (Action.SKIPPED, "skipped"),
    (Action.DRIFTED, "drifted in Pardot"),
]


def when(change: Change) -> str:
    """The send time in UTC and in the campaign's zone, or "on apply"."""
    if change.scheduled_time is None:
        return "on apply"
    local = change.scheduled_time.astimezone(ZoneInfo(change.timezone))
    return f"{utc_iso(change.scheduled_time)} ({local.strftime('%Y-%m-%d %H:%M %Z')}, {change.timezone})"


def refresh_line(plan: Plan) -> str:
    """What ``plan --refresh`` read of Pardot, or that it did not read it (never "all seen" silently)."""
    refresh = plan.refresh
    if refresh is None:
        return "Not refreshed: Pardot's list emails were not read (`orchestrator plan --refresh` reads them)."
    since = f" created since {utc_iso(refresh.since)}" if refresh.since else ""
    line = (
        f"Refreshed from Pardot: {refresh.checked} recorded list send(s) checked with {refresh.pages} "
        f"query page(s) of list emails{since}"
    )
    if refresh.not_checked:
        line += (
            f"; {refresh.not_checked} recorded send(s) not checked (one-to-one, older than the lookback, "
            "or recorded in the last 5 minutes)"
        )
    return line + "."


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
        # From the payload that is sent, named by the labels only where the ids agree: a label
        # can never show a list the payload does not send to, or hide one it does.
        lists = _ids(payload, labels, "list_ids", "lists")
        if lists is not None:
            lines.append(f"lists:       {lists or 'none'}")
        suppressed = _ids(payload, labels, "suppression_list_ids", "suppression_lists")
        if suppressed:
            lines.append(f"suppressed:  {suppressed}")
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
        elif labels.get("template_subject") is not None:
            lines.append(f"subject:     {labels['template_subject']} (from the template)")
        if payload.get("text_content") is None and labels.get("template_text"):
            lines.append(f"text:        {labels['template_text']} (from the template)")
    if change.over_cap:
        lines.append(f"HELD:        above max_recipients; sent only with `apply --approve-large {change.campaign}`")
    pre_approved = pre_approval_text(change)
    if pre_approved is not None:
        lines.append(f"approval:    {show(pre_approved)}")
    if change.operational_reason or payload.get("operational_email"):
        reason = change.operational_reason or "(no reason given)"
        lines.append(f"OPERATIONAL: {reason} (sent even to opted-out prospects)")
    if change.prior:
        lines.append(
            f"applied:     {change.prior['status']} as email {change.prior.get('email_id')} "
            f"by {change.prior.get('applied_by')} at {change.prior.get('applied_at')}"
        )
    if change.reason:
        lines.append(f"why:         {show(change.reason)}")
    return lines


_LABEL = re.compile(r"^(?P<name>.*) \((?P<id>\d+)\)$")


def _ids(payload: Mapping[str, Any], labels: Mapping[str, Any], field: str, label_key: str) -> str | None:
    """The ids of ``payload[field]`` as ``name (id)`` where a label names that very id.

    Without a payload (an orphan) the labels the planner took from the state's record are shown.
    """
    named: dict[str, str] = {}
    for label in labels.get(label_key) or []:
        match = _LABEL.match(str(label))
        named[match["id"] if match else str(label)] = str(label)
    if not payload:
        return ", ".join(named.values()) if named else None
    ids = payload.get(field)
    if ids is None:
        return None
    return ", ".join(named.get(str(i), str(i)) for i in ids)


def _flags(change: Change) -> str:
    """Short warnings for a table row: operational sends, held sends, loud orphans."""
    flags = []
    if change.operational_reason:
        flags.append("**OPERATIONAL**")
    if change.over_cap:
        flags.append("**HELD: over max_recipients**")
    if change.pre_approved:
        flags.append("pre-approved")
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


#: How a plan made where no state existed says so (every send in it is new).
NO_STATE_YET = "no state yet (every send is new; the first apply creates the state)"


def print_text(plan: Plan, console: Console, *, reveal: bool = False, show_noop: bool = False) -> None:
    """The human plan: header, one block per change, problems, totals.

    Built as one styled text and printed once without re-wrapping: printing line by line costs
    milliseconds per line, which adds up to seconds for a plan of a few hundred sends. Where
    nothing draws styles (a pipe, a CI log) the text is written as it is.
    """
    masked: Callable[[str], str] = (lambda s: s) if reveal else mask_emails

    def show(text: str) -> str:
        # Sends recorded before control characters were refused may still hold them: a terminal
        # must never receive an escape sequence from a campaign (it could erase plan lines).
        return escape_control(masked(text))

    parts: list[tuple[str, str]] = []  # (text, style): styled on a terminal, plain elsewhere

    def add(text: str, style: str = "") -> None:
        parts.append((text, style))

    # A saved plan is a file anyone could edit: its environment and business unit are escaped too.
    header = f"Environment {escape_control(plan.environment)}, business unit {escape_control(plan.business_unit_id)}"
    add(header + "\n", style="bold")
    state = NO_STATE_YET if plan.state_lineage is None else f"state serial {plan.state_serial}"
    add(f"Planned at {utc_iso(plan.created_at)}; valid until {utc_iso(plan.expires_at)}; {state}\n\n")
    for change in plan.changes:
        if change.action in (Action.NOOP, Action.DEFER) and not show_noop:
            continue
        add(f"{change.action.symbol} {change.action.label:<9} ", _STYLE[change.action])
        add(show(change.key), style="bold" if change.loud or change.action.is_change else "")
        if change.operational_reason:
            add("  [OPERATIONAL]", style="bold yellow")
        add("\n")
        for line in detail_lines(change, reveal):
            add(f"    {escape_control(line)}\n", style="bold red" if change.loud else "")
        for line in content_diff(change):
            add(f"    {show(line)}\n", style=_diff_style(line))
        add("\n")
    for problem in plan.problems:
        add(f"{escape_control(str(problem))}\n", style="red" if problem.severity == "error" else "yellow")
    hidden = sum(1 for c in plan.changes if c.action in (Action.NOOP, Action.DEFER))
    if hidden and not show_noop:
        add(f"({hidden} unchanged or deferred send(s) not shown; --show-unchanged lists them)\n")
    if plan.refresh is not None:
        add(refresh_line(plan) + "\n")
        for note in plan.refresh.notes:
            add(f"  note: {show(note)}\n")
    add(summary_line(plan), style="bold")
    if plan.errored:
        add("\nThe plan has errors: it can be shown but not applied.", style="bold red")
    if console.is_terminal:
        out = Text()
        for text, style in parts:
            out.append(text, style=style)
        console.print(out, soft_wrap=True, highlight=False, markup=False)
    else:
        # A pipe or a CI log draws no styles: the plain text is exactly what rich would print,
        # without building and rendering styled text (a quarter of a second for 200 new sends).
        console.file.write("".join(text for text, _ in parts) + "\n")
        console.file.flush()


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



# --- Markdown for pull-request comments --------------------------------------------------------
#
# The comment is read by reviewers who approve real sends, so three rules hold:
#   1. Nothing that needs a human, and no change, is ever left out: what does not fit in one
#      comment goes to the next part (``markdown_parts``); only no-ops are summarised as a count.
#   2. What needs a human comes first, then the changes, then everything else.
#   3. User text (names, subjects, reasons, diffs) can never change the comment's structure: it is
#      shown inside code spans and fenced blocks whose fences are longer than any run of backticks
#      in it, or HTML-escaped inside HTML; control and bidi characters are shown as escapes, so a
#      subject with a line break, three backticks and ``<!--`` stays one visible line.

#: Hidden marker the pull-request workflow uses to find (and update) its own comment(s).
MARKER = "<!-- orchestrator-plan -->"
#: GitHub's hard limit for an issue or pull-request comment body, in characters; measured as
#: :func:`comment_size` does (UTF-16 code units, the conservative reading).
GITHUB_COMMENT_LIMIT = 65_536
#: Each part stays this far below the hard limit, in :func:`comment_size` units (the rest is room
#: for the workflow's link to the previews).
MARKDOWN_LIMIT = 65_000
#: Room kept in each part for the hidden markers and the "Part k of n" line.
_PART_FRAME = 200
#: The details of one change never take more than this (a diff of a huge HTML body is cut, and
#: says so; the change itself is always listed, and the saved plan holds the full payload).
DETAIL_LIMIT = 20_000
#: The most one name (a send key, a file path, an environment) takes in a comment, escaped.
NAME_LIMIT = 1_000


def comment_size(text: str) -> int:
    """The length of ``text`` as GitHub's comment limit counts it, conservatively.

    GitHub limits a body to 65,536 characters; counting UTF-16 code units (what JavaScript's
    ``length`` gives) is never less than counting code points, so an emoji counts twice. The
    UTF-8 size is then at most three times this, so bytes stay bounded too.
    """
    return len(text.encode("utf-16-le")) // 2

_CONTROL = re.compile(f"[\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029{FORMAT_CHARS}]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def visible(text: str) -> str:
    """``text`` on one line: line breaks, control and every invisible format character
    (zero-width, bidi: Unicode ``Cf``) as escapes."""
    return _CONTROL.sub(lambda m: _NAMED.get(m.group(), escape_char(m.group())), text)


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


def code_span(text: str, *, in_table: bool = False) -> str:
    """``text`` as an inline code span nothing inside can end (CommonMark: a longer delimiter).

    Inside a GFM table ``|`` must be backslash-escaped even in code spans, or it splits the cell.
    """
    body = visible(text)
    if in_table:
        body = body.replace("|", "\\|")
    ticks = "`" * (_longest_backtick_run(body) + 1)
    if body.startswith("`") or body.endswith("`") or (body.startswith(" ") and body.endswith(" ") and body.strip()):
        body = f" {body} "
    return f"{ticks}{body or ' '}{ticks}"


def fenced(lines: list[str], info: str = "") -> str:
    """A fenced code block that no line inside can close (fence longer than any backtick run)."""
    body = "\n".join(visible(line) for line in lines)
    ticks = "`" * max(3, _longest_backtick_run(body) + 1)
    return f"{ticks}{info}\n{body}\n{ticks}"


def html_text(text: str) -> str:
    """``text`` for an HTML context (``<summary>``): escaped, on one line."""
    return html.escape(visible(text), quote=True)


def _commit_line(plan: Plan) -> str:
    source = plan.source
    if not source.git_commit:
        return "not recorded" + (f" ({code_span(_name(source.note), in_table=True)})" if source.note else "")
    text = code_span(_name(source.git_commit), in_table=True)
    if source.git_dirty:
        text += " **with uncommitted changes**"
    if source.note:
        text += " " + code_span(_name(source.note), in_table=True)
    return text


def _counts_line(plan: Plan) -> str:
    counts = plan.counts()
    return ", ".join(f"{counts[a.label]} {a.label}" for a in Action if counts[a.label]) or "none"


def _header(plan: Plan, needing: int, templates: Sequence[TemplateChange] = ()) -> str:
    status = (
        ":x: **The plan has errors and cannot be applied.**"
        if plan.errored
        else f":warning: **{needing} item(s) need a human before this is merged.**"
        if needing
        else ":white_check_mark: Nothing needs a human."
    )
    rows = [
        ("environment", f"{code_span(_name(plan.environment), in_table=True)} "
         f"(business unit {code_span(_name(plan.business_unit_id), in_table=True)})"),
        ("commit", _commit_line(plan)),
        ("created", utc_iso(plan.created_at)),
        ("expires", f"{utc_iso(plan.expires_at)} (a saved plan is refused after this)"),
        ("state serial", NO_STATE_YET if plan.state_lineage is None
         else f"{plan.state_serial} (lineage {code_span(_name(plan.state_lineage), in_table=True)})"),
        ("counts", _counts_line(plan)),
        *([("templates", _template_counts(templates))] if templates else []),
        *([("refresh", html_text(refresh_line(plan)))] if plan.refresh is not None else []),
    ]
    return "\n".join(
        [
            f"### orchestrator plan: {code_span(_name(plan.environment))}",
            "",
            f"**{summary_line(plan)}** {status}",
            "",
            "| | |",
            "|---|---|",
            *(f"| {name} | {value} |" for name, value in rows),
        ]
    )


_TABLE_HEAD = "| | action | send | when | audience | flags |\n|---|---|---|---|---|---|"


def _row(change: Change, show: Callable[[str], str]) -> str:
    audience = str(change.audience.recipients) if change.audience else ""
    return (
        f"| `{change.action.symbol}` | {change.action.label} | {code_span(_name(show(change.key)), in_table=True)} | "
        f"{code_span(when(change), in_table=True)} | {audience} | {_flags(change)} |"
    )


def _details(change: Change, show: Callable[[str], str], reveal: bool, *, open_: bool) -> str:
    """One change's facts and diff, collapsible; cut (with a note) beyond DETAIL_LIMIT."""
    facts = [_clip(line, NAME_LIMIT) for line in detail_lines(change, reveal)]
    diff_lines = [_clip(show(line)) for line in content_diff(change)]
    label = f"{change.action.symbol} {change.action.label}"
    return _collapsible(label, show(change.key), facts, diff_lines, open_=open_)


def _collapsible(label: str, name: str, facts: list[str], diff_lines: list[str], *, open_: bool) -> str:
    """A ``<details>`` block: ``label`` and ``name`` escaped in its summary, ``facts`` and the diff
    in fences nothing inside can close; the diff cut (with a note) beyond DETAIL_LIMIT.

    Shared by sends and owned templates, so both keep the same rules for hostile text."""
    head = (
        f"<details{' open' if open_ else ''}><summary>"
        f"<code>{html_text(label)}</code> "
        f"<code>{html_text(_name(name))}</code></summary>\n\n{fenced(facts)}\n"
    )
    tail = "\n</details>"
    if not diff_lines:
        return head + tail
    diff = fenced(diff_lines, "diff")
    if comment_size(head + diff + tail) <= DETAIL_LIMIT:
        return head + "\n" + diff + "\n" + tail
    kept: list[str] = []
    size = comment_size(head + tail) + 400
    for line in diff_lines:
        cost = comment_size(visible(line)) + 1
        if size + cost > DETAIL_LIMIT:
            break
        kept.append(line)
        size += cost
    note = (
        f"_{len(diff_lines) - len(kept)} more diff line(s) not shown here; "
        "`orchestrator show PLAN_FILE` (the saved plan is attached to the workflow run) shows them all._"
    )
    return head + "\n" + fenced(kept, "diff") + "\n\n" + note + "\n" + tail


def _name(text: str) -> str:
    """A name (key, path, environment) as a comment shows it: cut beyond :data:`NAME_LIMIT`."""
    return _clip(text, NAME_LIMIT)


def _clip(line: str, limit: int = 2_000) -> str:
    """One value, cut with a visible note when a hostile or huge value would flood the comment.

    Measured as shown: after :func:`visible` escapes it (a zero-width character becomes six
    characters, ``\\u200b``) and in :func:`comment_size` units (an emoji is two).
    """
    if comment_size(visible(line)) <= limit:
        return line
    size = cut = 0
    for char in line:
        size += comment_size(visible(char))
        if size > limit:
            break
        cut += 1
    return f"{line[:cut]}... ({len(line) - cut:,} more characters)"


@dataclass(frozen=True)
class _Item:
    """One unit of the comment: a heading, a table row (``table`` set) or a block."""

    text: str
    table: str | None = None  # the table head the row belongs to ("" for a list item)
    section: str = ""  # the section heading, repeated when a part starts inside the section


def _items(
    plan: Plan, *, reveal: bool, show_unchanged: bool, templates: Sequence[TemplateChange] = ()
) -> list[_Item]:
    show: Callable[[str], str] = (lambda s: s) if reveal else mask_emails
    items: list[_Item] = []
    errors = [p for p in plan.problems if p.severity == "error"]
    if errors:  # they stop the whole plan: first, each one
        title = f"#### :x: Errors ({len(errors)})"
        items.append(_Item(title))
        for p in errors:
            where = f"{p.path}:{p.line}" if p.line else p.path
            items.append(_Item(f"- {code_span(_name(where))} {code_span(_clip(show(p.message)))}", "", title))
    needing = plan.attention
    needing_keys = {c.key for c in needing}
    changes = [c for c in plan.pending if c.key not in needing_keys]
    others = [c for c in plan.changes if c.action is Action.ORPHANED and c.key not in needing_keys]
    skipped = [c for c in plan.changes if c.action is Action.SKIPPED]
    quiet = [c for c in plan.changes if c.action in (Action.NOOP, Action.DEFER) and c.key not in needing_keys]
    sections = [
        (f"#### :warning: Needs a human ({len(needing)})", needing, True, True),
        (f"#### Changes to apply ({len(changes)})", changes, True, len(changes) <= 5),
        (f"#### Orphaned, nothing to do ({len(others)})", others, False, False),
        (f"#### Skipped on purpose ({len(skipped)})", skipped, True, False),
    ]
    if show_unchanged:
        sections.append((f"#### Unchanged and deferred ({len(quiet)})", quiet, False, False))
    for number, (title, group, with_details, open_) in enumerate(sections):
        if number == 1:  # the templates' part: what needs a human before any change, as for sends
            items.extend(_template_items(templates, show, show_unchanged=show_unchanged))
        if not group:
            continue
        items.append(_Item(title))
        items.extend(_Item(_row(c, show), _TABLE_HEAD, title) for c in group)
        if with_details:
            items.extend(_Item(_details(c, show, reveal, open_=open_), None, title) for c in group)
    items.extend(_warning_items([p for p in plan.problems if p.severity != "error"], show))
    if quiet and not show_unchanged:
        noops = sum(1 for c in quiet if c.action is Action.NOOP)
        counted = " and ".join(
            f"{n} {label}" for n, label in ((noops, "unchanged"), (len(quiet) - noops, "deferred")) if n
        )
        items.append(_Item(f"_{counted} send(s) not listed (`orchestrator plan --show-unchanged` lists them)._"))
    if not plan.changes and not plan.problems:
        items.append(_Item("_No sends in the files or in the state._"))
    return items


_TEMPLATE_HEAD = "| | action | template | id |\n|---|---|---|---|"
_TEMPLATE_LABEL = {
    TemplateAction.CREATE: ("+", "create"),
    TemplateAction.UPDATE: ("~", "update"),
    TemplateAction.NOOP: ("=", "unchanged"),
    TemplateAction.DRIFT: ("!", "drifted"),
    TemplateAction.ORPHAN: ("?", "orphaned"),
    TemplateAction.NEEDS_V5: ("!", "not owned"),
}


def _template_counts(templates: Sequence[TemplateChange]) -> str:
    counts = {action: sum(1 for c in templates if c.action is action) for action in TemplateAction}
    return ", ".join(f"{n} {_TEMPLATE_LABEL[a][1]}" for a, n in counts.items() if n)


def _template_row(change: TemplateChange, show: Callable[[str], str]) -> str:
    symbol, label = _TEMPLATE_LABEL[change.action]
    where = str(change.template_id) if change.template_id is not None else ""
    return f"| `{symbol}` | {label} | {code_span(_name(show(change.name)), in_table=True)} | {where} |"


def _template_details(change: TemplateChange, show: Callable[[str], str], *, open_: bool) -> str:
    """One owned template's reason and subject/text/HTML diff, by the sends' rules for hostile text:
    a template's text (and a drifted one's, which Pardot holds) is never trusted."""
    symbol, label = _TEMPLATE_LABEL[change.action]
    where = f"template id: {change.template_id}" if change.template_id is not None else "template id: (new)"
    facts = [where, *([_clip(show(change.reason), NAME_LIMIT)] if change.reason else [])]
    diff_lines = [_clip(show(line)) for line in change.diff]
    return _collapsible(f"{symbol} {label} template", show(change.name), facts, diff_lines, open_=open_)


def _template_items(
    templates: Sequence[TemplateChange], show: Callable[[str], str], *, show_unchanged: bool
) -> list[_Item]:
    """The owned templates' sections (docs/templates.md): held ones first, then the changes."""
    held = [c for c in templates if c.needs_attention]
    changes = [c for c in templates if c.is_change]
    not_owned = [c for c in templates if c.action is TemplateAction.NEEDS_V5]
    unchanged = [c for c in templates if c.action is TemplateAction.NOOP]
    sections = [
        (f"#### :warning: Templates needing a human ({len(held)})", held, True),
        (f"#### Template changes to apply ({len(changes)})", changes, len(changes) <= 5),
        (f"#### Templates not owned on this account ({len(not_owned)})", not_owned, False),
    ]
    if show_unchanged:
        sections.append((f"#### Unchanged templates ({len(unchanged)})", unchanged, False))
    items: list[_Item] = []
    for title, group, open_ in sections:
        if not group:
            continue
        items.append(_Item(title))
        items.extend(_Item(_template_row(c, show), _TEMPLATE_HEAD, title) for c in group)
        items.extend(
            _Item(_template_details(c, show, open_=open_), None, title)
            for c in group
            if c.diff or c.reason
        )
    if unchanged and not show_unchanged:
        items.append(_Item(f"_{len(unchanged)} unchanged template(s) not listed._"))
    return items


#: How many places a repeated warning lists before it says how many more.
WARNING_PLACES = 10


def _warning_items(warnings: list[Diagnostic], show: Callable[[str], str]) -> list[_Item]:
    """Warnings after the changes, one line per distinct message with where it occurs.

    Warnings (lints, hints) do not stop a plan; 700 campaigns without a preheader give one line
    with its count, not 700 lines that push the changes out of the comment.
    """
    if not warnings:
        return []
    grouped: dict[str, list[str]] = {}
    for p in warnings:
        grouped.setdefault(p.message, []).append(f"{p.path}:{p.line}" if p.line else p.path)
    title = f"#### Warnings ({len(warnings)})"
    items = [_Item(title)]
    for message, places in grouped.items():
        shown = ", ".join(code_span(_name(place)) for place in places[:WARNING_PLACES])
        hidden = len(places) - WARNING_PLACES
        more = f" and {hidden} more (`orchestrator validate` lists all)" if hidden > 0 else ""
        where = f"{len(places)} places: " if len(places) > 1 else ""
        items.append(_Item(f"- {code_span(_clip(show(message)))}: {where}{shown}{more}", "", title))
    return items


def markdown_parts(
    plan: Plan,
    *,
    reveal: bool = False,
    show_unchanged: bool = False,
    limit: int | None = MARKDOWN_LIMIT,
    templates: Sequence[TemplateChange] = (),
) -> list[str]:
    """The plan as one or more pull-request comments, each at most ``limit`` :func:`comment_size` units.

    Every attention item and every change is in some part; with ``limit=None`` there is one
    part however long. Each part starts with :data:`MARKER` and a part marker
    (``<!-- orchestrator-plan part 2/3 -->``) so the workflow can update the comments in place.
    An item too large for a comment of its own (it should not happen: names and lines are cut
    first) is shown cut inside a code block, so the limit holds for any plan.
    """
    needing = len(plan.attention) + sum(1 for c in templates if c.needs_attention)
    header = _header(plan, needing, templates)
    items = _items(plan, reveal=reveal, show_unchanged=show_unchanged, templates=templates)
    budget = None if limit is None else limit - _PART_FRAME
    parts: list[list[str]] = [[header]]
    size = comment_size(header)  # of the current part
    table: str | None = None  # the table (or list) the last item of the current part belongs to
    for item in items:
        piece = _piece(item, table)
        cost = comment_size(piece)
        if budget is not None and size + cost > budget and len(parts[-1]) > 1:
            lead = f"### orchestrator plan: {code_span(_name(plan.environment))} (continued)"
            if item.section and item.section != item.text:
                lead += f"\n\n{item.section} (continued)"
            parts.append([lead])
            size, table = comment_size(lead), None
            piece = _piece(item, table)
            cost = comment_size(piece)
        if budget is not None and size + cost > budget:
            item = _Item(_cut_to_fit(item.text, budget - size - 2), None, item.section)
            piece = _piece(item, table)
            cost = comment_size(piece)
        parts[-1].append(piece)
        size += cost
        table = item.table
    total = len(parts)
    out = []
    for number, pieces in enumerate(parts, start=1):
        marks = f"{MARKER}\n<!-- orchestrator-plan part {number}/{total} -->\n"
        text = marks + "".join(pieces)
        if total > 1:
            text += f"\n\n_Part {number} of {total} of this plan._"
        out.append(text + "\n")
    return out


def _piece(item: _Item, table: str | None) -> str:
    """``item`` as it joins the current part: a row continues its table, anything else is a block."""
    if item.table is not None and item.table == table:
        return "\n" + item.text
    opening = item.table + "\n" if item.table else ""
    return "\n\n" + opening + item.text


def _cut_to_fit(text: str, room: int) -> str:
    """``text`` cut to ``room`` units inside a code block (so the cut cannot break the comment's structure)."""
    note = "_This item was too large for one comment and is cut; `orchestrator show PLAN_FILE` shows it whole._"
    lines = [_clip(line) for line in text.split("\n")]
    size = comment_size(note) + 2 + 2 * (_longest_backtick_run(text) + 8)
    kept: list[str] = []
    for line in lines:
        size += comment_size(visible(line)) + 1
        if size > room:
            break
        kept.append(line)
    block = fenced(kept)
    while kept and comment_size(block) + comment_size(note) + 2 > room:
        kept.pop()
        block = fenced(kept)
    return block + "\n\n" + note


def markdown(
    plan: Plan, *, reveal: bool = False, show_unchanged: bool = False, templates: Sequence[TemplateChange] = ()
) -> str:
    """The whole plan as one Markdown document (no size limit; see :func:`markdown_parts`)."""
    return markdown_parts(plan, reveal=reveal, show_unchanged=show_unchanged, limit=None, templates=templates)[0]


def write_markdown_parts(
    plan: Plan,
    out: OutputFolder,
    *,
    reveal: bool = False,
    show_unchanged: bool = False,
    templates: Sequence[TemplateChange] = (),
) -> list[Path]:
    """Write ``plan-1.md``, ``plan-2.md``, ... (owner-only) and the manifest into ``out``.

    ``out`` is a folder this run owns (new or found empty), so nothing else is in it: the
    manifest lists exactly these parts, in order, and a workflow posts only what it lists.
    """
    parts = markdown_parts(plan, reveal=reveal, show_unchanged=show_unchanged, templates=templates)
    written = [  # no registered secret in a comment
        out.write_text(f"plan-{number}.md", scrub(text), mode=PRIVATE) for number, text in enumerate(parts, start=1)
    ]
    out.finish()
    return written


def print_markdown(
    plan: Plan,
    *,
    reveal: bool,
    show_unchanged: bool,
    out: OutputFolder | None,
    err: Callable[[str], None],
    templates: Sequence[TemplateChange] = (),
) -> None:
    """``--format markdown``: the whole plan on stdout, or numbered comment-sized parts in ``out``."""
    if out is not None:
        written = write_markdown_parts(plan, out, reveal=reveal, show_unchanged=show_unchanged, templates=templates)
        names = ", ".join(p.name for p in written)
        err(f"wrote the plan as {len(written)} comment(s): {names} (listed in {MANIFEST}) in {out.path}")
        return
    text = markdown(plan, reveal=reveal, show_unchanged=show_unchanged, templates=templates)
    click.echo(text, nl=False)
    size = comment_size(text)
    if size > GITHUB_COMMENT_LIMIT:
        err(
            f"this Markdown is {size:,} characters, over GitHub's comment limit of {GITHUB_COMMENT_LIMIT:,}: "
            "write it as several comments with --out-dir DIR"
        )
