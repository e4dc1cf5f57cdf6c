"""Running exports: create -> poll with backoff -> download every file -> merge into one CSV.

The API client, the sleep function and the clock are all parameters, so tests drive the whole
flow against the in-process sandbox on its controllable clock and never sleep for real.
Progress reaches the caller through ``on_progress`` (the CLI draws a live status line with it);
this module never prints.

Interrupts.  A Ctrl-C while exports are being created or waited for cancels every export that
is not finished on the server (an abandoned export still runs and still counts against the
account) and ends in an :class:`ExportError` that names what was canceled.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Protocol, TextIO

from orchestrator.errors import ApiError, ExportError
from orchestrator.export.merge import CsvSource, MergeResult, merge_csv
from orchestrator.export.request import ExportRequest
from orchestrator.pardot.models import ExportJob

#: States in which an export is still on its way; anything else is final.
PENDING_STATES = ("Waiting", "Processing")

#: Pardot's error for "the export's state does not allow this" (expired, not complete, ...).
STATE_FORBIDS = 178

#: How long Pardot keeps an export's files after it completes.
RETENTION = "7 days"


class ExportApi(Protocol):
    """The part of ``PardotClient`` this module uses (structural, so any fake with these
    methods works, though the tests use the real client on the sandbox)."""

    def export_create(
        self,
        object: str,
        procedure: str,
        arguments: Mapping[str, str],
        fields: Sequence[str] | None = None,
    ) -> ExportJob: ...

    def export_read(self, export_id: int) -> ExportJob: ...

    def export_cancel(self, export_id: int) -> ExportJob: ...

    def export_download(self, url: str) -> AbstractContextManager[Iterator[bytes]]: ...


@dataclass(frozen=True)
class PollPolicy:
    """When to check on a running export: every ``first_s`` at first, each wait ``factor``
    times longer, never more than ``max_interval_s``; give up after ``timeout_s`` (None: wait
    as long as it takes).

    The defaults start short, since a small export is often ready within seconds, and grow for
    long ones while costing few API calls: 5, 7.5, 11, 17, 25, 38, ... seconds, capped at 10 minutes.
    """

    first_s: float = 5.0
    factor: float = 1.5
    max_interval_s: float = 600.0
    timeout_s: float | None = None

    def __post_init__(self) -> None:
        if self.first_s <= 0 or self.factor < 1 or self.max_interval_s < self.first_s:
            raise ValueError("need first_s > 0, factor >= 1 and max_interval_s >= first_s")
        if self.timeout_s is not None and self.timeout_s <= 0:
            raise ValueError("timeout_s must be positive")

    def intervals(self) -> Iterator[float]:
        """The waits before each poll, forever."""
        for n in itertools.count():
            yield min(self.first_s * self.factor**n, self.max_interval_s)


@dataclass(frozen=True)
class ExportProgress:
    """A snapshot for the status line: each export's state, time waited, the next wait."""

    jobs: tuple[ExportJob, ...]
    elapsed: timedelta
    polls: int
    next_poll_s: float | None

    @property
    def summary(self) -> str:
        states = ", ".join(f"export {j.id}: {j.state}" for j in self.jobs)
        return f"{states} · {_format_duration(self.elapsed)} elapsed"


@dataclass(frozen=True)
class ExportOutcome:
    """What an export run produced: the exports used and the merge's counts."""

    export_ids: tuple[int, ...]
    merge: MergeResult


Sleep = Callable[[float], None]
Clock = Callable[[], datetime]
ProgressHook = Callable[[ExportProgress], None]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _ignore(_: ExportProgress) -> None:
    return None


