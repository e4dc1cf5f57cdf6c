"""The I/O edge of owned templates: read the state and Pardot for a plan, and carry out its
template changes through v5 (create, update), recording each in the state.

The decisions are :func:`orchestrator.template_plan.plan_templates`'s; this module only fetches
what it needs (one v5 read per recorded template, to see drift) and runs what it chose.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime

from orchestrator.config import Environment
from orchestrator.errors import ApiNotFound, ProjectInvalid, StateError
from orchestrator.pardot.client import PardotClient
from orchestrator.pardot.templates_v5 import RemoteTemplate, template_body
from orchestrator.project import Project
from orchestrator.state.base import StateStore
from orchestrator.state.models import TemplateRecord
from orchestrator.template_plan import TemplateAction, TemplateChange, plan_templates
from orchestrator.templates_owned import (
    CHECK_ONLY_TEMPLATE_ID,
    content_fingerprint,
    load_template_files,
    owned_templates,
    templates_dir,
)


def api_version_of(env: Environment) -> int:
    """The environment's API version, as :mod:`orchestrator.connect` chooses it."""
    return env.api.version


def recorded_templates(project: Project, store: StateStore) -> dict[str, TemplateRecord]:
    """The state's owned templates. A project without ``templates/`` whose state cannot be read
    there (a read-only database role granted the send tables only, before schema 3) owns none:
    its plans go on as before. With ``templates/``, the failure is the plan's."""
    try:
        return store.templates()
    except StateError:
        if templates_dir(project.config).is_dir():
            raise
        return {}


def owns_templates(project: Project, store: StateStore) -> bool:
    """Whether there is anything to plan: template files, or templates the state recorded."""
    return templates_dir(project.config).is_dir() or bool(recorded_templates(project, store))


def plan_owned_templates(
    project: Project, env: Environment, store: StateStore, client: PardotClient
) -> list[TemplateChange]:
    """The template changes for ``env``: files rendered, records read, each recorded template
    read from Pardot (v5) to see drift. A file with problems fails the plan, located."""
    owned, problems = owned_templates(project.config, env)
    errors = [d for d in problems if d.severity == "error"]
    if errors:
        raise ProjectInvalid(errors)
    version = api_version_of(env)
    records = recorded_templates(project, store) if version >= 5 else {}
    remote: dict[str, RemoteTemplate | None] = {}
    for name, record in records.items():
        try:
            remote[name] = client.read_template_v5(record.template_id)
        except ApiNotFound:
            remote[name] = None
    unrecorded = version >= 5 and any(template.name not in records for template in owned)
    existing = existing_names(client) if unrecorded else {}
    return plan_templates(owned, records, remote, version=version, existing=existing)


#: Pages of the v5 template query read to find existing names (200 templates a page).
MAX_QUERY_PAGES = 50


def existing_names(client: PardotClient) -> dict[str, int]:
    """The names of the templates Pardot holds, each with its lowest id, read page by page (at
    most :data:`MAX_QUERY_PAGES`): a create is planned only for a name Pardot does not hold."""
    names: dict[str, int] = {}
    token: str | None = None
    for _ in range(MAX_QUERY_PAGES):
        page, token = client.query_templates_v5(token)
        for template in page:
            names.setdefault(template.name, template.id)
        if token is None:
            break
    return names


def with_owned_ids(env: Environment, store: StateStore, project: Project) -> Environment:
    """``env`` with the recorded id of each owned template under ``ids.templates`` where the
    config does not give one: a campaign names an owned template without its id being pasted.

    A template file not applied yet has no id: its name gets :data:`CHECK_ONLY_TEMPLATE_ID`,
    and :func:`orchestrator.template_plan.hold_unmade` holds every send that would use it."""
    records = recorded_templates(project, store)
    files = load_template_files(project.config)[0] if templates_dir(project.config).is_dir() else []
    known = dict(env.ids.get("templates", {}))
    added = {name: record.template_id for name, record in records.items() if name not in known}
    added |= {f.name: CHECK_ONLY_TEMPLATE_ID for f in files if f.name not in known and f.name not in added}
    if not added:
        return env
    return replace(env, ids={**env.ids, "templates": {**known, **added}})


def apply_template_changes(
    changes: Sequence[TemplateChange],
    client: PardotClient,
    store: StateStore,
    now: Callable[[], datetime],
    report: Callable[[str], None] = lambda _line: None,
) -> list[TemplateRecord]:
    """Create or update each changed template through v5, recording each as it lands.

    A failure stops here (the caller sends nothing after it): a send must never go out with a
    template that did not become what the plan showed."""
    done: list[TemplateRecord] = []
    for change in changes:
        if not change.is_change or change.desired is None:
            continue
        body = template_body(change.desired.content())
        if change.action is TemplateAction.CREATE:
            held = client.create_template_v5(body)
        else:
            assert change.template_id is not None  # an update always has its recorded id
            held = client.update_template_v5(change.template_id, body)
        record = TemplateRecord(
            name=change.name,
            template_id=held.id,
            fingerprint=change.desired.fingerprint,
            remote_fingerprint=content_fingerprint(held.content()),
            applied_at=now(),
        )
        store.put_template(record)
        verb = "created" if change.action is TemplateAction.CREATE else "updated"
        report(f"{verb:<9} template {change.name} ({held.id})")
        done.append(record)
    return done
