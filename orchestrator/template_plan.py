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
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from orchestrator.desired import fingerprint
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
    #: The content fingerprint a saved plan recorded (``desired`` is not saved): what a later
    #: apply compares with the files' content before it applies the change.
    saved_fingerprint: str | None = None

    @property
    def fingerprint(self) -> str | None:
        """The content this change would put in Pardot (None for a held or orphaned one)."""
        return self.desired.fingerprint if self.desired is not None else self.saved_fingerprint

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
        "fingerprint": change.fingerprint,
    }


def template_from_json(data: Any) -> TemplateChange:
    """One change as a saved plan holds it (:func:`template_json`), for ``show PLAN_FILE``.

    Never applied from the file: an apply plans the templates again from the files and applies
    them only when each change is the one saved here (:func:`unreviewed_templates`). Raises
    ValueError, TypeError or KeyError on anything else, which the loader reports.
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
    saved = data.get("fingerprint")  # absent from plans saved before it was recorded
    if saved is not None and not isinstance(saved, str):
        raise TypeError("a template change's fingerprint must be a string or null")
    return TemplateChange(
        TemplateAction(data["action"]),
        data["name"],
        template_id,
        reason=data["reason"],
        diff=tuple(diff),
        saved_fingerprint=saved,
    )


def _reviewed_as(change: TemplateChange) -> tuple[str, str, int | None, str | None]:
    return (change.action.value, change.name, change.template_id, change.fingerprint)


def unreviewed_templates(fresh: Sequence[TemplateChange], reviewed: Sequence[TemplateChange]) -> list[str]:
    """The names of the template changes in ``fresh`` (planned now from the files) that are not
    exactly one of ``reviewed`` (a saved plan's): same action, template, and content fingerprint.

    A reviewed plan vouches for the template content it showed, as it does for each send's
    payload: anything else is applied only after a new plan is reviewed.
    """
    seen = {_reviewed_as(change) for change in reviewed if change.is_change}
    return [change.name for change in fresh if change.is_change and _reviewed_as(change) not in seen]


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
        lines.append(summary(changes))
    return lines


def summary(changes: Sequence[TemplateChange]) -> str:
    """One line counting ``changes`` by action, e.g. ``Templates: 1 create, 2 no-op.``"""
    counts = {action: sum(1 for c in changes if c.action is action) for action in TemplateAction}
    return "Templates: " + ", ".join(f"{n} {a.value}" for a, n in counts.items() if n) + "."


def hold_unmade(plan: Plan, template_of: Mapping[str, str], created: Collection[str] = ()) -> Plan:
    """``plan`` with each pending send whose owned template is not in Pardot yet either held,
    saying why, or, when this apply creates that template first (its name is in ``created``),
    labelled so: its id exists only once the template is created, and :func:`bind_created`
    puts it in the payload before the send.

    ``template_of`` maps each campaign to the template name it uses.
    """

    def settle(change: Change) -> Change:
        payload = change.payload or {}
        if not change.action.is_change or payload.get("email_template_id") != CHECK_ONLY_TEMPLATE_ID:
            return change
        name = template_of.get(change.campaign)
        if name is not None and name in created:
            labels = {**change.labels, "template": f"{name} (created by this apply first)", CREATED_FIRST: name}
            return dataclasses.replace(change, labels=labels)
        return dataclasses.replace(
            change,
            action=Action.BLOCKED,
            reason="its owned template is not in Pardot yet and this plan does not create it "
            "(see the template's line above): the send waits for it",
        )

    held = tuple(settle(change) for change in plan.changes)
    return plan if held == plan.changes else dataclasses.replace(plan, changes=held)


#: The label of a send whose owned template the same apply creates first: the template's name.
CREATED_FIRST = "template_created_first"


def awaits_template(change: Change) -> bool:
    """Whether ``change`` uses an owned template that its apply creates first (no id to read yet)."""
    return CREATED_FIRST in change.labels


def bind_created(plan: Plan, created: Mapping[str, int]) -> Plan:
    """``plan`` with each send that awaited a template created by this apply given the template's
    id (``created``: name -> id) in its payload and fingerprint, as the next plan computes them
    from the recorded id, so that the send is recorded as what the files ask for.

    A send whose template was not created keeps no placeholder: it is held, never sent with it.
    """

    def bind(change: Change) -> Change:
        name = change.labels.get(CREATED_FIRST)
        if name is None or not change.action.is_change or change.payload is None:
            return change
        labels = {k: v for k, v in change.labels.items() if k != CREATED_FIRST}
        if name not in created:
            return dataclasses.replace(
                change,
                action=Action.BLOCKED,
                labels=labels,
                reason=f"its owned template {name} was not created by this apply: the send waits for it",
            )
        template_id = created[name]
        payload = {**change.payload, "email_template_id": template_id}
        labels["template"] = f"{name} ({template_id})"
        return dataclasses.replace(change, payload=payload, fingerprint=fingerprint(payload), labels=labels)

    return dataclasses.replace(plan, changes=tuple(bind(change) for change in plan.changes))
