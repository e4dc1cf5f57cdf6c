"""``state reconcile`` settles one-to-one sends through the v5 email query, under any version.

Real parts: the CLI, the sandbox (which implements ``GET /api/v5/objects/emails`` with its
``sentAtAfterOrEqualTo`` filter), the real client and the real SQLite state. A one-to-one send
whose answer was lost is found by name and recorded as sent; one that never reached Pardot is
recorded as not sent only when absence is proven (a complete filtered query, a settled intent,
and a known one-to-one email that v5 shows); list sends are read with ``createdAtAfterOrEqualTo``.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from orchestrator.pardot.client import PardotClient
from orchestrator.pardot.settings import ApiSettings, StaticTokenAuth
from orchestrator.reconcile import reconcile
from orchestrator.sandbox import SANDBOX_BASE_URL, SANDBOX_BUSINESS_UNIT, SANDBOX_TOKEN, SandboxApp, inprocess_transport
from orchestrator.state import open_store
from orchestrator.state.models import SendStatus
from tests.helpers import NOW, fixed_clock, run

CONFIG = (
    "version: 1\ntimezone: UTC\nenvironments:\n  sandbox:\n"
    "    api: {{kind: sandbox{version}}}\n"
    "    state: {{backend: sqlite, path: state.db}}\n"
    "    ids: {{campaigns: {{c: 1001}}, lists: {{newsletter: 2001}}}}\n"
)
ONE_TO_ONE = (
    "name: {name}\nkind: one-to-one\ncampaign: c\nprospects: [{prospect}]\n"
    "sender: {{name: A, email: a@example.com}}\nsubject: s\ntext: '%%unsubscribe%%'\n"
)
LIST = (
    "name: {name}\ncampaign: c\nlists: [newsletter]\nsender: {{name: A, email: a@example.com}}\n"
    "subject: s\ntext: '%%unsubscribe%%'\n"
)


#: Reconciling happens two hours after the apply, on a pinned clock (no test depends on the date).
APPLIED = datetime.fromisoformat(NOW.replace("Z", "+00:00"))
LATER = APPLIED + timedelta(hours=2)


def _reconcile(root: Path, *args: str) -> tuple[int, str, str]:
    return run(root, "state", "reconcile", *args, clock=fixed_clock(LATER.isoformat()))


def _project(root: Path, *, version: int | None = None) -> Path:
    (root / "campaigns").mkdir(parents=True, exist_ok=True)
    (root / "orchestrator.yaml").write_text(CONFIG.format(version="" if version is None else f", version: {version}"))
    (root / "campaigns" / "a.yaml").write_text(ONE_TO_ONE.format(name="a", prospect=1234))
    return root


def _statuses(root: Path) -> dict[str, tuple[str, int | None]]:
    _, out, _ = run(root, "state", "list", "--json")
    return {s["key"]: (s["status"], s["email_id"]) for s in json.loads(out)["sends"]}


def _lose(root: Path, key: str, *, status: SendStatus, age: timedelta, **payload: object) -> None:
    """Make ``key``'s record look like a send whose answer never came (``status``, no email id),
    written ``age`` before :data:`LATER`; ``payload`` overrides (another prospect, a new name)."""
    store = open_store("sqlite", path=root / "state.db")
    try:
        record = store.get("a/1234")
        assert record is not None
        when = LATER - age
        lost = dataclasses.replace(
            record,
            key=key,
            payload={**record.payload, **payload},
            status=status,
            email_id=None,
            created_at=when,
            updated_at=when,
        )
        store.put(lost, action="test")
    finally:
        store.close()


def test_a_one_to_one_send_whose_answer_was_lost_is_found_and_recorded_as_sent(tmp_path: Path) -> None:
    root = _project(tmp_path / "p")  # version 4: the reconcile still reads through v5
    code, out, err = run(root, "apply", "--auto-approve", "--now", NOW)
    assert code == 0, out + err
    assert _statuses(root) == {"a/1234": ("sent", 70001)}
    _lose(root, "a/1234", status=SendStatus.UNKNOWN, age=timedelta(hours=2))
    code, out, err = _reconcile(root, "--dry-run")
    assert code == 0 and "a/1234: would record sent (email 70001)" in out, out + err
    code, out, err = _reconcile(root)
    assert code == 0, out + err
    assert "Pardot has one-to-one email 70001 named 'a/1234'" in out and "1 resolved, 0 still unknown" in out
    assert _statuses(root) == {"a/1234": ("sent", 70001)}
    _, shown, _ = run(root, "state", "show", "a/1234")
    detail = json.loads(shown)["journal"][-1]["detail"]
    assert detail["source"] == "GET /api/v5/objects/emails" and detail["email_id"] == 70001


def test_proven_absence_of_a_one_to_one_send_is_recorded_as_not_sent(tmp_path: Path) -> None:
    root = _project(tmp_path / "p")
    assert run(root, "apply", "--auto-approve", "--now", NOW)[0] == 0  # a/1234 is known: v5 shows it
    _lose(root, "b/1235", status=SendStatus.INTENT, age=timedelta(hours=1), name="b/1235", prospect_id=1235)
    code, out, err = _reconcile(root)
    assert code == 0, out + err
    assert "b/1235: recorded not-sent" in out and "no one-to-one email named 'b/1235' was sent" in out
    assert _statuses(root)["b/1235"] == ("not-sent", None)


def test_another_prospects_email_of_the_same_name_is_not_taken_for_the_send(tmp_path: Path) -> None:
    root = _project(tmp_path / "p")
    assert run(root, "apply", "--auto-approve", "--now", NOW)[0] == 0  # a/1234 went to prospect 1234
    _lose(root, "a/1234", status=SendStatus.UNKNOWN, age=timedelta(hours=2), prospect_id=1235)
    _, out, _ = _reconcile(root)
    assert "a/1234: recorded sent" not in out
    assert _statuses(root)["a/1234"][0] != "sent"


def test_one_to_one_absence_is_not_trusted_without_a_known_one_to_one_email(tmp_path: Path) -> None:
    root = _project(tmp_path / "p")
    assert run(root, "apply", "--auto-approve", "--now", NOW)[0] == 0
    _lose(root, "a/1234", status=SendStatus.NOT_SENT, age=timedelta(hours=2))  # nothing known any more
    _lose(root, "b/1235", status=SendStatus.INTENT, age=timedelta(hours=1), name="b/1235", prospect_id=1235)
    code, out, _ = _reconcile(root)
    assert code == 3 and "b/1235: still unknown" in out
    assert "no one-to-one email of this project is known yet" in out
    assert _statuses(root)["b/1235"] == ("intent", None)


def test_absence_of_a_one_to_one_send_is_not_trusted_before_it_settles(tmp_path: Path) -> None:
    root = _project(tmp_path / "p")
    assert run(root, "apply", "--auto-approve", "--now", NOW)[0] == 0
    _lose(root, "b/1235", status=SendStatus.INTENT, age=timedelta(minutes=1), name="b/1235", prospect_id=1235)
    code, out, _ = _reconcile(root)
    assert code == 3 and "may lag up to 60 s" in out
    assert _statuses(root)["b/1235"] == ("intent", None)


def test_a_scheduled_one_to_one_send_is_not_proven_absent_before_its_time(tmp_path: Path) -> None:
    root = _project(tmp_path / "p")
    assert run(root, "apply", "--auto-approve", "--now", NOW)[0] == 0
    _lose(root, "b/1235", status=SendStatus.INTENT, age=timedelta(hours=1), name="b/1235", prospect_id=1235)
    store = open_store("sqlite", path=root / "state.db")
    record = store.get("b/1235")
    assert record is not None
    store.put(dataclasses.replace(record, scheduled_time=LATER + timedelta(days=1)), action="test")
    store.close()
    code, out, _ = _reconcile(root)
    assert code == 3 and "waiting for its time has no sentAt" in out


def test_reconcile_reads_list_emails_with_the_creation_time_filter(tmp_path: Path) -> None:
    root = _project(tmp_path / "p")
    (root / "campaigns" / "a.yaml").write_text(LIST.format(name="l"))
    assert run(root, "apply", "--auto-approve", "--now", NOW)[0] == 0
    store = open_store("sqlite", path=root / "state.db")
    record = store.get("l@now")
    assert record is not None
    store.put(dataclasses.replace(record, status=SendStatus.UNKNOWN, email_id=None), action="test")
    seen: list[httpx.URL] = []
    app = SandboxApp(db_path=root / ".orchestrator" / "sandbox-api.db")
    settings = ApiSettings(SANDBOX_BASE_URL, SANDBOX_BUSINESS_UNIT, StaticTokenAuth(SANDBOX_TOKEN), allow_insecure=True)
    try:
        with PardotClient(
            settings, transport=inprocess_transport(app), tracer=lambda request, _: seen.append(request.url)
        ) as client:
            outcomes = reconcile(store, client, LATER)
    finally:
        app.close()
        store.close()
    assert [(o.key, o.resolution, o.email_id) for o in outcomes] == [("l@now", "sent", 70001)]
    queries = [url for url in seen if url.path == "/api/v5/objects/list-emails"]
    since = (record.created_at - timedelta(minutes=10)).astimezone(UTC).replace(microsecond=0).isoformat()
    assert [url.params.get("createdAtAfterOrEqualTo") for url in queries] == [since]
    assert queries[0].params.get("orderBy") == "id asc"
