"""What an apply would do to the project's owned email templates: a pure function of the
rendered template files, the state's records and what Pardot holds (read at the edge, by
:mod:`orchestrator.templates_apply`). No I/O and no clock here.

* a file with no record: ``+ create template NAME``;
* a file whose fingerprint differs from the record's: ``~ update template NAME``, with a diff
  of subject, text and HTML between what Pardot holds and what the file now says;
* a record whose template Pardot now holds differently (or no longer holds) from what the last
  apply left: **drift**, which needs a human; the file is never written over it silently;
* a record with no file: an **orphan**, held: the template stays in Pardot;
* on a v3/v4 account: owning templates needs ``version: 5``; nothing is planned for them.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from orchestrator.pardot.templates_v5 import RemoteTemplate
from orchestrator.plan import Action, Change, Plan
from orchestrator.state.models import TemplateRecord
from orchestrator.templates_owned import CHECK_ONLY_TEMPLATE_ID, OwnedTemplate, content_fingerprint
from orchestrator.textsafe import escape_control


class TemplateAction(enum.StrEnum):
    """What a plan does with one owned template."""

    CREATE = "create"
    UPDATE = "update"
    NOOP = "no-op"
    DRIFT = "drift"
    ORPHAN = "orphan"
    NEEDS_V5 = "needs-v5"


_SYMBOL = {
    TemplateAction.CREATE: "+",
    TemplateAction.UPDATE: "~",
    TemplateAction.NOOP: "=",
    TemplateAction.DRIFT: "!",
    TemplateAction.ORPHAN: "?",
    TemplateAction.NEEDS_V5: "!",
}


@dataclass(frozen=True)
class TemplateChange:
    """One owned template in a plan; ``diff`` holds unified-diff lines, ``reason`` why it is held."""

    action: TemplateAction
    name: str
    template_id: int | None = None
    desired: OwnedTemplate | None = None
    diff: tuple[str, ...] = ()
    reason: str = ""

    @property
    def is_change(self) -> bool:
        """True when an apply would call Pardot for it."""
        return self.action in (TemplateAction.CREATE, TemplateAction.UPDATE)

    @property
    def needs_attention(self) -> bool:
        """True when a human must look: drift or an orphan. A template a v3/v4 account cannot own
        is said, not escalated: its file is still validated and previewed, which is its use there."""
        return self.action in (TemplateAction.DRIFT, TemplateAction.ORPHAN)


def plan_templates(
    owned: Sequence[OwnedTemplate],
    records: Mapping[str, TemplateRecord],
    remote: Mapping[str, RemoteTemplate | None],
    *,
    version: int,
    existing: Mapping[str, int] | None = None,
) -> list[TemplateChange]:
    """The changes for every owned template and every recorded one, by name.

    ``remote`` holds, for each recorded name, what Pardot answered (None: Pardot no longer holds
    it); a recorded name missing from ``remote`` was not read, and is taken as unchanged there.
    ``existing`` maps the names of templates Pardot already holds to an id: a file the state
    has no record of, whose name Pardot already holds, is not created a second time (an apply
    that died between the create and its record, or a template made by hand).
    """
    if version < 5:
        reason = f"owning templates needs `version: 5` in the environment's api (this account uses version {version})"
        return [TemplateChange(TemplateAction.NEEDS_V5, t.name, desired=t, reason=reason) for t in owned]
    changes = [_for_file(template, records.get(template.name), remote, existing or {}) for template in owned]
    files = {template.name for template in owned}
    for name, record in sorted(records.items()):
        if name not in files:
            changes.append(
                TemplateChange(
                    TemplateAction.ORPHAN,
                    name,
                    record.template_id,
                    reason=f"no template file names it any more; template {record.template_id} stays in Pardot "
                    "(restore the file, or delete the template in Pardot yourself)",
                )
            )
    return sorted(changes, key=lambda change: change.name)


def _for_file(
    template: OwnedTemplate,
    record: TemplateRecord | None,
    remote: Mapping[str, RemoteTemplate | None],
    existing: Mapping[str, int],
) -> TemplateChange:
    if record is None and template.name in existing:
        found = existing[template.name]
        return TemplateChange(
            TemplateAction.DRIFT,
            template.name,
            found,
            template,
            reason=f"Pardot already holds a template named {template.name!r} ({found}) that the state does not "
            "record; it is not created twice (rename the file, or rename or delete that template in Pardot)",
        )
    if record is None:
        return TemplateChange(TemplateAction.CREATE, template.name, desired=template, diff=content_diff(None, template))
    held = remote.get(template.name, ...)
    if held is None:
        return TemplateChange(
            TemplateAction.DRIFT,
            template.name,
            record.template_id,
            template,
            reason=f"template {record.template_id} is no longer in Pardot (deleted since the last apply); "
            "nothing is recreated without a human",
        )
    if isinstance(held, RemoteTemplate) and content_fingerprint(held.content()) != record.remote_fingerprint:
        return TemplateChange(
            TemplateAction.DRIFT,
            template.name,
            record.template_id,
            template,
            diff=content_diff(held.content(), template),
            reason=f"template {record.template_id} was changed in Pardot since the last apply; the file is not "
            "written over it (copy the change into the file, or revert it in Pardot)",
        )
    if template.fingerprint == record.fingerprint:
        return TemplateChange(TemplateAction.NOOP, template.name, record.template_id, template)
    before = held.content() if isinstance(held, RemoteTemplate) else None
    return TemplateChange(
        TemplateAction.UPDATE, template.name, record.template_id, template, diff=content_diff(before, template)
    )


def content_diff(before: Mapping[str, Any] | None, after: OwnedTemplate) -> tuple[str, ...]:
    """Unified-diff lines of subject, text and HTML, each under its own header."""
    new = after.content()
    lines: list[str] = []
    for part in ("subject", "text", "html"):
        old_text = "" if before is None else str(before.get(part) or "")
        new_text = str(new.get(part) or "")
        if old_text == new_text:
            continue
        lines.extend(
            line.rstrip("\n")
            for line in difflib.unified_diff(
                old_text.splitlines(keepends=True),
                new_text.splitlines(keepends=True),
                fromfile=f"{part} (Pardot)" if before is not None else f"{part} (none)",
                tofile=f"{part} (file)",
                lineterm="\n",
            )
        )
    return tuple(lines)


def template_json(change: TemplateChange) -> dict[str, Any]:
    """One change as ``plan --format json`` shows it (``templates`` in schemas/plan.schema.json)."""
    return {
        "action": change.action.value,
        "name": change.name,
        "template_id": change.template_id,
        "reason": change.reason,
        "diff": list(change.diff),
    }


def template_from_json(data: Any) -> TemplateChange:
    """One change as a saved plan holds it (:func:`template_json`), for ``show PLAN_FILE``.

    Shown only, never applied (a reviewed apply plans the templates again and refuses while any
    is pending); raises ValueError, TypeError or KeyError on anything else, which the loader reports.
    """
    if not isinstance(data, dict):
        raise TypeError("a template change must be an object")
    template_id = data["template_id"]
    diff = data["diff"]
    if template_id is not None and (not isinstance(template_id, int) or isinstance(template_id, bool)):
        raise TypeError("a template change's template_id must be an integer or null")
    if not isinstance(data["name"], str) or not isinstance(data["reason"], str):
        raise TypeError("a template change's name and reason must be strings")
    if not isinstance(diff, list) or not all(isinstance(line, str) for line in diff):
        raise TypeError("a template change's diff must be a list of strings")
    return TemplateChange(
        TemplateAction(data["action"]), data["name"], template_id, reason=data["reason"], diff=tuple(diff)
    )


def describe(changes: Sequence[TemplateChange], *, show_noop: bool = False) -> list[str]:
    """The plan's lines for ``changes`` (what ``plan`` and ``apply`` print before the sends)."""
    lines: list[str] = []
    for change in changes:
        if change.action is TemplateAction.NOOP and not show_noop:
            continue
        where = f" ({change.template_id})" if change.template_id is not None else ""
        verb = {
            TemplateAction.CREATE: "create",
            TemplateAction.UPDATE: "update",
            TemplateAction.NOOP: "unchanged",
            TemplateAction.DRIFT: "drifted",
            TemplateAction.ORPHAN: "orphaned",
            TemplateAction.NEEDS_V5: "not owned",
        }[change.action]
        # A saved plan's names and reasons are read back from a file: shown, never run.
        lines.append(f"{_SYMBOL[change.action]} {verb} template {escape_control(change.name)}{where}")
        if change.reason:
            lines.append(f"    {escape_control(change.reason)}")
        # What Pardot holds (a drifted template) is not ours: an escape sequence there is shown, never run.
        lines.extend(f"    {escape_control(line)}" for line in change.diff)
    if changes:
        counts = {action: sum(1 for c in changes if c.action is action) for action in TemplateAction}
        summary = ", ".join(f"{n} {a.value}" for a, n in counts.items() if n)
        lines.append(f"Templates: {summary}.")
    return lines


def hold_unmade(plan: Plan) -> Plan:
    """``plan`` with each pending send whose owned template is not created yet held, saying why:
    its id exists only once this apply has created the template, so the next plan sends it."""

    def hold(change: Change) -> Change:
        payload = change.payload or {}
        if not change.action.is_change or payload.get("email_template_id") != CHECK_ONLY_TEMPLATE_ID:
            return change
        return dataclasses.replace(
            change,
            action=Action.BLOCKED,
            reason="its owned template is not in Pardot yet: apply creates the template first, "
            "then the next plan sends this",
        )

    held = tuple(hold(change) for change in plan.changes)
    return plan if held == plan.changes else dataclasses.replace(plan, changes=held)
