"""Export calls and result downloads against a scripted Pardot (httpx.MockTransport)."""

from __future__ import annotations

import httpx
import pytest

from orchestrator.errors import (
    ApiAuthError,
    ApiProtocolError,
    ApiTransientError,
    ApiValidationError,
)

from .fakes import Answer, ClientFactory, FakePardot, Recorder, fail_json, make_settings, ok_json

URL = "https://pi.pardot.test/api/export/version/4/do/downloadResults/id/7/file/1"
CSV = b"id,email\n1,a@example.com\n2,b@example.com\n"


def _csv(body: bytes = CSV) -> Answer:
    return Answer(body, content_type="text/csv; charset=utf-8")


def test_read_then_download_every_result_ref(make_client: ClientFactory) -> None:
    urls = [URL, URL.replace("file/1", "file/2")]
    job = {"id": 7, "state": "Complete", "isExpired": False, "resultRefs": urls}
    fake = FakePardot([Answer({"export": job}), _csv(), _csv(b"id,email\n3,c@example.com\n")])
    client = make_client(fake)
    read = client.export_read(7)
    assert read.result_refs == tuple(urls)
    bodies = []
    for url in read.result_refs:
        with client.export_download(url) as chunks:
            bodies.append(b"".join(chunks))
    assert bodies == [CSV, b"id,email\n3,c@example.com\n"]
    assert [str(r.url) for r in fake.requests[1:]] == urls
    assert all(r.headers["Authorization"].startswith("Bearer ") for r in fake.requests)
    assert client.calls == 3


def test_download_uses_the_url_exactly_as_given(make_client: ClientFactory) -> None:
    fake = FakePardot([_csv()])
    with make_client(fake).export_download(URL + "?sig=abc") as chunks:
        b"".join(chunks)
    assert str(fake.requests[0].url) == URL + "?sig=abc"


def test_expired_download_raises_178(make_client: ClientFactory) -> None:
    fake = FakePardot([Answer(fail_json(178, "export has expired"), status=400)])
    with pytest.raises(ApiValidationError) as caught:  # noqa: SIM117 - the error is on entry
        with make_client(fake).export_download(URL):
            pytest.fail("the block must not run")
    assert caught.value.code == 178


def test_error_envelope_with_status_200_is_still_an_error(make_client: ClientFactory) -> None:
    fake = FakePardot([Answer(fail_json(178, "expired"), status=200)])
    with pytest.raises(ApiValidationError):  # noqa: SIM117
        with make_client(fake).export_download(URL):
            pass


def test_download_refreshes_a_refused_token_once(make_client: ClientFactory) -> None:
    from orchestrator.pardot.settings import RefreshTokenAuth

    auth = RefreshTokenAuth("I", "S", "R", login_url="https://login.salesforce.test")
    fake = FakePardot(
        [
            Answer({"access_token": "t1"}),
            Answer(fail_json(184, "expired"), status=401),
            Answer({"access_token": "t2"}),
            _csv(),
        ]
    )
    client = make_client(fake, make_settings(auth), env={"I": "i", "S": "s", "R": "r"})
    with client.export_download(URL) as chunks:
        assert b"".join(chunks) == CSV
    assert fake.requests[3].headers["Authorization"] == "Bearer t2"


def test_download_opening_is_retried_like_a_read(make_client: ClientFactory) -> None:
    fake = FakePardot([Answer(raises=httpx.ConnectError("refused")), Answer("x", status=503), _csv()])
    client = make_client(fake)
    with client.export_download(URL) as chunks:
        assert b"".join(chunks) == CSV
    assert client.calls == 3


def test_failure_while_streaming_is_mapped(make_client: ClientFactory) -> None:
    class BrokenStream(httpx.SyncByteStream):
        def __iter__(self):  # type: ignore[no-untyped-def]
            yield b"id,email\n"
            raise httpx.ReadError("connection reset")

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/csv"}, stream=BrokenStream())

    client = make_client(FakePardot())
    client._http._transport = httpx.MockTransport(handler)
    received: list[bytes] = []
    with pytest.raises(ApiTransientError), client.export_download(URL) as chunks:
        received.extend(chunks)
    assert received == [b"id,email\n"]
    assert client._in_flight.acquire(blocking=False)  # the slot was given back


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example.com/api/export/version/4/do/downloadResults/id/7/file/1",
        "http://pi.pardot.test/api/export/version/4/do/downloadResults/id/7/file/1",
        "file:///etc/passwd",
    ],
)
def test_credentials_only_go_to_pardot_hosts_over_https(make_client: ClientFactory, url: str) -> None:
    fake = FakePardot()
    with pytest.raises(ApiProtocolError):  # noqa: SIM117
        with make_client(fake).export_download(url):
            pass
    assert fake.requests == []


def test_pardot_download_host_is_accepted(make_client: ClientFactory) -> None:
    url = "https://www.pardot.com/api/export/version/4/do/downloadResults/id/201917/file/23191"
    fake = FakePardot([_csv()])
    with make_client(fake).export_download(url) as chunks:
        assert b"".join(chunks) == CSV


def test_create_read_query_cancel(make_client: ClientFactory, recorder: Recorder) -> None:
    waiting = {"id": 7, "state": "Waiting", "isExpired": False}
    fake = FakePardot(
        [
            Answer({"export": waiting}),
            Answer({**waiting, "state": "Processing"}),
            Answer(ok_json("result", {"total_results": 1, "export": waiting})),
            Answer({"id": 7, "state": "Canceled"}),
        ]
    )
    client = make_client(fake)
    assert client.export_create("visitor", "filter_by_updated_at", {"updated_after": "today"}).id == 7
    assert client.export_read(7).state == "Processing"
    assert [j.id for j in client.export_query(status="Waiting").exports] == [7]
    assert client.export_cancel(7).state == "Canceled"
    assert [p for p, _ in recorder.exchanges] == [
        "POST /api/export/version/4/do/create",
        "GET /api/export/version/4/do/read/id/7",
        "GET /api/export/version/4/do/query",
        "POST /api/export/version/4/do/cancel/id/7",
    ]


def test_cancel_of_a_finished_export_is_178(make_client: ClientFactory) -> None:
    fake = FakePardot([Answer(fail_json(178, "state does not allow"), status=400)])
    with pytest.raises(ApiValidationError) as caught:
        make_client(fake).export_cancel(7)
    assert caught.value.code == 178


def test_auth_failure_on_download_is_not_retried(make_client: ClientFactory) -> None:
    fake = FakePardot([Answer(fail_json(201, "unknown business unit"), status=400)])
    client = make_client(fake)
    with pytest.raises(ApiAuthError):  # noqa: SIM117
        with client.export_download(URL):
            pass
    assert client.calls == 1
