"""Choosing the sends of one campaign to show: every send in the horizon, the N-th occurrence,
or the occurrence at a given time. Used by ``render`` and ``preview``; timing policy is off
(any occurrence can be looked at) and lints are skipped (a lint promoted to an error must not
stop an author from looking at the email).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from orchestrator.config import Environment
from orchestrator.desired import DesiredSend
from orchestrator.desired_sends import desired_sends_of
from orchestrator.errors import ProjectInvalid, SelectionError
from orchestrator.project import Project
from orchestrator.schedule import ScheduleError, parse_time, utc_iso


def select_sends(
    project: Project,
    env: Environment,
    name: str,
    now: datetime,
    *,
    occurrence: int | None = None,
    at: str | None = None,
) -> list[DesiredSend]:
    """The sends of campaign ``name`` at ``now``: all, the ``occurrence``-th time, or the one ``at``.

    ``at`` is ISO-8601; a local time is read in the campaign's zone (else the project's).
    """
    campaign = project.campaign(name)
    target = None
    if at is not None:
        schedule = campaign.data.get("schedule") or {}
        zone = ZoneInfo(str(schedule["timezone"])) if "timezone" in schedule else project.config.timezone
        try:
            target = parse_time(at, zone, "at")
        except ScheduleError as exc:
            raise SelectionError(exc.message, option="--at") from None
        now = min(now, target - timedelta(minutes=1))
    sends, problems = desired_sends_of(project, env, now, campaigns=[campaign], lead_time="off", lints=False)
    # Another file's problems do not stop this campaign (the caller may say they exist); its own do.
    own = campaign.diagnostic((), "").path
    others = {d for d in project.problems if d.path != own}
    errors = [d for d in problems if d.severity == "error" and d not in others]
    if errors:
        raise ProjectInvalid(errors)
    if target is not None:
        chosen = [s for s in sends if s.scheduled_time == target]
        if not chosen:
            upcoming = ", ".join(utc_iso(s.scheduled_time) for s in sends[:5] if s.scheduled_time) or "none"
            raise SelectionError(f"{name} has no send at {utc_iso(target)} (upcoming: {upcoming})", option="--at")
        return chosen
    if occurrence is not None:
        times = sorted({s.scheduled_time for s in sends}, key=lambda t: (t is not None, t))
        if not 0 <= occurrence < len(times):
            raise SelectionError(
                f"{name} has {len(times)} occurrence(s) in the horizon; pick 0..{len(times) - 1}",
                option="--occurrence",
            )
        return [s for s in sends if s.scheduled_time == times[occurrence]]
    return sends
