"""Third-party Pardot clients against ``orchestrator sandbox serve`` on loopback: each finishes.

The Singer tap ``tap-pardot`` 1.4.9 (PyPI) looped for ever on its ``lists`` stream against a
sandbox that ignored ``updated_after`` (issue 20). It and PyPardotSF 0.1.1 cannot be installed
beside the project: tap-pardot pins ``singer-python==5.13.2``, which pins ``jsonschema==2.6.0``
(``pip install --dry-run`` into the project's environment would downgrade our jsonschema>=4.20).
So:

- the replay tests (always run) send, through httpx, the exact request sequence of each client's
  paging code, read from their source (``tap_pardot/client.py`` ``Client._fetch``,
  ``tap_pardot/streams.py`` ``Stream.sync``, ``UpdatedAtSortByIdReplicationStream`` (campaigns),
  ``NoUpdatedAtSortingStream`` (users), ``UpdatedAtReplicationStream`` (lists); PyPardotSF's
  ``pypardot/client.py`` ``PardotAPI.get``/``_check_auth`` and ``objects/*.py`` ``query``), and
  assert that each ends with the seeded records within a bound of requests;
- the real clients run only when ``ORCHESTRATOR_CLIENTS_WHEELHOUSE`` names a folder holding
  their wheels and dependencies (``pip wheel tap-pardot==1.4.9 PyPardotSF==0.1.1 -w DIR``): the
  test makes a virtualenv of its own and installs them from that folder alone (``--no-index``),
  never from the network, then runs them against the served sandbox with their hosts pointed at
  it (``tap_pardot.client.ENDPOINT_BASE``, ``pypardot.client.BASE_URI``; the OAuth refresh, which
  would call login.salesforce.com, is replaced by the sandbox's token).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from orchestrator.sandbox import SANDBOX_BUSINESS_UNIT, SANDBOX_TOKEN

AUTH = {"Authorization": f"Bearer {SANDBOX_TOKEN}", "Pardot-Business-Unit-Id": SANDBOX_BUSINESS_UNIT}
START_DATE = "2020-01-01T00:00:00Z"  # the tap's required config start_date
#: The demo seed's records, as each client should end with them.
SEEDED = {"campaigns": [1001], "users": [3001], "lists": [2001, 2002, 2003]}
#: More requests than any of these streams needs on the demo seed: a loop is a failure, not a hang.
MAX_REQUESTS = 20
WHEELHOUSE_ENV = "ORCHESTRATOR_CLIENTS_WHEELHOUSE"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``orchestrator sandbox serve`` on a free loopback port, in its own process."""
    db = tmp_path_factory.mktemp("clients") / "sandbox-api.db"
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "sandbox", "serve", "--port", "0", "--db", str(db)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", first)
        assert match, first
        yield match.group(1)
    finally:
        process.terminate()
        process.wait(timeout=30)


class Bounded:
    """An httpx client that fails the test instead of looping past :data:`MAX_REQUESTS`."""

    def __init__(self, base: str) -> None:
        self.http = httpx.Client(base_url=base, headers=AUTH, timeout=30)
        self.requests = 0

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        self.requests += 1
        if self.requests > MAX_REQUESTS:
            pytest.fail(f"still paging after {MAX_REQUESTS} requests: the client would loop for ever")
        return self.http.request(method, path, **kwargs).json()


# --- tap-pardot 1.4.9, replayed ----------------------------------------------------------------


