"""create -> poll -> download -> merge, against the real client on the in-process sandbox."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from orchestrator.errors import ApiNotFound, ExportError
from orchestrator.export.request import ExportRequest, build_request
from orchestrator.export.runner import (
    ExportProgress,
    ExportRunner,
    PollPolicy,
    describe_unusable,
    download_exports,
)
from orchestrator.export.windows import split_request
from orchestrator.pardot.client import PardotClient
from orchestrator.pardot.models import ExportJob
from orchestrator.pardot.settings import ApiSettings, StaticTokenAuth
from orchestrator.sandbox import ExportConfig, SandboxApp
from tests.export.manual_clock import ManualClock

PARIS = ZoneInfo("Europe/Paris")


def _request(clock: ManualClock, *args: tuple[str, str], obj: str = "prospect",
             proc: str = "filter_by_created_at", fields: list[str] | None = None,
             long: bool = False) -> ExportRequest:
    now = clock.now()
    return build_request(obj, proc, list(args), fields, now=now, tz=PARIS, allow_long_range=long)


def _runner(client: PardotClient, clock: ManualClock, **kw: Any) -> ExportRunner:
    return ExportRunner(client, sleep=clock.sleep, clock=clock.now, **kw)


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_export_runs_to_completion_and_merges_every_file(client: PardotClient, clock: ManualClock) -> None:
    progress: list[ExportProgress] = []
    runner = _runner(client, clock, on_progress=progress.append, policy=PollPolicy(first_s=30.0))
    jobs = runner.run([_request(clock, ("created_after", "11 months ago"), fields=["id", "email"])])
    assert [job.state for job in jobs] == ["Complete"]
    assert len(jobs[0].result_refs) > 1  # resultRefs as a list: 10 rows per file
    out = io.StringIO(newline="")
    outcome = runner.download(jobs, out)
    rows = _rows(out.getvalue())
    assert rows[0] == ["id", "email"]
    assert outcome.merge.rows == len(rows) - 1 > 10
    assert outcome.merge.files == len(jobs[0].result_refs)
    assert len({r[0] for r in rows[1:]}) == outcome.merge.rows
    # Waited with backoff on the controllable clock, showing each state on the way.
    assert clock.slept == [30.0, 45.0, 67.5]
    assert [p.jobs[0].state for p in progress] == ["Waiting", "Waiting", "Processing"]
    assert [p.elapsed for p in progress] == [timedelta(0), timedelta(seconds=30), timedelta(seconds=75)]
    assert progress[1].summary == f"export {jobs[0].id}: Waiting · 30s elapsed"


def test_result_refs_as_a_single_string(clock: ManualClock, client_for: Callable[..., PardotClient]) -> None:
    app = SandboxApp(clock=clock.now, exports=ExportConfig(0, 1, rows_per_file=100_000))
    client = client_for(app)
    runner = _runner(client, clock)
    jobs = runner.run([_request(clock, ("created_after", "11 months ago"), fields=["id"])])
    assert len(jobs[0].result_refs) == 1
    out = io.StringIO(newline="")
    outcome = runner.download(jobs, out)
    assert outcome.merge.files == 1
    assert outcome.merge.rows == len(_rows(out.getvalue())) - 1 > 0
    app.close()


def test_no_result_refs_means_no_data_and_nothing_written(client: PardotClient, clock: ManualClock) -> None:
    runner = _runner(client, clock)
    jobs = runner.run([_request(clock, ("created_after", "2020-01-01"),
                                ("created_before", "2020-02-01"))])
    assert jobs[0].state == "Complete" and jobs[0].result_refs == ()
    out = io.StringIO(newline="")
    outcome = runner.download(jobs, out)
    assert out.getvalue() == ""
    assert (outcome.merge.rows, outcome.merge.files, outcome.merge.header) == (0, 0, None)


def test_ctrl_c_while_waiting_cancels_the_export_on_the_server(client: PardotClient, clock: ManualClock) -> None:
    def interrupted(_: float) -> None:
        raise KeyboardInterrupt

    runner = ExportRunner(client, sleep=interrupted, clock=clock.now)
    jobs = runner.start([_request(clock, ("created_after", "today"))])
    with pytest.raises(ExportError) as caught:
        runner.wait(jobs)
    assert str(caught.value) == f"interrupted: export {jobs[0].id} canceled on the server"
    assert client.export_read(jobs[0].id).state == "Canceled"


def test_ctrl_c_cancels_every_split_window(client: PardotClient, clock: ManualClock) -> None:
    calls = iter([None])

    def second_poll_interrupts(_: float) -> None:
        if next(calls, "stop") == "stop":
            raise KeyboardInterrupt
        clock.sleep(1)

    request = _request(clock, ("created_after", "3 years ago"), long=True)
    windows = split_request(request, now=clock.now(), tz=PARIS)
    runner = ExportRunner(client, sleep=second_poll_interrupts, clock=clock.now)
    jobs = runner.start(windows)
    with pytest.raises(ExportError, match=r"interrupted: .* canceled on the server"):
        runner.wait(jobs)
    assert len(jobs) == 4
    assert {client.export_read(job.id).state for job in jobs} == {"Canceled"}


def test_an_export_canceled_elsewhere_stops_the_wait(client: PardotClient, clock: ManualClock) -> None:
    runner = _runner(client, clock)
    jobs = runner.start([_request(clock, ("created_after", "today"))])
    client.export_cancel(jobs[0].id)
    with pytest.raises(ExportError, match=f"export {jobs[0].id} was canceled; it cannot be restarted"):
        runner.wait(jobs)


def test_timeout_leaves_the_export_running_and_says_how_to_resume(client: PardotClient, clock: ManualClock) -> None:
    runner = _runner(client, clock, policy=PollPolicy(first_s=10, factor=1, max_interval_s=10,
                                                      timeout_s=25))
    jobs = runner.start([_request(clock, ("created_after", "today"))])
    with pytest.raises(ExportError) as caught:
        runner.wait(jobs)
    assert "still waiting after 30s" in str(caught.value)
    assert f"orchestrator export download {jobs[0].id} -o FILE" in str(caught.value)
    assert client.export_read(jobs[0].id).state in ("Waiting", "Processing")


def test_expired_export_is_a_clear_error(client: PardotClient, clock: ManualClock) -> None:
    runner = _runner(client, clock)
    jobs = runner.run([_request(clock, ("created_after", "11 months ago"))])
    clock.sleep(8 * 86400)
    # Read before expiry but downloaded after: the download itself is refused (178).
    with pytest.raises(ExportError, match=r"can no longer be downloaded .* kept 7 days"):
        download_exports(client, jobs, io.StringIO())
    expired = client.export_read(jobs[0].id)
    assert expired.is_expired
    with pytest.raises(ExportError, match=f"export {jobs[0].id} has expired"):
        download_exports(client, [expired], io.StringIO())


def test_split_windows_merge_into_one_csv_without_duplicates(client: PardotClient, clock: ManualClock) -> None:
    whole = _runner(client, clock).run([_request(clock, ("created_after", "11 months ago"))])
    reference = io.StringIO(newline="")
    download_exports(client, whole, reference)

    request = _request(clock, ("created_after", "3 years ago"), long=True)
    windows = split_request(request, now=clock.now(), tz=PARIS)
    runner = _runner(client, clock)
    jobs = runner.run(windows)
    out = io.StringIO(newline="")
    outcome = runner.download(jobs, out)
    assert len(jobs) == 4
    assert sorted(_rows(out.getvalue())[1:]) == sorted(_rows(reference.getvalue())[1:])
    assert outcome.merge.deduplicated_on == "id"
    assert outcome.export_ids == tuple(job.id for job in jobs)


def test_a_window_refused_by_the_api_cancels_the_windows_already_created(
    client: PardotClient, clock: ManualClock
) -> None:
    good = _request(clock, ("created_after", "today"))
    # Bypass the local checks to make the API refuse the second export (175 unknown argument).
    bad = good.with_arguments([("colour", "red")])
    runner = _runner(client, clock)
    with pytest.raises(ExportError) as caught:
        runner.start([good, bad])
    assert "export 2 of 2 could not be created" in str(caught.value)
    first_id = int(str(caught.value).split("export ")[-1].split(" ")[0])
    assert client.export_read(first_id).state == "Canceled"


def test_a_failed_export_is_reported_with_what_to_do() -> None:
    state = {"reads": 0}

    def pardot(request: httpx.Request) -> httpx.Response:
        state["reads"] += 1
        body = {"@attributes": {"stat": "ok", "version": 1},
                "export": {"id": 9, "state": "Failed" if state["reads"] > 1 else "Processing",
                           "isExpired": False}}
        return httpx.Response(200, json=body)

    settings = ApiSettings(base_url="http://127.0.0.1", business_unit_id="0Uv000000SANDBOXAA",
                           auth=StaticTokenAuth("t"))
    slept: list[float] = []
    with PardotClient(settings, transport=httpx.MockTransport(pardot)) as client:
        runner = ExportRunner(client, sleep=slept.append)
        with pytest.raises(ExportError, match="export 9 failed on the server: run the export again"):
            runner.wait([client.export_read(9)])
    assert slept == [5.0]


@pytest.mark.parametrize(
    ("state", "expired", "message"),
    [("Complete", False, ""),
     ("Complete", True, "export 5 has expired (its files are kept 7 days after completion)"),
     ("Failed", False, "export 5 failed on the server"),
     ("Canceled", False, "export 5 was canceled; it cannot be restarted"),
     ("Waiting", False, "export 5 is still Waiting: wait for it to complete"),
     ("Processing", False, "export 5 is still Processing"),
     ("Exploded", False, "export 5 is in an unknown state 'Exploded'")],
)
def test_describe_unusable(state: str, expired: bool, message: str) -> None:
    text = describe_unusable(ExportJob(5, state, expired, (), None, None))
    assert text.startswith(message) and bool(text) == bool(message)


def test_unknown_export_id_is_the_clients_not_found(client: PardotClient) -> None:
    with pytest.raises(ApiNotFound):
        client.export_read(424242)


@pytest.mark.parametrize(
    ("policy", "expected"),
    [(PollPolicy(), [5.0, 7.5, 11.25, 16.875, 25.3125, 37.96875, 56.953125, 85.4296875, 128.14453125, 192.216796875]),
     (PollPolicy(first_s=5, factor=2, max_interval_s=20), [5, 10, 20, 20, 20, 20, 20, 20, 20, 20]),
     (PollPolicy(first_s=60, factor=1, max_interval_s=60), [60.0] * 10)],
)
def test_poll_intervals_grow_and_are_capped(policy: PollPolicy, expected: list[float]) -> None:
    intervals = policy.intervals()
    assert [next(intervals) for _ in range(10)] == expected


@pytest.mark.parametrize(
    "kwargs",
    [{"first_s": 0}, {"factor": 0.5}, {"first_s": 10, "max_interval_s": 5}, {"timeout_s": 0}],
)
def test_poll_policy_rejects_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        PollPolicy(**kwargs)


def test_create_sends_the_checked_request_exactly(clock: ManualClock, sandbox: SandboxApp) -> None:
    seen: list[dict[str, object]] = []

    def tracer(request: httpx.Request, response: httpx.Response | None) -> None:
        if request.url.path.endswith("/do/create"):
            seen.append(json.loads(request.content))

    from orchestrator.sandbox import inprocess_transport
    settings = ApiSettings(base_url="http://sandbox.local", business_unit_id="0Uv000000SANDBOXAA",
                           auth=StaticTokenAuth("sandbox-token"), allow_insecure=True)
    with PardotClient(settings, transport=inprocess_transport(sandbox), tracer=tracer) as client:
        ExportRunner(client).start([_request(clock, ("created_after", "3 days ago"), ("deleted", "ALL"),
                                             obj="list-membership", fields=["id", "list_id"])])
    assert seen == [{"object": "listMembership", "fields": ["id", "list_id"],
                     "procedure": {"name": "filter_by_created_at",
                                   "arguments": {"created_after": "2026-11-24T11:00:00+01:00",
                                                 "deleted": "all"}}}]


def test_a_result_url_listed_twice_is_merged_once(client: PardotClient, clock: ManualClock) -> None:
    """Reproduction (issue 10): a ``resultRefs`` listing one URL twice merged that file twice."""
    import dataclasses

    runner = _runner(client, clock)
    jobs = runner.run([_request(clock, ("created_after", "11 months ago"), fields=["id", "email"])])
    refs = jobs[0].result_refs
    assert len(refs) > 1
    honest = io.StringIO(newline="")
    runner.download(jobs, honest)
    doubled = dataclasses.replace(jobs[0], result_refs=(refs[0], *refs, refs[-1]))
    out = io.StringIO(newline="")
    outcome = runner.download([doubled], out)  # one export: no id deduplication to hide it
    assert out.getvalue() == honest.getvalue()
    assert outcome.merge.files == len(refs)
    assert outcome.merge.duplicates == 0
