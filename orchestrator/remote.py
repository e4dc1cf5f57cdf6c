"""Checks that need the API: template-based sends against the real template.

Only the sends a plan would perform are checked (a no-op costs no API call), and each template
is read once per run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

from orchestrator.errors import ApiError, ApiNotFound, Diagnostic
from orchestrator.pardot.models import EmailTemplate
from orchestrator.plan import Change
from orchestrator.policy import has_opt_out_token, token_help


class ReadsTemplates(Protocol):
    def read_template(self, template_id: int, *, archived: bool = False) -> EmailTemplate: ...


def template_problems(
    client: ReadsTemplates,
    changes: Iterable[Change],
    locate: Callable[[Change, str], Diagnostic],
    *,
    allow_hml: bool = False,
) -> list[Diagnostic]:
    """Problems with the templates that pending ``changes`` use; ``locate`` points at the campaign file.

    ``allow_hml`` is the project's ``policy.allow_hml_unsubscribe``.
    """
    cache: dict[int, EmailTemplate | ApiError] = {}
    problems: list[Diagnostic] = []
    for change in changes:
        payload = change.payload or {}
        template_id = payload.get("email_template_id")
        if not change.action.is_change or template_id is None:
            continue
        if template_id not in cache:
            try:
                cache[template_id] = client.read_template(int(template_id), archived=True)
            except ApiError as exc:
                cache[template_id] = exc
        found = cache[template_id]
        label = change.labels.get("template", str(template_id))
        for message in _problems(found, change, label, allow_hml):
            problems.append(locate(change, message))
    return problems


def _problems(found: EmailTemplate | ApiError, change: Change, label: str, allow_hml: bool) -> list[str]:
    if isinstance(found, ApiNotFound):
        return [f"template {label} does not exist in Pardot ({found.api_message})"]
    if isinstance(found, ApiError):
        return [f"template {label} could not be read: {found}"]
    out = []
    if found.is_archived:
        out.append(f"template {label} is archived (in Pardot's recycle bin); restore it or pick another")
    if change.kind == "list" and not found.is_list_email:
        out.append(f"template {label} is not enabled for list emails")
    if change.kind == "one-to-one" and not found.is_one_to_one_email:
        out.append(f"template {label} is not enabled for one-to-one emails")
    payload = change.payload or {}
    hint = token_help(allow_hml=allow_hml)
    if payload.get("text_content") is None and not has_opt_out_token(
        found.text or "", is_html=False, allow_hml=allow_hml
    ):
        out.append(f"template {label}'s text part has no unsubscribe or preference-center link; {hint}")
    if (
        payload.get("html_content") is None
        and found.html
        and not has_opt_out_token(found.html, is_html=True, allow_hml=allow_hml)
    ):
        out.append(f"template {label}'s HTML part has no unsubscribe or preference-center link; {hint}")
    return out