def _tap_fetch(client: Bounded, endpoint: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """``Client._fetch`` + ``Stream.get_records``: GET .../do/query with format=json, output=bulk."""
    content = client.call("GET", f"/api/{endpoint}/version/4/do/query",
                          params={"format": "json", "output": "bulk", **params})
    if content.get("err"):
        pytest.fail(f"the tap raises PardotException: {content}")
    result = content["result"]
    if result is None or result.get("total_results") == 0:
        return []
    records = result[endpoint]  # KeyError here is what the tap would raise too
    return [records] if isinstance(records, dict) else list(records)


def _tap_sync(page: Callable[[], list[dict[str, Any]]]) -> list[int]:
    """``Stream.sync``: fetch pages until one adds nothing."""
    synced: list[int] = []
    last = -1
    while len(synced) != last:
        last = len(synced)
        synced.extend(int(rec["id"]) for rec in page())
    return synced


def _tap_campaigns(client: Bounded) -> list[int]:
    """``UpdatedAtSortByIdReplicationStream``: id bookmark, ``updated_after`` = last full sync."""
    bookmark = {"id": 0}

    def page() -> list[dict[str, Any]]:
        params = {"id_greater_than": bookmark["id"], "updated_after": START_DATE, "sort_by": "id",
                  "sort_order": "ascending"}
        records = _tap_fetch(client, "campaign", params)
        for rec in records:
            if int(rec["id"]) < bookmark["id"]:
                pytest.fail("out of order data")  # check_order
            bookmark["id"] = int(rec["id"])
        return records

    return _tap_sync(page)


def _tap_users(client: Bounded) -> list[int]:
    """``NoUpdatedAtSortingStream``: pages by id from ``created_after``; emits records updated since."""
    bookmark = {"id": 0}

    def page() -> list[dict[str, Any]]:
        params = {"created_after": START_DATE, "id_greater_than": bookmark["id"], "sort_by": "id",
                  "sort_order": "ascending"}
        emitted = []
        for rec in _tap_fetch(client, "user", params):
            if rec["updated_at"] <= START_DATE:
                continue
            bookmark["id"] = int(rec["id"])
            emitted.append(rec)
        return emitted

    return _tap_sync(page)


def _tap_lists(client: Bounded) -> list[int]:
    """``UpdatedAtReplicationStream``: ``updated_after`` = the last ``updated_at`` seen."""
    bookmark = {"updated_at": START_DATE}

    def page() -> list[dict[str, Any]]:
        params = {"updated_after": bookmark["updated_at"], "sort_by": "updated_at", "sort_order": "ascending"}
        records = _tap_fetch(client, "list", params)
        for rec in records:
            if rec["updated_at"] < bookmark["updated_at"] and bookmark["updated_at"] != START_DATE:
                pytest.fail("out of order data")
            bookmark["updated_at"] = rec["updated_at"]
        return records

    return _tap_sync(page)


@pytest.mark.parametrize(
    ("stream", "replay"), [("campaigns", _tap_campaigns), ("users", _tap_users), ("lists", _tap_lists)]
)
def test_tap_pardot_streams_replayed_end_with_the_seeded_records(
    served: str, stream: str, replay: Callable[[Bounded], list[int]]
) -> None:
    client = Bounded(served)
    assert replay(client) == SEEDED[stream]
    assert client.requests == 2  # one page with the records, one empty page that ends the loop


# --- PyPardotSF 0.1.1, replayed ----------------------------------------------------------------


@pytest.mark.parametrize(("stream", "kind"), [("campaigns", "campaign"), ("users", "user"), ("lists", "list")])
def test_pypardotsf_queries_replayed_page_to_the_end(served: str, stream: str, kind: str) -> None:
    """``PardotAPI.get``: a legacy login first (no api_key yet; the sandbox answers error 2, which
    ``authenticate`` swallows), then the query with format=json; ``query`` wraps one item in a
    list when ``total_results`` is 1. Paged by ``id_greater_than`` until a page is empty."""
    client = Bounded(served)
    ids: list[int] = []
    while True:
        login = client.call("POST", "/api/login/version/4", params={"format": "json"}, data={})
        assert login["@attributes"]["stat"] == "fail"  # PardotAPIError, caught by authenticate()
        result = client.call("GET", f"/api/{kind}/version/4/do/query",
                             params={"id_greater_than": ids[-1] if ids else 0, "sort_by": "id",
                                     "sort_order": "ascending", "format": "json"})["result"]
        items = [] if result["total_results"] == 0 else result[kind]
        items = [items] if result["total_results"] == 1 else items
        if not items:
            break
        ids.extend(int(item["id"]) for item in items)
    assert ids == SEEDED[stream]


# --- the real clients, from a local wheelhouse only --------------------------------------------

_TAP_DRIVER = textwrap.dedent(
    """
    import json, sys
    import tap_pardot.client as client_module
    from tap_pardot.streams import STREAM_OBJECTS

    base, token, unit, start_date = sys.argv[1:5]
    client_module.ENDPOINT_BASE = base + "/api/"  # never pi.pardot.com
    client_module.Client.refresh_credentials = lambda self: self.creds.__setitem__("access_token", token)
    creds = {"refresh_token": "x", "client_id": "x", "client_secret": "x", "pardot_business_unit_id": unit}
    client = client_module.Client(creds)
    config = {"start_date": start_date}
    out = {}
    for name in ("campaigns", "users", "lists"):
        stream = STREAM_OBJECTS[name](client, config, {}, emit=False)
        out[name] = [int(record["id"]) for record in stream.sync()]
    print(json.dumps(out))
    """
)

_PYPARDOT_DRIVER = textwrap.dedent(
    """
    import json, sys
    import pypardot.client as client_module

    base, token, unit = sys.argv[1:4]  # (a fourth, the tap's start date, is not used here)
    client_module.BASE_URI = base  # never pi.pardot.com
    api = client_module.PardotAPI(business_unit_id=unit, version=4)
    api.sftoken = token  # instead of a refresh at login.salesforce.com
    out = {}
    for name, objects, key in (("campaigns", api.campaigns, "campaign"), ("users", api.users, "user"),
                               ("lists", api.lists, "list")):
        ids = []
        for _ in range(20):
            page = objects.query(id_greater_than=ids[-1] if ids else 0, sort_by="id", sort_order="ascending")[key]
            if not page:
                break
            ids += [int(item["id"]) for item in page]
        out[name] = ids
    print(json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def clients_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv holding tap-pardot and PyPardotSF, installed from the wheelhouse alone."""
    wheelhouse = os.environ.get(WHEELHOUSE_ENV)
    if not wheelhouse:
        pytest.skip(f"{WHEELHOUSE_ENV} is not set: the real clients are not installed (replays still run)")
    venv = tmp_path_factory.mktemp("clients-venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-index", "--find-links", wheelhouse,
         "tap-pardot==1.4.9", "PyPardotSF==0.1.1"],
        check=True, timeout=600, env={**_offline_env(), "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    return python


def _offline_env() -> dict[str, str]:
    """The environment without proxies, so loopback requests stay on loopback."""
    proxies = {"http_proxy", "https_proxy", "all_proxy"}
    env = {k: v for k, v in os.environ.items() if k.lower() not in proxies}
    return {**env, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}


@pytest.mark.parametrize("driver", [_TAP_DRIVER, _PYPARDOT_DRIVER], ids=["tap-pardot", "PyPardotSF"])
def test_the_real_clients_finish_with_the_seeded_records(
    clients_venv: Path, served: str, tmp_path: Path, driver: str
) -> None:
    script = tmp_path / "driver.py"
    script.write_text(driver)
    try:
        done = subprocess.run(
            [str(clients_venv), str(script), served, SANDBOX_TOKEN, SANDBOX_BUSINESS_UNIT, START_DATE],
            capture_output=True, text=True, timeout=120, env=_offline_env(),
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the client did not finish in 120 s: it loops")
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == SEEDED
