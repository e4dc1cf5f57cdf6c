"""GitHub Actions workflow annotations (``--format github``) for validate and plan.

A workflow command is one line, ``::error file=PATH,line=N,col=N,title=T::MESSAGE``, that the
runner turns into an annotation on the pull request's diff. Two rules make them right:

* Paths are relative to the repository root (the git top level, which is where the runner
  checks out), not to ``--project``: a project in ``email/`` annotates ``email/campaigns/x.yaml``.
* Every value is escaped as GitHub's own toolkit does (``escapeData`` / ``escapeProperty`` in
  https://github.com/actions/toolkit/blob/main/packages/core/src/command.ts; command format in
  https://docs.github.com/en/actions/reference/workflows-and-actions/workflow-commands): in the
  message ``%`` -> ``%25``, CR -> ``%0D``, LF -> ``%0A``; in property values additionally
  ``:`` -> ``%3A`` and ``,`` -> ``%2C``. Without this a file name or message holding a line
  break prints a second, forged ``::warning`` command.

Registered secrets are removed before escaping (an escaped ``%3A`` would no longer match a
secret holding ``:``), control and invisible format characters in messages and titles are
shown as escapes, and the lines are printed with ``echo_workflow_command``: the one way past
the guarded stdout, which otherwise escapes every line that starts with ``::``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from orchestrator.cli.common import App, echo_workflow_command
from orchestrator.errors import Diagnostic, OrchestratorError
from orchestrator.plan import Action, Change, Plan
from orchestrator.redact import scrub
from orchestrator.textsafe import escape_control

if TYPE_CHECKING:  # template_plan loads Jinja: imported only for a project that owns templates
    from orchestrator.template_plan import TemplateChange


def escape_data(text: str) -> str:
    """A workflow command's message (the part after ``::``)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value (``file=``, ``title=``)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def repository_root(start: Path) -> Path | None:
    """The git top level at or above ``start`` (a ``.git`` folder, or file for worktrees)."""
    here = start.resolve()
    for folder in (here, *here.parents):
        if (folder / ".git").exists():
            return folder
    return None


def repo_path(path: str, project_root: Path) -> str:
    """``path`` (relative to the project, or absolute) as a path relative to the repository root.

    Outside a git checkout, paths stay relative to the project; a path outside the repository
    stays as it is.
    """
    top = repository_root(project_root)
    full = Path(path) if Path(path).is_absolute() else project_root / path
    base = top if top is not None else project_root
    try:
        return full.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return path


def command(
    severity: str,
    message: str,
    *,
    file: str | None = None,
    line: int = 0,
    col: int = 0,
    title: str | None = None,
) -> str:
    """One workflow command line, every part escaped."""
    properties = []
    if file:
        properties.append(f"file={escape_property(scrub(file))}")
        if line:
            properties.append(f"line={line}")
            if col:
                properties.append(f"col={col}")
    if title:
        properties.append(f"title={escape_property(escape_control(scrub(title), keep_newlines=True))}")
    level = severity if severity in ("error", "warning", "notice") else "error"
    where = f" {','.join(properties)}" if properties else ""
    return f"::{level}{where}::{escape_data(escape_control(scrub(message), keep_newlines=True))}"


def diagnostic(diag: Diagnostic, project_root: Path, *, title: str | None = None) -> str:
    """The annotation for a located problem, at its file and line."""
    return command(
        diag.severity,
        diag.message,
        file=repo_path(diag.path, project_root) if diag.path else None,
        line=diag.line,
        col=diag.col,
        title=title,
    )


def split_by_severity(problems: Iterable[Diagnostic]) -> tuple[list[Diagnostic], list[Diagnostic]]:
    """Errors, then everything else.

    GitHub shows only 10 annotations of each level per step (and 50 per job; "Limitations" in
    https://github.com/actions/toolkit/blob/main/docs/problem-matchers.md), in the order they are
    printed: what blocks comes first, so a flood of lint warnings cannot hide it.
    """
    listed = list(problems)
    return [p for p in listed if p.severity == "error"], [p for p in listed if p.severity != "error"]


_SEVERITY = {
    Action.BLOCKED: "error",
    Action.UNKNOWN: "error",
    Action.MISSED: "warning",
    Action.ORPHANED: "warning",
}


def _change_message(change: Change) -> str:
    if change.over_cap:
        return (
            f"{change.key}: audience above max_recipients; held until "
            f"`orchestrator apply --approve-large {change.campaign}`"
        )
    return f"{change.key}: {change.action.label}" + (f": {change.reason}" if change.reason else "")


def plan_annotations(
    plan: Plan, project_root: Path, attention: Iterable[Change], campaign_files: Mapping[str, str] | None = None
) -> list[str]:
    """Annotations for the plan's problems and for every change that needs a human.

    Each change is annotated at its campaign file: its own ``source``, else (an orphan) the file
    of the campaign with its name when that campaign still exists, else no file at all.
    """
    files = campaign_files or {}
    errors, warnings = split_by_severity(plan.problems)
    lines = [diagnostic(p, project_root, title="orchestrator plan") for p in errors]
    for change in attention:
        severity = "error" if change.over_cap else _SEVERITY.get(change.action, "warning")
        source = change.source or files.get(change.campaign)
        lines.append(
            command(
                severity,
                _change_message(change),
                file=repo_path(source, project_root) if source else None,
                title=f"orchestrator plan ({plan.environment}): {change.action.label}",
            )
        )
    lines.extend(diagnostic(p, project_root, title="orchestrator plan") for p in warnings)
    return lines


def template_annotations(templates: Sequence[TemplateChange], project_root: Path) -> list[str]:
    """Annotations for the owned templates' changes, at each template's file: drift and orphans
    need a human (warning); a create or an update is what the merge will change in Pardot, said
    as a notice, since a reviewer of the diff should see it as they see the sends."""
    lines = []
    for change in templates:
        if change.needs_attention:
            severity = "warning"
        elif change.is_change:
            severity = "notice"
        else:
            continue
        source = change.desired.source if change.desired is not None else None
        reason = f": {change.reason}" if change.reason else ""
        lines.append(
            command(
                severity,
                f"template {change.name}: {change.action.value}{reason}",
                file=repo_path(source, project_root) if source else None,
                title=f"orchestrator plan: {change.action.value} template",
            )
        )
    return lines


def print_plan_annotations(app: App, plan: Plan, templates: Sequence[TemplateChange] = ()) -> None:
    """``plan --format github``: annotations, then the one-line summary (for the job log)."""
    from orchestrator.cli.planview import summary_line

    try:
        project = app.project()
        root = project.config.root
        files = {c.name: c.display for c in project.campaigns}
    except OrchestratorError:  # `show FILE` outside the project: annotate without campaign files
        root, files = Path.cwd(), {}
    for line in template_annotations(templates, root) + plan_annotations(plan, root, plan.attention, files):
        echo_workflow_command(line)
    if templates:
        from orchestrator.template_plan import summary

        click.echo(summary(templates))
    click.echo(summary_line(plan))