class ExportRunner:
    """Creates exports and waits for them, cancelling on interrupt; downloads and merges.

    ``sleep`` and ``clock`` default to the real ones; tests pass the sandbox clock's.
    """

    def __init__(
        self,
        api: ExportApi,
        *,
        policy: PollPolicy | None = None,
        sleep: Sleep = time.sleep,
        clock: Clock = _utc_now,
        on_progress: ProgressHook = _ignore,
    ) -> None:
        self._api = api
        self._policy = policy or PollPolicy()
        self._sleep = sleep
        self._clock = clock
        self._on_progress = on_progress
        self._jobs: list[ExportJob] = []

    # --- create and wait --------------------------------------------------------------------

    def start(self, requests: Sequence[ExportRequest]) -> list[ExportJob]:
        """Create one export per request; if one cannot be created, cancel those that were."""
        self._jobs = []
        try:
            for request in requests:
                job = self._api.export_create(
                    request.object.wire_name,
                    request.procedure.name,
                    request.wire_arguments,
                    list(request.fields) if request.fields is not None else None,
                )
                self._jobs.append(job)
        except KeyboardInterrupt:
            raise self._interrupted() from None
        except ApiError as exc:
            if not self._jobs:
                raise
            notes = self.cancel_pending()
            raise ExportError(
                f"export {len(self._jobs) + 1} of {len(requests)} could not be created "
                f"({exc}); " + "; ".join(notes)
            ) from exc
        return list(self._jobs)

    def wait(self, jobs: Sequence[ExportJob]) -> list[ExportJob]:
        """Poll until every export is Complete; ExportError if one fails, is canceled or
        expires (the others are canceled), or on timeout (they are left running)."""
        self._jobs = list(jobs)
        started = self._clock()
        try:
            for polls, interval in enumerate(self._policy.intervals()):
                self._check_final_states()
                if not self._pending():
                    return list(self._jobs)
                elapsed = self._clock() - started
                self._check_timeout(elapsed)
                self._on_progress(ExportProgress(tuple(self._jobs), elapsed, polls, interval))
                self._sleep(interval)
                self._jobs = [self._refresh(job) for job in self._jobs]
        except KeyboardInterrupt:
            raise self._interrupted() from None
        raise AssertionError("unreachable: intervals() never ends")  # pragma: no cover

    def run(self, requests: Sequence[ExportRequest]) -> list[ExportJob]:
        """``start`` then ``wait``."""
        return self.wait(self.start(requests))

    def cancel_pending(self) -> list[str]:
        """Cancel every export not yet finished; one line per export saying what happened."""
        notes = []
        for job in self._jobs:
            if job.state not in PENDING_STATES:
                continue
            try:
                self._api.export_cancel(job.id)
                notes.append(f"export {job.id} canceled on the server")
            except ApiError as exc:
                notes.append(f"export {job.id} could not be canceled: {exc.message}")
        return notes

    def _refresh(self, job: ExportJob) -> ExportJob:
        return self._api.export_read(job.id) if job.state in PENDING_STATES else job

    def _pending(self) -> list[ExportJob]:
        return [job for job in self._jobs if job.state in PENDING_STATES]

    def _check_final_states(self) -> None:
        for job in self._jobs:
            if job.state in PENDING_STATES or (job.state == "Complete" and not job.is_expired):
                continue
            problem = describe_unusable(job)
            canceled = self.cancel_pending()
            raise ExportError(problem + "".join(f"; {note}" for note in canceled))

    def _check_timeout(self, elapsed: timedelta) -> None:
        timeout = self._policy.timeout_s
        if timeout is None or elapsed.total_seconds() < timeout:
            return
        ids = " ".join(str(job.id) for job in self._pending())
        raise ExportError(
            f"still waiting after {_format_duration(elapsed)}: export(s) {ids} keep running "
            "on the server",
            hint=f"check with `orchestrator export status ID`, then "
            f"`orchestrator export download {ids} -o FILE` once Complete",
        )

    def _interrupted(self) -> ExportError:
        notes = self.cancel_pending()
        detail = "; ".join(notes) if notes else "no export was left running"
        return ExportError(f"interrupted: {detail}")

    # --- download and merge -----------------------------------------------------------------

    def download(self, jobs: Sequence[ExportJob], out: TextIO) -> ExportOutcome:
        """Merge every file of every export into ``out`` (deduplicating on ``id`` when there
        are several exports, as ``--split`` windows may overlap)."""
        return download_exports(self._api, jobs, out)


def describe_unusable(job: ExportJob) -> str:
    """Why an export's data cannot be downloaded, or "" when it can."""
    if job.state == "Failed":
        return (
            f"export {job.id} failed on the server: run the export again "
            "(if it fails again, contact Salesforce support)"
        )
    if job.state == "Canceled":
        return f"export {job.id} was canceled; it cannot be restarted: create a new export"
    if job.state in PENDING_STATES:
        return f"export {job.id} is still {job.state}: wait for it to complete"
    if job.is_expired:
        return (
            f"export {job.id} has expired (its files are kept {RETENTION} after completion): "
            "create the export again"
        )
    if job.state != "Complete":
        return f"export {job.id} is in an unknown state {job.state!r}"
    return ""


def download_exports(api: ExportApi, jobs: Sequence[ExportJob], out: TextIO) -> ExportOutcome:
    """Stream every ``resultRefs`` file of ``jobs`` into ``out`` as one CSV.

    An export without ``resultRefs`` has no data and adds nothing; a URL listed more than once
    is downloaded once.  With several exports, rows are deduplicated on the ``id`` column when
    there is one.
    """
    problems = [text for text in map(describe_unusable, jobs) if text]
    if problems:
        raise ExportError("; ".join(problems))
    sources: list[CsvSource] = []
    seen: set[str] = set()
    for job in jobs:
        # A URL listed twice (in one export or two) is one file: merging it twice would
        # duplicate every row of it, even without --split's id deduplication.
        urls = [url for url in dict.fromkeys(job.result_refs) if url not in seen]
        seen.update(urls)
        sources.extend(
            CsvSource(f"export {job.id} file {n}/{len(urls)}", partial(api.export_download, url))
            for n, url in enumerate(urls, start=1)
        )
    try:
        merged = merge_csv(sources, out, dedupe_on="id" if len(jobs) > 1 else None)
    except ApiError as exc:
        if exc.code == STATE_FORBIDS:
            raise ExportError(
                f"the export's files can no longer be downloaded ({exc.api_message}); they are "
                f"kept {RETENTION} after completion: create the export again"
            ) from exc
        raise
    return ExportOutcome(tuple(job.id for job in jobs), merged)


def _format_duration(elapsed: timedelta) -> str:
    seconds = int(elapsed.total_seconds())
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {seconds:02d}s"
    if minutes:
        return f"{minutes}m {seconds:02d}s"
    return f"{seconds}s"
